"""Getting back into an account: password reset, email verification, email change and
the notices they send, through the HTTP API against DynamoDB Local, with every message
sent through django-ses to moto's SES server and read back from it."""

import itertools
import re
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient
from ulid import ULID

from accounts.mail import wait_for_account_email
from conftest import STRONG_PASSWORD
from dynamo.users import users_table

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
PASSWORD = "/api/v1/auth/password"
RESET = "/api/v1/auth/password/reset"
RESET_CONFIRM = "/api/v1/auth/password/reset/confirm"
VERIFY = "/api/v1/auth/email/verify"
RESEND = "/api/v1/auth/email/verify/resend"
ME = "/api/v1/users/me"
CHANGE_EMAIL = "/api/v1/users/me/email"
NEW_PASSWORD = "a-brand-new-passphrase-42"


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code, response.content
    return response.json()["error"]


def without_waits(message: str) -> str:
    return re.sub(r"in [0-9]+ seconds", "in N seconds", message)


def reset_link_token(mailbox, email: str) -> str:
    return mailbox.last(email, subject="Reset your DermaLens password").token


def ask_for_reset(
    email: str, *, address: str = "10.20.0.1", device_token: str | None = None
) -> object:
    body = (
        {"email": email} if device_token is None else {"email": email, "device_token": device_token}
    )
    return APIClient(REMOTE_ADDR=address).post(RESET, body, format="json")


@pytest.fixture
def generous_email_limits(settings):
    rates = {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        "password_reset": "1000/hour",
        "account_email_address": "1000/hour",
    }
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


