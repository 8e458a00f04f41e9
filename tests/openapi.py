"""The OpenAPI schema as a client reads it, and what every endpoint with an
Idempotency-Key documents."""

import json
from typing import Any

from rest_framework.test import APIClient


def openapi_operation(path: str, method: str = "post") -> dict[str, Any]:
    response = APIClient().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return json.loads(response.content)["paths"][path][method]


def assert_documents_the_key(operation: dict[str, Any]) -> None:
    """The optional header (1-255 characters), the replay's 200, and the 409 and 422
    codes a key can bring."""
    [header] = [p for p in operation["parameters"] if p["in"] == "header"]
    assert header["name"] == "Idempotency-Key"
    assert header.get("required", False) is False
    assert (header["schema"]["minLength"], header["schema"]["maxLength"]) == (1, 255)
    assert "replay" in operation["responses"]["200"]["description"]
    assert "idempotency_key_in_flight" in operation["responses"]["409"]["description"]
    assert "idempotency_key_reused" in operation["responses"]["422"]["description"]
