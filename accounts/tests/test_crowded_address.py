"""Many people behind one client address (an office, a school, a carrier's NAT): one of
them flooding it leaves the others their resets, registrations and links, through the
HTTP API against DynamoDB Local."""

import pytest
from rest_framework.test import APIClient

from dynamo.metrics import measure_dynamodb

RESET = "/api/v1/auth/password/reset"
RESET_CONFIRM = "/api/v1/auth/password/reset/confirm"
VERIFY = "/api/v1/auth/email/verify"
REGISTER = "/api/v1/auth/register"
STRONG = "correct-horse-battery-staple"


def post(address: str, path: str, body: object):
    return APIClient(REMOTE_ADDR=address).post(path, body, format="json")


def resets_to(mailbox, email: str) -> int:
    return len([m for m in mailbox.to(email) if "Reset" in m.subject])


class TestTheOwnersPhoneAtAFloodedAddress:
    def test_gets_a_reset_link_where_strangers_spent_the_addresss_requests(
        self, throttle_rates, register, unique_email, ses_mailbox
    ):
        throttle_rates(password_reset="3/hour")
        owner = register()
        email = owner["user"]["email"]
        flooded = "10.41.0.1"
        spent = [post(flooded, RESET, {"email": unique_email()}).status_code for _ in range(4)]
        assert spent == [202] * 3 + [429]

        body = {"email": email, "device_token": owner["device_token"]}
        from_phone = post(flooded, RESET, body)

        assert from_phone.status_code == 202, from_phone.content
        assert resets_to(ses_mailbox, email) == 1

    def test_a_strangers_device_token_is_braked_at_the_address_as_any_request(
        self, throttle_rates, register, unique_email
    ):
        throttle_rates(password_reset="3/hour")
        owner, stranger = register(), register()
        flooded = "10.41.0.2"
        assert [post(flooded, RESET, {"email": unique_email()}).status_code for _ in range(3)] == [
            202
        ] * 3
        body = {"email": owner["user"]["email"], "device_token": stranger["device_token"]}
        refused = post(flooded, RESET, body)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "throttled"

    def test_reads_the_addresss_claim_and_the_account_once_each(self, register, settings):
        # The email's limit and the address's both ask whether the device is the
        # account's: the second asks nothing of DynamoDB.
        settings.AUTH_USER_CACHE_SECONDS = 0
        owner = register()
        body = {"email": owner["user"]["email"], "device_token": owner["device_token"]}
        from accounts.mail import wait_for_account_email

        with measure_dynamodb() as usage:
            assert post("10.41.0.3", RESET, body).status_code == 202
            # The message is sent by the sender thread, which may count its mailbox
            # before or after the answer: waited for here, it is always counted.
            wait_for_account_email()
        # The claim (GetItem) and the account (GetItem), read once each for the limits
        # and handed to the reset; two counters and the mailbox's count (UpdateItem).
        assert usage.calls_by_operation["GetItem"] == 2, dict(usage.calls_by_operation)
        assert usage.calls_by_operation["UpdateItem"] == 3, dict(usage.calls_by_operation)


# Bodies a reset request is refused for (a 400), each made with an unused email.
MALFORMED_RESETS = {
    "empty": lambda email: {},
    "not-an-address": lambda email: {"email": email.replace("@", " at ")},
    "unknown-field": lambda email: {"email": email, "extra": 1},
    "a-list": lambda email: [email],
}


