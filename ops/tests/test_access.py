"""Who reaches the ops pages: staff only, signed in, with CSRF and the login throttle."""

import re
from http.cookies import SimpleCookie

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.services import now_iso
from dynamo.users import users_table
from ops.tests.conftest import sign_in

PAGES = ["/ops/", "/ops/users", "/ops/audit", "/ops/users/01JC0000000000000000000000"]


def csrf_token_of(client: Client, path: str = "/ops/login") -> str:
    html = client.get(path).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


class TestSignIn:
    @pytest.mark.parametrize("page", PAGES)
    def test_anonymous_visitor_is_sent_to_the_login_page(self, page):
        response = Client().get(page)
        assert response.status_code == 302
        assert response["Location"].startswith("/ops/login?next=")

    def test_login_page_renders_a_form_without_scripts(self):
        response = Client().get("/ops/login")
        assert response.status_code == 200
        html = response.content.decode()
        assert '<form class="stacked" method="post"' in html
        assert "<script" not in html
        assert "script-src" not in response["Content-Security-Policy"]  # default-src 'none'
        assert response["Cache-Control"] == "no-store"

    def test_staff_sign_in_opens_the_dashboard(self, staff):
        client = Client()
        response = sign_in(client, staff.email)
        assert response.status_code == 302
        assert response["Location"] == "/ops/"
        page = client.get("/ops/")
        assert page.status_code == 200
        assert staff.email in page.content.decode()

    def test_session_cookie_is_http_only_secure_and_limited_to_ops(self, staff):
        client = Client()
        sign_in(client, staff.email)
        cookie = client.cookies["sessionid"]
        assert cookie["httponly"]
        assert cookie["secure"]  # DEBUG is off in the tests, as in production
        assert cookie["path"] == "/ops/"

    def test_a_regular_user_is_refused_with_403(self, account):
        client = Client()
        response = sign_in(client, account["user"]["email"], account["password"])
        assert response.status_code == 403
        assert "This account cannot use the ops pages." in response.content.decode()
        assert client.get("/ops/").status_code == 302

    def test_a_wrong_password_is_refused_with_401(self, staff):
        response = sign_in(Client(), staff.email, "not-the-password-at-all")
        assert response.status_code == 401
        assert "The email or password is incorrect." in response.content.decode()

    def test_a_regular_users_api_token_opens_no_ops_page(self, account):
        client = Client(HTTP_AUTHORIZATION=f"Bearer {account['access']}")
        assert client.get("/ops/").status_code == 302

    def test_next_leads_back_to_an_ops_page_but_never_elsewhere(self, staff):
        client = Client()
        response = client.post(
            "/ops/login",
            {
                "email": staff.email,
                "password": "correct-horse-battery-staple",
                "next": "/ops/audit",
            },
        )
        assert response["Location"] == "/ops/audit"
        client = Client()
        response = client.post(
            "/ops/login",
            {
                "email": staff.email,
                "password": "correct-horse-battery-staple",
                "next": "https://evil.example/ops/",
            },
        )
        assert response["Location"] == "/ops/"

    def test_log_out_ends_the_session(self, staff_client):
        response = staff_client.post("/ops/logout")
        assert response.status_code == 302
        assert staff_client.get("/ops/").status_code == 302

    @pytest.mark.parametrize("page", PAGES[:3])
    def test_a_copy_of_the_session_cookie_stops_working_at_log_out(self, staff_client, page):
        copy = Client()
        copy.cookies = SimpleCookie(staff_client.cookies.output(header="", sep=";"))
        assert copy.get(page).status_code == 200

        assert staff_client.post("/ops/logout").status_code == 302

        response = copy.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith("/ops/login")
        assert copy.post("/ops/logout").status_code == 302  # harmless, and no error

    def test_log_out_ends_every_other_ops_sign_in_of_that_staff_member(self, staff_client):
        other_browser = Client()
        assert sign_in(other_browser, staff_client.staff.email).status_code == 302
        staff_client.post("/ops/logout")
        assert other_browser.get("/ops/").status_code == 302

    def test_signing_in_again_after_log_out_works_and_the_api_tokens_still_do(self, staff_client):
        api = APIClient()
        login = api.post(
            "/api/v1/auth/login",
            {"email": staff_client.staff.email, "password": "correct-horse-battery-staple"},
            format="json",
        )
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['access']}")
        staff_client.post("/ops/logout")

        assert api.get("/api/v1/users/me").status_code == 200
        assert sign_in(staff_client, staff_client.staff.email).status_code == 302
        assert staff_client.get("/ops/").status_code == 200


