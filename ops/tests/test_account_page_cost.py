"""The account page reads kept counts: its DynamoDB calls do not grow with the account."""

from rest_framework.test import APIClient

from dynamo.metrics import measure_dynamodb
from dynamo.partitions import partition_table
from dynamo.tables import USERS
from dynamo.users import activity_key
from tests.seeding import seed_messages, seed_scans


def start_session(access: str) -> str:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    response = client.post("/api/v1/chat/sessions", {}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["session_id"]


def page_calls(staff_client, user_id: str) -> tuple[dict[str, int], str]:
    """The DynamoDB calls of one account page (and its read units, under "read_units")."""
    with measure_dynamodb() as usage:
        response = staff_client.get(f"/ops/users/{user_id}")
    assert response.status_code == 200
    calls = {**usage.calls_by_operation, "read_units": round(usage.read_units, 1)}
    return calls, response.content.decode()


class TestAccountPageCost:
    def test_200_scans_and_2000_messages_cost_the_page_what_an_empty_account_does(
        self, staff_client, register
    ):
        empty, heavy = register(), register()
        heavy_id = heavy["user"]["user_id"]
        seed_scans(heavy_id, 200)
        seed_messages(heavy_id, start_session(heavy["access"]), 2000)

        empty_calls, _ = page_calls(staff_client, empty["user"]["user_id"])
        heavy_calls, html = page_calls(staff_client, heavy_id)

        # The same calls, and the same read units: nothing is read item by item.
        assert heavy_calls == empty_calls, (heavy_calls, empty_calls)
        assert sum(v for k, v in heavy_calls.items() if k != "read_units") <= 6
        assert "200 (0 failed analyses)" in html
        assert "2000 messages in 1 conversations" in html

    def test_an_account_older_than_the_counts_is_counted_once_then_read(
        self, staff_client, register
    ):
        account = register()
        user_id = account["user"]["user_id"]
        seed_scans(user_id, 30)
        # As before the counts existed: no activity item.
        partition_table(USERS).call("delete_item", Key=activity_key(user_id))

        first_calls, first = page_calls(staff_client, user_id)
        again_calls, again = page_calls(staff_client, user_id)

        assert "30 (0 failed analyses)" in first and "30 (0 failed analyses)" in again
        assert again_calls["read_units"] < first_calls["read_units"]
        empty_calls, _ = page_calls(staff_client, register()["user"]["user_id"])
        assert again_calls == empty_calls


class TestCountsFollowTheWrites:
    def test_creations_and_deletions_through_the_api_move_the_counts(self, staff_client, register):
        from ops.tests.test_pages import upload_scan

        account = register()
        user_id = account["user"]["user_id"]
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {account['access']}")
        kept, deleted = upload_scan(account["access"]), upload_scan(account["access"])
        assert client.delete(f"/api/v1/scans/{deleted['scan_id']}").status_code == 204
        sessions = [start_session(account["access"]) for _ in range(2)]
        for session_id in sessions:
            for text in ("Is my skin dry?", "And oily?"):
                sent = client.post(
                    f"/api/v1/chat/sessions/{session_id}/messages", {"content": text}
                )
                assert sent.status_code == 201, sent.content
        assert client.delete(f"/api/v1/chat/sessions/{sessions[0]}").status_code == 202
        assert client.post("/api/v1/plans", {}, format="json").status_code == 201

        html = staff_client.get(f"/ops/users/{user_id}").content.decode()

        assert kept["scan_id"] not in html
        assert "1 (0 failed analyses)" in html
        assert "4 messages in 1 conversations" in html  # two questions, two replies
        assert "<dt>Treatment plans</dt><dd>1</dd>" in html
