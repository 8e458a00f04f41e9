"""Fresh, unique test data: every test builds its own users and scans."""

import uuid
from dataclasses import replace

from ulid import ULID

from dynamo.plans import Plan
from dynamo.scans import Scan
from dynamo.users import User

NOW = "2024-03-01T09:00:00.000Z"


def new_id() -> str:
    return str(ULID())


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex}@example.com"


def a_user(**changes) -> User:
    user = User(
        user_id=new_id(),
        email=unique_email(),
        full_name="Test User",
        password_hash="argon2$not-a-real-hash",
        created_at=NOW,
        updated_at=NOW,
    )
    return replace(user, **changes)


PLAN_MADE = "2026-11-25T10:00:00.000Z"


def a_plan(user_id: str, **changes) -> Plan:
    values = {
        "user_id": user_id,
        "plan_id": new_id(),
        "status": "active",
        "title": "Calm, clear skin",
        "created_at": PLAN_MADE,
        "updated_at": PLAN_MADE,
        "content": {
            "duration_weeks": 8,
            "goals": [{"metric": "redness", "baseline": 54.5}],
            "am": [{"step": 1, "category": "sunscreen", "actives": ["spf50"]}],
        },
    }
    return Plan(**{**values, **changes})


def new_user_id() -> str:
    """The id of a stored account: data is written only for an account that exists."""
    from dynamo.users import users_table

    user = a_user()
    users_table().create(user)
    return user.user_id


def a_scan(user_id: str, **changes) -> Scan:
    scan = Scan(
        user_id=user_id,
        scan_id=new_id(),
        status="complete",
        area="face",
        scanned_at=NOW,
        created_at=NOW,
        updated_at=NOW,
        image_key=f"scans/{user_id}/original.jpg",
    )
    return replace(scan, **changes)
