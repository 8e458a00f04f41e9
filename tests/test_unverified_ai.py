"""AI work for accounts whose email address is not verified is bounded per client address.

Registration is generous per address (hundreds of people share one); without a bound on
what unverified accounts ask of Gemini, one address could mint accounts and have each
spend the day's full allowances. Verified accounts are never counted, so people who
share an address with a flood keep their AI work.
"""

from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.fake_gemini import GENERATE_CONTENT_PATH

FLOODED = "198.51.100.7"
ELSEWHERE = "203.0.113.9"
SESSIONS = "/api/v1/chat/sessions"
VERIFY = "/api/v1/auth/email/verify"
FACE = Path(__file__).resolve().parent / "data" / "astronaut.jpg"


@pytest.fixture
def person(unique_email):
    """A fresh account signed in from ``address``; ``client.email`` is its address."""

    def make(address: str) -> APIClient:
        from accounts.mail import wait_for_account_email

        client = APIClient(REMOTE_ADDR=address)
        email = unique_email()
        body = {"email": email, "password": "correct-horse-battery-staple", "full_name": "P"}
        response = client.post("/api/v1/auth/register", body, format="json")
        assert response.status_code == 201, response.content
        wait_for_account_email()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
        client.email = email
        return client

    return make


def say(client: APIClient, text: str = "How is my skin?"):
    session = client.post(SESSIONS, {}, format="json")
    assert session.status_code == 201, session.content
    return client.post(
        f"{SESSIONS}/{session.json()['session_id']}/messages", {"content": text}, format="json"
    )


def gemini_calls(fake_gemini) -> int:
    return sum(1 for request in fake_gemini.requests if GENERATE_CONTENT_PATH.match(request.path))


def verify(ses_mailbox, client: APIClient) -> None:
    message = ses_mailbox.last(client.email, subject="Confirm your email address")
    assert APIClient().post(VERIFY, {"token": message.token}).status_code == 200


def test_unverified_accounts_at_one_address_share_one_allowance_of_ai_work(
    person, throttle_rates, gemini_settings, fake_gemini
):
    throttle_rates(ai_unverified="4/day")
    first, second = person(FLOODED), person(FLOODED)

    answers = [say(first).status_code for _ in range(3)] + [say(second).status_code]
    refused = say(second)

    assert answers == [201] * 4
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "verify_email_for_ai"
    assert "verify your address" in error["message"]
    retry_after = int(refused["Retry-After"])
    assert 0 < retry_after <= 24 * 60 * 60
    assert error["details"] == {"retry_after_seconds": retry_after}
    # Gemini answered the four, and was not asked for the fifth.
    assert gemini_calls(fake_gemini) == 4
    # A newcomer at the same address is refused too: new accounts mint no new allowance.
    assert say(person(FLOODED)).status_code == 429
    # A streamed message is refused the same way, in JSON, before any stream begins.
    session = first.post(SESSIONS, {}, format="json").json()["session_id"]
    streamed = first.post(
        f"{SESSIONS}/{session}/messages",
        {"content": "And now?"},
        format="json",
        HTTP_ACCEPT="text/event-stream",
    )
    assert streamed.status_code == 429
    assert streamed["Content-Type"] == "application/json"
    assert streamed.json()["error"]["code"] == "verify_email_for_ai"
    assert gemini_calls(fake_gemini) == 4


def test_verified_accounts_and_other_addresses_keep_their_ai_work(
    person, throttle_rates, ses_mailbox
):
    throttle_rates(ai_unverified="1/day")
    flooder, neighbour = person(FLOODED), person(FLOODED)
    verify(ses_mailbox, neighbour)
    assert say(flooder).status_code == 201
    assert say(flooder).status_code == 429

    # Someone who verified their address, behind the same address, is never counted.
    assert [say(neighbour).status_code for _ in range(3)] == [201] * 3
    # An unverified account elsewhere has its own address's allowance.
    assert say(person(ELSEWHERE)).status_code == 201
    # And the flooder, once verified, goes on.
    verify(ses_mailbox, flooder)
    assert say(flooder).status_code == 201


def test_an_address_verified_through_another_worker_counts_at_once(person, throttle_rates):
    """The worker's copy of the account may predate the link followed a moment ago."""
    from dynamo.users import users_table

    throttle_rates(ai_unverified="1/day")
    client = person(FLOODED)
    assert say(client).status_code == 201
    me = client.get("/api/v1/users/me").json()  # this worker now holds a copy, unverified
    assert me["email_verified"] is False
    # Verified through another worker: this one's copy is left as it was.
    users_table().call(
        "update_item",
        Key={"user_id": {"S": me["user_id"]}},
        UpdateExpression="SET email_verified = :yes",
        ExpressionAttributeValues={":yes": {"BOOL": True}},
    )

    assert say(client).status_code == 201
    assert client.get("/api/v1/users/me").json()["email_verified"] is True


