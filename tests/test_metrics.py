"""The DynamoDB call counter sees exactly the calls an endpoint makes."""

from dynamo.metrics import measure_dynamodb


def test_a_workers_first_request_of_a_user_reads_it_and_queries(auth_client):
    with measure_dynamodb() as usage:
        response = auth_client.get("/api/v1/scans")

    assert response.status_code == 200
    assert usage.calls_by_operation == {"GetItem": 1, "Query": 1}
    assert "Scan" not in usage.calls_by_operation


def test_capacity_of_every_call_is_summed(auth_client):
    with measure_dynamodb() as usage:
        auth_client.get("/api/v1/scans")
        auth_client.get("/api/v1/scans")

    # The first request reads the user (strongly consistent: one unit), the second
    # finds it in the worker's cache; DynamoDB Local charges nothing for an empty Query.
    assert usage.calls_by_operation == {"GetItem": 1, "Query": 2}
    assert usage.read_units == 1.0
    assert usage.write_units == 0


def test_calls_outside_the_block_are_not_counted(auth_client):
    with measure_dynamodb() as usage:
        pass
    auth_client.get("/api/v1/scans")

    assert usage.calls == 0
