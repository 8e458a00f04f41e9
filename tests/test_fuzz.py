"""Schemathesis over every documented operation, as a signed-in user.

Checks: no 5xx, responses conform to the documented schema, authentication is not
ignored, and a deleted resource stays gone. CI runs a bounded number of examples per
operation (FUZZ_EXAMPLES); ``make fuzz`` runs a longer pass.
"""

import os

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    ignored_auth,
    response_schema_conformance,
    use_after_free,
)

from dermalens_site.wsgi import application

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))

schema = schemathesis.openapi.from_wsgi("/api/v1/schema", application)


@pytest.fixture(scope="module")
def fuzz_headers():
    from rest_framework.test import APIClient

    client = APIClient(REMOTE_ADDR="10.77.0.1")
    body = {
        "email": f"fuzz-{os.getpid()}@example.com",
        "password": "fuzzing-passphrase-2026",
        "full_name": "Fuzz",
    }
    response = client.post("/api/v1/auth/register", body, format="json")
    if response.status_code == 409:
        response = client.post("/api/v1/auth/login", body | {"full_name": None}, format="json")
    return {"Authorization": f"Bearer {response.json()['access']}"}


@schema.parametrize()
@hypothesis_settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_the_api_survives_fuzzing(case, fuzz_headers):
    case.call_and_validate(
        headers=fuzz_headers,
        checks=[not_a_server_error, response_schema_conformance, ignored_auth, use_after_free],
    )
