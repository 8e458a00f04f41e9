"""Login limits over the HTTP API: per account, per address, and the trusted proxies."""

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import argon2
import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from django.test import RequestFactory
from rest_framework.test import APIClient
from ulid import ULID

from accounts import lockouts
from accounts.addresses import client_address
from accounts.links import password_reset_token
from accounts.tests.test_api import LOGIN, ME, PASSWORD, REFRESH, assert_error, bearer
from accounts.tests.test_recovery import CHANGE_EMAIL, NEW_PASSWORD, RESET_CONFIRM
from conftest import STRONG_PASSWORD
from dynamo.metrics import measure_dynamodb
from dynamo.users import USER_CACHE_ALIAS, User, users_table

WRONG_PASSWORD = "not-the-password-at-all"
# The load balancer's own address, as the app sees it (the peer of every request).
LOAD_BALANCER = "10.0.0.2"


LIGHT_ARGON2 = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
# Addresses for clients of the per-account tests, each used once: the per-address limit
# (10 in tests) never takes part.
ADDRESSES = (f"100.64.{n // 250}.{n % 250 + 1}" for n in itertools.count())


def anywhere() -> APIClient:
    return APIClient(REMOTE_ADDR=next(ADDRESSES))


def behind_the_load_balancer(client_address: str, forged: str = "") -> APIClient:
    """A client as the app sees it behind one ALB: the ALB appends the real address."""
    forwarded = f"{forged}, {client_address}" if forged else client_address
    return APIClient(REMOTE_ADDR=LOAD_BALANCER, HTTP_X_FORWARDED_FOR=forwarded)


def log_in(client: APIClient, email: str, password: str = WRONG_PASSWORD):
    return client.post(LOGIN, {"email": email, "password": password}, format="json")


@pytest.fixture
def one_proxy(settings):
    """The app behind one trusted proxy (the ALB of deploy/)."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


@pytest.fixture
def clock(monkeypatch):
    """The lockouts' clock, moved by hand."""

    class Clock:
        now = 1_900_000_000.0

        def advance(self, seconds: float) -> None:
            self.now += seconds

    moving = Clock()
    monkeypatch.setattr(lockouts, "now_seconds", lambda: moving.now)
    return moving


class TestPerAccountLimit:
    def test_writing_another_x_forwarded_for_each_time_does_not_escape_the_limit(
        self, one_proxy, register
    ):
        email = register()["user"]["email"]
        statuses = [
            log_in(behind_the_load_balancer(f"203.0.113.{n}", forged=f"198.51.100.{n}"), email)
            for n in range(25)
        ]
        assert [r.status_code for r in statuses[:5]] == [401] * 5
        for response in statuses[5:]:
            error = assert_error(response, 429, "too_many_attempts")
            assert int(response["Retry-After"]) == error["details"]["retry_after_seconds"] > 0

    def test_even_the_right_password_is_refused_while_the_account_is_locked(self, register):
        email = register()["user"]["email"]
        for _ in range(5):
            assert log_in(anywhere(), email).status_code == 401
        assert_error(log_in(anywhere(), email, STRONG_PASSWORD), 429, "too_many_attempts")

    def test_a_locked_unknown_email_looks_exactly_like_a_locked_account(
        self, register, unique_email, clock
    ):
        known, unknown = register()["user"]["email"], unique_email()
        answers = {}
        for email in (known, unknown):
            statuses = [log_in(anywhere(), email).status_code for _ in range(5)]
            assert statuses == [401] * 5
            answers[email] = log_in(anywhere(), email)
        assert_error(answers[known], 429, "too_many_attempts")
        assert answers[known].json() == answers[unknown].json()
        assert answers[known]["Retry-After"] == answers[unknown]["Retry-After"] == "60"
        # Counting an unknown email creates no account and no claim on the email.
        assert users_table().find_user_id(unknown) is None

    def test_a_successful_login_forgets_the_failures(self, register):
        email = register()["user"]["email"]
        for _ in range(4):
            assert log_in(anywhere(), email).status_code == 401
        assert log_in(anywhere(), email, STRONG_PASSWORD).status_code == 200
        assert [log_in(anywhere(), email).status_code for _ in range(4)] == [401] * 4
        assert log_in(anywhere(), email, STRONG_PASSWORD).status_code == 200

    def test_the_wait_doubles_with_each_failure_after_the_lock_up_to_the_cap(
        self, register, settings, clock
    ):
        settings.LOGIN_LOCKOUT_MAX_SECONDS = 300
        email = register()["user"]["email"]
        assert [log_in(anywhere(), email).status_code for _ in range(5)] == [401] * 5
        waits = []
        for _ in range(4):
            locked = log_in(anywhere(), email)
            assert_error(locked, 429, "too_many_attempts")
            wait = int(locked["Retry-After"])
            waits.append(wait)
            clock.advance(wait - 1)
            assert log_in(anywhere(), email).status_code == 429  # not a second early
            clock.advance(1)
            assert log_in(anywhere(), email).status_code == 401  # one more guess, then locked
        assert waits == [60, 120, 240, 300]
        clock.advance(300)
        response = log_in(anywhere(), email, STRONG_PASSWORD)
        assert response.status_code == 200
        assert bearer(response.json()["access"]).get(ME).status_code == 200

    def test_failures_older_than_the_memory_no_longer_count(self, register, settings, clock):
        email = register()["user"]["email"]
        for _ in range(4):
            assert log_in(anywhere(), email).status_code == 401
        clock.advance(settings.LOGIN_FAILURES_MEMORY_SECONDS)
        assert [log_in(anywhere(), email).status_code for _ in range(4)] == [401] * 4
        assert log_in(anywhere(), email, STRONG_PASSWORD).status_code == 200

    def test_twenty_parallel_guesses_get_no_more_than_five_answers(self, register):
        email = register()["user"]["email"]
        start = threading.Barrier(20)

        def guess(number: int) -> int:
            client = APIClient(REMOTE_ADDR=f"192.0.2.{number + 1}")
            start.wait()
            return log_in(client, email).status_code

        with ThreadPoolExecutor(max_workers=20) as pool:
            statuses = list(pool.map(guess, range(20)))
        assert statuses.count(401) == 5, statuses
        assert statuses.count(429) == 15, statuses


