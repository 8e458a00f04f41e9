"""dynamo.partitions against DynamoDB Local: every page of a partition, batch deletes."""

import time
from datetime import date

import pytest
from django.conf import settings
from ulid import ULID

from dynamo.allowances import DAILY_ALLOWANCES
from dynamo.client import get_client
from dynamo.partitions import (
    delete_partition,
    delete_user_items,
    find_user_id_by_email,
    partition_items,
)
from dynamo.tables import CHAT, USERS
from dynamo.users import users_table
from privacy.tests.helpers import email_claim, items_of


def fill_chat(user_id: str, count: int) -> list[str]:
    """``count`` bare chat items in the user's partition, written in batches."""
    client = get_client()
    message_ids = [str(ULID()) for _ in range(count)]
    for start in range(0, count, 25):
        requests = [
            {"PutRequest": {"Item": {"user_id": {"S": user_id}, "message_id": {"S": m}}}}
            for m in message_ids[start : start + 25]
        ]
        client.batch_write_item(RequestItems={settings.DYNAMODB_CHAT_TABLE: requests})
    return sorted(message_ids)


def new_user_id() -> str:
    return str(ULID())


class TestPartitionItems:
    def test_every_page_of_the_partition_is_read_in_key_order(self):
        user_id = new_user_id()
        written = fill_chat(user_id, 23)
        fill_chat(new_user_id(), 5)
        read = [item["message_id"]["S"] for item in partition_items(CHAT, user_id, page_size=4)]
        assert read == written

    def test_a_prefix_narrows_the_query_to_one_item_kind(self):
        user_id = new_user_id()
        fill_chat(user_id, 3)
        get_client().put_item(
            TableName=settings.DYNAMODB_CHAT_TABLE,
            Item={"user_id": {"S": user_id}, "message_id": {"S": "session#S1"}},
        )
        read = [i["message_id"]["S"] for i in partition_items(CHAT, user_id, sort_key_prefix="s")]
        assert read == ["session#S1"]

    def test_narrowing_a_table_without_a_sort_key_is_refused(self):
        with pytest.raises(ValueError, match="no sort key"):
            list(partition_items(USERS, new_user_id(), sort_key_prefix="x"))


class TestDeletePartition:
    def test_more_than_one_batch_is_deleted_and_other_partitions_are_kept(self):
        user_id, neighbour = new_user_id(), new_user_id()
        fill_chat(user_id, 260)
        kept = fill_chat(neighbour, 3)
        assert delete_partition(CHAT, user_id) == 260
        assert list(partition_items(CHAT, user_id)) == []
        assert [i["message_id"]["S"] for i in partition_items(CHAT, neighbour)] == kept

    def test_deleting_an_empty_partition_deletes_nothing(self):
        assert delete_partition(CHAT, new_user_id()) == 0


class TestUsersTable:
    def test_the_user_item_claim_and_recent_quota_counters_are_deleted(self, register):
        session = register()
        user_id, email = session["user"]["user_id"], session["user"]["email"]
        for allowance in DAILY_ALLOWANCES:
            users_table().consume_daily_quota(
                user_id,
                name=allowance.name,
                day="2026-01-02",
                limit=5,
                expires_at=int(time.time()) + 3600,
            )
        counters = [i for i in items_of(user_id) if i["user_id"]["S"].startswith("quota#")]
        assert len(counters) == len(DAILY_ALLOWANCES) == 3
        delete_user_items(user_id, email, today=date(2026, 1, 3))
        assert items_of(user_id) == []
        assert email_claim(email) is None

    def test_the_account_is_found_by_its_claim_or_else_by_the_email_index(self, register):
        session = register()
        user_id, email = session["user"]["user_id"], session["user"]["email"]
        assert find_user_id_by_email(email) == user_id
        get_client().delete_item(
            TableName=settings.DYNAMODB_USERS_TABLE, Key={"user_id": {"S": f"email#{email}"}}
        )
        assert find_user_id_by_email(email) == user_id
        delete_user_items(user_id, email)
        assert find_user_id_by_email(email) is None