class TestMalformedRequestsSpendNothingOfTheAddress:
    @pytest.mark.parametrize("kind", MALFORMED_RESETS)
    def test_reset_requests_refused_for_their_body(self, throttle_rates, unique_email, kind):
        throttle_rates(password_reset="3/hour")
        address = f"10.42.{list(MALFORMED_RESETS).index(kind)}.1"
        body = MALFORMED_RESETS[kind](unique_email())
        # Fewer than the mailbox's own limit (5 an hour), which counts what names it.
        refused = [post(address, RESET, body).status_code for _ in range(5)]
        assert refused == [400] * 5
        assert [post(address, RESET, {"email": unique_email()}).status_code for _ in range(4)] == [
            202
        ] * 3 + [429]

    def test_a_reset_body_that_is_no_json(self, throttle_rates, unique_email):
        throttle_rates(password_reset="2/hour")
        client = APIClient(REMOTE_ADDR="10.42.9.2")
        for _ in range(4):
            answer = client.post(RESET, b"{not json", content_type="application/json")
            assert answer.status_code == 400
        assert post("10.42.9.2", RESET, {"email": unique_email()}).status_code == 202

    @pytest.mark.parametrize(
        "body",
        [{}, {"email": "x@example.com"}, {"email": "x@example.com", "password": "1234"}],
        ids=["empty", "no-password", "weak-password"],
    )
    def test_registrations_refused_for_their_body(self, throttle_rates, unique_email, body):
        throttle_rates(register="2/hour")
        address = "10.42.9.3"
        assert [post(address, REGISTER, body).status_code for _ in range(5)] == [400] * 5
        student = {"email": unique_email(), "password": STRONG, "full_name": "Student"}
        assert post(address, REGISTER, student).status_code == 201

    @pytest.mark.parametrize("path", [RESET_CONFIRM, VERIFY], ids=["reset-confirm", "verify"])
    def test_links_refused_for_their_body(self, throttle_rates, path):
        throttle_rates(token="2/hour")
        address = "10.42.9.4"
        assert [post(address, path, {}).status_code for _ in range(5)] == [400] * 5
        # A made-up token is counted: the link's limit brakes guessing. Sent with a weak
        # password, it is still the token's refusal, not one for the body.
        guess = {"token": "made-up"} | ({"new_password": "1234"} if path == RESET_CONFIRM else {})
        made_up = [post(address, path, guess) for _ in range(3)]
        assert [answer.json()["error"]["code"] for answer in made_up] == [
            "invalid_token",
            "invalid_token",
            "throttled",
        ]

    def test_well_formed_requests_are_still_braked(self, throttle_rates, unique_email):
        throttle_rates(password_reset="3/hour")
        address = "10.42.9.5"
        answers = [post(address, RESET, {"email": unique_email()}).status_code for _ in range(4)]
        assert answers == [202] * 3 + [429]
        # A malformed request refused by the limit stays refused, and counted.
        assert post(address, RESET, {}).status_code == 429


def behind_the_load_balancer(address: str) -> APIClient:
    return APIClient(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=address)


def student(unique_email) -> dict:
    return {"email": unique_email(), "password": STRONG, "full_name": "Student"}


