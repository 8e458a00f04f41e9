"""Deleting a plan: the plan is gone at once, its check-ins (one a day) follow in a job.

The year of check-ins is seeded through the table manager (a request each would take
minutes); the deletion goes through the API, in the web process when no queue is
configured and on a real Celery worker over moto's SQS when one is.
"""

import io
import json
import zipfile

from dynamo.errors import Unavailable
from dynamo.metrics import measure_dynamodb
from dynamo.plans import plans_table
from plans.tests.test_api import PLANS, today
from plans.tests.test_long_plans import followed_for, user_id_of
from privacy import services as privacy
from privacy.tests.helpers import items_of
from scans.tests import queues
from scans.tests.queues import wait_until

A_YEAR = 365


def stored_check_ins(user_id: str, plan_id: str) -> int:
    return len(plans_table().all_check_ins(user_id, plan_id, consistent=True))


def exported_check_ins(client) -> list[dict]:
    archive = zipfile.ZipFile(io.BytesIO(b"".join(client.get("/api/v1/users/me/export"))))
    return json.loads(archive.read("dermalens-export.json"))["check_ins"]


class TestDeletingAPlanFollowedForAYear:
    def test_with_a_queue_the_plan_is_gone_at_once_and_a_worker_deletes_its_check_ins(
        self, auth_client, jobs_queue
    ):
        user_id = user_id_of(auth_client)
        plan = followed_for(auth_client, A_YEAR)
        url = f"{PLANS}/{plan['plan_id']}"
        kept = followed_for(auth_client, 3)  # the active plan now; its check-ins stay

        with measure_dynamodb() as usage:
            response = auth_client.delete(url)

        assert response.status_code == 204, response.content
        # The plan (and the pointer, had it named it) in one transaction; no check-in yet.
        assert "BatchWriteItem" not in usage.calls_by_operation
        assert stored_check_ins(user_id, plan["plan_id"]) > 300
        # Gone for the person before any check-in is deleted: not read, not written.
        assert auth_client.get(url).status_code == 404
        assert auth_client.get(f"{url}/check-ins").status_code == 404
        day = {"date": today(), "am_done": True, "pm_done": True, "irritation": 0}
        assert auth_client.post(f"{url}/check-ins", day).status_code == 404
        assert {c["plan_id"] for c in exported_check_ins(auth_client)} == {kept["plan_id"]}

        with queues.running_worker():
            assert wait_until(lambda: stored_check_ins(user_id, plan["plan_id"]) == 0, seconds=60)
        assert stored_check_ins(user_id, kept["plan_id"]) == 3
        assert auth_client.get(f"{PLANS}/active").json()["plan_id"] == kept["plan_id"]

    def test_without_a_queue_the_job_deletes_every_check_in_before_the_answer(self, auth_client):
        user_id = user_id_of(auth_client)
        plan = followed_for(auth_client, A_YEAR)
        assert auth_client.delete(f"{PLANS}/{plan['plan_id']}").status_code == 204
        assert stored_check_ins(user_id, plan["plan_id"]) == 0

    def test_check_ins_a_failed_job_left_go_with_the_account_s_erasure(
        self, auth_client, monkeypatch
    ):
        user_id = user_id_of(auth_client)
        plan = followed_for(auth_client, 40)
        table = type(plans_table())

        def fails(self, *args, **kwargs):
            raise Unavailable()

        monkeypatch.setattr(table, "delete_check_ins", fails)
        assert auth_client.delete(f"{PLANS}/{plan['plan_id']}").status_code == 503
        assert auth_client.get(f"{PLANS}/{plan['plan_id']}").status_code == 404
        assert stored_check_ins(user_id, plan["plan_id"]) > 30
        privacy.erase_account(user_id=user_id)
        assert items_of(user_id) == []
