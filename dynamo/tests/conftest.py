"""Fixtures of the data-layer tests. Django is set up only after this module loads
(the root conftest does it in pytest_configure), so dynamo is imported inside them."""

import socket

import pytest


@pytest.fixture
def scratch_tables():
    """Names of tables a test creates; each is deleted afterwards."""
    from dynamo.client import get_client

    names: list[str] = []
    yield names
    for name in names:
        try:
            get_client().delete_table(TableName=name)
        except get_client().exceptions.ResourceNotFoundException:
            pass


@pytest.fixture
def unreachable_dynamodb(settings):
    """Point the shared client at a closed port; the real client is back afterwards.

    This fixture's teardown runs before the ``settings`` fixture restores the endpoint,
    so the cache is cleared and the next ``get_client()`` builds the real client again.
    """
    from dynamo.client import get_client, reset_client

    settings.AWS_DYNAMODB_ENDPOINT = f"http://127.0.0.1:{closed_port()}"
    settings.DYNAMODB_CONNECT_TIMEOUT_SECONDS = 0.5
    settings.DYNAMODB_READ_TIMEOUT_SECONDS = 0.5
    settings.DYNAMODB_MAX_ATTEMPTS = 1
    reset_client()
    get_client()  # built now, so a test's timing measures the call and not the set-up
    yield
    reset_client()


def closed_port() -> int:
    """A port nothing listens on (bound for a moment by us, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
