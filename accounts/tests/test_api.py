"""Account endpoints through the HTTP API, against DynamoDB Local."""

import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from unicodedata import normalize

import pytest
from rest_framework.test import APIClient

from accounts import hashers as hashers_module
from accounts.hashers import Argon2PasswordHasher
from conftest import STRONG_PASSWORD
from dynamo.users import users_table

REGISTER = "/api/v1/auth/register"


def full_width(text: str) -> str:
    """``text`` in the full-width forms of its ASCII letters and digits (NFKC folds them)."""
    return "".join(chr(ord(character) + 0xFEE0) for character in text)


class LegacyQuickHasher(Argon2PasswordHasher):
    """The hasher of passwords as typed (hashes stored before normalising), at a test's
    cost."""

    time_cost = 1
    memory_cost = 1024


LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
LOGOUT = "/api/v1/auth/logout"
PASSWORD = "/api/v1/auth/password"
ME = "/api/v1/users/me"


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    if code is not None:
        assert body["error"]["code"] == code
    return body["error"]


class TestRegistration:
    def test_registration_returns_the_user_and_a_token_pair_but_never_the_hash(
        self, api_client, unique_email
    ):
        email = unique_email()
        response = api_client.post(
            REGISTER, {"email": email, "password": STRONG_PASSWORD, "full_name": "Ana Silva"}
        )
        assert response.status_code == 201
        body = response.json()
        assert body["user"]["email"] == email
        assert body["user"]["full_name"] == "Ana Silva"
        assert body["access"] and body["refresh"]
        assert "password" not in response.content.decode()
        assert "argon2" not in response.content.decode()
        stored = users_table().get(body["user"]["user_id"])
        assert stored.password_hash.startswith("argon2")

    def test_email_is_trimmed_and_lower_cased(self, api_client, unique_email):
        email = unique_email()
        response = api_client.post(
            REGISTER,
            {"email": f"  {email.upper()} ", "password": STRONG_PASSWORD, "full_name": "A"},
        )
        assert response.status_code == 201
        assert response.json()["user"]["email"] == email

    def test_second_registration_with_same_email_in_other_case_is_409(
        self, api_client, register, unique_email
    ):
        email = unique_email()
        register(email=email)
        response = api_client.post(
            REGISTER, {"email": email.upper(), "password": STRONG_PASSWORD, "full_name": "B"}
        )
        assert_error(response, 409, "email_taken")

    @pytest.mark.parametrize(
        ("registered", "other_spelling"),
        [
            ("{local}@bücher.example", "{local}@xn--bcher-kva.example"),
            ("{local}@xn--bcher-kva.example", "{local}@BÜCHER.example"),
            ("{local}@bücher.example", "{local}@bü\u00adcher.example"),  # soft hyphen
            ("{local}@example.com", "{local}@ex\u200bample.com"),  # zero-width space
            ("{local}@example.com", "{local}@\uff45xample.com"),  # a fullwidth e
            ("{local}@example.com", "{local}@example.com\u3002"),  # the root's dot
            ("{local}@example.com\u3002", "{local}@example.com"),
            ("{local}@example.com", "{local}@example.com\uff61"),  # a halfwidth one
        ],
    )
    def test_another_spelling_of_one_mailbox_is_the_same_account(
        self, api_client, register, registered, other_spelling
    ):
        local = f"user-{uuid.uuid4().hex[:12]}"
        account = register(email=registered.format(local=local))
        other = other_spelling.format(local=local)
        response = api_client.post(
            REGISTER, {"email": other, "password": STRONG_PASSWORD, "full_name": "B"}
        )
        assert_error(response, 409, "email_taken")
        login = api_client.post(LOGIN, {"email": other, "password": STRONG_PASSWORD})
        assert login.status_code == 200, login.content
        assert login.json()["user"]["user_id"] == account["user"]["user_id"]

    def test_a_domain_is_stored_as_it_reads_in_unicode(self, register):
        local = f"user-{uuid.uuid4().hex[:12]}"
        account = register(email=f"{local}@XN--BCHER-KVA.example")
        assert account["user"]["email"] == f"{local}@bücher.example"

    @pytest.mark.parametrize(
        "address",
        [
            "someone@localhost",
            "someone@[192.0.2.1]",
            "someone@[IPv6:2001:db8::1]",
            "a" * 65 + "@example.com",
            "someone@ex\u200dample.com",  # a joiner between two Latin letters
            "al\u0131ce@example.com",  # a dotless i
            "\u212aate@example.com",  # the Kelvin sign, a look-alike of K
            '"someone"@example.com',  # quoted: the mailbox of someone@example.com
            '"some\\one"@example.com',
            '"someone@example.com"@example.org',
        ],
    )
    def test_an_address_mail_cannot_reach_is_refused(self, api_client, address):
        response = api_client.post(
            REGISTER, {"email": address, "password": STRONG_PASSWORD, "full_name": "A"}
        )
        error = assert_error(response, 400, "invalid")
        assert "email" in error["details"]

    def test_twenty_concurrent_registrations_of_one_email_give_one_201(self, unique_email):
        email = unique_email()
        start = threading.Barrier(20)

        def attempt(number: int) -> int:
            # Distinct client addresses, as twenty devices would have.
            client = APIClient(REMOTE_ADDR=f"10.0.0.{number + 1}")
            start.wait()
            body = {"email": email, "password": STRONG_PASSWORD, "full_name": f"R{number}"}
            return client.post(REGISTER, body, format="json").status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(attempt, range(20)))

        assert sorted(statuses) == [201] + [409] * 19
        owner = users_table().find_user_id(email)
        assert users_table().get(owner).email == email

    @pytest.mark.parametrize(
        ("password", "reason"),
        [
            ("short1!", "too short"),
            ("1234567890123", "entirely numeric"),
            ("password123", "too common"),
            ("ana.silva.example", "too similar to the email"),
            (" " * 16, "sixteen spaces"),
            ("abababababababab", "two characters over and over"),
            ("zzzzzzzzzzzzzzzz", "one character over and over"),
            (full_width("password1234"), "a common password in full-width letters"),
            ("\ufdfa", "one character NFKC spells out in eighteen"),
            ("\u33af" * 12, "one character, over and over, that NFKC spells out in five"),
            ("abcd\tabcd\tabcd", "four characters and tabs"),
            ("abcd\u200babcd\u200babcd", "four characters and zero-width spaces"),
        ],
    )
    def test_weak_passwords_are_refused(self, api_client, unique_email, password, reason):
        email = "ana.silva@example.com" if "email" in reason else unique_email()
        response = api_client.post(
            REGISTER, {"email": email, "password": password, "full_name": "Weak"}
        )
        error = assert_error(response, 400, "invalid")
        assert "password" in error["details"], reason

    def test_registration_is_throttled_per_address(self, unique_email, throttle_rates):
        throttle_rates(register="3/hour")
        client = APIClient(REMOTE_ADDR="10.9.9.9")
        statuses = [
            client.post(
                REGISTER,
                {"email": unique_email(), "password": STRONG_PASSWORD, "full_name": "T"},
                format="json",
            ).status_code
            for _ in range(4)
        ]
        assert statuses == [201] * 3 + [429]