class TestPasswordReset:
    def test_a_reset_request_emails_a_plain_text_link_to_the_app_page(
        self, ses_mailbox, register, settings
    ):
        email = register()["user"]["email"]
        response = ask_for_reset(email)
        assert response.status_code == 202
        message = ses_mailbox.last(email, subject="Reset your DermaLens password")
        assert message.sender == settings.DEFAULT_FROM_EMAIL.split("<")[1].rstrip(">")
        assert message.recipients == (email,)
        assert message.content_types == ("text/plain",)
        assert message.link.startswith(f"{settings.PASSWORD_RESET_URL}?token=")
        assert "30 minutes" in message.text

    def test_an_unknown_email_gets_the_same_answer_and_no_message(
        self, ses_mailbox, register, unique_email
    ):
        known = ask_for_reset(register()["user"]["email"])
        nobody = unique_email()
        unknown = ask_for_reset(nobody)
        assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
        assert ses_mailbox.to(nobody) == []

    def test_a_known_and_an_unknown_email_take_about_the_same_time(
        self, register, unique_email, generous_email_limits
    ):
        email = register()["user"]["email"]

        def timed(address: str) -> float:
            started = time.perf_counter()
            assert ask_for_reset(address).status_code == 202
            return time.perf_counter() - started

        timed(email), timed(unique_email())  # warm both paths up
        known, unknown = [], []
        for _ in range(15):
            known.append(timed(email))
            unknown.append(timed(unique_email()))
        wait_for_account_email(timeout=120)
        # Both paths read twice, make a token and render a message; the sending happens
        # on the sender thread. The medians are compared: taken in turn, both meet a busy
        # machine alike, and one request that met an idle one moves neither (the fastest
        # of each were compared, and one unknown address answered in 22 ms, the rest in
        # 44-68 ms, failed the test on a machine running the whole suite).
        assert 0.5 < statistics.median(unknown) / statistics.median(known) < 2.0

    def test_the_link_sets_a_new_password_ends_every_session_and_returns_a_pair(
        self, ses_mailbox, register
    ):
        session = register()
        email = session["user"]["email"]
        ask_for_reset(email)
        token = reset_link_token(ses_mailbox, email)

        response = APIClient().post(RESET_CONFIRM, {"token": token, "new_password": NEW_PASSWORD})
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["user"]["email"] == email and body["user"]["email_verified"] is True
        assert bearer(body["access"]).get(ME).status_code == 200
        assert bearer(session["access"]).get(ME).status_code == 401
        assert APIClient().post(REFRESH, {"refresh": session["refresh"]}).status_code == 401
        old_login = APIClient().post(LOGIN, {"email": email, "password": STRONG_PASSWORD})
        assert old_login.status_code == 401
        new_login = APIClient().post(LOGIN, {"email": email, "password": NEW_PASSWORD})
        assert new_login.status_code == 200
        notice = ses_mailbox.last(email, subject="password was changed")
        assert "reset with a link" in notice.text and "If this was not you" in notice.text

    def test_the_reset_is_answered_as_done_when_its_mark_cannot_be_stored(
        self, ses_mailbox, register, monkeypatch
    ):
        from dynamo.errors import Unavailable
        from dynamo.limits import LimitsTable

        def unavailable(self, key, *, until):
            raise Unavailable("throttled")

        monkeypatch.setattr(LimitsTable, "mark", unavailable)
        email = register()["user"]["email"]
        ask_for_reset(email)
        token = reset_link_token(ses_mailbox, email)

        response = APIClient().post(RESET_CONFIRM, {"token": token, "new_password": NEW_PASSWORD})
        assert response.status_code == 200, response.content
        new_login = APIClient().post(LOGIN, {"email": email, "password": NEW_PASSWORD})
        assert new_login.status_code == 200

    def test_the_new_password_signs_in_at_once_after_forgetting_locked_the_logins(
        self, ses_mailbox, register
    ):
        # Someone who forgot the password tries the ones it might be until the account's
        # logins lock, then resets it by email and signs in on another device.
        email = register()["user"]["email"]
        statuses = []
        for number in range(8):
            guess = {"email": email, "password": f"maybe-it-was-{number}"}
            statuses.append(
                APIClient(REMOTE_ADDR=f"10.40.0.{number}").post(LOGIN, guess).status_code
            )
        assert statuses[-1] == 429
        ask_for_reset(email)
        token = reset_link_token(ses_mailbox, email)
        reset = APIClient().post(RESET_CONFIRM, {"token": token, "new_password": NEW_PASSWORD})
        assert reset.status_code == 200, reset.content

        other_device = APIClient(REMOTE_ADDR="10.40.1.1")
        login = other_device.post(LOGIN, {"email": email, "password": NEW_PASSWORD})
        assert login.status_code == 200, login.content
        # The lock was lifted by the link, not by forgetting the count for anyone else:
        # wrong guesses count again from the start.
        guesses = [
            APIClient(REMOTE_ADDR=f"10.40.2.{n}")
            .post(LOGIN, {"email": email, "password": "still-not-it"})
            .status_code
            for n in range(6)
        ]
        assert guesses == [401] * 5 + [429]

    def test_a_used_link_is_refused(self, ses_mailbox, register):
        email = register()["user"]["email"]
        ask_for_reset(email)
        token = reset_link_token(ses_mailbox, email)
        first = APIClient().post(RESET_CONFIRM, {"token": token, "new_password": NEW_PASSWORD})
        assert first.status_code == 200
        again = APIClient().post(
            RESET_CONFIRM, {"token": token, "new_password": "x" + NEW_PASSWORD}
        )
        assert_error(again, 400, "invalid_token")
        login = APIClient().post(LOGIN, {"email": email, "password": NEW_PASSWORD})
        assert login.status_code == 200

    def test_two_requests_racing_with_one_link_set_one_password(self, ses_mailbox, register):
        email = register()["user"]["email"]
        ask_for_reset(email)
        token = reset_link_token(ses_mailbox, email)
        barrier = threading.Barrier(2)
        statuses: list[int] = []

        def confirm(password: str) -> None:
            client = APIClient()
            barrier.wait()
            body = {"token": token, "new_password": password}
            statuses.append(client.post(RESET_CONFIRM, body).status_code)

        threads = [
            threading.Thread(target=confirm, args=(p,)) for p in (NEW_PASSWORD, "y" + NEW_PASSWORD)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(statuses) == [200, 400]

    def test_an_expired_link_is_refused(self, ses_mailbox, register, settings):
        email = register()["user"]["email"]
        ask_for_reset(email)
        token = reset_link_token(ses_mailbox, email)
        settings.PASSWORD_RESET_TIMEOUT = 0
        time.sleep(1.1)
        response = APIClient().post(RESET_CONFIRM, {"token": token, "new_password": NEW_PASSWORD})
        assert_error(response, 400, "invalid_token")

    def test_a_tampered_or_made_up_token_is_refused_alike(self, ses_mailbox, register):
        email = register()["user"]["email"]
        other = register()["user"]["user_id"]
        ask_for_reset(email)
        token = reset_link_token(ses_mailbox, email)
        user_id, _, rest = token.partition("-")
        last = "a" if token[-1] != "a" else "b"
        for forged in (token[:-1] + last, f"{other}-{rest}", "not-a-token", user_id):
            response = APIClient().post(
                RESET_CONFIRM, {"token": forged, "new_password": NEW_PASSWORD}
            )
            assert_error(response, 400, "invalid_token")
        # The genuine link still works afterwards.
        response = APIClient().post(RESET_CONFIRM, {"token": token, "new_password": NEW_PASSWORD})
        assert response.status_code == 200

    def test_a_link_made_before_a_password_change_is_refused(self, ses_mailbox, register):
        session = register()
        email = session["user"]["email"]
        ask_for_reset(email)
        token = reset_link_token(ses_mailbox, email)
        changed = bearer(session["access"]).post(
            PASSWORD, {"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD}
        )
        assert changed.status_code == 200
        response = APIClient().post(
            RESET_CONFIRM, {"token": token, "new_password": "z" + NEW_PASSWORD}
        )
        assert_error(response, 400, "invalid_token")

    def test_a_profile_edit_does_not_spoil_the_link(self, ses_mailbox, register):
        session = register()
        email = session["user"]["email"]
        ask_for_reset(email)
        token = reset_link_token(ses_mailbox, email)
        assert bearer(session["access"]).patch(ME, {"skin_type": "oily"}).status_code == 200
        response = APIClient().post(RESET_CONFIRM, {"token": token, "new_password": NEW_PASSWORD})
        assert response.status_code == 200
        assert response.json()["user"]["skin_type"] == "oily"

    def test_a_weak_new_password_is_refused_and_the_link_stays_usable(self, ses_mailbox, register):
        email = register()["user"]["email"]
        ask_for_reset(email)
        token = reset_link_token(ses_mailbox, email)
        weak = APIClient().post(RESET_CONFIRM, {"token": token, "new_password": "password"})
        error = assert_error(weak, 400, "invalid")
        assert "new_password" in error["details"]
        strong = APIClient().post(RESET_CONFIRM, {"token": token, "new_password": NEW_PASSWORD})
        assert strong.status_code == 200

    def test_the_link_does_not_set_the_password_it_replaces(self, ses_mailbox, register):
        session = register()
        email = session["user"]["email"]
        ask_for_reset(email)
        token = reset_link_token(ses_mailbox, email)
        same = APIClient().post(RESET_CONFIRM, {"token": token, "new_password": STRONG_PASSWORD})
        error = assert_error(same, 400, "invalid")
        assert error["details"] == {"new_password": ["The new password is the current one."]}
        # Nothing happened: the sessions live on, and the link still sets another password.
        assert bearer(session["access"]).get(ME).status_code == 200
        strong = APIClient().post(RESET_CONFIRM, {"token": token, "new_password": NEW_PASSWORD})
        assert strong.status_code == 200, strong.content
        assert bearer(session["access"]).get(ME).status_code == 401

    def test_a_disabled_account_gets_no_link(self, ses_mailbox, register):
        session = register()
        email = session["user"]["email"]
        users_table().disable(session["user"]["user_id"], updated_at="2026-01-01T00:00:00Z")
        assert ask_for_reset(email).status_code == 202
        assert [m for m in ses_mailbox.to(email) if "Reset" in m.subject] == []

    def test_many_requests_for_one_address_are_limited_from_any_client_address(
        self, ses_mailbox, register, unique_email
    ):
        email = register()["user"]["email"]
        statuses = [ask_for_reset(email, address=f"10.30.0.{n}").status_code for n in range(6)]
        assert statuses == [202] * 5 + [429]
        limited = ask_for_reset(email, address="10.30.1.1")
        refused = assert_error(limited, 429, "throttled")
        assert int(limited["Retry-After"]) > 0
        assert len([m for m in ses_mailbox.to(email) if "Reset" in m.subject]) == 5
        # It says what helps: links were asked for already, where they are, how long they last.
        message = refused["message"]
        assert "already asked for this email address in the last hour" in message
        assert "inbox" in message
        assert f"{django_settings.PASSWORD_RESET_TOKEN_MINUTES} minutes" in message
        assert "You can ask again in" in message
        assert "Request was throttled" not in message
        # An address nobody has is limited the same way: the 429 tells nothing either.
        nobody = unique_email()
        statuses = [ask_for_reset(nobody, address=f"10.31.0.{n}").status_code for n in range(6)]
        assert statuses == [202] * 5 + [429]
        told = assert_error(ask_for_reset(nobody, address="10.31.1.1"), 429, "throttled")
        assert without_waits(told["message"]) == without_waits(message)

    def test_a_stranger_who_spends_the_addresss_requests_does_not_keep_the_owners_phone_from_a_link(
        self, ses_mailbox, register
    ):
        owner, stranger = register(), register()
        email = owner["user"]["email"]
        asked = [ask_for_reset(email, address=f"10.33.0.{n}").status_code for n in range(6)]
        assert asked == [202] * 5 + [429]
        # The stranger's own device token counts on the mailbox like any request.
        assert_error(
            ask_for_reset(email, address="10.33.1.1", device_token=stranger["device_token"]),
            429,
            "throttled",
        )
        resets = [m for m in ses_mailbox.to(email) if "Reset" in m.subject]
        assert len(resets) == 5
        from_phone = ask_for_reset(email, address="10.33.2.2", device_token=owner["device_token"])
        assert from_phone.status_code == 202, from_phone.content
        assert len([m for m in ses_mailbox.to(email) if "Reset" in m.subject]) == 6
        body = {"token": reset_link_token(ses_mailbox, email), "new_password": NEW_PASSWORD}
        assert APIClient().post(RESET_CONFIRM, body, format="json").status_code == 200

    @pytest.mark.parametrize("ended_by", ["reset", "revoke sessions"])
    def test_an_old_phones_device_token_counts_on_the_address_once_sessions_end(
        self, ses_mailbox, register, ended_by
    ):
        owner = register()
        email, old_phone = owner["user"]["email"], owner["device_token"]
        if ended_by == "reset":
            assert ask_for_reset(email, address="10.35.0.1").status_code == 202
            body = {"token": reset_link_token(ses_mailbox, email), "new_password": NEW_PASSWORD}
            assert APIClient().post(RESET_CONFIRM, body, format="json").status_code == 200
        else:
            users_table().revoke_sessions(owner["user"]["user_id"], updated_at="2026-11-28T03:00Z")
        asked = [ask_for_reset(email, address=f"10.35.1.{n}").status_code for n in range(6)]
        assert asked[-1] == 429
        # The old phone's holder is one more stranger: the mailbox gets nothing more.
        sent = len([m for m in ses_mailbox.to(email) if "Reset" in m.subject])
        from_old_phone = ask_for_reset(email, address="10.35.2.2", device_token=old_phone)
        assert_error(from_old_phone, 429, "throttled")
        assert len([m for m in ses_mailbox.to(email) if "Reset" in m.subject]) == sent

    def test_a_null_device_token_is_a_request_without_one(self, ses_mailbox, register):
        email = register()["user"]["email"]
        body = {"email": email, "device_token": None}
        answer = APIClient(REMOTE_ADDR="10.20.0.9").post(RESET, body, format="json")
        assert answer.status_code == 202, answer.content
        assert reset_link_token(ses_mailbox, email)

    def test_an_overlong_address_asked_for_from_a_signed_in_phone_is_a_clear_400(self, register):
        device_token = register()["device_token"]
        # Longer than a DynamoDB key may be: no account can have it.
        email = "a" * 2100 + "@example.com"
        response = ask_for_reset(email, address="10.34.0.1", device_token=device_token)
        error = assert_error(response, 400, "invalid")
        assert "email" in error["details"]

    def test_a_flood_of_requests_from_one_client_address_is_braked(self, settings, unique_email):
        # Its production rate (300 an hour) is shown generous by TestPeopleBehindOneAddress.
        rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "password_reset": "20/hour"}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
        statuses = [
            ask_for_reset(unique_email(), address="10.32.0.1").status_code for _ in range(21)
        ]
        assert statuses == [202] * 20 + [429]
        braked = assert_error(ask_for_reset(unique_email(), address="10.32.0.1"), 429, "throttled")
        assert braked["message"].startswith("Too many reset requests from your network")
        assert ask_for_reset(unique_email(), address="10.32.0.2").status_code == 202

    def test_a_flood_at_one_email_leaves_the_addresss_requests_to_the_rest(
        self, settings, unique_email
    ):
        # The email's own limit (5 an hour) refuses the flood before the address (20 here)
        # counts it: the people behind the address still get their links.
        rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "password_reset": "20/hour"}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
        victim = unique_email()
        statuses = [ask_for_reset(victim, address="10.32.0.3").status_code for _ in range(30)]
        assert statuses == [202] * 5 + [429] * 25
        assert ask_for_reset(unique_email(), address="10.32.0.3").status_code == 202


