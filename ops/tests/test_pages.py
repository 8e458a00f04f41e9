"""The ops pages and actions, through the Django test client, against DynamoDB Local."""

import importlib
import logging
import re
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient
from ulid import ULID

from accounts.services import now_iso
from dynamo.audit import audit_table
from dynamo.chat import ChatMessage, ChatSession, chat_table
from dynamo.scans import scans_table
from dynamo.tables import ALL_TABLES
from dynamo.users import users_table
from ops import selectors
from ops.tests.conftest import sign_in
from tests.seeding import seed_failed_analysis

SAMPLE_FACE = Path(__file__).resolve().parents[2] / "tests" / "data" / "astronaut.jpg"


def upload_scan(access: str) -> dict:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    with SAMPLE_FACE.open("rb") as image:
        response = client.post("/api/v1/scans", {"image": image}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()


def fail_scan(user_id: str, scan_id: str, reason: str = "timeout") -> None:
    scans_table().update(
        user_id,
        scan_id,
        changes={"status": "failed", "failure_reason": reason, "analysis": None},
    )
    # As the analysis's own write of a failure does (scans.services.record).
    users_table().count_activity(user_id, counts={"failed_scans": 1})


def api_status(access: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/v1/users/me").status_code


def rows_about(html: str, user_id: str) -> list[str]:
    return [row for row in re.findall(r"<tr>.*?</tr>", html, re.S) if user_id in row]


class TestDashboard:
    def test_shows_every_table_the_provider_and_recent_failures(self, staff_client, account):
        user_id = account["user"]["user_id"]
        scan_id = str(ULID())
        seed_failed_analysis(user_id, scan_id, reason="rate_limited", failed_at=now_iso())
        response = staff_client.get("/ops/")
        assert response.status_code == 200
        html = response.content.decode()
        for definition in ALL_TABLES:
            assert definition.name in html
        assert "ACTIVE" in html
        assert "offline" in html and "dermalens-offline-heuristic-10" in html
        [row] = [row for row in rows_about(html, scan_id)]
        assert "rate_limited" in row
        assert f'href="/ops/users/{user_id}"' in row

    def test_leaves_out_the_failures_of_an_erased_account(self, staff_client, account):
        gone, kept = str(ULID()), str(ULID())
        for user_id, scan_id in ((gone, str(ULID())), (account["user"]["user_id"], kept)):
            # An entry of an account erased before erasure took the log's entries.
            seed_failed_analysis(user_id, scan_id, reason="timeout", failed_at=now_iso())
        html = staff_client.get("/ops/").content.decode()
        assert rows_about(html, kept)
        assert gone not in html  # its link led to a 404

    def test_names_the_provider_of_each_use(self, staff_client, gemini_settings):
        gemini_settings.AI_PROVIDER = "offline"
        gemini_settings.AI_CHAT_PROVIDER = "gemini"

        html = staff_client.get("/ops/").content.decode()

        items = re.findall(r"<li>(.*?)</li>", html, re.S)
        [analysis] = [item for item in items if "Scan analysis and plans" in item]
        [chat] = [item for item in items if "Chat replies" in item]
        assert "offline" in analysis and "gemini" not in analysis
        assert "gemini" in chat and gemini_settings.GEMINI_MODEL in chat

    def test_loads_its_stylesheet_from_this_server(self, staff_client):
        html = staff_client.get("/ops/").content.decode()
        [stylesheet] = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
        assert stylesheet.startswith("/static/ops/")
        response = staff_client.get(stylesheet)
        assert response.status_code == 200
        assert b"font" in b"".join(response.streaming_content)


class TestUsers:
    def test_search_finds_the_account_by_exact_email_in_any_case(self, staff_client, account):
        email = account["user"]["email"]
        response = staff_client.get("/ops/users", {"email": f"  {email.upper()} "})
        assert response.status_code == 200
        html = response.content.decode()
        assert f'href="/ops/users/{account["user"]["user_id"]}"' in html
        assert email in html

    def test_search_for_an_unknown_email_says_so(self, staff_client, unique_email):
        response = staff_client.get("/ops/users", {"email": unique_email()})
        assert "No account has this email." in response.content.decode()

    def test_search_with_a_malformed_email_is_400(self, staff_client):
        assert staff_client.get("/ops/users", {"email": "not an email"}).status_code == 400

    def test_the_list_pages_with_a_signed_cursor_bound_to_the_staff_member(
        self, staff_client, register, create_staff, monkeypatch
    ):
        monkeypatch.setattr(selectors, "OPS_PAGE_SIZE", 2)
        for _ in range(3):
            register()
        first = staff_client.get("/ops/users").content.decode()
        cursor = re.search(r'href="/ops/users\?cursor=([^"]+)" rel="next"', first).group(1)
        second = staff_client.get(f"/ops/users?cursor={cursor}")
        assert second.status_code == 200
        ids = set(re.findall(r'href="/ops/users/([0-9A-Z]{26})"', first))
        next_ids = set(re.findall(r'href="/ops/users/([0-9A-Z]{26})"', second.content.decode()))
        assert len(ids) == 2 and len(next_ids) >= 1
        assert not ids & next_ids

        other = create_staff()
        from django.test import Client

        from ops.tests.conftest import sign_in

        other_client = Client()
        sign_in(other_client, other.email)
        refused = other_client.get(f"/ops/users?cursor={cursor}").content.decode()
        assert "belongs to another list" in refused
        tampered = staff_client.get("/ops/users?cursor=x" + cursor).content.decode()
        assert "The list starts again from the beginning." in tampered


class TestUserPage:
    def test_shows_metadata_and_counts_never_photos_analyses_or_chat(self, staff_client, account):
        user_id = account["user"]["user_id"]
        scan = upload_scan(account["access"])
        summary = scan["analysis"]["summary"]
        assert summary
        session_id = str(ULID())
        chat = chat_table()
        chat.create_session(
            ChatSession(
                user_id=user_id,
                session_id=session_id,
                created_at=now_iso(),
                last_activity_at=now_iso(),
            )
        )
        secret_words = "my confidential rash question about the left cheek"
        chat.add_message(
            ChatMessage(
                user_id=user_id,
                message_id=str(ULID()),
                session_id=session_id,
                role="user",
                content=secret_words,
                created_at=now_iso(),
            )
        )

        response = staff_client.get(f"/ops/users/{user_id}")
        assert response.status_code == 200
        html = response.content.decode()
        assert account["user"]["email"] in html
        assert "1 (0 failed analyses)" in html
        assert "1 messages in 1 conversations" in html
        assert summary not in html
        assert secret_words not in html
        assert "<img" not in html
        assert "image.jpg" not in html and "thumbnail" not in html  # no image key or URL
        assert scan["scan_id"] not in html  # only failed scans are named, by id

    def test_failed_scans_are_listed_by_id_and_reason_only(self, staff_client, account):
        user_id = account["user"]["user_id"]
        scan = upload_scan(account["access"])
        fail_scan(user_id, scan["scan_id"], reason="safety_block")
        html = staff_client.get(f"/ops/users/{user_id}").content.decode()
        assert "1 (1 failed analysis)" in html
        [row] = rows_about(html, scan["scan_id"])
        assert "safety_block" in row

    def test_an_unknown_account_is_404(self, staff_client):
        assert staff_client.get(f"/ops/users/{ULID()}").status_code == 404

    def test_an_id_that_is_not_an_account_id_is_404(self, staff_client, account):
        # The users table also holds email claims, keyed "email#<address>".
        claim = "email%23" + account["user"]["email"]
        assert staff_client.get(f"/ops/users/{claim}").status_code == 404
        assert staff_client.post(f"/ops/users/{claim}/disable").status_code == 404


class TestActions:
    def test_disable_revokes_the_api_token_and_shows_on_the_page(self, staff_client, account):
        user_id = account["user"]["user_id"]
        assert api_status(account["access"]) == 200
        response = staff_client.post(f"/ops/users/{user_id}/disable")
        assert response.status_code == 302
        page = staff_client.get(response["Location"]).content.decode()
        assert "The account is disabled and its tokens are revoked." in page
        assert "disabled" in page
        assert api_status(account["access"]) == 401

    def test_enable_lets_the_account_sign_in_but_keeps_old_tokens_revoked(
        self, staff_client, account
    ):
        user_id = account["user"]["user_id"]
        staff_client.post(f"/ops/users/{user_id}/disable")
        staff_client.post(f"/ops/users/{user_id}/enable")
        assert users_table().get(user_id).is_active
        assert api_status(account["access"]) == 401
        login = APIClient().post(
            "/api/v1/auth/login",
            {"email": account["user"]["email"], "password": account["password"]},
            format="json",
        )
        assert login.status_code == 200
        assert api_status(login.json()["access"]) == 200

    @pytest.mark.parametrize("action", ["enable", "send-reset-link"])
    def test_an_account_whose_erasure_has_begun_stays_closed(self, staff_client, account, action):
        # Closed as DELETE /users/me closes it, its erasure job still queued (or failed).
        user_id = account["user"]["user_id"]
        users_table().start_erasure(user_id, started_at="2026-11-28T03:00:00.000Z")
        page = staff_client.get(f"/ops/users/{user_id}").content.decode()
        assert "being erased" in page
        assert f"/ops/users/{user_id}/enable" not in page
        response = staff_client.post(f"/ops/users/{user_id}/{action}")
        assert response.status_code == 409
        assert "The account is being erased" in response.content.decode()
        assert not users_table().get(user_id, consistent=True).is_active
        login = APIClient().post(
            "/api/v1/auth/login",
            {"email": account["user"]["email"], "password": account["password"]},
            format="json",
        )
        assert login.status_code == 401

    def test_revoke_sessions_kills_tokens_but_not_the_account(self, staff_client, account):
        user_id = account["user"]["user_id"]
        response = staff_client.post(f"/ops/users/{user_id}/revoke-sessions")
        assert response.status_code == 302
        assert api_status(account["access"]) == 401
        refresh = APIClient().post(
            "/api/v1/auth/refresh", {"refresh": account["refresh"]}, format="json"
        )
        assert refresh.status_code == 401
        assert users_table().get(user_id).is_active

    def test_rerun_analyses_the_failed_scans_again(self, staff_client, account):
        user_id = account["user"]["user_id"]
        scan = upload_scan(account["access"])
        fail_scan(user_id, scan["scan_id"])
        response = staff_client.post(f"/ops/users/{user_id}/rerun-analyses")
        assert response.status_code == 302
        page = staff_client.get(response["Location"]).content.decode()
        assert "Failed analyses ran again. complete 1, failed 0, pending 0, skipped 0." in page
        assert scans_table().get(user_id, scan["scan_id"], consistent=True).status == "complete"

    def test_staff_cannot_disable_their_own_account(self, staff_client):
        staff = staff_client.staff
        response = staff_client.post(f"/ops/users/{staff.user_id}/disable")
        assert response.status_code == 409
        assert "You cannot disable your own account here" in response.content.decode()
        assert users_table().get(staff.user_id).is_active

    def test_an_unknown_action_is_404(self, staff_client, account):
        user_id = account["user"]["user_id"]
        assert staff_client.post(f"/ops/users/{user_id}/delete").status_code == 404

    def test_actions_refuse_get(self, staff_client, account):
        user_id = account["user"]["user_id"]
        assert staff_client.get(f"/ops/users/{user_id}/disable").status_code == 405
        assert users_table().get(user_id).is_active

    def test_erase_needs_the_accounts_email_typed(self, staff_client, account, unique_email):
        user_id = account["user"]["user_id"]
        response = staff_client.post(
            f"/ops/users/{user_id}/erase", {"confirm_email": unique_email()}
        )
        assert response.status_code == 409
        assert "does not match" in response.content.decode()
        assert users_table().get(user_id) is not None

    def test_erase_with_the_email_typed_removes_the_account(self, staff_client, account):
        privacy = importlib.import_module("privacy.services")
        if not hasattr(privacy, "erase_account"):
            pytest.skip("privacy.services.erase_account is not there yet")
        user_id = account["user"]["user_id"]
        upload_scan(account["access"])
        response = staff_client.post(
            f"/ops/users/{user_id}/erase",
            {"confirm_email": account["user"]["email"].upper()},
        )
        assert response.status_code == 302
        assert response["Location"] == "/ops/users?erased=1"
        assert users_table().get(user_id) is None
        assert scans_table().query_page(user_id, limit=5).items == []
        assert staff_client.get(f"/ops/users/{user_id}").status_code == 404
        [entry] = audit_table().entries_about(user_id, limit=5)
        assert entry.action == "erase_account"


class TestAudit:
    def test_every_action_is_recorded_and_shown_newest_first(self, staff_client, account):
        user_id = account["user"]["user_id"]
        for action in ("disable", "enable", "revoke-sessions", "rerun-analyses"):
            assert staff_client.post(f"/ops/users/{user_id}/{action}").status_code == 302

        html = staff_client.get("/ops/audit").content.decode()
        rows = rows_about(html, user_id)
        labels = [
            "re-ran failed analyses",
            "revoked every session",
            "enabled the account",
            "disabled the account",
        ]
        assert [next(label for label in labels if label in row) for row in rows] == labels
        assert all(staff_client.staff.email in row for row in rows)
        assert "complete 0, failed 0, pending 0, skipped 0" in rows[0]

        entries = audit_table().entries_about(user_id, limit=10)
        assert [entry.action for entry in entries] == [
            "rerun_analyses",
            "revoke_sessions",
            "enable_account",
            "disable_account",
        ]
        assert all(entry.actor_user_id == staff_client.staff.user_id for entry in entries)
        assert entries[0].at >= entries[-1].at

        page = staff_client.get(f"/ops/users/{user_id}").content.decode()
        assert "Staff actions on this account" in page
        assert "disabled the account" in page

    def test_sign_in_and_out_are_recorded(self, staff):
        from django.test import Client

        from ops.tests.conftest import sign_in

        client = Client()
        sign_in(client, staff.email)
        client.post("/ops/logout")
        page = audit_table().list_entries(limit=50, cursor=None, scope="test")
        mine = [entry.action for entry in page.items if entry.actor_user_id == staff.user_id]
        assert mine[:2] == ["logout", "login"]

    def test_the_log_pages_with_a_signed_cursor(self, staff_client, account, monkeypatch):
        monkeypatch.setattr(selectors, "OPS_PAGE_SIZE", 2)
        user_id = account["user"]["user_id"]
        for action in ("disable", "enable", "revoke-sessions"):
            staff_client.post(f"/ops/users/{user_id}/{action}")
        first = staff_client.get("/ops/audit").content.decode()
        cursor = re.search(r'href="/ops/audit\?cursor=([^"]+)" rel="next"', first).group(1)
        second = staff_client.get(f"/ops/audit?cursor={cursor}")
        assert second.status_code == 200
        assert first.count("<tr>") == 3  # a header and two entries
        tampered = staff_client.get("/ops/audit?cursor=x" + cursor).content.decode()
        assert "The log starts again from the newest entry." in tampered


class TestDataStoreNotAnswering:
    @pytest.mark.parametrize("page", ["/ops/", "/ops/users", "/ops/audit", "/ops/login"])
    def test_a_signed_in_page_is_a_503_page_asking_to_try_again_shortly(
        self, staff_client, unreachable_dynamodb, caplog, page
    ):
        with caplog.at_level(logging.INFO):
            response = staff_client.get(page)
        assert_data_store_page(response)
        assert_one_warning_without_traceback(caplog)

    def test_signing_in_is_a_503_page_asking_to_try_again_shortly(
        self, staff, unreachable_dynamodb, caplog
    ):
        with caplog.at_level(logging.INFO):
            response = sign_in(Client(), staff.email)
        assert_data_store_page(response)
        assert_one_warning_without_traceback(caplog)

    def test_the_staff_of_an_outage_are_told_to_come_back_at_different_times(
        self, staff_client, unreachable_dynamodb
    ):
        # As the API's 503s: each page draws its wait from 2 to 4 s (``spread``), so the
        # browsers that met the outage together do not all come back in the same second.
        waits = {int(staff_client.get("/ops/users")["Retry-After"]) for _ in range(20)}
        assert waits <= {2, 3, 4} and len(waits) >= 2

    def test_the_api_still_answers_its_own_json_503(self, auth_client, unreachable_dynamodb):
        response = auth_client.get("/api/v1/users/me")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "unavailable"


def assert_data_store_page(response) -> None:
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) > 0
    assert response["Cache-Control"] == "no-store"  # and the ops pages' other headers
    assert "default-src 'none'" in response["Content-Security-Policy"]
    html = response.content.decode()
    assert "The data store is not answering" in html
    assert "Try again shortly" in html


def assert_one_warning_without_traceback(caplog) -> None:
    problems = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [record.levelname for record in problems] == ["WARNING"]
    assert problems[0].getMessage().startswith("dynamodb unavailable")
    assert problems[0].exc_info is None