class TestLogin:
    @pytest.mark.parametrize(
        ("registered_as", "typed_as"), [("NFC", "NFD"), ("NFD", "NFC"), ("NFC", "NFC")]
    )
    def test_a_password_with_accents_signs_in_however_the_keyboard_wrote_them(
        self, api_client, unique_email, registered_as, typed_as
    ):
        # "é" is one character from one keyboard, "e" and a combining accent from another.
        password = "Crème-brûlée-à-la-française"
        email = unique_email()
        registered = api_client.post(
            REGISTER,
            {"email": email, "password": normalize(registered_as, password), "full_name": "A"},
        )
        assert registered.status_code == 201, registered.content
        typed = normalize(typed_as, password)
        assert api_client.post(LOGIN, {"email": email, "password": typed}).status_code == 200
        wrong = normalize(typed_as, password.replace("è", "e"))
        assert api_client.post(LOGIN, {"email": email, "password": wrong}).status_code == 401

    def test_a_password_hashed_as_typed_before_normalising_signs_in_and_is_hashed_anew(
        self, register
    ):
        session = register()
        typed = normalize("NFD", "Crème-brûlée-à-la-française")
        as_before = LegacyQuickHasher().encode(typed, LegacyQuickHasher().salt())
        user = users_table().get(session["user"]["user_id"])
        users_table().set_password(
            user.user_id, password_hash=as_before, updated_at=user.updated_at
        )
        email = session["user"]["email"]
        assert APIClient().post(LOGIN, {"email": email, "password": typed}).status_code == 200
        stored = users_table().get(user.user_id, consistent=True).password_hash
        assert stored.startswith("argon2_nfkc$")  # hashed anew, normalised
        composed = normalize("NFC", typed)
        assert APIClient().post(LOGIN, {"email": email, "password": composed}).status_code == 200

    def test_a_wrong_password_costs_one_hash_whether_or_not_the_email_is_registered(
        self, register, unique_email, monkeypatch
    ):
        # Two for a registered email (the normalised hash, then the typed one) would tell
        # registered emails from unknown ones by the time a wrong sign-in takes.
        hashes = []
        real = hashers_module.run_password_work
        monkeypatch.setattr(
            hashers_module,
            "run_password_work",
            lambda work, *args: hashes.append(work.__name__) or real(work, *args),
        )
        wrong = normalize("NFD", "Crème-brûlée-wrong-guess")
        for email in (register()["user"]["email"], unique_email()):
            hashes.clear()
            assert APIClient().post(LOGIN, {"email": email, "password": wrong}).status_code == 401
            assert len(hashes) == 1, (email, hashes)

    def test_login_works_immediately_after_registration(self, api_client, unique_email):
        email = unique_email()
        api_client.post(REGISTER, {"email": email, "password": STRONG_PASSWORD, "full_name": "A"})
        response = api_client.post(LOGIN, {"email": email, "password": STRONG_PASSWORD})
        assert response.status_code == 200
        body = response.json()
        assert body["user"]["email"] == email
        assert bearer(body["access"]).get(ME).status_code == 200

    def test_login_accepts_the_email_in_any_case(self, api_client, register):
        session = register()
        response = api_client.post(
            LOGIN, {"email": session["user"]["email"].upper(), "password": STRONG_PASSWORD}
        )
        assert response.status_code == 200

    def test_unknown_email_and_wrong_password_give_the_same_401(
        self, api_client, register, unique_email
    ):
        session = register()
        wrong_password = api_client.post(
            LOGIN, {"email": session["user"]["email"], "password": "not-the-password"}
        )
        unknown_email = api_client.post(
            LOGIN, {"email": unique_email(), "password": "not-the-password"}
        )
        assert_error(wrong_password, 401, "invalid_credentials")
        assert wrong_password.json() == unknown_email.json()

    def test_unknown_email_and_wrong_password_take_about_the_same_time(
        self, register, unique_email
    ):
        session = register()

        def timed(email: str) -> float:
            client = APIClient()
            started = time.perf_counter()
            client.post(LOGIN, {"email": email, "password": "not-the-password"}, format="json")
            return time.perf_counter() - started

        # Alternated, so that a moment of load on the shared cores slows both alike.
        pairs = [(timed(session["user"]["email"]), timed(unique_email())) for _ in range(5)]
        known = statistics.median(pair[0] for pair in pairs)
        unknown = statistics.median(pair[1] for pair in pairs)
        # Both paths hash the password (~100 ms with Argon2); a missing hash on the
        # unknown-email path would make it an order of magnitude faster.
        assert 0.5 < unknown / known < 2.0

    def test_a_disabled_account_cannot_log_in_and_its_tokens_stop_working(
        self, api_client, register
    ):
        session = register()
        users_table().set_active(
            session["user"]["user_id"], is_active=False, updated_at="2026-01-01T00:00:00Z"
        )
        login = api_client.post(
            LOGIN, {"email": session["user"]["email"], "password": STRONG_PASSWORD}
        )
        assert_error(login, 401)
        assert_error(bearer(session["access"]).get(ME), 401, "user_inactive")
        assert_error(api_client.post(REFRESH, {"refresh": session["refresh"]}), 401)


