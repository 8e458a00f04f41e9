"""No body can set a server-owned value: every endpoint that takes a body refuses fields
it does not declare (a 400 naming them), so ``user_id``, ``is_staff``, an analysis'
``status`` and the like are never applied."""

import json
from datetime import UTC, datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from conftest import STRONG_PASSWORD
from dynamo.users import users_table
from scans.tests.conftest import SAMPLE_FACE

SERVER_OWNED = {
    "user_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "is_staff": True,
    "is_active": False,
    "status": "complete",
    "version": 99,
    "token_version": 7,
    "analysis": {"overall_score": 100},
    "created_at": "2020-01-01T00:00:00Z",
}


@pytest.fixture
def resources(auth_client):
    """A scan, a plan and a chat session of the signed-in user."""
    image = SimpleUploadedFile("face.jpg", SAMPLE_FACE.read_bytes(), content_type="image/jpeg")
    scan = auth_client.post("/api/v1/scans", {"image": image}, format="multipart").json()
    plan = auth_client.post("/api/v1/plans", {}, format="json").json()
    session = auth_client.post("/api/v1/chat/sessions", {}, format="json").json()
    return {"scan": scan, "plan": plan, "session": session}


def requests(session: dict, resources: dict) -> list[tuple[str, str, dict]]:
    scan, plan, chat = resources["scan"], resources["plan"], resources["session"]
    today = datetime.now(UTC).date().isoformat()
    return [
        (
            "post",
            "/api/v1/auth/register",
            {"email": "new@example.com", "password": STRONG_PASSWORD, "full_name": "N"},
        ),
        ("post", "/api/v1/auth/login", {"email": session["user"]["email"], "password": "x"}),
        ("post", "/api/v1/auth/refresh", {"refresh": session["refresh"]}),
        ("post", "/api/v1/auth/logout", {"refresh": session["refresh"]}),
        (
            "post",
            "/api/v1/auth/password",
            {"current_password": STRONG_PASSWORD, "new_password": "another-passphrase-9"},
        ),
        ("post", "/api/v1/auth/password/reset", {"email": session["user"]["email"]}),
        (
            "post",
            "/api/v1/auth/password/reset/confirm",
            {"token": "not-a-token", "new_password": "another-passphrase-9"},
        ),
        ("post", "/api/v1/auth/email/verify", {"token": "not-a-token"}),
        (
            "post",
            "/api/v1/users/me/email",
            {"new_email": "elsewhere@example.com", "password": STRONG_PASSWORD},
        ),
        ("patch", "/api/v1/users/me", {"full_name": "Changed"}),
        ("delete", "/api/v1/users/me", {"password": STRONG_PASSWORD}),
        ("post", "/api/v1/plans", {}),
        ("patch", f"/api/v1/plans/{plan['plan_id']}", {"status": "paused", "version": 1}),
        (
            "post",
            f"/api/v1/plans/{plan['plan_id']}/check-ins",
            {"date": today, "am_done": True, "pm_done": True, "irritation": 0},
        ),
        ("post", "/api/v1/chat/sessions", {"title": "T"}),
        ("post", f"/api/v1/chat/sessions/{chat['session_id']}/messages", {"content": "Hi"}),
        # Endpoints that take no body: any field of one is refused, not ignored.
        ("post", "/api/v1/auth/email/verify/resend", {}),
        ("post", f"/api/v1/scans/{scan['scan_id']}/analyze", {}),
        ("delete", f"/api/v1/scans/{scan['scan_id']}", {}),
        ("delete", f"/api/v1/plans/{plan['plan_id']}", {}),
        ("delete", f"/api/v1/chat/sessions/{chat['session_id']}", {}),
    ]


def test_every_body_endpoint_refuses_server_owned_fields(auth_client, resources):
    session = auth_client.session_data
    for method, path, body in requests(session, resources):
        # Fields an endpoint owns by design (a plan's status and version) keep their
        # valid values; every other server-owned name must be refused.
        response = getattr(auth_client, method)(path, {**SERVER_OWNED, **body}, format="json")
        assert response.status_code == 400, (method, path, response.status_code)
        details = response.json()["error"]["details"]
        assert set(SERVER_OWNED) - set(body) <= set(details), (method, path, details)
    user = users_table().get(session["user"]["user_id"])
    assert user is not None and user.is_active and not user.is_staff
    assert user.full_name == "Test User"
    assert auth_client.get("/api/v1/plans/active").json()["status"] == "active"
    scan_id, session_id = resources["scan"]["scan_id"], resources["session"]["session_id"]
    assert auth_client.get(f"/api/v1/scans/{scan_id}").status_code == 200
    assert auth_client.get(f"/api/v1/chat/sessions/{session_id}/messages").status_code == 200


def test_every_endpoint_that_writes_is_among_those_checked(auth_client, resources):
    schema = auth_client.get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    writes = {
        (method, path)
        for path, operations in json.loads(schema.content)["paths"].items()
        for method in operations
        if method in ("post", "put", "patch", "delete")
    }
    ids = {
        resources["scan"]["scan_id"]: "{scan_id}",
        resources["plan"]["plan_id"]: "{plan_id}",
        resources["session"]["session_id"]: "{session_id}",
    }
    checked = set()
    for method, path, _ in requests(auth_client.session_data, resources):
        for value, name in ids.items():
            path = path.replace(value, name)
        checked.add((method, path))
    # An upload is a multipart form (its own test below).
    assert writes - checked == {("post", "/api/v1/scans")}


def test_an_upload_cannot_set_the_scans_status_or_analysis(auth_client):
    image = SimpleUploadedFile("face.jpg", SAMPLE_FACE.read_bytes(), content_type="image/jpeg")
    response = auth_client.post(
        "/api/v1/scans",
        {"image": image, "status": "complete", "user_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"},
        format="multipart",
    )
    assert response.status_code == 400
    assert {"status", "user_id"} <= set(response.json()["error"]["details"])
    assert auth_client.get("/api/v1/scans").json()["items"] == []


def test_a_registration_cannot_make_a_staff_account():
    response = APIClient().post(
        "/api/v1/auth/register",
        {
            "email": "sneaky@example.com",
            "password": STRONG_PASSWORD,
            "full_name": "S",
            "is_staff": True,
        },
        format="json",
    )
    assert response.status_code == 400
    assert users_table().find_user_id("sneaky@example.com") is None


@pytest.mark.parametrize("body", ["null", "[]", "0", "false", '""', '["x"]'])
def test_an_endpoint_that_takes_no_body_refuses_one_that_is_no_object(auth_client, body):
    answer = auth_client.post(
        "/api/v1/auth/email/verify/resend", body, content_type="application/json"
    )
    assert answer.status_code == 400, answer.content
    assert auth_client.post(
        "/api/v1/auth/email/verify/resend", "{}", content_type="application/json"
    ).status_code in (202, 429)
