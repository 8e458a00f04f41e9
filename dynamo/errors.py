"""Errors raised by the data layer; each keeps the botocore error as ``cause``.

    try:
        users_table().update_profile(user_id, changes, expected_version=3)
    except VersionConflict:
        ...

They say what went wrong in data terms only. The API's one exception handler
(``dermalens_site.errors``) maps them to HTTP: 404, 409, 412, 400 and 503.
"""

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)


class DynamoError(Exception):
    """Base of every data-layer error."""

    default_message = "The data store could not complete the request."

    def __init__(self, message: str | None = None, *, cause: BaseException | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.cause = cause


class ItemNotFound(DynamoError):
    default_message = "Not found."


class ConditionFailed(DynamoError):
    """A conditional write was refused: the item exists already, or changed meanwhile."""

    default_message = "The item was changed by another request."


class AccountClosed(ConditionFailed):
    """The account is gone, or its erasure has begun: nothing more may be written for it."""

    default_message = "The account is disabled or gone."


class VersionConflict(ConditionFailed):
    """An optimistic-locking write named a version that is no longer current."""

    default_message = "The item has changed since it was read; read it again and retry."

    def __init__(
        self,
        message: str | None = None,
        *,
        current_version: int | None = None,
        cause: BaseException | None = None,
    ):
        super().__init__(message, cause=cause)
        self.current_version = current_version


class PreconditionFailed(VersionConflict):
    """A client's precondition (an If-Match version) does not hold."""

    default_message = "The resource has changed since the version given in If-Match."


class InvalidCursor(DynamoError):
    default_message = "The pagination cursor is invalid or has expired."


class Unavailable(DynamoError):
    """DynamoDB did not answer in time, throttled past our retries, or is unreachable."""

    default_message = "The data store is unavailable right now; please retry shortly."


# Error codes that mean "try again later" rather than "your request is wrong".
UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
    }
)
CONNECTION_ERRORS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
)


# boto3's credential chain found nothing usable (no role on the instance, a half-set
# environment): no call can be signed, so DynamoDB cannot be reached until that is fixed.
CREDENTIAL_ERRORS = (NoCredentialsError, PartialCredentialsError, CredentialRetrievalError)


def operator_message(err: Unavailable) -> str:
    """One line for whoever runs a command: what failed, and what to check."""
    return (
        f"DynamoDB is unavailable ({err.cause or err}); check AWS_DYNAMODB_ENDPOINT "
        "or the region and the instance's role, then run the command again."
    )


def error_code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


def translate(err: Exception) -> Exception:
    """Map a botocore error to ours; an unexpected error is returned unchanged."""
    if isinstance(err, CONNECTION_ERRORS + CREDENTIAL_ERRORS):
        return Unavailable(cause=err)
    if isinstance(err, ClientError):
        code = error_code(err)
        if code == "ConditionalCheckFailedException":
            return ConditionFailed(cause=err)
        if code in UNAVAILABLE_CODES:
            return Unavailable(cause=err)
        if code == "ResourceNotFoundException":
            return Unavailable("A DynamoDB table is missing; run create_tables.", cause=err)
    return err
