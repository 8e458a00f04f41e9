"""Many people behind one client address (an office, a school, a carrier's NAT): one of
them flooding it leaves the others their resets, registrations and links, through the
HTTP API against DynamoDB Local."""

from rest_framework.test import APIClient

from dynamo.metrics import measure_dynamodb

RESET = "/api/v1/auth/password/reset"


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
        with measure_dynamodb() as usage:
            assert post("10.41.0.3", RESET, body).status_code == 202
        from accounts.mail import wait_for_account_email

        wait_for_account_email()
        # The claim (GetItem) and the account (GetItem), read once each for the limits
        # and handed to the reset; two counters (UpdateItem); the link's own writes.
        assert usage.calls_by_operation["GetItem"] == 2, dict(usage.calls_by_operation)
        assert usage.calls_by_operation["UpdateItem"] == 2, dict(usage.calls_by_operation)