class TestEmailVerification:
    def test_registration_sends_a_link_that_verifies_the_address(self, ses_mailbox, register):
        session = register()
        email = session["user"]["email"]
        assert session["user"]["email_verified"] is False
        client = bearer(session["access"])
        assert client.get(ME).json()["email_verified"] is False
        # An unverified account can use the app.
        assert client.get("/api/v1/scans").status_code == 200

        message = ses_mailbox.last(email, subject="Confirm your email address")
        assert message.content_types == ("text/plain",)
        response = APIClient().post(VERIFY, {"token": message.token})
        assert response.status_code == 200, response.content
        assert response.json() == {"email": email, "email_verified": True}
        assert client.get(ME).json()["email_verified"] is True
        # The same link opened again changes nothing and is not an error.
        assert APIClient().post(VERIFY, {"token": message.token}).status_code == 200

    def test_the_registrants_name_reaches_a_mailbox_only_once_it_is_the_accounts(
        self, ses_mailbox, register
    ):
        # Whoever registers writes the name, and any address: the name is theirs to send.
        words = "Bob, sign in at evil.example now"
        email = register(full_name=words)["user"]["email"]
        confirm = ses_mailbox.last(email, subject="Confirm your email address")
        assert confirm.text.splitlines()[0] == "Hello,"
        assert words not in confirm.text
        ask_for_reset(email)
        assert words not in ses_mailbox.last(email, subject="Reset your DermaLens password").text
        # The address proved (the link opened), the account's own mail greets by name.
        assert APIClient().post(VERIFY, {"token": confirm.token}).status_code == 200
        ask_for_reset(email)
        reset = ses_mailbox.last(email, subject="Reset your DermaLens password")
        assert reset.text.splitlines()[0] == f"Hello {words},"

    def test_a_tampered_or_expired_verification_link_is_refused(
        self, ses_mailbox, register, settings
    ):
        email = register()["user"]["email"]
        token = ses_mailbox.last(email, subject="Confirm your email address").token
        for forged in (token[:-2] + "xx", "nonsense", token.replace(":", ";", 1)):
            assert_error(APIClient().post(VERIFY, {"token": forged}), 400, "invalid_token")
        settings.EMAIL_VERIFY_TOKEN_HOURS = 0
        time.sleep(1.1)
        assert_error(APIClient().post(VERIFY, {"token": token}), 400, "invalid_token")

    def test_resend_sends_a_new_link_until_the_address_is_verified(self, ses_mailbox, register):
        session = register()
        email = session["user"]["email"]
        client = bearer(session["access"])
        assert client.post(RESEND).status_code == 202
        links = [m for m in ses_mailbox.to(email) if "Confirm your email" in m.subject]
        assert len(links) == 2
        assert APIClient().post(VERIFY, {"token": links[-1].token}).status_code == 200
        assert_error(client.post(RESEND), 409, "email_already_verified")

    def test_resend_is_limited(self, register):
        client = bearer(register()["access"])
        statuses = [client.post(RESEND).status_code for _ in range(6)]
        assert statuses == [202] * 5 + [429]


