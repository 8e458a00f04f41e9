"""Deleting a chat session is a job: the session is gone at once, its messages follow.

The 5,000-message session is seeded through the data layer's batch writes (5,000 API
calls would take minutes); the deletion goes through the API, in the web process when
no queue is configured and on a real Celery worker over moto's SQS when one is.
"""

from datetime import UTC, datetime, timedelta

import pytest

from chat.tests.helpers import SESSIONS, messages_url, user_id_of
from dynamo.chat import chat_table
from dynamo.client import get_client
from dynamo.jobs import jobs_table
from scans.tests import queues
from scans.tests.queues import wait_until
from tests.seeding import seed_messages


def chat_items(user_id: str, session_id: str) -> int:
    from django.conf import settings

    response = get_client().query(
        TableName=settings.DYNAMODB_CHAT_TABLE,
        IndexName="session-index",
        KeyConditionExpression="user_id = :user AND begins_with(session_message_id, :session)",
        ExpressionAttributeValues={":user": {"S": user_id}, ":session": {"S": f"{session_id}#"}},
        Select="COUNT",
    )
    return response["Count"]


class TestDeletingALongSession:
    def test_a_5000_message_session_is_deleted_by_a_job_that_reports_every_message(
        self, auth_client, start_session
    ):
        user_id = user_id_of(auth_client)
        session_id = start_session()["session_id"]
        kept_id = start_session()["session_id"]
        seed_messages(user_id, session_id, 5000)
        seed_messages(user_id, kept_id, 3)

        response = auth_client.delete(f"{SESSIONS}/{session_id}")

        assert response.status_code == 202, response.content
        job = auth_client.get(response["Location"]).json()
        assert job["kind"] == "delete_chat_session"
        assert (job["status"], job["done_items"], job["error"]) == ("done", 5000, None)
        assert chat_items(user_id, session_id) == 0
        assert chat_items(user_id, kept_id) == 4  # the session item and its messages
        listed = auth_client.get(SESSIONS).json()["items"]
        assert [s["session_id"] for s in listed] == [kept_id]

    def test_with_a_queue_the_session_is_gone_at_once_and_a_worker_deletes_the_rest(
        self, auth_client, start_session, send, jobs_queue
    ):
        user_id = user_id_of(auth_client)
        session_id = start_session()["session_id"]
        seed_messages(user_id, session_id, 300)

        response = auth_client.delete(f"{SESSIONS}/{session_id}")

        assert response.status_code == 202, response.content
        assert response.json()["status"] == "queued"
        # Gone for the person before any message is deleted.
        assert chat_items(user_id, session_id) == 301
        assert auth_client.get(f"{SESSIONS}/{session_id}").status_code == 404
        assert auth_client.get(messages_url(session_id)).status_code == 404
        assert send(session_id, "one more").status_code == 404
        assert auth_client.get(SESSIONS).json()["items"] == []

        with queues.running_worker():
            assert wait_until(
                lambda: auth_client.get(response["Location"]).json()["status"] == "done",
                seconds=60,
            )

        assert auth_client.get(response["Location"]).json()["done_items"] == 300
        assert chat_items(user_id, session_id) == 0
        assert auth_client.delete(f"{SESSIONS}/{session_id}").status_code == 404

    def test_deleting_a_session_again_before_its_job_ran_answers_with_that_job(
        self, auth_client, start_session, jobs_queue
    ):
        user_id = user_id_of(auth_client)
        session_id = start_session()["session_id"]
        seed_messages(user_id, session_id, 30)
        answers = [auth_client.delete(f"{SESSIONS}/{session_id}") for _ in range(5)]
        assert {answer.status_code for answer in answers} == {202}
        # One job, one message on the queue all accounts share: not one per request.
        assert {answer.json()["job_id"] for answer in answers} == {answers[0].json()["job_id"]}
        assert queues.messages_in(jobs_queue.sqs, jobs_queue.url) == 1

        with queues.running_worker():
            assert wait_until(
                lambda: queues.messages_in(jobs_queue.sqs, jobs_queue.url) == 0, seconds=60
            )

        assert chat_table().get_session(user_id, session_id, consistent=True) is None
        assert chat_items(user_id, session_id) == 0
        assert auth_client.get(answers[0]["Location"]).json()["status"] == "done"
        assert auth_client.delete(f"{SESSIONS}/{session_id}").status_code == 404

    @pytest.mark.parametrize(
        ("status", "minutes_still"),
        [("failed", 0), ("queued", 11), ("running", 11)],
        ids=["failed", "queued, its message lost", "running, its worker gone"],
    )
    def test_a_job_that_failed_or_stopped_moving_is_started_again(
        self, auth_client, start_session, jobs_queue, status, minutes_still
    ):
        user_id = user_id_of(auth_client)
        session_id = start_session()["session_id"]
        first = auth_client.delete(f"{SESSIONS}/{session_id}").json()
        still_since = datetime.now(UTC) - timedelta(minutes=minutes_still)
        jobs_table().record(
            user_id, first["job_id"], status=status, updated_at=still_since.isoformat()
        )

        again = auth_client.delete(f"{SESSIONS}/{session_id}")

        assert again.status_code == 202
        assert again.json()["job_id"] != first["job_id"]
        assert queues.messages_in(jobs_queue.sqs, jobs_queue.url) == 2
        # The new job is the one a further request answers with.
        assert (
            auth_client.delete(f"{SESSIONS}/{session_id}").json()["job_id"]
            == (again.json()["job_id"])
        )


class TestJobResource:
    def test_another_persons_job_is_404(self, auth_client, other_client, start_session):
        session_id = start_session()["session_id"]
        location = auth_client.delete(f"{SESSIONS}/{session_id}")["Location"]
        assert auth_client.get(location).status_code == 200
        assert other_client.get(location).status_code == 404

    def test_a_job_needs_a_signed_in_caller_and_a_job_id(self, api_client, auth_client):
        assert api_client.get("/api/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 401
        assert auth_client.get("/api/v1/jobs/01ARZ3NDEKTSV4RRFFQ69G5FAV").status_code == 404
        assert auth_client.get("/api/v1/jobs/not-a-job").status_code == 404