def signed_in_twice(api_client, register) -> tuple[dict, dict]:
    """One account's two sessions: the phone's, from registering, and the laptop's, from
    a login."""
    phone = register()
    laptop = api_client.post(
        LOGIN, {"email": phone["user"]["email"], "password": STRONG_PASSWORD}
    ).json()
    return phone, laptop


def assert_every_session_ended(api_client, email: str, *sessions: dict) -> None:
    """Each session's refresh and access tokens are refused; the owner signs in again."""
    for session in sessions:
        assert_error(APIClient().post(REFRESH, {"refresh": session["refresh"]}), 401)
        assert_error(bearer(session["access"]).get(ME), 401)
    login = api_client.post(LOGIN, {"email": email, "password": STRONG_PASSWORD})
    assert login.status_code == 200
    assert bearer(login.json()["access"]).get(ME).status_code == 200


@pytest.fixture
def retry_window(settings):
    """The retry window an operator may set (``REFRESH_RETRY_SECONDS``; off by default)."""
    settings.REFRESH_RETRY_SECONDS = 30


class TestTokens:
    @pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
    def test_the_bearer_scheme_is_read_in_any_case(self, register, scheme):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"{scheme} {register()['access']}")
        assert client.get(ME).status_code == 200

    @pytest.mark.parametrize("header", ["Token {access}", "bearer {access} extra", "bearer", ""])
    def test_another_scheme_or_a_malformed_header_is_refused(self, register, header):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header.format(access=register()["access"]))
        assert_error(client.get(ME), 401)

    def test_refresh_rotates_and_the_old_refresh_token_is_used_up(self, api_client, register):
        session = register()
        first = api_client.post(REFRESH, {"refresh": session["refresh"]})
        assert first.status_code == 200
        rotated = first.json()
        assert rotated["refresh"] != session["refresh"]
        assert bearer(rotated["access"]).get(ME).status_code == 200
        second = api_client.post(REFRESH, {"refresh": rotated["refresh"]})
        assert second.status_code == 200
        assert_error(api_client.post(REFRESH, {"refresh": rotated["refresh"]}), 401)

    def test_reusing_a_rotated_refresh_token_ends_every_session_of_the_account(
        self, api_client, register
    ):
        phone, laptop = signed_in_twice(api_client, register)
        stolen = phone["refresh"]
        rotated = api_client.post(REFRESH, {"refresh": stolen}).json()

        replay = api_client.post(REFRESH, {"refresh": stolen})

        assert_error(replay, 401, "invalid_refresh_token")
        assert_every_session_ended(api_client, phone["user"]["email"], rotated, laptop)

    def test_reusing_a_token_after_its_new_one_was_used_ends_every_session_in_a_retry_window(
        self, api_client, register, retry_window
    ):
        phone, laptop = signed_in_twice(api_client, register)
        stolen = phone["refresh"]
        rotated = api_client.post(REFRESH, {"refresh": stolen}).json()
        # The owner goes on with the chain: the stolen token's new pair is used.
        latest = api_client.post(REFRESH, {"refresh": rotated["refresh"]}).json()

        replay = api_client.post(REFRESH, {"refresh": stolen})

        assert_error(replay, 401, "invalid_refresh_token")
        assert_every_session_ended(api_client, phone["user"]["email"], latest, laptop)

    def test_a_refresh_sent_again_after_its_answer_was_lost_gets_the_same_pair(
        self, api_client, register, retry_window
    ):
        phone, laptop = signed_in_twice(api_client, register)
        lost = api_client.post(REFRESH, {"refresh": phone["refresh"]}).json()

        retried = api_client.post(REFRESH, {"refresh": phone["refresh"]})

        assert retried.status_code == 200
        assert (retried.json()["access"], retried.json()["refresh"]) == (
            lost["access"],
            lost["refresh"],
        )
        assert bearer(retried.json()["access"]).get(ME).status_code == 200
        assert bearer(laptop["access"]).get(ME).status_code == 200
        following = api_client.post(REFRESH, {"refresh": retried.json()["refresh"]})
        assert following.status_code == 200
        assert bearer(following.json()["access"]).get(ME).status_code == 200
        assert api_client.post(REFRESH, {"refresh": laptop["refresh"]}).status_code == 200

    def test_concurrent_refreshes_with_one_token_succeed_once(self, register):
        session = register()
        start = threading.Barrier(8)

        def attempt(_: int) -> int:
            client = APIClient()
            start.wait()
            return client.post(REFRESH, {"refresh": session["refresh"]}, format="json").status_code

        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = sorted(pool.map(attempt, range(8)))
        assert statuses == [200] + [401] * 7

    def test_concurrent_refreshes_with_one_token_all_get_one_pair_and_the_session_lives_on(
        self, register, retry_window
    ):
        session = register()
        start = threading.Barrier(8)

        def attempt(_: int) -> tuple[int, str, str]:
            client = APIClient()
            start.wait()
            response = client.post(REFRESH, {"refresh": session["refresh"]}, format="json")
            body = response.json()
            return response.status_code, body.get("access", ""), body.get("refresh", "")

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = set(pool.map(attempt, range(8)))
        assert len(answers) == 1
        ((status, access, refresh),) = answers
        assert status == 200
        assert bearer(access).get(ME).status_code == 200
        assert APIClient().post(REFRESH, {"refresh": refresh}).status_code == 200

    def test_a_thief_within_the_retry_window_holds_the_owners_chain_and_is_caught_next(
        self, api_client, register, retry_window
    ):
        phone = register()
        stolen = phone["refresh"]
        owner = api_client.post(REFRESH, {"refresh": stolen}).json()
        thief = APIClient().post(REFRESH, {"refresh": stolen}).json()
        assert thief["refresh"] == owner["refresh"]  # one chain, not a second one

        # The owner goes on; the thief, a step behind, presents the shared token.
        step = api_client.post(REFRESH, {"refresh": owner["refresh"]}).json()
        latest = api_client.post(REFRESH, {"refresh": step["refresh"]}).json()

        assert_error(APIClient().post(REFRESH, {"refresh": thief["refresh"]}), 401)

        assert_error(bearer(latest["access"]).get(ME), 401)
        assert_error(APIClient().post(REFRESH, {"refresh": latest["refresh"]}), 401)

    def test_a_refresh_sent_again_after_the_retry_window_ends_every_session(
        self, api_client, register, settings
    ):
        settings.REFRESH_RETRY_SECONDS = 1  # a window, and its end
        phone = register()
        rotated = api_client.post(REFRESH, {"refresh": phone["refresh"]}).json()
        time.sleep(2.1)

        replay = api_client.post(REFRESH, {"refresh": phone["refresh"]})

        assert_error(replay, 401, "invalid_refresh_token")
        assert_error(bearer(rotated["access"]).get(ME), 401)
        assert_error(APIClient().post(REFRESH, {"refresh": rotated["refresh"]}), 401)

    def test_a_refresh_sent_again_after_its_new_token_logged_out_ends_every_session(
        self, api_client, register, retry_window
    ):
        phone, laptop = signed_in_twice(api_client, register)
        rotated = api_client.post(REFRESH, {"refresh": phone["refresh"]}).json()
        assert (
            bearer(rotated["access"]).post(LOGOUT, {"refresh": rotated["refresh"]}).status_code
            == 204
        )

        assert_error(api_client.post(REFRESH, {"refresh": phone["refresh"]}), 401)
        assert_error(bearer(laptop["access"]).get(ME), 401)

    def test_a_refresh_sent_again_after_a_password_change_is_refused(
        self, api_client, register, retry_window
    ):
        phone = register()
        api_client.post(REFRESH, {"refresh": phone["refresh"]})
        changed = bearer(phone["access"]).post(
            PASSWORD, {"current_password": STRONG_PASSWORD, "new_password": "another-pass-987"}
        )
        assert changed.status_code == 200

        assert_error(api_client.post(REFRESH, {"refresh": phone["refresh"]}), 401)
        assert bearer(changed.json()["access"]).get(ME).status_code == 200

    def test_a_refresh_token_revoked_by_logout_is_refused_and_nothing_else_ends(
        self, api_client, register
    ):
        phone, laptop = signed_in_twice(api_client, register)
        assert (
            bearer(phone["access"]).post(LOGOUT, {"refresh": phone["refresh"]}).status_code == 204
        )

        replay = api_client.post(REFRESH, {"refresh": phone["refresh"]})

        assert_error(replay, 401, "invalid_refresh_token")
        assert bearer(laptop["access"]).get(ME).status_code == 200
        assert api_client.post(REFRESH, {"refresh": laptop["refresh"]}).status_code == 200

    def test_an_access_token_is_not_a_refresh_token(self, api_client, register):
        session = register()
        assert_error(api_client.post(REFRESH, {"refresh": session["access"]}), 401)

    def test_logout_revokes_the_refresh_token(self, register):
        session = register()
        client = bearer(session["access"])
        assert client.post(LOGOUT, {"refresh": session["refresh"]}).status_code == 204
        again = APIClient().post(REFRESH, {"refresh": session["refresh"]}, format="json")
        assert_error(again, 401, "invalid_refresh_token")

    def test_logging_out_with_a_refresh_token_someone_else_traded_ends_every_session(
        self, api_client, register
    ):
        phone = register()
        # A copy of the phone's refresh token, traded by whoever copied it.
        thief = api_client.post(REFRESH, {"refresh": phone["refresh"]}).json()

        logout = bearer(phone["access"]).post(LOGOUT, {"refresh": phone["refresh"]})

        assert logout.status_code == 204
        assert_error(bearer(thief["access"]).get(ME), 401)
        assert_error(APIClient().post(REFRESH, {"refresh": thief["refresh"]}), 401)

    def test_logout_needs_a_signed_in_caller(self, api_client, register):
        session = register()
        response = api_client.post(LOGOUT, {"refresh": session["refresh"]})
        assert_error(response, 401, "not_authenticated")

    def test_logout_refuses_another_accounts_refresh_token(self, register):
        alice, bob = register(), register()
        response = bearer(alice["access"]).post(LOGOUT, {"refresh": bob["refresh"]})
        assert_error(response, 401, "invalid_refresh_token")
        assert APIClient().post(REFRESH, {"refresh": bob["refresh"]}).status_code == 200