def with_device(client: APIClient, email: str, password: str, device_token: str):
    body = {"email": email, "password": password, "device_token": device_token}
    return client.post(LOGIN, body, format="json")


def locked_by_strangers(email: str) -> None:
    """Five wrong passwords from five addresses: the account's logins are locked."""
    assert [log_in(anywhere(), email).status_code for _ in range(5)] == [401] * 5
    assert log_in(anywhere(), email, STRONG_PASSWORD).status_code == 429


class TestDeviceTokens:
    def test_a_device_that_signed_in_before_signs_in_while_strangers_lock_the_account(
        self, register
    ):
        session = register()
        email, device_token = session["user"]["email"], session["device_token"]
        locked_by_strangers(email)
        signed_in = with_device(anywhere(), email, STRONG_PASSWORD, device_token)
        assert signed_in.status_code == 200, signed_in.content
        assert bearer(signed_in.json()["access"]).get(ME).status_code == 200
        # Every session brings a device token, this one too.
        assert signed_in.json()["device_token"]
        # The lock strangers keep up still holds for everyone else.
        locked_by_strangers(email)

    def test_a_token_of_another_account_a_forged_or_an_expired_one_changes_nothing(
        self, register, settings
    ):
        mine, other = register(), register()
        email = mine["user"]["email"]
        locked_by_strangers(email)
        token = mine["device_token"]
        for presented in (other["device_token"], token[:-3] + "abc", "not-a-token", ""):
            answer = with_device(anywhere(), email, STRONG_PASSWORD, presented)
            assert_error(answer, 429, "too_many_attempts")
        settings.LOGIN_DEVICE_TOKEN_DAYS = 0
        assert_error(
            with_device(anywhere(), email, STRONG_PASSWORD, token), 429, "too_many_attempts"
        )

    def test_a_null_device_token_is_a_login_without_one(self, register):
        email = register()["user"]["email"]
        body = {"email": email, "password": STRONG_PASSWORD, "device_token": None}
        signed_in = anywhere().post(LOGIN, body, format="json")
        assert signed_in.status_code == 200, signed_in.content
        locked_by_strangers(email)
        assert_error(anywhere().post(LOGIN, body, format="json"), 429, "too_many_attempts")

    def test_what_ends_every_session_forgets_the_devices_too(self, register):
        session = register()
        email, old_token = session["user"]["email"], session["device_token"]
        change = {"current_password": STRONG_PASSWORD, "new_password": "a-brand-new-passphrase-42"}
        changed = bearer(session["access"]).post(PASSWORD, change, format="json")
        assert changed.status_code == 200, changed.content
        assert [log_in(anywhere(), email).status_code for _ in range(5)] == [401] * 5
        new_password = change["new_password"]
        old = with_device(anywhere(), email, new_password, old_token)
        assert_error(old, 429, "too_many_attempts")
        fresh = with_device(anywhere(), email, new_password, changed.json()["device_token"])
        assert fresh.status_code == 200, fresh.content

    def test_a_device_tokens_check_reads_nothing_a_login_does_not_read_anyway(self, register):
        session = register()
        email, device_token = session["user"]["email"], session["device_token"]
        caches[USER_CACHE_ALIAS].clear()  # a worker that has not seen the account lately
        with measure_dynamodb() as plain:
            assert log_in(anywhere(), email, STRONG_PASSWORD).status_code == 200
        caches[USER_CACHE_ALIAS].clear()
        with measure_dynamodb() as from_device:
            assert with_device(anywhere(), email, STRONG_PASSWORD, device_token).status_code == 200
        # The email's claim and the account, read once each by the throttle and not again.
        assert from_device.calls_by_operation["GetItem"] == plain.calls_by_operation["GetItem"]

    def test_wrong_passwords_sent_with_a_device_token_lock_that_token(self, register):
        session = register()
        email, device_token = session["user"]["email"], session["device_token"]
        guesses = [
            with_device(anywhere(), email, WRONG_PASSWORD, device_token).status_code
            for _ in range(6)
        ]
        assert guesses == [401] * 5 + [429]
        right = with_device(anywhere(), email, STRONG_PASSWORD, device_token)
        assert_error(right, 429, "too_many_attempts")
        # The account itself was not locked by them: a login without the token works.
        assert log_in(anywhere(), email, STRONG_PASSWORD).status_code == 200


