"""Helpers of the privacy tests: accounts with data in every domain, and what is left.

Scans, plans and check-ins are made through the API; chat items are written straight
into the chat table (the chat API is still changing), in the shape the chat manager
stores: a session item "session#<id>" and messages keyed by their ULIDs.
"""

import io
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient
from ulid import ULID

from dynamo.base import Table
from dynamo.errors import Unavailable

SAMPLE_FACE = Path(__file__).resolve().parents[2] / "tests" / "data" / "astronaut.jpg"
ME = "/api/v1/users/me"
EXPORT = "/api/v1/users/me/export"
LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"


@dataclass
class Account:
    client: APIClient
    user_id: str
    email: str
    password: str
    access: str
    refresh: str
    scan_ids: list[str] = field(default_factory=list)
    plan_ids: list[str] = field(default_factory=list)
    check_in_dates: list[str] = field(default_factory=list)
    session_ids: list[str] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def sign_in(session: dict) -> Account:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session['access']}")
    return Account(
        client=client,
        user_id=session["user"]["user_id"],
        email=session["user"]["email"],
        password=session["password"],
        access=session["access"],
        refresh=session["refresh"],
    )


def upload_scan(account: Account) -> dict:
    image = SimpleUploadedFile("face.jpg", SAMPLE_FACE.read_bytes(), content_type="image/jpeg")
    response = account.client.post("/api/v1/scans", {"image": image}, format="multipart")
    assert response.status_code == 201, response.content
    scan = response.json()
    account.scan_ids.append(scan["scan_id"])
    return scan


def fail_analysis(account: Account, scan_id: str, reason: str = "timeout") -> None:
    """Record a failed analysis of the scan as every failure path does (a provider down,
    an unreadable image): the scan failed, and an entry in the failed-analysis log."""
    from dynamo.scans import scans_table
    from scans.services import record

    scan = scans_table().get(account.user_id, scan_id, consistent=True)
    record(scan, status="failed", failure_reason=reason, analysis=None)


def failed_analysis_log_of(user_id: str) -> list[dict]:
    """The failed-analysis log's entries about the user (a test may Scan)."""
    from dynamo.client import get_client
    from dynamo.tables import AUDIT

    found: list[dict] = []
    for page in (
        get_client()
        .get_paginator("scan")
        .paginate(
            TableName=AUDIT.name,
            FilterExpression="user_id = :user",
            ExpressionAttributeValues={":user": {"S": user_id}},
            ConsistentRead=True,
        )
    ):
        found += page["Items"]
    return found


def create_plan(account: Account) -> dict:
    response = account.client.post("/api/v1/plans", {}, format="json")
    assert response.status_code == 201, response.content
    plan = response.json()
    account.plan_ids.append(plan["plan_id"])
    return plan


def check_in(account: Account, plan_id: str) -> dict:
    body = {"date": today(), "am_done": True, "pm_done": False, "irritation": 1}
    response = account.client.post(f"/api/v1/plans/{plan_id}/check-ins", body, format="json")
    assert response.status_code == 201, response.content
    account.check_in_dates.append(body["date"])
    return response.json()


def write_chat(account: Account, contents: tuple[str, ...]) -> None:
    from django.conf import settings

    from dynamo.client import get_client

    client = get_client()
    table = settings.DYNAMODB_CHAT_TABLE
    session_id = str(ULID())
    now = datetime.now(UTC).isoformat()
    client.put_item(
        TableName=table,
        Item={
            "user_id": {"S": account.user_id},
            "message_id": {"S": f"session#{session_id}"},
            "item_type": {"S": "session"},
            "session_id": {"S": session_id},
            "session_message_id": {"S": f"{session_id}#"},
            "title": {"S": "Dry patches"},
            "created_at": {"S": now},
            "last_activity_at": {"S": now},
            "message_count": {"N": str(len(contents))},
            "version": {"N": "1"},
        },
    )
    account.session_ids.append(session_id)
    for position, content in enumerate(contents):
        message_id = str(ULID())
        client.put_item(
            TableName=table,
            Item={
                "user_id": {"S": account.user_id},
                "message_id": {"S": message_id},
                "session_id": {"S": session_id},
                "session_message_id": {"S": f"{session_id}#{message_id}"},
                "role": {"S": "user" if position % 2 == 0 else "assistant"},
                "content": {"S": content},
                "created_at": {"S": now},
            },
        )
        account.message_ids.append(message_id)


