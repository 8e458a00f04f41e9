"""Every API route is documented, every documented path is routed, and only an explicit
allowlist of routes answers an anonymous caller."""

import json
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

API_PREFIX = "/api/v1/"
# Routes open to anonymous callers, and why.
ANONYMOUS_ALLOWED = {
    "/api/v1/auth/register",  # signing up
    "/api/v1/auth/login",  # signing in
    "/api/v1/auth/refresh",  # the refresh token is the credential
    "/api/v1/auth/password/reset",  # forgot password: the answer never tells anything
    "/api/v1/auth/password/reset/confirm",  # the emailed, signed token is the credential
    "/api/v1/auth/email/verify",  # the emailed, signed token is the credential
    "/api/v1/health",  # load balancer
    "/api/v1/health/ready",  # load balancer
    "/api/v1/schema",  # documentation
    "/api/v1/docs",
    "/api/v1/redoc",
    "/api/v1/scans/files/{token}",  # the signed, expiring token is the credential
}
UNDOCUMENTED = {"/api/v1/schema", "/api/v1/docs", "/api/v1/redoc", "/api/v1/scans/files/{token}"}


def api_routes() -> set[str]:
    """Every routed API path, in OpenAPI's ``{name}`` form."""
    routes: set[str] = set()

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                route = route.replace("^", "").replace("$", "").replace("\\.", ".")
                route = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", route)
                route = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
                routes.add("/" + route)

    walk(get_resolver().url_patterns, "")
    # format-suffix variants are not generated (no format_suffix_patterns)
    return {r for r in routes if r.startswith(API_PREFIX)}


def documented_paths() -> set[str]:
    response = APIClient().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    return set(json.loads(response.content)["paths"])


def test_every_api_route_is_documented_and_every_documented_path_is_routed():
    routed = api_routes()
    documented = documented_paths()
    assert routed - UNDOCUMENTED == documented


def concrete(path: str) -> str:
    return re.sub(r"\{\w+\}", "01ARZ3NDEKTSV4RRFFQ69G5FAV", path)


@pytest.mark.parametrize("path", sorted(api_routes() - ANONYMOUS_ALLOWED))
def test_every_other_route_refuses_an_anonymous_caller(path):
    client = APIClient()
    for method in ("get", "post", "patch", "delete"):
        response = getattr(client, method)(concrete(path))
        if response.status_code == 405:
            continue
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json()["error"]["code"] == "not_authenticated"