class TestOtherPasswordChecks:
    NEW_PASSWORD = "a-brand-new-passphrase-42"

    def test_guessing_the_current_password_spends_the_accounts_login_failures(self, register):
        session = register()
        email = session["user"]["email"]
        for _ in range(5):
            client = anywhere()
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {session['access']}")
            guess = {"current_password": WRONG_PASSWORD, "new_password": self.NEW_PASSWORD}
            assert client.post(PASSWORD, guess, format="json").status_code == 400
        right = {"current_password": STRONG_PASSWORD, "new_password": self.NEW_PASSWORD}
        changed = bearer(session["access"]).post(PASSWORD, right, format="json")
        assert_error(changed, 429, "too_many_attempts")
        assert_error(log_in(anywhere(), email, STRONG_PASSWORD), 429, "too_many_attempts")

    def test_the_right_current_password_forgets_the_failures(self, register):
        session = register()
        for _ in range(4):
            guess = {"current_password": WRONG_PASSWORD, "new_password": self.NEW_PASSWORD}
            assert bearer(session["access"]).post(PASSWORD, guess).status_code == 400
        right = {"current_password": STRONG_PASSWORD, "new_password": self.NEW_PASSWORD}
        assert bearer(session["access"]).post(PASSWORD, right).status_code == 200
        email = session["user"]["email"]
        assert [log_in(anywhere(), email).status_code for _ in range(4)] == [401] * 4
        assert log_in(anywhere(), email, self.NEW_PASSWORD).status_code == 200

    def test_guessing_the_password_of_an_email_change_is_limited_too(self, register):
        session = register()
        guesses = [
            signed_in(session).post(CHANGE_EMAIL, email_change(WRONG_PASSWORD), format="json")
            for _ in range(5)
        ]
        assert [guess.status_code for guess in guesses] == [400] * 5
        right = signed_in(session).post(CHANGE_EMAIL, email_change(STRONG_PASSWORD), format="json")
        assert_error(right, 429, "too_many_attempts")
        email = session["user"]["email"]
        assert_error(log_in(anywhere(), email, STRONG_PASSWORD), 429, "too_many_attempts")

    @pytest.mark.parametrize("confirmation", ["password change", "email change", "erasure"])
    def test_strangers_who_lock_the_logins_do_not_lock_the_signed_in_owner(
        self, register, confirmation
    ):
        session = register()
        locked_by_strangers(session["user"]["email"])
        assert_confirmed(signed_in(session), confirmation, new_password=self.NEW_PASSWORD)

    @pytest.mark.parametrize("confirmation", ["password change", "email change", "erasure"])
    def test_a_flood_of_sign_ins_from_the_owners_address_does_not_stop_a_confirmation(
        self, register, throttle_rates, confirmation
    ):
        throttle_rates(login="3/minute")
        session = register()
        shared = next(ADDRESSES)
        script = APIClient(REMOTE_ADDR=shared)
        tries = [log_in(script, f"x-{ULID()}@example.com").status_code for _ in range(4)]
        assert tries == [401, 401, 401, 429]
        owner = APIClient(REMOTE_ADDR=shared)
        owner.credentials(HTTP_AUTHORIZATION=f"Bearer {session['access']}")
        assert_confirmed(owner, confirmation, new_password=self.NEW_PASSWORD)

    def test_a_signed_in_session_that_guesses_locks_its_confirmations_until_they_end(
        self, register
    ):
        session = register()
        wrong = {"current_password": WRONG_PASSWORD, "new_password": self.NEW_PASSWORD}
        guesses = [signed_in(session).post(PASSWORD, wrong).status_code for _ in range(6)]
        assert guesses == [400] * 5 + [429]
        right = {"current_password": STRONG_PASSWORD, "new_password": self.NEW_PASSWORD}
        assert_error(signed_in(session).post(PASSWORD, right), 429, "too_many_attempts")
        # The owner signs in once the login lock has passed (a reset would do it at once);
        # a new sign-in is not a way around the confirmations' own lock, ...
        email = session["user"]["email"]
        lockouts.forget_attempts(policy=lockouts.login_policy(), subject=email)
        again = log_in(anywhere(), email, STRONG_PASSWORD)
        assert again.status_code == 200
        assert_error(signed_in(again.json()).post(PASSWORD, right), 429, "too_many_attempts")
        # ... and ending every session (here, an ops "revoke sessions") lifts it.
        users_table().revoke_sessions(session["user"]["user_id"], updated_at="2026-11-28T03:00:00Z")
        fresh = log_in(anywhere(), email, STRONG_PASSWORD)
        assert signed_in(fresh.json()).post(PASSWORD, right).status_code == 200


