import time

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from dermalens_site.errors import exception_handler
from dynamo import errors
from dynamo.scans import scans_table
from dynamo.tests.factories import a_scan, a_user, new_id
from dynamo.users import EmailTaken, users_table


def client_error(code):
    return ClientError({"Error": {"Code": code, "Message": "..."}}, "PutItem")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (client_error("ConditionalCheckFailedException"), errors.ConditionFailed),
        (client_error("ProvisionedThroughputExceededException"), errors.Unavailable),
        (client_error("ThrottlingException"), errors.Unavailable),
        (client_error("RequestLimitExceeded"), errors.Unavailable),
        (client_error("InternalServerError"), errors.Unavailable),
        (client_error("ServiceUnavailable"), errors.Unavailable),
        (client_error("ResourceNotFoundException"), errors.Unavailable),
        (EndpointConnectionError(endpoint_url="http://x"), errors.Unavailable),
        (ConnectTimeoutError(endpoint_url="http://x"), errors.Unavailable),
        (ReadTimeoutError(endpoint_url="http://x"), errors.Unavailable),
        (ConnectionClosedError(endpoint_url="http://x"), errors.Unavailable),
        (NoCredentialsError(), errors.Unavailable),
        (
            PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
            errors.Unavailable,
        ),
    ],
)
def test_known_failures_become_data_layer_errors_keeping_their_cause(error, expected):
    translated = errors.translate(error)
    assert type(translated) is expected
    assert translated.cause is error


@pytest.mark.parametrize(
    "error",
    [client_error("ValidationException"), ParamValidationError(report="bad"), ValueError("x")],
)
def test_unexpected_failures_are_left_as_they_are(error):
    assert errors.translate(error) is error


MANAGER_CALLS = {
    "get user": lambda: users_table().get(new_id()),
    "find email": lambda: users_table().find_user_id("a@example.com"),
    "create user": lambda: users_table().create(a_user()),
    "update profile": lambda: users_table().update_profile(new_id(), {"skin_type": "dry"}),
    "revoke token": lambda: users_table().revoke_refresh_token(
        new_id(), token_id="t", expires_at=1
    ),
    "create scan": lambda: scans_table().create(a_scan(new_id())),
    "list scans": lambda: scans_table().query_page(new_id(), limit=20),
    "delete scan": lambda: scans_table().delete(new_id(), new_id()),
}


@pytest.mark.parametrize("call", MANAGER_CALLS.values(), ids=MANAGER_CALLS.keys())
def test_an_unreachable_dynamodb_is_unavailable_quickly(unreachable_dynamodb, call):
    started = time.monotonic()
    with pytest.raises(errors.Unavailable) as raised:
        call()
    assert time.monotonic() - started < 5
    assert isinstance(raised.value.cause, EndpointConnectionError)


def test_the_real_client_is_back_after_an_unreachable_test():
    # Runs after the parametrized test above in the same worker (--dist loadfile).
    user = a_user()
    users_table().create(user)
    assert users_table().get(user.user_id) == user


@pytest.mark.parametrize(
    "call",
    [
        lambda: scans_table().get(new_id(), new_id()),
        lambda: scans_table().query_page(new_id(), limit=5),
    ],
    ids=["get", "query"],
)
def test_a_missing_table_is_unavailable_and_says_so(settings, call):
    settings.DYNAMODB_SCANS_TABLE = f"test-missing-{new_id().lower()}"
    with pytest.raises(errors.Unavailable, match="create_tables"):
        call()


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (errors.ItemNotFound(), 404, "not_found"),
        (errors.PreconditionFailed(current_version=4), 412, "precondition_failed"),
        (errors.VersionConflict(current_version=4), 409, "version_conflict"),
        (errors.ConditionFailed(), 409, "conflict"),
        (EmailTaken(), 409, "conflict"),
        (errors.InvalidCursor(), 400, "invalid_cursor"),
        (errors.Unavailable(), 503, "unavailable"),
    ],
)
def test_each_data_layer_error_has_its_http_answer(error, status, code):
    response = exception_handler(error, {})
    assert response.status_code == status
    assert response.data["error"]["code"] == code
    assert response.data["error"]["message"] == error.message


def test_a_version_conflict_tells_the_client_the_current_version():
    response = exception_handler(errors.PreconditionFailed(current_version=4), {})
    assert response.data["error"]["details"] == {"current_version": 4}


def test_an_unavailable_data_store_asks_the_client_to_retry_later():
    response = exception_handler(errors.Unavailable(), {})
    assert int(response.headers["Retry-After"]) > 0
