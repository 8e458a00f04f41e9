"""DELETE /api/v1/users/me is privacy's own route, and nothing depends on privacy.

/users/me answers GET and PATCH from accounts and DELETE from privacy, on one path with
one contract, while accounts (and every other app) imports nothing of privacy.
"""

import ast
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from privacy.tests.helpers import ME, erase, items_of

ROOT = Path(settings.BASE_DIR)
# Code that may name privacy: privacy itself, and the site that composes every app.
MAY_IMPORT_PRIVACY = {"privacy", "dermalens_site"}
# Known to remain, pinned so that no other appears: the demo seeder erases the previous
# demo account (as the ops "erase" action does, through ops.services.privacy_erasure).
KNOWN_IMPORTERS = ["ops/management/commands/seed_demo.py"]
NOT_APP_CODE = {".venv", "node_modules", "var"}


def imported_modules(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
    return modules


def test_no_app_outside_privacy_imports_privacy():
    importers = sorted(
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if not (NOT_APP_CODE | MAY_IMPORT_PRIVACY) & set(path.relative_to(ROOT).parts[:1])
        and "tests" not in path.relative_to(ROOT).parts
        and any(m == "privacy" or m.startswith("privacy.") for m in imported_modules(path))
    )
    assert importers == KNOWN_IMPORTERS


class TestOnePathTwoApps:
    def test_the_profile_reads_and_changes_and_the_erasure_erases_on_one_path(self, full_account):
        account = full_account()
        assert account.client.get(ME).status_code == 200
        changed = account.client.patch(ME, {"full_name": "New Name"}, format="json")
        assert (changed.status_code, changed.json()["full_name"]) == (200, "New Name")

        assert erase(account).status_code == 202
        assert items_of(account.user_id) == []

    @pytest.mark.parametrize("method", ["get", "patch", "delete"])
    def test_every_method_refuses_an_anonymous_caller_in_the_api_shape(self, method):
        response = getattr(APIClient(), method)(ME, {}, format="json")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"

    @pytest.mark.parametrize("method", ["put", "post"])
    def test_another_method_is_405_naming_every_method_of_the_path(self, new_account, method):
        account = new_account()
        response = getattr(account.client, method)(ME, {}, format="json")
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "method_not_allowed"
        allowed = {m.strip() for m in response["Allow"].split(",")}
        assert {"GET", "PATCH", "DELETE", "OPTIONS"} <= allowed

    @pytest.mark.parametrize("method", ["get", "head", "options"])
    def test_every_answer_names_the_same_methods_of_the_path(self, new_account, method):
        account = new_account()
        response = getattr(account.client, method)(ME)
        assert response.status_code == 200
        allowed = {m.strip() for m in response["Allow"].split(",")}
        assert allowed == {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH"}

    def test_a_browser_session_cookie_is_no_way_around_the_bearer_token(self, new_account):
        # The dispatcher is exempt from Django's CSRF check, as DRF's views are: a
        # cookie alone must then authenticate nothing.
        account = new_account()
        browser = Client(enforce_csrf_checks=True)
        response = browser.delete(ME, {"password": account.password}, "application/json")
        assert response.status_code == 401
        assert account.client.get(ME).status_code == 200

    def test_the_erasure_is_still_throttled_like_a_login(self, new_account, settings):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                "login": "2/minute",
            },
        }
        account = new_account()
        codes = [erase(account, password="wrong-password-x").status_code for _ in range(3)]
        assert codes == [400, 400, 429]