def signed_in(session: dict) -> APIClient:
    """The session's owner, from an address of its own."""
    client = anywhere()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session['access']}")
    return client


def email_change(password: str) -> dict:
    return {"new_email": f"moved-{ULID()}@example.com".lower(), "password": password}


def assert_confirmed(owner: APIClient, confirmation: str, *, new_password: str) -> None:
    """The signed-in ``owner``'s right password confirms ``confirmation``."""
    if confirmation == "password change":
        right = {"current_password": STRONG_PASSWORD, "new_password": new_password}
        answer = owner.post(PASSWORD, right, format="json")
        assert answer.status_code == 200, answer.content
    elif confirmation == "email change":
        answer = owner.post(CHANGE_EMAIL, email_change(STRONG_PASSWORD), format="json")
        assert answer.status_code == 202, answer.content
    else:
        answer = owner.delete(ME, {"password": STRONG_PASSWORD}, format="json")
        assert answer.status_code == 202, answer.content


class TestPerAddressLimit:
    def test_two_hundred_accounts_log_in_from_one_address_within_a_minute(self, settings):
        # The production defaults of the per-address limits, not the test suite's.
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                **django_settings.ADDRESS_RATE_DEFAULTS,
            },
        }
        # Created through the table, as 200 sign-ups from one address within the hour would
        # be past the per-address registration limit. Each login still checks its password
        # with the app's Argon2 hasher, which reads the cost from the stored hash: a light
        # one here, so that the test measures the limits and not 200 hashes.
        password_hash = "argon2" + LIGHT_ARGON2.hash(STRONG_PASSWORD)
        emails = [f"campus-{ULID()}@example.com".lower() for _ in range(200)]
        for email in emails:
            users_table().create(
                User(
                    user_id=str(ULID()),
                    email=email,
                    full_name="Campus User",
                    password_hash=password_hash,
                    created_at="2026-11-26T08:00:00Z",
                    updated_at="2026-11-26T08:00:00Z",
                )
            )
        campus = APIClient(REMOTE_ADDR="198.51.100.200")
        statuses = [log_in(campus, email, STRONG_PASSWORD).status_code for email in emails]
        assert statuses == [200] * 200

    def test_the_login_rate_brakes_a_flood_from_one_address(self, unique_email):
        # Each attempt names another email: only the per-address limit (10 in tests) holds.
        client = APIClient(REMOTE_ADDR="10.8.8.8")
        statuses = [log_in(client, unique_email()).status_code for _ in range(10)]
        assert statuses == [401] * 10
        response = log_in(client, unique_email())
        error = assert_error(response, 429, "throttled")
        assert int(response["Retry-After"]) > 0
        assert error["details"] == {"retry_after_seconds": int(response["Retry-After"])}