class TestIPv6Households:
    """Many subscribers' /64s in one /48 (a carrier, an ISP): each /64 is one client."""

    @pytest.fixture(autouse=True)
    def one_proxy(self, settings):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
        settings.IPV6_48_ALLOWANCE_FACTOR = 3

    def test_a_household_that_spent_its_registrations_leaves_its_neighbours_theirs(
        self, throttle_rates, unique_email
    ):
        throttle_rates(register="4/hour", password_reset="4/hour")
        flooding = [behind_the_load_balancer(f"2001:db8:51:1::{n:x}") for n in range(1, 21)]
        answers = [c.post(REGISTER, student(unique_email), format="json") for c in flooding]
        assert [a.status_code for a in answers] == [201] * 4 + [429] * 16
        resets = [c.post(RESET, {"email": unique_email()}, format="json") for c in flooding]
        assert [a.status_code for a in resets] == [202] * 4 + [429] * 16
        neighbour = behind_the_load_balancer("2001:db8:51:2::1")
        registered = neighbour.post(REGISTER, student(unique_email), format="json")
        assert registered.status_code == 201, registered.content
        asked = neighbour.post(RESET, {"email": unique_email()}, format="json")
        assert asked.status_code == 202, asked.content

    def test_rotating_the_64s_of_a_48_is_stopped_at_the_48s_allowance(
        self, throttle_rates, unique_email
    ):
        throttle_rates(register="4/hour")
        # Each /64 in a /56 of its own: the /48 is what stops it.
        rotating = [behind_the_load_balancer(f"2001:db8:52:{n:x}00::1") for n in range(1, 15)]
        answers = [c.post(REGISTER, student(unique_email), format="json") for c in rotating]
        assert [a.status_code for a in answers] == [201] * 12 + [429] * 2
        elsewhere = behind_the_load_balancer("2001:db8:53:1::1")
        assert elsewhere.post(REGISTER, student(unique_email), format="json").status_code == 201

    def test_a_household_rotating_the_64s_of_its_56_leaves_the_rest_of_the_48_theirs(
        self, settings, throttle_rates, unique_email
    ):
        settings.IPV6_56_ALLOWANCE_FACTOR = 2
        throttle_rates(register="4/hour")
        # A household delegated 2001:db8:54:100::/56 tries each of its 256 /64s.
        household = [behind_the_load_balancer(f"2001:db8:54:1{n:02x}::1") for n in range(12)]
        answers = [c.post(REGISTER, student(unique_email), format="json") for c in household]
        assert [a.status_code for a in answers] == [201] * 8 + [429] * 4
        # The /48's other households keep the rest of its 12 (4 x 3).
        others = [behind_the_load_balancer(f"2001:db8:54:{n:x}00::1") for n in range(2, 7)]
        answers = [c.post(REGISTER, student(unique_email), format="json") for c in others]
        assert [a.status_code for a in answers] == [201] * 4 + [429]


class TestLinksAtAnAddressFloodedWithGuesses:
    """Someone behind the address sends made-up link tokens until the address's link
    limit is spent: the people there who got a real link by mail still use it."""

    @pytest.fixture
    def guessed_out(self, throttle_rates):
        throttle_rates(token="3/hour")
        address = "10.43.0.1"
        guesses = [post(address, VERIFY, {"token": f"made-up-{n}"}) for n in range(5)]
        assert [g.status_code for g in guesses] == [400] * 3 + [429] * 2
        return address

    def test_a_verification_link_from_the_mail_still_verifies(
        self, guessed_out, register, ses_mailbox
    ):
        email = register()["user"]["email"]
        token = ses_mailbox.last(email, subject="Confirm your email address").token
        verified = post(guessed_out, VERIFY, {"token": token})
        assert verified.status_code == 200, verified.content
        assert verified.json()["email_verified"] is True

    def test_a_reset_link_from_the_mail_still_sets_the_password(
        self, guessed_out, register, ses_mailbox
    ):
        email = register()["user"]["email"]
        assert post("10.43.9.9", RESET, {"email": email}).status_code == 202
        token = ses_mailbox.last(email, subject="Reset your DermaLens password").token
        body = {"token": token, "new_password": "a-brand-new-passphrase-42"}
        reset = post(guessed_out, RESET_CONFIRM, body)
        assert reset.status_code == 200, reset.content

    def test_the_pages_take_the_mailed_links_too(self, guessed_out, register, ses_mailbox):
        from django.test import Client

        email = register()["user"]["email"]
        token = ses_mailbox.last(email, subject="Confirm your email address").token
        page = Client(REMOTE_ADDR=guessed_out).post("/account/verify-email", {"token": token})
        assert page.status_code == 200, page.content
        made_up = Client(REMOTE_ADDR=guessed_out).post("/account/verify-email", {"token": "x"})
        assert made_up.status_code == 429

    def test_a_mailed_link_used_again_and_again_is_braked_on_its_account(
        self, throttle_rates, register, ses_mailbox
    ):
        throttle_rates(token="3/hour", session="4/hour")
        email = register()["user"]["email"]
        token = ses_mailbox.last(email, subject="Confirm your email address").token
        answers = [post(f"10.43.1.{n}", VERIFY, {"token": token}).status_code for n in range(6)]
        assert answers == [200] * 4 + [429] * 2
