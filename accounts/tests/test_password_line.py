"""The worker's password line: when it is full, a sign-in (or any use of a password) is
a quick 503 with Retry-After, and nothing is counted against the account.

Here the line is a ``WaitingLine`` whose places other requests hold; tests/test_serving.py
floods a gevent worker of gunicorn with sign-ins for the same through the server.
"""

import threading
from contextlib import ExitStack

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.tests.test_api import LOGIN, PASSWORD, assert_error, bearer
from accounts.tests.test_login_limits import WRONG_PASSWORD, anywhere, log_in
from conftest import STRONG_PASSWORD
from dermalens_site import concurrency
from dermalens_site.concurrency import Overloaded, WaitingLine

NEW_PASSWORD = "a-new-and-longer-passphrase"


@pytest.fixture
def line(monkeypatch) -> WaitingLine:
    """The worker's password line: three places, one kept for the accounts' own requests."""
    waiting = WaitingLine(3, reserved=1)
    monkeypatch.setattr(concurrency, "password_line", lambda: waiting)
    return waiting


def taken_by_others(line: WaitingLine, count: int, *, trusted: bool = False) -> ExitStack:
    """``count`` places held by requests of other threads until the stack closes."""
    entered, leave = threading.Barrier(count + 1), threading.Event()

    def hold() -> None:
        with line.place(trusted=trusted):
            entered.wait()
            leave.wait()

    holders = [threading.Thread(target=hold) for _ in range(count)]
    for holder in holders:
        holder.start()
    entered.wait()
    stack = ExitStack()
    stack.callback(lambda: [leave.set(), *(holder.join() for holder in holders)])
    return stack


class TestWaitingLine:
    def test_one_more_than_its_places_is_turned_away_and_a_place_given_back_is_taken(self):
        line = WaitingLine(2)
        with taken_by_others(line, 2):
            assert line.taken == 2
            with pytest.raises(Overloaded), line.place():
                pass
        assert line.taken == 0
        with line.place():
            assert line.taken == 1

    def test_a_request_in_line_keeps_its_one_place_in_a_nested_use(self):
        line = WaitingLine(1)
        with line.place(), line.place():
            assert line.taken == 1
        assert line.taken == 0

    def test_the_reserved_places_are_only_for_trusted_requests(self):
        line = WaitingLine(3, reserved=1)
        with taken_by_others(line, 2):  # strangers: the line is full for strangers
            with pytest.raises(Overloaded), line.place():
                pass
            with line.place(trusted=True):
                assert line.taken == 3
        with (
            taken_by_others(line, 2),
            taken_by_others(line, 1, trusted=True),
            pytest.raises(Overloaded),
            line.place(trusted=True),
        ):
            pass
        assert line.taken == 0

    def test_a_place_is_given_back_when_the_work_fails(self):
        line = WaitingLine(1)
        with pytest.raises(ValueError), line.place():
            raise ValueError("the hash failed")
        assert line.taken == 0


class TestFullLine:
    def test_a_sign_in_is_a_quick_503_and_not_counted_against_the_account(self, register, line):
        email = register()["user"]["email"]
        with taken_by_others(line, 3, trusted=True):
            for _ in range(8):  # more than the failures that lock an account (5)
                refused = log_in(anywhere(), email, WRONG_PASSWORD)
                assert_error(refused, 503, "unavailable")
                assert 5 <= int(refused["Retry-After"]) <= 8
                assert refused.json()["error"]["details"] == {"reason": "busy"}
        signed_in = log_in(anywhere(), email, STRONG_PASSWORD)
        assert signed_in.status_code == 200, signed_in.content

    def test_registration_and_a_password_change_wait_for_a_place_too(self, register, line):
        session = register()
        with taken_by_others(line, 3, trusted=True):
            body = {"email": "later@example.com", "password": STRONG_PASSWORD, "full_name": "L"}
            assert_error(APIClient().post("/api/v1/auth/register", body, format="json"), 503)
            change = {"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD}
            assert_error(bearer(session["access"]).post(PASSWORD, change, format="json"), 503)
        assert log_in(anywhere(), session["user"]["email"], STRONG_PASSWORD).status_code == 200

    def test_a_password_change_takes_one_place_though_it_confirms_the_password_first(
        self, register, line
    ):
        session = register()
        with taken_by_others(line, 2, trusted=True):  # one place left
            change = {"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD}
            changed = bearer(session["access"]).post(PASSWORD, change, format="json")
            assert changed.status_code == 200, changed.content
        assert log_in(anywhere(), session["user"]["email"], NEW_PASSWORD).status_code == 200

    def test_the_ops_sign_in_page_says_so_with_a_503(self, register, line):
        email = register()["user"]["email"]
        page = Client()
        with taken_by_others(line, 2):  # the places strangers may take
            response = page.post("/ops/login", {"email": email, "password": WRONG_PASSWORD})
        assert response.status_code == 503
        assert 5 <= int(response["Retry-After"]) <= 8
        assert b"retry in a few seconds" in response.content


class TestStrangersFillTheLine:
    """Strangers (sign-ins for accounts not theirs, from a few addresses) hold every place
    they may take: the account's own requests still get through."""

    def test_a_sign_in_from_the_account_s_own_device_gets_a_kept_place(self, register, line):
        session = register()
        email, device = session["user"]["email"], session["device_token"]
        with taken_by_others(line, 2):
            stranger = log_in(anywhere(), email, STRONG_PASSWORD)
            assert_error(stranger, 503, "unavailable")
            body = {"email": email, "password": STRONG_PASSWORD, "device_token": device}
            own = anywhere().post(LOGIN, body, format="json")
            assert own.status_code == 200, own.content

    def test_another_account_s_device_token_gets_no_kept_place(self, register, line):
        mine, theirs = register(), register()
        with taken_by_others(line, 2):
            body = {
                "email": theirs["user"]["email"],
                "password": STRONG_PASSWORD,
                "device_token": mine["device_token"],
            }
            assert_error(anywhere().post(LOGIN, body, format="json"), 503, "unavailable")

    def test_a_signed_in_password_change_gets_a_kept_place(self, register, line):
        session = register()
        with taken_by_others(line, 2):
            change = {"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD}
            changed = bearer(session["access"]).post(PASSWORD, change, format="json")
            assert changed.status_code == 200, changed.content