class TestSessionChecks:
    """The session is checked against the account on every request."""

    @pytest.mark.parametrize(
        "change",
        [
            lambda users, staff: users.disable(staff.user_id, updated_at=now_iso()),
            lambda users, staff: users.revoke_sessions(staff.user_id, updated_at=now_iso()),
            lambda users, staff: users.set_staff(
                staff.user_id, is_staff=False, updated_at=now_iso()
            ),
        ],
        ids=["disabled", "sessions revoked", "no longer staff"],
    )
    def test_a_changed_account_loses_its_ops_session_at_once(self, staff_client, change):
        assert staff_client.get("/ops/").status_code == 200
        change(users_table(), staff_client.staff)
        assert staff_client.get("/ops/").status_code == 302


class TestCsrf:
    def test_login_without_a_csrf_token_is_refused(self, staff):
        client = Client(enforce_csrf_checks=True)
        response = sign_in(client, staff.email)
        assert response.status_code == 403
        assert client.get("/ops/").status_code == 302

    def test_actions_need_the_csrf_token(self, staff, account):
        client = Client(enforce_csrf_checks=True)
        token = csrf_token_of(client)
        response = client.post(
            "/ops/login",
            {
                "email": staff.email,
                "password": "correct-horse-battery-staple",
                "csrfmiddlewaretoken": token,
            },
        )
        assert response.status_code == 302
        target = account["user"]["user_id"]
        action = f"/ops/users/{target}/disable"

        assert client.post(action).status_code == 403
        assert users_table().get(target).is_active

        token = csrf_token_of(client, f"/ops/users/{target}")
        response = client.post(action, {"csrfmiddlewaretoken": token})
        assert response.status_code == 302
        assert not users_table().get(target).is_active

    def test_anonymous_post_to_an_action_changes_nothing(self, account):
        target = account["user"]["user_id"]
        response = Client().post(f"/ops/users/{target}/disable")
        assert response.status_code == 302
        assert response["Location"] == "/ops/login"
        assert users_table().get(target).is_active


class TestLoginThrottle:
    def test_the_eleventh_attempt_from_one_address_is_429(self, staff):
        client = Client()
        for number in range(10):
            wrong = sign_in(client, f"guess-{number}@example.com", "wrong-password-guess")
            assert wrong.status_code == 401
        response = sign_in(client, staff.email)  # even the right password
        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0
        assert "Too many sign-in attempts" in response.content.decode()
        assert client.get("/ops/").status_code == 302

    def test_api_and_ops_logins_share_one_allowance(self, staff):
        api = APIClient()
        for number in range(10):
            api.post(
                "/api/v1/auth/login",
                {"email": f"guess-{number}@example.com", "password": "wrong-password-guess"},
                format="json",
            )
        assert sign_in(Client(), staff.email).status_code == 429

    def test_a_staff_account_locked_by_failed_api_logins_cannot_sign_in_here(self, staff):
        for number in range(5):
            api = APIClient(REMOTE_ADDR=f"192.0.2.{number + 1}")
            wrong = {"email": staff.email, "password": "wrong-password-guess"}
            assert api.post("/api/v1/auth/login", wrong, format="json").status_code == 401
        client = Client(REMOTE_ADDR="192.0.2.100")
        response = sign_in(client, staff.email)
        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0
        assert "Too many failed attempts" in response.content.decode()
        assert client.get("/ops/").status_code == 302

    def test_a_browser_that_signed_in_before_signs_in_while_strangers_keep_the_lock(self, staff):
        browser = Client(REMOTE_ADDR="192.0.2.50")
        assert sign_in(browser, staff.email).status_code == 302
        cookie = browser.cookies["ops_device"]
        assert cookie["httponly"] and cookie["secure"] and cookie["path"] == "/ops/"
        assert cookie["samesite"] == "Strict"
        assert browser.post("/ops/logout").status_code == 302
        for number in range(6):
            api = APIClient(REMOTE_ADDR=f"192.0.2.{number + 1}")
            wrong = {"email": staff.email, "password": "wrong-password-guess"}
            api.post("/api/v1/auth/login", wrong, format="json")
        assert sign_in(Client(REMOTE_ADDR="192.0.2.100"), staff.email).status_code == 429
        response = sign_in(browser, staff.email)
        assert response.status_code == 302
        assert browser.get("/ops/").status_code == 200

    def test_showing_the_login_page_is_not_an_attempt(self, staff):
        client = Client()
        for _ in range(15):
            client.get("/ops/login")
        assert sign_in(client, staff.email).status_code == 302