class TestPeopleBehindOneAddress:
    """A campus, an office or a carrier's NAT: many people, one address, maybe an attacker."""

    CAMPUS = "198.51.100.77"

    def test_people_who_signed_in_before_keep_their_sessions_while_the_address_is_flooded(
        self, register, unique_email
    ):
        people = [register() for _ in range(12)]
        campus = APIClient(REMOTE_ADDR=self.CAMPUS)
        # One person behind the address spends its login and refresh allowances (10 and
        # 60 an hour in tests) with guesses and made-up tokens.
        assert {log_in(campus, unique_email()).status_code for _ in range(10)} == {401}
        assert {campus.post(REFRESH, {"refresh": f"x{n}"}).status_code for n in range(60)} == {401}
        assert_error(campus.post(LOGIN, {"nope": 0}), 429, "throttled")
        assert_error(campus.post(REFRESH, {"refresh": "x"}), 429, "throttled")
        for person in people:
            email = person["user"]["email"]
            refreshed = campus.post(REFRESH, {"refresh": person["refresh"]})
            assert refreshed.status_code == 200, refreshed.content
            signed_in = with_device(campus, email, STRONG_PASSWORD, person["device_token"])
            assert signed_in.status_code == 200, signed_in.content
        # The brake still holds for a login that proves nothing.
        newcomer = people[0]["user"]["email"]
        assert_error(log_in(campus, newcomer, STRONG_PASSWORD), 429, "throttled")

    def test_a_device_token_of_another_account_leaves_a_login_on_the_addresss_brake(
        self, register, settings, unique_email
    ):
        settings.LOGIN_FAILURES_PER_ADDRESS_PER_HOUR = 1000  # the login rate stops it first
        stranger = register()
        campus = APIClient(REMOTE_ADDR=self.CAMPUS)
        # The stranger's own device token, sent with logins naming other people's emails:
        # the address's login rate (10 an hour in tests) still counts them.
        token = stranger["device_token"]
        tried = [with_device(campus, unique_email(), PASSWORD, token) for _ in range(10)]
        assert [response.status_code for response in tried] == [401] * 10
        assert_error(with_device(campus, unique_email(), PASSWORD, token), 429, "throttled")
        # Its own account's login still proves a session, past the spent address brake.
        email = stranger["user"]["email"]
        assert with_device(campus, email, STRONG_PASSWORD, token).status_code == 200

    def test_an_old_phones_device_token_leaves_a_login_on_the_addresss_brake_once_sessions_end(
        self, register, unique_email
    ):
        owner = register()
        email, old_phone = owner["user"]["email"], owner["device_token"]
        # The owner ends every session (a new password): the old phone's token is stale.
        change = {"current_password": STRONG_PASSWORD, "new_password": "a-brand-new-passphrase-42"}
        changed = bearer(owner["access"]).post(PASSWORD, change, format="json")
        assert changed.status_code == 200, changed.content
        campus = APIClient(REMOTE_ADDR=self.CAMPUS)
        assert {log_in(campus, unique_email()).status_code for _ in range(10)} == {401}
        # Whoever holds the old phone is braked like anyone behind the address.
        assert_error(with_device(campus, email, WRONG_PASSWORD, old_phone), 429, "throttled")
        new_password, new_phone = change["new_password"], changed.json()["device_token"]
        assert with_device(campus, email, new_password, new_phone).status_code == 200

    def test_an_old_phones_tokens_do_not_spend_the_owners_session_allowance(
        self, register, throttle_rates
    ):
        throttle_rates(session="5/hour")
        old_phone = register()
        email = old_phone["user"]["email"]
        # The owner ends every session ("revoke sessions") and signs in on a new phone.
        users_table().revoke_sessions(old_phone["user"]["user_id"], updated_at="2026-11-28T03:00Z")
        new_phone = log_in(anywhere(), email, STRONG_PASSWORD).json()
        # Whoever holds the old phone sends its revoked tokens, from anywhere.
        for _ in range(3):
            stale = anywhere().post(REFRESH, {"refresh": old_phone["refresh"]})
            assert_error(stale, 401, "invalid_refresh_token")
            stale = with_device(anywhere(), email, WRONG_PASSWORD, old_phone["device_token"])
            assert_error(stale, 401, "invalid_credentials")
        # The new phone's session refreshes, and its device token signs in, as often as ever.
        for _ in range(2):
            refreshed = anywhere().post(REFRESH, {"refresh": new_phone["refresh"]})
            assert refreshed.status_code == 200, refreshed.content
            new_phone = refreshed.json()
        signed_in = with_device(anywhere(), email, STRONG_PASSWORD, new_phone["device_token"])
        assert signed_in.status_code == 200, signed_in.content

    def test_spraying_one_password_over_many_emails_is_stopped_at_the_address(
        self, register, settings, unique_email
    ):
        # The production rate per address (300 logins a minute), which spraying stays under.
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                **django_settings.ADDRESS_RATE_DEFAULTS,
            },
        }
        settings.LOGIN_FAILURES_PER_ADDRESS_PER_HOUR = 30
        owner = register()
        campus = APIClient(REMOTE_ADDR=self.CAMPUS)
        sprayed = [log_in(campus, unique_email(), "Summer2026!!x").status_code for _ in range(30)]
        assert sprayed == [401] * 30
        for _ in range(3):
            response = log_in(campus, unique_email(), "Summer2026!!x")
            error = assert_error(response, 429, "too_many_failures_from_network")
            assert 0 < error["details"]["retry_after_seconds"] <= 3600
        # Refused before any password is checked, the right one too, from this address;
        # the owner's device that signed in before still signs in, and so does anyone
        # anywhere else.
        email = owner["user"]["email"]
        assert_error(log_in(campus, email, STRONG_PASSWORD), 429, "too_many_failures_from_network")
        assert with_device(campus, email, STRONG_PASSWORD, owner["device_token"]).status_code == 200
        assert log_in(anywhere(), email, STRONG_PASSWORD).status_code == 200

    def test_one_person_hammering_a_locked_email_leaves_the_addresss_failures_to_the_rest(
        self, register, settings, unique_email
    ):
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {
                **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
                **django_settings.ADDRESS_RATE_DEFAULTS,
            },
        }
        settings.LOGIN_FAILURES_PER_ADDRESS_PER_HOUR = 20
        target, colleague = register(), register()
        campus = APIClient(REMOTE_ADDR=self.CAMPUS)
        email = target["user"]["email"]
        statuses = [log_in(campus, email, WRONG_PASSWORD).status_code for _ in range(40)]
        # Five guesses are checked; the rest are refused unchecked while the email is
        # locked, and spend nothing of what the address may fail.
        assert statuses == [401] * 5 + [429] * 35
        newcomer = log_in(campus, colleague["user"]["email"], STRONG_PASSWORD)
        assert newcomer.status_code == 200, newcomer.content

    def test_the_people_who_sign_in_spend_nothing_of_the_addresss_failures(
        self, register, settings, unique_email
    ):
        settings.LOGIN_FAILURES_PER_ADDRESS_PER_HOUR = 3
        people = [register()["user"]["email"] for _ in range(6)]
        campus = APIClient(REMOTE_ADDR=self.CAMPUS)
        # Six people sign in (the test's login rate is 10 an hour per address), then
        # three typos are all the address may fail.
        assert [log_in(campus, email, STRONG_PASSWORD).status_code for email in people] == [200] * 6
        typos = [log_in(campus, email).status_code for email in people[:3]]
        assert typos == [401] * 3
        assert_error(
            log_in(campus, people[3], STRONG_PASSWORD), 429, "too_many_failures_from_network"
        )

    def test_a_spent_address_budget_is_told_apart_from_a_locked_account(
        self, register, unique_email, settings
    ):
        settings.LOGIN_FAILURES_PER_ADDRESS_PER_HOUR = 3
        owner = register()
        campus = APIClient(REMOTE_ADDR=self.CAMPUS)
        assert [log_in(campus, unique_email()).status_code for _ in range(3)] == [401] * 3
        network = assert_error(
            log_in(campus, owner["user"]["email"], STRONG_PASSWORD),
            429,
            "too_many_failures_from_network",
        )
        assert "network" in network["message"]
        # Not "your account is not locked": an account may be locked as well, and then
        # the answer from any other network says so.
        assert "not locked" not in network["message"]
        assert 0 < network["details"]["retry_after_seconds"] <= 3600
        # An account locked by failures, elsewhere, still says so in its own words.
        locked = register()["user"]["email"]
        for _ in range(5):
            log_in(anywhere(), locked)
        account = assert_error(
            log_in(anywhere(), locked, STRONG_PASSWORD), 429, "too_many_attempts"
        )
        assert "network" not in account["message"]

    def test_after_a_reset_the_new_password_signs_in_where_others_spent_the_failures(
        self, register, unique_email, settings, throttle_rates
    ):
        throttle_rates(login="100/hour")
        settings.LOGIN_FAILURES_PER_ADDRESS_PER_HOUR = 3
        owner, colleague = register(), register()
        email = owner["user"]["email"]
        campus = APIClient(REMOTE_ADDR=self.CAMPUS)
        assert [log_in(campus, unique_email()).status_code for _ in range(3)] == [401] * 3
        assert_error(log_in(campus, email, STRONG_PASSWORD), 429, "too_many_failures_from_network")
        # The owner resets the password (the link used from anywhere, here the campus).
        token = password_reset_token(users_table().get(owner["user"]["user_id"]))
        confirm = {"token": token, "new_password": NEW_PASSWORD}
        assert campus.post(RESET_CONFIRM, confirm, format="json").status_code == 200
        signed_in = log_in(campus, email, NEW_PASSWORD)
        assert signed_in.status_code == 200, signed_in.content
        # Another account at the address is still refused, and a guesser at the reset
        # account gets what every login from the address gets: its failures still count
        # on the email, which locks after five, whatever the password then sent.
        colleagues_login = log_in(campus, colleague["user"]["email"], STRONG_PASSWORD)
        assert_error(colleagues_login, 429, "too_many_failures_from_network")
        for _ in range(5):
            assert_error(log_in(campus, email), 429, "too_many_failures_from_network")
        assert_error(log_in(campus, email, NEW_PASSWORD), 429, "too_many_failures_from_network")
        assert_error(log_in(anywhere(), email, NEW_PASSWORD), 429, "too_many_attempts")

    def test_the_reset_passes_the_spent_budget_only_for_a_while(
        self, register, unique_email, settings, clock
    ):
        settings.LOGIN_FAILURES_PER_ADDRESS_PER_HOUR = 3
        settings.LOGIN_AFTER_RESET_SECONDS = 600
        owner = register()
        email = owner["user"]["email"]
        campus = APIClient(REMOTE_ADDR=self.CAMPUS)
        token = password_reset_token(users_table().get(owner["user"]["user_id"]))
        confirm = {"token": token, "new_password": NEW_PASSWORD}
        assert anywhere().post(RESET_CONFIRM, confirm, format="json").status_code == 200
        clock.advance(601)
        assert [log_in(campus, unique_email()).status_code for _ in range(3)] == [401] * 3
        assert_error(log_in(campus, email, NEW_PASSWORD), 429, "too_many_failures_from_network")

    def test_an_ipv6_48_has_a_larger_budget_of_failures_than_an_ipv4_address(
        self, one_proxy, unique_email, settings
    ):
        settings.LOGIN_FAILURES_PER_ADDRESS_PER_HOUR = 2
        settings.LOGIN_FAILURES_PER_IPV6_48_PER_HOUR = 4
        carrier = [behind_the_load_balancer(f"2001:db8:7:{n:x}::1") for n in range(1, 6)]
        statuses = [log_in(subscriber, unique_email()).status_code for subscriber in carrier]
        assert statuses[:4] == [401] * 4
        assert_error(log_in(carrier[4], unique_email()), 429, "too_many_failures_from_network")
        nat = behind_the_load_balancer("203.0.113.70")
        assert [log_in(nat, unique_email()).status_code for _ in range(2)] == [401] * 2
        assert_error(log_in(nat, unique_email()), 429, "too_many_failures_from_network")

    def test_one_subscriber_spraying_from_its_64_leaves_the_48s_others_their_sign_ins(
        self, one_proxy, register, unique_email, settings
    ):
        settings.LOGIN_FAILURES_PER_ADDRESS_PER_HOUR = 2
        settings.LOGIN_FAILURES_PER_IPV6_48_PER_HOUR = 4
        colleague = register()
        sprayer = [behind_the_load_balancer(f"2001:db8:8:1::{n:x}") for n in range(1, 9)]
        statuses = [log_in(address, unique_email()).status_code for address in sprayer]
        assert statuses == [401] * 2 + [429] * 6
        # The /64's refusals spent none of the /48's budget: another subscriber's typo is
        # checked, and a right password signs in.
        subscriber = behind_the_load_balancer("2001:db8:8:2::1")
        assert log_in(subscriber, colleague["user"]["email"]).status_code == 401
        signed_in = log_in(subscriber, colleague["user"]["email"], STRONG_PASSWORD)
        assert signed_in.status_code == 200, signed_in.content