def request_change(session: dict, new_email: str, password: str = STRONG_PASSWORD):
    body = {"new_email": new_email, "password": password}
    return bearer(session["access"]).post(CHANGE_EMAIL, body)


class TestEmailChange:
    def test_the_change_happens_when_the_link_sent_to_the_new_address_is_used(
        self, ses_mailbox, register, unique_email
    ):
        session = register()
        old, new = session["user"]["email"], unique_email()
        response = request_change(session, new.upper())
        assert response.status_code == 202, response.content
        client = bearer(session["access"])
        assert client.get(ME).json()["email"] == old  # nothing changes yet

        notice = ses_mailbox.last(old, subject="new email address was requested")
        assert f"{new[0]}***@example.com" in notice.text and new not in notice.text
        confirmation = ses_mailbox.last(new, subject="Confirm your new email address")
        response = APIClient().post(VERIFY, {"token": confirmation.token})
        assert response.status_code == 200, response.content
        assert response.json() == {"email": new, "email_verified": True}

        me = client.get(ME).json()
        assert (me["email"], me["email_verified"]) == (new, True)
        assert (
            APIClient().post(LOGIN, {"email": new, "password": STRONG_PASSWORD}).status_code == 200
        )
        assert (
            APIClient().post(LOGIN, {"email": old, "password": STRONG_PASSWORD}).status_code == 401
        )
        assert ses_mailbox.last(old, subject="email address was changed")
        # The old address is free again; the link is used up.
        assert users_table().find_user_id(old) is None
        assert_error(APIClient().post(VERIFY, {"token": confirmation.token}), 400, "invalid_token")

    def test_a_reset_link_then_goes_to_the_new_address_only(
        self, ses_mailbox, register, unique_email
    ):
        session = register()
        old, new = session["user"]["email"], unique_email()
        request_change(session, new)
        token = ses_mailbox.last(new, subject="Confirm your new email address").token
        assert APIClient().post(VERIFY, {"token": token}).status_code == 200
        ask_for_reset(old)
        ask_for_reset(new)
        assert ses_mailbox.last(new, subject="Reset your DermaLens password")
        assert [m for m in ses_mailbox.to(old) if "Reset" in m.subject] == []

    @pytest.mark.parametrize(
        ("password", "same_address", "field"),
        [("wrong-password-123", False, "password"), (STRONG_PASSWORD, True, "new_email")],
    )
    def test_a_wrong_password_or_the_same_address_is_refused(
        self, ses_mailbox, register, unique_email, password, same_address, field
    ):
        session = register()
        new = session["user"]["email"] if same_address else unique_email()
        error = assert_error(request_change(session, new, password), 400, "invalid")
        assert field in error["details"]
        assert ses_mailbox.to(new) == [] or same_address

    def test_an_address_another_account_has_is_refused(self, register):
        session, other = register(), register()
        response = request_change(session, other["user"]["email"])
        assert_error(response, 409, "email_taken")

    def test_a_link_made_before_a_password_change_is_refused(
        self, ses_mailbox, register, unique_email
    ):
        session = register()
        new = unique_email()
        request_change(session, new)
        token = ses_mailbox.last(new, subject="Confirm your new email address").token
        bearer(session["access"]).post(
            PASSWORD, {"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD}
        )
        assert_error(APIClient().post(VERIFY, {"token": token}), 400, "invalid_token")
        assert users_table().find_user_id(new) is None

    def test_two_accounts_racing_for_one_new_address_one_wins(
        self, ses_mailbox, register, unique_email
    ):
        first, second = register(), register()
        contested = unique_email()
        request_change(first, contested)
        request_change(second, contested)
        tokens = [m.token for m in ses_mailbox.to(contested)]
        assert len(tokens) == 2
        barrier = threading.Barrier(2)
        responses: list = []

        def use(token: str) -> None:
            client = APIClient()
            barrier.wait()
            responses.append(client.post(VERIFY, {"token": token}))

        threads = [threading.Thread(target=use, args=(token,)) for token in tokens]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [200, 409]
        loser = next(r for r in responses if r.status_code == 409)
        assert loser.json()["error"]["code"] == "email_taken"
        winner_id = users_table().find_user_id(contested)
        sessions = {first["user"]["user_id"]: first, second["user"]["user_id"]: second}
        assert winner_id in sessions
        loser_session = next(s for uid, s in sessions.items() if uid != winner_id)
        loser_email = loser_session["user"]["email"]
        assert users_table().get(loser_session["user"]["user_id"]).email == loser_email
        assert users_table().find_user_id(loser_email) == loser_session["user"]["user_id"]
        login = APIClient().post(LOGIN, {"email": loser_email, "password": STRONG_PASSWORD})
        assert login.status_code == 200

    def test_one_link_used_twice_at_once_moves_the_account_once_and_calls_the_other_used(
        self, ses_mailbox, register, unique_email
    ):
        session, new_email = register(), unique_email()
        assert request_change(session, new_email).status_code == 202
        token = ses_mailbox.last(new_email, subject="Confirm").token
        barrier = threading.Barrier(4)

        def use(_: int):
            client = APIClient()
            barrier.wait()
            return client.post(VERIFY, {"token": token})

        with ThreadPoolExecutor(max_workers=4) as pool:
            responses = list(pool.map(use, range(4)))
        # A double-click on the page's button: the address is not "taken", it is this
        # account's now, and the link is used, as when it is used again later.
        assert sorted(r.status_code for r in responses) == [200, 400, 400, 400], [
            r.content for r in responses
        ]
        for refused in (r for r in responses if r.status_code == 400):
            assert_error(refused, 400, "invalid_token")
        assert users_table().find_user_id(new_email) == session["user"]["user_id"]


# One address, many people: a campus's, an office's or a mobile carrier's NAT.
SHARED_ADDRESS = "198.51.100.77"
# More people than one address's hourly allowance of account email once was (30).
PEOPLE = 40


@pytest.fixture
def production_address_limits(settings):
    """The production defaults of the per-address limits, not the test suite's."""
    rates = {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
        **django_settings.ADDRESS_RATE_DEFAULTS,
    }
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}