def claim_request_keys(account: Account) -> None:
    """The Idempotency-Keys a chat message and a plan request leave, answered, as the
    chat and plans services store them."""
    import time

    from dynamo.request_keys import RequestKey, claim_key

    now = int(time.time())
    for kind, subject, result, session in (
        ("chat", account.message_ids[0], account.message_ids[-1], account.session_ids[0]),
        ("plan", None, account.plan_ids[0], None),
    ):
        key = RequestKey(
            user_id=account.user_id,
            kind=kind,
            key=f"{kind}-retry-1",
            request_digest="0" * 64,
            subject_id=subject,
            result_id=result,
            session_id=session,
        )
        assert claim_key(key, now=now)


def open_zip(data: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None  # every entry's checksum holds
    return archive


def items_of(user_id: str) -> list[dict]:
    """Every item of the user in any table: each partition, in the users table also
    every item whose key or owner names them (claims, quotas, revoked tokens), and the
    failed-analysis log's entries about them."""
    from django.conf import settings

    from dynamo.client import get_client

    client = get_client()
    found: list[dict] = []
    for table in (
        settings.DYNAMODB_USERS_TABLE,
        settings.DYNAMODB_SCANS_TABLE,
        settings.DYNAMODB_PLANS_TABLE,
        settings.DYNAMODB_CHAT_TABLE,
        settings.DYNAMODB_JOBS_TABLE,
    ):
        found += client.query(
            TableName=table,
            KeyConditionExpression="user_id = :user",
            ExpressionAttributeValues={":user": {"S": user_id}},
            ConsistentRead=True,
        )["Items"]
    # A test may Scan: the users table holds items keyed by prefixed ids.
    for page in client.get_paginator("scan").paginate(
        TableName=settings.DYNAMODB_USERS_TABLE,
        FilterExpression="contains(user_id, :user) OR owner_user_id = :user",
        ExpressionAttributeValues={":user": {"S": user_id}},
        ConsistentRead=True,
    ):
        found += page["Items"]
    return found + failed_analysis_log_of(user_id)


def email_claim(email: str) -> dict | None:
    from django.conf import settings

    from dynamo.client import get_client

    return (
        get_client()
        .get_item(
            TableName=settings.DYNAMODB_USERS_TABLE,
            Key={"user_id": {"S": f"email#{email}"}},
            ConsistentRead=True,
        )
        .get("Item")
    )


def local_files_of(user_id: str) -> list[str]:
    """Every file under the user's folder of the local scan-image storage."""
    import os

    from django.conf import settings

    top = Path(settings.MEDIA_ROOT) / "scans" / user_id
    return [str(Path(folder) / name) for folder, _, names in os.walk(top) for name in names]


def s3_keys_of(s3, user_id: str) -> list[str]:
    listed = s3.list_objects_v2(Bucket=s3.bucket, Prefix=f"{user_id}/")
    return [entry["Key"] for entry in listed.get("Contents", [])]


def erase(account, password=None):
    body = {"password": account.password if password is None else password}
    return account.client.delete(ME, body, format="json")


def log_in(account):
    body = {"email": account.email, "password": account.password}
    return APIClient().post(LOGIN, body, format="json")


def assert_nothing_left(account):
    assert items_of(account.user_id) == []
    assert email_claim(account.email) is None
    assert local_files_of(account.user_id) == []


def interrupt_before_the_user_item(monkeypatch, user_id):
    """Make the delete of the user item fail, as if the process died just before it."""
    original = Table.call

    def call(self, operation, **request):
        if operation == "delete_item" and request.get("Key") == {"user_id": {"S": user_id}}:
            raise Unavailable()
        return original(self, operation, **request)

    monkeypatch.setattr(Table, "call", call)
