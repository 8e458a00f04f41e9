"""The DynamoDB call counter sees exactly the calls an endpoint makes."""

from dynamo.metrics import measure_dynamodb


def test_scan_list_makes_one_user_read_and_one_query(auth_client):
    with measure_dynamodb() as usage:
        response = auth_client.get("/api/v1/scans")

    assert response.status_code == 200
    assert usage.calls_by_operation == {"GetItem": 1, "Query": 1}
    assert "Scan" not in usage.calls_by_operation


def test_capacity_of_every_call_is_summed(auth_client):
    with measure_dynamodb() as usage:
        auth_client.get("/api/v1/scans")
        auth_client.get("/api/v1/scans")

    # Each GetItem and Query costs at least half a read unit (eventually consistent).
    assert usage.calls == 4
    assert usage.read_units >= 4 * 0.5
    assert usage.write_units == 0


def test_calls_outside_the_block_are_not_counted(auth_client):
    with measure_dynamodb() as usage:
        pass
    auth_client.get("/api/v1/scans")

    assert usage.calls == 0