def people(count: int) -> list[dict]:
    """``count`` accounts, each registered from an address of its own (the suite's
    registration limit per address is low); their sessions."""
    sessions = []
    for number in range(count):
        client = APIClient(REMOTE_ADDR=f"100.70.{number // 250}.{number % 250 + 1}")
        body = {
            "email": f"person-{ULID()}@example.com".lower(),
            "password": STRONG_PASSWORD,
            "full_name": "Campus User",
        }
        response = client.post("/api/v1/auth/register", body, format="json")
        assert response.status_code == 201, response.content
        sessions.append(response.json())
    return sessions


def from_shared_address(session: dict) -> APIClient:
    return APIClient(REMOTE_ADDR=SHARED_ADDRESS, HTTP_AUTHORIZATION=f"Bearer {session['access']}")


def subjects_to(sent: list, address: str) -> list[str]:
    return [message.subject for message in sent if address in message.recipients]


class TestPeopleBehindOneAddress:
    def test_each_gets_the_reset_link_they_ask_for(self, production_address_limits, ses_mailbox):
        emails = [session["user"]["email"] for session in people(PEOPLE)]
        statuses = [ask_for_reset(email, address=SHARED_ADDRESS).status_code for email in emails]
        assert statuses == [202] * PEOPLE
        sent = ses_mailbox.all()
        for email in emails:
            assert "Reset your DermaLens password" in subjects_to(sent, email)

    def test_each_can_have_their_verification_link_sent_again(
        self, production_address_limits, ses_mailbox
    ):
        sessions = people(PEOPLE)
        statuses = [from_shared_address(s).post(RESEND).status_code for s in sessions]
        assert statuses == [202] * PEOPLE
        sent = ses_mailbox.all()
        for session in sessions:
            subjects = subjects_to(sent, session["user"]["email"])
            assert len([s for s in subjects if "Confirm your email" in s]) == 2

    def test_each_can_ask_to_change_their_email(
        self, production_address_limits, ses_mailbox, unique_email
    ):
        sessions = people(PEOPLE)
        new_emails = [unique_email() for _ in sessions]
        statuses = [
            from_shared_address(session)
            .post(CHANGE_EMAIL, {"new_email": new_email, "password": STRONG_PASSWORD})
            .status_code
            for session, new_email in zip(sessions, new_emails, strict=True)
        ]
        assert statuses == [202] * PEOPLE
        sent = ses_mailbox.all()
        assert all(subjects_to(sent, new_email) for new_email in new_emails)

    def test_one_account_cannot_send_change_links_to_address_after_address(
        self, production_address_limits, register, unique_email
    ):
        # From a new client address each time: the limit is the account's own.
        session = register()
        statuses = []
        for number in range(31):
            client = APIClient(
                REMOTE_ADDR=f"100.71.0.{number + 1}",
                HTTP_AUTHORIZATION=f"Bearer {session['access']}",
            )
            body = {"new_email": unique_email(), "password": STRONG_PASSWORD}
            statuses.append(client.post(CHANGE_EMAIL, body).status_code)
        assert statuses == [202] * 30 + [429]


