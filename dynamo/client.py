"""One DynamoDB client per process, configured from settings once.

    from dynamo.client import get_client
    get_client().describe_table(TableName=...)

boto3 clients are thread-safe and hold the connection pool, so every table manager
shares this one. Credentials come from boto3's default chain (the IAM role in
production); dummy values are used only against DynamoDB Local, which accepts any.
"""

import functools
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from django.conf import settings

if TYPE_CHECKING:  # type stubs are a development tool, not a runtime need
    from mypy_boto3_dynamodb import DynamoDBClient

# DynamoDB Local accepts any letters-and-digits credentials; botocore needs some to sign.
LOCAL_CREDENTIALS = {
    "aws_access_key_id": "dermalenslocal",
    "aws_secret_access_key": "dermalenslocal",
}


def client_config() -> Config:
    return Config(
        region_name=settings.AWS_REGION,
        connect_timeout=settings.DYNAMODB_CONNECT_TIMEOUT_SECONDS,
        read_timeout=settings.DYNAMODB_READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "max_attempts": settings.DYNAMODB_MAX_ATTEMPTS},
        # One connection per gunicorn thread is plenty; the default of 10 is kept
        # as the floor so that batch and background work never waits for a socket.
        max_pool_connections=max(10, getattr(settings, "DYNAMODB_MAX_POOL_CONNECTIONS", 10)),
        tcp_keepalive=True,
    )


@functools.cache
def get_client() -> "DynamoDBClient":
    """Return the process's DynamoDB client, creating it on first use."""
    endpoint = settings.AWS_DYNAMODB_ENDPOINT
    extra = {"endpoint_url": endpoint, **LOCAL_CREDENTIALS} if endpoint else {}
    return boto3.session.Session().client("dynamodb", config=client_config(), **extra)


def reset_client() -> None:
    """Forget the cached client (after the endpoint setting changes, as in tests)."""
    get_client.cache_clear()