class TestPasswordChange:
    NEW_PASSWORD = "a-brand-new-passphrase-42"

    def test_password_change_revokes_every_other_session(self, api_client, register):
        phone, laptop = signed_in_twice(api_client, register)
        email = phone["user"]["email"]

        response = bearer(phone["access"]).post(
            PASSWORD, {"current_password": STRONG_PASSWORD, "new_password": self.NEW_PASSWORD}
        )
        assert response.status_code == 200
        fresh = response.json()

        assert_error(APIClient().post(REFRESH, {"refresh": laptop["refresh"]}), 401)
        assert_error(APIClient().post(REFRESH, {"refresh": phone["refresh"]}), 401)
        assert_error(bearer(laptop["access"]).get(ME), 401)
        assert bearer(fresh["access"]).get(ME).status_code == 200
        assert APIClient().post(REFRESH, {"refresh": fresh["refresh"]}).status_code == 200

        old = api_client.post(LOGIN, {"email": email, "password": STRONG_PASSWORD})
        assert_error(old, 401, "invalid_credentials")
        new = api_client.post(LOGIN, {"email": email, "password": self.NEW_PASSWORD})
        assert new.status_code == 200

    def test_the_same_password_with_its_accents_written_otherwise_is_no_change(
        self, api_client, unique_email
    ):
        email, typed = unique_email(), normalize("NFD", "Crème-brûlée-à-la-française")
        body = {"email": email, "password": typed, "full_name": "A"}
        session = api_client.post(REGISTER, body).json()
        same = {"current_password": typed, "new_password": normalize("NFC", typed)}
        assert_error(bearer(session["access"]).post(PASSWORD, same), 400, "invalid")
        assert bearer(session["access"]).get(ME).status_code == 200  # nothing revoked

    def test_password_change_needs_the_current_password(self, register):
        session = register()
        response = bearer(session["access"]).post(
            PASSWORD, {"current_password": "not-it-at-all", "new_password": self.NEW_PASSWORD}
        )
        error = assert_error(response, 400, "invalid")
        assert "current_password" in error["details"]
        assert bearer(session["access"]).get(ME).status_code == 200

    def test_the_current_password_again_is_a_400_that_signs_no_one_out(self, register):
        session = register()
        response = bearer(session["access"]).post(
            PASSWORD, {"current_password": STRONG_PASSWORD, "new_password": STRONG_PASSWORD}
        )
        error = assert_error(response, 400, "invalid")
        assert error["details"] == {"new_password": ["The new password is the current one."]}
        assert bearer(session["access"]).get(ME).status_code == 200
        assert APIClient().post(REFRESH, {"refresh": session["refresh"]}).status_code == 200

    def test_new_password_goes_through_the_validators(self, register):
        session = register()
        response = bearer(session["access"]).post(
            PASSWORD, {"current_password": STRONG_PASSWORD, "new_password": "12345678901"}
        )
        error = assert_error(response, 400, "invalid")
        assert "new_password" in error["details"]