class TestSecurityNotices:
    def test_a_changed_password_sends_a_notice_to_the_account(self, ses_mailbox, register):
        session = register()
        response = bearer(session["access"]).post(
            PASSWORD, {"current_password": STRONG_PASSWORD, "new_password": NEW_PASSWORD}
        )
        assert response.status_code == 200
        notice = ses_mailbox.last(session["user"]["email"], subject="password was changed")
        assert "If this was not you" in notice.text
        assert NEW_PASSWORD not in notice.text

    def test_a_mailbox_gets_at_most_its_hourly_allowance_whatever_asks(
        self, ses_mailbox, register, settings
    ):
        # Someone registered with a stranger's address changes the password again and
        # again: each change is allowed (per account), the stranger's mail is not.
        settings.ACCOUNT_EMAILS_PER_ADDRESS_PER_HOUR = 3
        session = register()
        passwords = [STRONG_PASSWORD] + [f"{NEW_PASSWORD}-{n}" for n in range(4)]
        for current, new in itertools.pairwise(passwords):
            change = {"current_password": current, "new_password": new}
            response = bearer(session["access"]).post(PASSWORD, change)
            assert response.status_code == 200, response.content
            session = response.json()
        sent = ses_mailbox.to(session["user"]["email"])
        # The verification link and the first two notices; four notices were asked for.
        assert len(sent) == 3
        assert sum("password was changed" in message.subject.lower() for message in sent) == 2

    @pytest.mark.parametrize(
        "spelling",
        ["{name}+{n}@example.com", "{name}+{n}@gmail.com", "{head}.{tail}@googlemail.com"],
        ids=["plus-tag", "gmail-plus-tag", "gmail-dots"],
    )
    def test_registrations_under_spellings_of_one_inbox_mail_it_its_allowance_once(
        self, ses_mailbox, settings, throttle_rates, spelling
    ):
        # Each spelling is an account of its own, and its link lands in the one inbox.
        settings.ACCOUNT_EMAILS_PER_ADDRESS_PER_HOUR = 3
        throttle_rates(register="100/hour")
        name = f"inbox{ULID().hex[:10]}"
        spellings = [
            spelling.format(name=name, n=n, head=name[:n], tail=name[n:]).lower()
            for n in range(1, 9)
        ]
        client = APIClient(REMOTE_ADDR="10.70.0.1")
        for email in spellings:
            body = {"email": email, "password": STRONG_PASSWORD, "full_name": "Someone"}
            assert client.post("/api/v1/auth/register", body).status_code == 201
        delivered = [m for m in ses_mailbox.all() if any(r in spellings for r in m.recipients)]
        assert len(delivered) == 3

    def test_reset_requests_for_spellings_of_one_inbox_share_its_limit(self, ses_mailbox, register):
        name = f"inbox{ULID().hex[:10]}"
        spellings = [f"{name}+{n}@example.com" for n in range(1, 8)]
        for email in spellings:
            register(email)
        statuses = [ask_for_reset(email, address="10.70.1.1").status_code for email in spellings]
        assert statuses == [202] * 5 + [429] * 2


