"""DynamoDB going away while the API runs: quick 503s in the error shape, then recovery.

A second DynamoDB Local (data on disk, so it survives the restart) is stopped under a
signed-in user and started again on the same port; the same process recovers without a
restart.
"""

import time

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from accounts.links import password_reset_token, verification_token
from dynamo.client import reset_client
from dynamo.local import DynamoDBLocal, free_port
from dynamo.users import users_table

# Connection refused is immediate; three attempts with backoff stay well under this.
FAST_FAILURE_SECONDS = 5.0


@pytest.fixture
def own_dynamodb(settings, tmp_path):
    local = DynamoDBLocal(port=free_port(), db_path=tmp_path / "dynamodb").start()
    settings.AWS_DYNAMODB_ENDPOINT = local.endpoint
    settings.DYNAMODB_CONNECT_TIMEOUT_SECONDS = 1.0
    settings.DYNAMODB_READ_TIMEOUT_SECONDS = 2.0
    reset_client()
    call_command("create_tables", verbosity=0, stdout=open("/dev/null", "w"))  # noqa: SIM115
    yield local
    local.stop()
    reset_client()


def test_with_dynamodb_down_every_call_is_a_quick_503_and_then_it_recovers(own_dynamodb):
    client = APIClient()
    body = {"email": "faults@example.com", "password": "a-fault-tolerant-pass", "full_name": "F"}
    registered = client.post("/api/v1/auth/register", body, format="json")
    assert registered.status_code == 201
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {registered.json()['access']}")
    assert client.get("/api/v1/scans").status_code == 200

    own_dynamodb.stop()
    anonymous = APIClient()
    login = {"email": body["email"], "password": body["password"]}
    for call in (
        lambda: client.get("/api/v1/users/me"),
        lambda: client.get("/api/v1/scans"),
        lambda: client.post("/api/v1/plans", {}, format="json"),
        lambda: anonymous.post("/api/v1/auth/login", login, format="json"),
        lambda: anonymous.get("/api/v1/health/ready"),
    ):
        started = time.monotonic()
        response = call()
        assert time.monotonic() - started < FAST_FAILURE_SECONDS
        assert response.status_code == 503, response.content
        assert response["Retry-After"]

    own_dynamodb.start()
    assert client.get("/api/v1/users/me").status_code == 200
    assert client.get("/api/v1/scans").status_code == 200
    assert anonymous.get("/api/v1/health/ready").status_code == 200


def test_with_dynamodb_down_the_emailed_links_pages_say_try_again_and_then_work(own_dynamodb):
    """The pages someone without the app opens from an email: a page of their own that
    says to try again (503, Retry-After), not the API's JSON 500; the link works after."""
    body = {"email": "pages@example.com", "password": "a-fault-tolerant-pass", "full_name": "P"}
    registered = APIClient().post("/api/v1/auth/register", body, format="json")
    assert registered.status_code == 201
    user = users_table().get(registered.json()["user"]["user_id"])
    new_password = "a-password-set-after-the-outage"
    reset_form = {
        "token": password_reset_token(user),
        "new_password": new_password,
        "new_password_again": new_password,
    }
    verify_form = {"token": verification_token(user)}

    own_dynamodb.stop()
    for path, form in (
        ("/account/reset-password", reset_form),
        ("/account/verify-email", verify_form),
        ("/account/reset-password/new-link", {"email": body["email"]}),
    ):
        started = time.monotonic()
        response = Client().post(path, form)
        assert time.monotonic() - started < FAST_FAILURE_SECONDS
        assert response.status_code == 503, (path, response.content)
        assert response["Content-Type"].startswith("text/html")
        assert response["Retry-After"]
        assert "Try again in a moment" in response.content.decode()

    own_dynamodb.start()
    assert Client().post("/account/reset-password", reset_form).status_code == 200
    assert Client().post("/account/verify-email", verify_form).status_code == 200
    login = {"email": body["email"], "password": new_password}
    assert APIClient().post("/api/v1/auth/login", login, format="json").status_code == 200


def test_without_aws_credentials_a_request_is_a_quick_503_not_a_500(
    auth_client, settings, monkeypatch
):
    # As on a host whose instance role is missing: boto3's chain finds no credentials.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings.AWS_DYNAMODB_ENDPOINT = None
    reset_client()
    try:
        started = time.monotonic()
        response = auth_client.get("/api/v1/scans")
        assert time.monotonic() - started < FAST_FAILURE_SECONDS
        assert response.status_code == 503, response.content
        assert response.json()["error"]["code"] == "unavailable"
        assert response["Retry-After"]
        assert APIClient().get("/api/v1/health/ready").status_code == 503
    finally:
        reset_client()  # before the settings fixture brings the endpoint back


def test_an_outage_is_one_warning_not_an_error_line_per_request(
    auth_client, unreachable_dynamodb, caplog
):
    # The alarms count 503s; an ERROR line for each request of an outage would drown the
    # log in lines that say nothing the request log and the one warning do not.
    anonymous = APIClient()
    with caplog.at_level("WARNING"):
        for _ in range(3):
            assert auth_client.get("/api/v1/scans").status_code == 503
            assert anonymous.get("/api/v1/health/ready").status_code == 503
    assert [r for r in caplog.records if r.name == "django.request"] == []
    assert any(r.getMessage() == "dynamodb unavailable" for r in caplog.records)
    assert all(r.levelname != "ERROR" for r in caplog.records), [
        (r.name, r.getMessage()) for r in caplog.records if r.levelname == "ERROR"
    ]