class TestProfile:
    def test_profile_starts_empty_and_can_be_filled(self, auth_client):
        me = auth_client.get(ME)
        assert me.status_code == 200
        assert me.json()["skin_type"] is None
        assert me["ETag"] == '"1"'
        changes = {
            "skin_type": "combination",
            "skin_concerns": ["acne", "redness"],
            "sensitivities": ["fragrance"],
            "allergies": ["lanolin"],
            "age_range": "25_34",
            "pregnant_or_breastfeeding": False,
        }
        response = auth_client.patch(ME, changes)
        assert response.status_code == 200
        body = response.json()
        for field, value in changes.items():
            assert body[field] == (sorted(value) if isinstance(value, list) else value)
        assert body["version"] == 2
        assert auth_client.get(ME).json()["skin_concerns"] == ["acne", "redness"]

    def test_a_list_can_be_emptied_and_a_choice_cleared(self, auth_client):
        auth_client.patch(ME, {"skin_concerns": ["acne"], "skin_type": "oily"})
        response = auth_client.patch(ME, {"skin_concerns": [], "skin_type": None})
        assert response.status_code == 200
        assert response.json()["skin_concerns"] == []
        assert response.json()["skin_type"] is None

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"skin_type": "scaly"}, "skin_type"),
            ({"skin_concerns": ["acne", "freckles"]}, "skin_concerns"),
            ({"age_range": "30"}, "age_range"),
            ({"pregnant_or_breastfeeding": "perhaps"}, "pregnant_or_breastfeeding"),
            ({"full_name": "x" * 101}, "full_name"),
            ({"allergies": ["a"] * 11}, "allergies"),
            ({"is_staff": True}, "is_staff"),
            ({"user_id": "01OTHERUSER"}, "user_id"),
            ({"email": "new@example.com"}, "email"),
        ],
    )
    def test_invalid_or_server_owned_fields_are_refused(self, auth_client, changes, field):
        response = auth_client.patch(ME, changes)
        error = assert_error(response, 400, "invalid")
        assert field in error["details"]
        assert auth_client.get(ME).json()["version"] == 1

    def test_a_stale_if_match_is_412_and_changes_nothing(self, auth_client):
        assert auth_client.patch(ME, {"skin_type": "dry"}, HTTP_IF_MATCH='"1"').status_code == 200
        stale = auth_client.patch(ME, {"skin_type": "oily"}, HTTP_IF_MATCH='"1"')
        error = assert_error(stale, 412, "precondition_failed")
        assert error["details"]["current_version"] == 2
        assert auth_client.get(ME).json()["skin_type"] == "dry"

    @pytest.mark.parametrize(
        "if_match", ['"²"', "\u0663", '"three"', "9" * 39, "9" * 5000, "-1", '"1.0"']
    )
    def test_an_if_match_that_is_not_a_version_is_400_and_changes_nothing(
        self, auth_client, if_match
    ):
        response = auth_client.patch(ME, {"skin_type": "dry"}, HTTP_IF_MATCH=if_match)
        assert_error(response, 400, "invalid_if_match")
        assert auth_client.get(ME).json()["version"] == 1

    def test_an_empty_patch_is_400(self, auth_client):
        assert_error(auth_client.patch(ME, {}), 400, "invalid")

    def test_me_needs_a_token(self, api_client):
        assert_error(api_client.get(ME), 401, "not_authenticated")