class TestVerifyEmailPage:
    def test_opening_the_link_changes_nothing_until_the_button_is_pressed(
        self, ses_mailbox, register
    ):
        from django.test import Client

        session = register()
        email = session["user"]["email"]
        token = ses_mailbox.last(email, subject="Confirm your email address").token
        browser = Client()
        opened = browser.get("/account/verify-email", {"token": token})
        assert opened.status_code == 200
        assert "Confirm this address" in opened.content.decode()
        assert bearer(session["access"]).get(ME).json()["email_verified"] is False
        confirmed = browser.post("/account/verify-email", {"token": token})
        assert confirmed.status_code == 200
        assert f"{email} is confirmed" in confirmed.content.decode()
        assert bearer(session["access"]).get(ME).json()["email_verified"] is True
        refused = browser.post("/account/verify-email", {"token": token[:-3] + "abc"})
        assert refused.status_code == 400


class TestDeployChecks:
    def test_a_local_sender_or_local_links_are_reported_by_check_deploy(self, settings):
        from django.core.checks import run_checks

        settings.DEFAULT_FROM_EMAIL = "DermaLens <no-reply@localhost>"
        settings.PASSWORD_RESET_URL = "http://127.0.0.1:8000/account/reset-password"
        settings.EMAIL_VERIFY_URL = "https://app.example.com/verify"
        ids = {message.id for message in run_checks(include_deployment_checks=True)}
        assert {"accounts.W001", "accounts.W002"} <= ids

        settings.DEFAULT_FROM_EMAIL = "DermaLens <no-reply@mail.example.com>"
        settings.PASSWORD_RESET_URL = "https://app.example.com/reset"
        ids = {message.id for message in run_checks(include_deployment_checks=True)}
        assert not {"accounts.W001", "accounts.W002"} & ids
