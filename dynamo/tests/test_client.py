"""The shared client reads item answers as plain JSON: the same values botocore gives."""

import boto3
import pytest
from botocore.parsers import JSONParser
from django.conf import settings

from dynamo.client import client_arguments, client_config, get_client, reset_client
from dynamo.codec import to_item
from dynamo.scans import scans_table
from dynamo.tests.factories import a_scan, new_id, new_user_id
from tests.at_once import at_once

ANALYSIS = {
    "overall_score": 71.5,
    "metrics": {"acne": {"score": 64.25, "band": "good", "confidence": 0.8}},
    "concerns": [{"name": "Blackheads", "severity": "mild", "region": None}],
    "image_quality": {"acceptable": True, "reasons": []},
}


def stock_client():
    """A client as boto3 makes it, which walks the service model for every answer."""
    return boto3.session.Session().client("dynamodb", config=client_config(), **client_arguments())


def without_metadata(response):
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


@pytest.fixture
def user_with_scans():
    user_id = new_user_id()
    for number in range(3):
        scans_table().create(a_scan(user_id, analysis=ANALYSIS, notes=f"note {number}"))
    return user_id


def test_a_query_answer_is_what_the_stock_client_reads(user_with_scans):
    request = {
        "TableName": settings.DYNAMODB_SCANS_TABLE,
        "KeyConditionExpression": "user_id = :u",
        "ExpressionAttributeValues": {":u": {"S": user_with_scans}},
        "Limit": 2,
        "ReturnConsumedCapacity": "TOTAL",
    }

    ours = get_client().query(**request)
    stock = stock_client().query(**request)

    assert len(ours["Items"]) == 2
    assert without_metadata(ours) == without_metadata(stock)
    assert ours["LastEvaluatedKey"] == stock["LastEvaluatedKey"]


def test_get_item_and_batch_get_item_answers_are_what_the_stock_client_reads(user_with_scans):
    table = settings.DYNAMODB_SCANS_TABLE
    items = get_client().query(
        TableName=table,
        KeyConditionExpression="user_id = :u",
        ExpressionAttributeValues={":u": {"S": user_with_scans}},
    )["Items"]
    keys = [{"user_id": item["user_id"], "scan_id": item["scan_id"]} for item in items]

    for client_call in ("get_item", "batch_get_item"):
        request = (
            {"TableName": table, "Key": keys[0], "ConsistentRead": True}
            if client_call == "get_item"
            else {"RequestItems": {table: {"Keys": keys, "ConsistentRead": True}}}
        )
        ours = getattr(get_client(), client_call)(**request)
        stock = getattr(stock_client(), client_call)(**request)
        assert without_metadata(ours) == without_metadata(stock)


def test_the_service_model_walk_is_skipped_for_item_answers(user_with_scans, monkeypatch):
    def walk(*args, **kwargs):
        raise AssertionError("the item answer was walked through the service model")

    monkeypatch.setattr(JSONParser, "_parse_shape", walk)

    response = get_client().query(
        TableName=settings.DYNAMODB_SCANS_TABLE,
        KeyConditionExpression="user_id = :u",
        ExpressionAttributeValues={":u": {"S": user_with_scans}},
    )

    assert len(response["Items"]) == 3


def test_binary_values_still_come_back_as_bytes():
    key = {"user_id": new_id(), "plan_id": new_id()}
    table = settings.DYNAMODB_PLANS_TABLE
    get_client().put_item(
        TableName=table,
        Item={
            **to_item(key),
            "blob": {"B": b"\x00\xffraw"},
            "blobs": {"BS": [b"a", b"b"]},
            "text": {"S": '"B": no'},
        },
    )

    item = get_client().get_item(TableName=table, Key=to_item(key), ConsistentRead=True)["Item"]

    assert item["blob"] == {"B": b"\x00\xffraw"}
    assert sorted(item["blobs"]["BS"]) == [b"a", b"b"]
    assert item["text"] == {"S": '"B": no'}


def test_other_answers_are_parsed_by_the_service_model():
    # DescribeTable holds timestamps, which only the model walk turns into datetimes.
    table = get_client().describe_table(TableName=settings.DYNAMODB_SCANS_TABLE)["Table"]

    assert hasattr(table["CreationDateTime"], "tzinfo")


def test_errors_are_still_raised_as_client_errors():
    client = get_client()
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.query(
            TableName="no-such-table",
            KeyConditionExpression="user_id = :u",
            ExpressionAttributeValues={":u": {"S": "x"}},
        )


def test_threads_that_start_together_share_one_client():
    """An analysis worker's threads all reach for the client on their first job."""
    reset_client()

    clients = at_once(get_client, threads=16)

    assert len({id(client) for client in clients}) == 1
    assert get_client() is clients[0]
