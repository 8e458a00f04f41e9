"""Batches and transactions keep to DynamoDB's limits, against DynamoDB Local.

DynamoDB Local refuses what the real service refuses (a BatchWriteItem of more than 25
requests, a BatchGetItem of more than 100 keys or with a key twice, a transaction of
more than 100 actions), so these calls would fail here if a limit were not kept.
"""

import pytest

from dynamo.client import get_client
from dynamo.scans import scan_to_item, scans_table
from dynamo.tests.factories import a_scan, new_id


def scan_key(user_id: str, scan_id: str) -> dict:
    return {"user_id": {"S": user_id}, "scan_id": {"S": scan_id}}


def stored_scans(user_id: str, count: int) -> list[str]:
    """``count`` scans stored with a few batch writes; their ids."""
    scans = [a_scan(user_id) for _ in range(count)]
    scans_table().batch_write([{"PutRequest": {"Item": scan_to_item(s)}} for s in scans])
    return [s.scan_id for s in scans]


@pytest.fixture
def half_processed_reads():
    """DynamoDB answers half of each BatchGetItem and returns the rest as UnprocessedKeys,
    as it does under load or past 16 MB of answer."""
    events = get_client().meta.events
    held: list[tuple[str, dict]] = []
    counts = {"calls": 0, "unprocessed": 0}

    def keep_half(params, **kwargs):
        ((table, request),) = params["RequestItems"].items()
        keys = request["Keys"]
        half = (len(keys) + 1) // 2
        params["RequestItems"] = {table: {**request, "Keys": keys[:half]}}
        held.append((table, {**request, "Keys": keys[half:]}))
        counts["calls"] += 1

    def report_unprocessed(parsed, **kwargs):
        table, request = held.pop()
        if request["Keys"]:
            parsed["UnprocessedKeys"] = {table: request}
            counts["unprocessed"] += len(request["Keys"])

    events.register("provide-client-params.dynamodb.BatchGetItem", keep_half, "half-get-in")
    events.register("after-call.dynamodb.BatchGetItem", report_unprocessed, "half-get-out")
    yield counts
    events.unregister("provide-client-params.dynamodb.BatchGetItem", unique_id="half-get-in")
    events.unregister("after-call.dynamodb.BatchGetItem", unique_id="half-get-out")


def test_sixty_writes_in_one_call_are_all_stored():
    user_id = new_id()
    scan_ids = stored_scans(user_id, 60)
    assert set(scans_table().get_many(user_id, scan_ids)) == set(scan_ids)


def test_two_hundred_and_fifty_ids_are_read_in_batches_of_at_most_a_hundred():
    user_id = new_id()
    scan_ids = stored_scans(user_id, 250)
    found = scans_table().get_many(user_id, scan_ids + scan_ids[:10] + [new_id()])
    assert set(found) == set(scan_ids)
    assert all(found[s].user_id == user_id for s in scan_ids)


def test_keys_left_unprocessed_are_asked_for_again_until_every_item_is_read(
    half_processed_reads,
):
    user_id = new_id()
    scan_ids = stored_scans(user_id, 130)
    assert set(scans_table().get_many(user_id, scan_ids)) == set(scan_ids)
    assert half_processed_reads["unprocessed"] > 0


def test_a_consistent_batch_read_sees_a_write_made_just_before():
    user_id = new_id()
    scan_ids = stored_scans(user_id, 3)
    keys = [scan_key(user_id, s) for s in scan_ids]
    items = scans_table().batch_get(keys, consistent=True)
    assert sorted(item["scan_id"]["S"] for item in items) == sorted(scan_ids)


@pytest.mark.parametrize("count", [0, 101])
def test_a_transaction_outside_one_to_a_hundred_actions_is_refused_before_it_is_sent(count):
    user_id = new_id()
    table = scans_table()
    actions = [
        {"Put": {"TableName": table.name, "Item": {**scan_key(user_id, new_id())}}}
        for _ in range(count)
    ]
    with pytest.raises(ValueError, match="1 to 100 actions"):
        table.transact(actions)
    assert table.get_many(user_id, [a["Put"]["Item"]["scan_id"]["S"] for a in actions]) == {}


def test_a_transaction_of_a_hundred_actions_is_written_whole():
    user_id = new_id()
    table = scans_table()
    scans = [a_scan(user_id) for _ in range(100)]
    table.transact([{"Put": {"TableName": table.name, "Item": scan_to_item(s)}} for s in scans])
    assert len(table.get_many(user_id, [s.scan_id for s in scans])) == 100


def test_get_many_reads_items_of_several_tables_in_the_order_asked_with_none_for_gaps():
    from dynamo.base import get_many
    from dynamo.users import users_table

    user_id = new_id()
    (scan_id,) = stored_scans(user_id, 1)
    requests = []
    calls = get_client().meta.events
    calls.register("before-call.dynamodb", lambda model, **kwargs: requests.append(model.name))
    try:
        scan, nobody, missing = get_many(
            [
                (scans_table(), scan_key(user_id, scan_id)),
                (users_table(), users_table().user_key(new_id())),
                (scans_table(), scan_key(user_id, new_id())),
            ],
            consistent=True,
        )
    finally:
        calls.unregister("before-call.dynamodb")
    assert scan is not None and scan["scan_id"]["S"] == scan_id
    assert nobody is None and missing is None
    assert requests == ["BatchGetItem"]  # two tables, one call


def test_a_quota_counted_once_even_when_botocore_retries_an_applied_call():
    """A call that DynamoDB applied but whose answer was lost (a read timeout) is sent
    again by botocore. The count is a transaction, whose idempotency token (botocore
    makes one per call) keeps the second sending from counting again; a plain UpdateItem
    would count twice."""
    from dynamo.users import users_table

    events = get_client().meta.events
    sent = []

    def retry_once_after_success(attempts, **kwargs):
        sent.append(attempts)
        return 0 if attempts == 1 else None  # "retry now", as after a timeout

    events.register("needs-retry.dynamodb", retry_once_after_success)
    user_id = new_id()
    try:
        allowed = users_table().consume_daily_quota(
            user_id, name="chat", day="2026-01-01", limit=5, expires_at=2_000_000_000
        )
    finally:
        events.unregister("needs-retry.dynamodb", retry_once_after_success)
    assert allowed
    assert sent == [1, 2]  # the call went twice
    item = users_table().get_item(
        {"user_id": {"S": f"quota#chat#{user_id}#2026-01-01"}}, consistent=True
    )
    assert item is not None and item["used"]["N"] == "1"