class TestTrustedProxies:
    def test_the_address_the_load_balancer_appended_is_the_one_counted(
        self, one_proxy, unique_email
    ):
        statuses = [
            log_in(
                behind_the_load_balancer("203.0.113.7", forged=f"198.51.100.{n}"), unique_email()
            ).status_code
            for n in range(11)
        ]
        assert statuses == [401] * 10 + [429]
        # Another client behind the same load balancer has its own allowance.
        assert log_in(behind_the_load_balancer("203.0.113.8"), unique_email()).status_code == 401

    @pytest.mark.parametrize("entry", ["y" * 3000, "unknown", "203.0.113.300"])
    def test_an_entry_that_is_no_address_counts_as_the_peer(self, one_proxy, unique_email, entry):
        # Reached directly rather than through the proxy, whatever the client wrote.
        statuses = [
            log_in(behind_the_load_balancer(entry, forged=f"198.51.100.{n}"), unique_email())
            for n in range(11)
        ]
        assert [answer.status_code for answer in statuses] == [401] * 10 + [429]

    @pytest.mark.parametrize(
        ("entry", "counted"),
        [
            ("198.51.100.10:4431", "198.51.100.10"),
            ("[2001:db8::1]:443", "2001:db8::/64"),
            ("[2001:db8::1]", "2001:db8::/64"),
            ("2001:db8:0:7::1", "2001:db8:0:7::/64"),
            ("::ffff:198.51.100.10", "198.51.100.10"),
        ],
    )
    def test_a_proxy_that_writes_the_clients_port_counts_the_client(
        self, one_proxy, entry, counted
    ):
        # Some proxies (not the ALB) write the port too: not every client is the proxy.
        request = RequestFactory().get("/", REMOTE_ADDR=LOAD_BALANCER, HTTP_X_FORWARDED_FOR=entry)
        assert client_address(request) == counted

    def test_without_proxies_the_header_is_ignored(self, unique_email):
        statuses = [
            APIClient(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
            .post(LOGIN, {"email": unique_email(), "password": WRONG_PASSWORD}, format="json")
            .status_code
            for n in range(11)
        ]
        assert statuses == [401] * 10 + [429]

    def test_an_ipv6_client_rotating_through_the_64s_of_its_48_is_stopped_by_the_48(
        self, one_proxy, unique_email, settings
    ):
        settings.IPV6_48_ALLOWANCE_FACTOR = 2
        statuses = [
            log_in(behind_the_load_balancer(f"2001:db8:1:{n:x}00::1"), unique_email()).status_code
            for n in range(1, 23)
        ]
        # Ten logins an hour per /64 (and /56) in tests, twice that per /48.
        assert statuses == [401] * 20 + [429] * 2
        other_site = behind_the_load_balancer("2001:db8:2::1")
        assert log_in(other_site, unique_email()).status_code == 401

    def test_one_64_past_its_logins_leaves_the_rest_of_its_48_theirs(
        self, one_proxy, unique_email, settings
    ):
        settings.IPV6_48_ALLOWANCE_FACTOR = 2
        household = behind_the_load_balancer("2001:db8:3:1::1")
        # Every address of its /64 is the household's: rotating them changes nothing.
        statuses = [
            log_in(behind_the_load_balancer(f"2001:db8:3:1::{n:x}"), unique_email()).status_code
            for n in range(1, 41)
        ]
        assert statuses == [401] * 10 + [429] * 30
        assert log_in(household, unique_email()).status_code == 429
        # Refused on its /64, none of those 30 spent the /48's 20: ten neighbours' remain.
        neighbours = [behind_the_load_balancer(f"2001:db8:3:{n:x}::1") for n in range(2, 13)]
        assert [log_in(n, unique_email()).status_code for n in neighbours] == [401] * 10 + [429]