def test_uploads_and_plans_of_unverified_accounts_count_in_the_same_allowance(
    person, throttle_rates
):
    throttle_rates(ai_unverified="1/day")
    client = person(FLOODED)
    photo = FACE.read_bytes()

    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = client.post(
        "/api/v1/scans",
        {"image": SimpleUploadedFile("face.jpg", photo, "image/jpeg"), "area": "face"},
        format="multipart",
    )
    assert upload.status_code in (200, 201, 202), upload.content
    refused_upload = client.post(
        "/api/v1/scans",
        {"image": SimpleUploadedFile("face.jpg", photo, "image/jpeg"), "area": "face"},
        format="multipart",
    )
    refused_plan = client.post("/api/v1/plans", {}, format="json")
    scan_id = upload.json()["scan_id"]
    refused_analysis = client.post(f"/api/v1/scans/{scan_id}/analyze")

    for refused in (refused_upload, refused_plan, refused_analysis):
        assert refused.status_code == 429, refused.content
        assert refused.json()["error"]["code"] == "verify_email_for_ai"
    # Reading is never counted.
    assert client.get("/api/v1/scans").status_code == 200
    assert len(client.get("/api/v1/scans").json()["items"]) == 1


def test_a_request_another_limit_refused_spends_nothing_of_the_addresss_ai_work(
    person, throttle_rates
):
    # One person behind the address sends uploads past their account's own limit: the
    # refused ones leave the address's AI work of unverified accounts to the others.
    throttle_rates(ai_unverified="2/day", uploads="1/hour")
    hasty, neighbour = person(FLOODED), person(FLOODED)
    statuses = [send_face(hasty).status_code for _ in range(4)]
    assert statuses[0] in (201, 202) and statuses[1:] == [429] * 3
    assert {send_face(hasty).json()["error"]["code"]} == {"throttled"}
    assert send_face(neighbour).status_code in (201, 202)


def send_face(client: APIClient):
    from django.core.files.uploadedfile import SimpleUploadedFile

    image = SimpleUploadedFile("face.jpg", FACE.read_bytes(), "image/jpeg")
    return client.post("/api/v1/scans", {"image": image, "area": "face"}, format="multipart")


def test_requests_that_never_reach_the_ai_spend_nothing_of_the_addresss_ai_work(
    person, throttle_rates
):
    # One person behind the address sends messages the chat refuses for what they hold,
    # to a session that is not there, and an upload with no photo: none asks the AI, so
    # the neighbour's first message and first upload still do.
    throttle_rates(ai_unverified="2/day")
    careless, neighbour = person(FLOODED), person(FLOODED)
    session = careless.post(SESSIONS, {}, format="json").json()["session_id"]
    empty = [
        careless.post(f"{SESSIONS}/{session}/messages", {"content": ""}, format="json")
        for _ in range(4)
    ]
    missing = careless.post(
        f"{SESSIONS}/01ARZ3NDEKTSV4RRFFQ69G5FAV/messages", {"content": "Hi"}, format="json"
    )
    no_photo = careless.post("/api/v1/scans", {"area": "face"}, format="multipart")

    assert [answer.status_code for answer in empty] == [400] * 4
    assert missing.status_code == 404, missing.content
    assert no_photo.status_code == 400, no_photo.content
    assert say(neighbour).status_code == 201
    assert send_face(neighbour).status_code in (201, 202)
    # The allowance is spent now: AI work that was asked for counts.
    refused = say(careless)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "verify_email_for_ai"


def test_messages_past_the_accounts_own_replies_spend_nothing_of_the_addresss_ai_work(
    person, throttle_rates, settings
):
    throttle_rates(ai_unverified="3/day")
    settings.AI_REPLIES_PER_DAY = 1
    chatty, neighbour = person(FLOODED), person(FLOODED)
    answers = [say(chatty) for _ in range(4)]
    assert [answer.status_code for answer in answers] == [201] + [429] * 3
    assert {answer.json()["error"]["code"] for answer in answers[1:]} == {"chat_quota_exceeded"}
    assert say(neighbour).status_code == 201
    assert send_face(neighbour).status_code in (201, 202)


def test_a_reply_lost_to_its_session_deleted_meanwhile_was_ai_work_and_counts(
    person, throttle_rates, monkeypatch
):
    # The assistant answered, but the session went while it did: the 404 came after the
    # AI work, so it is counted like any answered message, and the next is refused.
    from chat import services as chat_services

    throttle_rates(ai_unverified="1/day")
    client = person(FLOODED)
    session = client.post(SESSIONS, {}, format="json").json()["session_id"]
    provider = chat_services.chat_provider()

    class DeletesTheSessionWhileReplying:
        name, model = provider.name, provider.model

        def reply(self, **kwargs):
            assert client.delete(f"{SESSIONS}/{session}").status_code in (202, 204)
            return provider.reply(**kwargs)

    monkeypatch.setattr(chat_services, "chat_provider", DeletesTheSessionWhileReplying)
    lost = client.post(f"{SESSIONS}/{session}/messages", {"content": "Hi"}, format="json")
    assert lost.status_code == 404, lost.content
    monkeypatch.undo()

    refused = say(client)
    assert refused.status_code == 429, refused.content
    assert refused.json()["error"]["code"] == "verify_email_for_ai"
