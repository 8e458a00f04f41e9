"""Fixtures of the data-layer tests. Django is set up only after this module loads
(the root conftest does it in pytest_configure), so dynamo is imported inside them."""

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
