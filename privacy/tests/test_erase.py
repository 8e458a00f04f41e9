"""DELETE /api/v1/users/me and erase_account: nothing of the account is left anywhere."""

import json

import pytest
from rest_framework.test import APIClient

from dynamo.errors import Unavailable
from dynamo.scans import scans_table
from dynamo.users import users_table
from privacy import services
from privacy.tests.helpers import (
    LOGIN,
    ME,
    REFRESH,
    assert_nothing_left,
    email_claim,
    erase,
    fail_analysis,
    failed_analysis_log_of,
    interrupt_before_the_user_item,
    items_of,
    local_files_of,
    log_in,
    s3_keys_of,
    upload_scan,
)
from scans.services import record


class TestErasureApi:
    def test_erasure_leaves_no_item_no_claim_and_no_file_of_the_account(self, full_account):
        account = full_account()
        assert items_of(account.user_id) and local_files_of(account.user_id)
        response = erase(account)
        assert response.status_code == 202, response.content
        assert_nothing_left(account)

    def test_erasure_leaves_no_entry_of_the_failed_analysis_log(self, full_account):
        account = full_account()
        failing = upload_scan(account)["scan_id"]
        fail_analysis(account, failing, "timeout")
        fail_analysis(account, failing, "rate_limited")  # analysed again, failed again
        deleted = upload_scan(account)["scan_id"]
        fail_analysis(account, deleted, "timeout")
        assert len(failed_analysis_log_of(account.user_id)) == 3
        # A scan deleted by its owner takes its entries with it.
        assert account.client.delete(f"/api/v1/scans/{deleted}").status_code == 204
        assert [e["scan_id"]["S"] for e in failed_analysis_log_of(account.user_id)] == [
            failing,
            failing,
        ]
        assert erase(account).status_code == 202
        assert_nothing_left(account)

    def test_no_failed_analysis_is_logged_once_the_erasure_has_begun(self, full_account):
        account = full_account()
        scan = scans_table().get(account.user_id, account.scan_ids[0], consistent=True)
        services.close_account(account.user_id)
        record(scan, status="failed", failure_reason="timeout", analysis=None)
        assert failed_analysis_log_of(account.user_id) == []

    def test_after_erasure_login_the_access_token_and_the_refresh_token_all_fail(
        self, full_account
    ):
        account = full_account()
        assert erase(account).status_code == 202
        assert log_in(account).status_code == 401
        assert account.client.get(ME).status_code == 401
        refreshed = APIClient().post(REFRESH, {"refresh": account.refresh}, format="json")
        assert refreshed.status_code == 401

    def test_the_email_can_be_registered_again_after_erasure(self, full_account, register):
        account = full_account()
        assert erase(account).status_code == 202
        again = register(email=account.email)
        assert again["user"]["user_id"] != account.user_id

    def test_a_wrong_password_is_400_and_nothing_is_erased(self, full_account):
        account = full_account()
        before = items_of(account.user_id)
        files = local_files_of(account.user_id)
        response = erase(account, password="not-my-password")
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "invalid"
        assert error["details"] == {"password": ["The password is incorrect."]}
        assert len(items_of(account.user_id)) == len(before)
        assert local_files_of(account.user_id) == files
        assert log_in(account).status_code == 200

    @pytest.mark.parametrize(
        "body",
        [{}, {"password": ""}, {"password": "x", "user_id": "01JOTHERUSER00000000000000"}],
        ids=["no password", "empty password", "unknown field"],
    )
    def test_a_body_without_exactly_the_password_is_400(self, new_account, body):
        account = new_account()
        response = account.client.delete(ME, body, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "invalid"
        assert log_in(account).status_code == 200

    def test_erasure_needs_a_signed_in_caller(self, api_client):
        response = api_client.delete(ME, {"password": "anything"}, format="json")
        assert response.status_code == 401

    def test_guessing_the_password_is_throttled_like_a_login(self, new_account):
        account = new_account()
        statuses = [erase(account, password=f"guess-{n}").status_code for n in range(12)]
        # Five failures lock the account's password checks (logins included).
        assert statuses[:5] == [400] * 5
        assert statuses[5:] == [429] * 7

    def test_another_account_keeps_its_items_and_files(self, full_account):
        account, other = full_account(), full_account()
        other_items = items_of(other.user_id)
        other_files = local_files_of(other.user_id)
        assert erase(account).status_code == 202
        assert len(items_of(other.user_id)) == len(other_items)
        assert local_files_of(other.user_id) == other_files
        assert other.client.get(f"/api/v1/scans/{other.scan_ids[0]}").status_code == 200

    def test_the_idempotency_keys_of_messages_and_plans_are_erased(self, full_account):
        account = full_account()
        keyed = {"HTTP_IDEMPOTENCY_KEY": "retry-me-7"}
        session = account.client.post("/api/v1/chat/sessions", {}, format="json").json()
        sent = account.client.post(
            f"/api/v1/chat/sessions/{session['session_id']}/messages",
            {"content": "Is my skin dry?"},
            format="json",
            **keyed,
        )
        assert sent.status_code == 201, sent.content
        planned = account.client.post("/api/v1/plans", {}, format="json", **keyed)
        assert planned.status_code == 201, planned.content
        assert erase(account).status_code == 202
        assert_nothing_left(account)

    def test_on_s3_no_object_is_left_under_the_account_prefix(self, new_account, s3_storage):
        account = new_account()
        upload_scan(account)
        upload_scan(account)
        assert len(s3_keys_of(s3_storage, account.user_id)) == 4
        assert erase(account).status_code == 202
        assert s3_keys_of(s3_storage, account.user_id) == []
        assert items_of(account.user_id) == []


class TestErasureIsIdempotent:
    def test_an_erasure_interrupted_before_the_account_item_is_finished_by_a_retry(
        self, full_account, monkeypatch
    ):
        account = full_account()
        monkeypatch.setattr(services, "delete_user_items", fail_with_unavailable)
        response = erase(account)
        assert response.status_code == 503
        # Interrupted: the data is gone; the account is still there, closed for good,
        # for the job's next delivery (or erase_user) to finish.
        assert scans_table().query_page(account.user_id, limit=10).items == []
        assert local_files_of(account.user_id) == []
        assert users_table().get(account.user_id).erasure_started_at is not None
        assert log_in(account).status_code == 401
        assert account.client.get(ME).status_code == 401
        monkeypatch.undo()
        services.erase_account(user_id=account.user_id)
        assert_nothing_left(account)

    def test_an_erasure_interrupted_after_the_claim_is_finished_by_erase_account(
        self, full_account, monkeypatch
    ):
        account = full_account()
        interrupt_before_the_user_item(monkeypatch, account.user_id)
        assert erase(account).status_code == 503
        assert email_claim(account.email) is None
        assert users_table().get(account.user_id) is not None
        monkeypatch.undo()
        services.erase_account(user_id=account.user_id)
        assert_nothing_left(account)

    def test_erasing_an_erased_account_again_is_harmless(self, full_account):
        account = full_account()
        services.erase_account(user_id=account.user_id)
        services.erase_account(user_id=account.user_id)
        assert_nothing_left(account)

    def test_a_late_retry_never_releases_an_email_someone_registered_since(
        self, full_account, register
    ):
        account = full_account()
        services.erase_account(user_id=account.user_id)
        newcomer = register(email=account.email)
        services.erase_account(user_id=account.user_id, email=account.email)
        claim = email_claim(account.email)
        assert claim["owner_user_id"]["S"] == newcomer["user"]["user_id"]
        login = {"email": account.email, "password": newcomer["password"]}
        assert APIClient().post(LOGIN, login, format="json").status_code == 200


def fail_with_unavailable(*args, **kwargs):
    raise Unavailable()


class TestSchema:
    def test_the_schema_has_one_users_me_path_with_get_patch_and_delete_and_the_export(self):
        response = APIClient().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        paths = json.loads(response.content)["paths"]
        assert set(paths["/api/v1/users/me"]) >= {"get", "patch", "delete"}
        erasure = paths["/api/v1/users/me"]["delete"]
        # drf-spectacular leaves DELETE bodies out (OpenAPI 3.0): the description says it.
        assert '{"password":' in erasure["description"]
        assert "400" in erasure["responses"]
        assert "202" in erasure["responses"]
        export = paths["/api/v1/users/me/export"]["get"]
        assert "application/zip" in export["responses"]["200"]["content"]
        assert [p for p in paths if p.startswith("/api/v1/users/me")] == [
            "/api/v1/users/me",
            "/api/v1/users/me/email",
            "/api/v1/users/me/export",
        ]
