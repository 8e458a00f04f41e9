"""The lists a long-time user reads come a page of at most 100 at a time, each item once.

Years of use are written through the data layer (``tests.seeding``): a scan history, a
year of check-ins, a long conversation and many plans. Each list is then followed from
cursor to cursor at the largest page the API allows, and must hold every item once, in
its order; a page past the largest is a 400.
"""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from rest_framework.test import APIClient
from ulid import ULID

from dynamo.plans import CheckIn, check_in_to_item, plan_to_item, plans_table
from dynamo.tables import PLANS
from tests.seeding import put_items, seed_messages, seed_scans

LARGEST_PAGE = 100


def follow(client: APIClient, path: str, params: dict | None = None) -> list[list[dict]]:
    """Every page of a list, first to last, at the largest page size."""
    pages, cursor = [], None
    while True:
        query = {**(params or {}), "limit": LARGEST_PAGE, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, query)
        assert response.status_code == 200, response.content
        body = response.json()
        assert len(body["items"]) <= LARGEST_PAGE
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def user_id_of(client: APIClient) -> str:
    return client.session_data["user"]["user_id"]


def test_scans_of_one_day_come_once_each_across_pages(auth_client):
    # 250 scans with one scanned_at: the date index orders them by the table's key too.
    scan_ids = seed_scans(user_id_of(auth_client), 250)
    today = datetime.now(UTC).date().isoformat()

    pages = follow(auth_client, "/api/v1/scans", {"from": today, "to": today})

    assert [len(page) for page in pages][:3] == [100, 100, 50]
    listed = [scan["scan_id"] for page in pages for scan in page]
    assert sorted(listed) == sorted(scan_ids)
    newest_first = [s["scan_id"] for page in follow(auth_client, "/api/v1/scans") for s in page]
    assert newest_first == sorted(scan_ids, reverse=True)


def test_a_year_of_check_ins_comes_newest_day_first_in_pages(auth_client):
    plan = auth_client.post("/api/v1/plans", {}, format="json").json()
    started = date.today() - timedelta(days=365)
    days = [(started + timedelta(days=n)).isoformat() for n in range(365)]
    check_ins = [
        CheckIn(user_id_of(auth_client), plan["plan_id"], day, True, n % 2 == 0, n % 6, day)
        for n, day in enumerate(days)
    ]
    put_items(PLANS, [check_in_to_item(check_in) for check_in in check_ins])
    path = f"/api/v1/plans/{plan['plan_id']}/check-ins"

    pages = follow(auth_client, path)

    assert [c["date"] for page in pages for c in page] == days[::-1]
    in_range = follow(auth_client, path, {"from": days[100], "to": days[299]})
    assert [c["date"] for page in in_range for c in page] == days[100:300][::-1]


def test_a_long_conversation_comes_in_pages_in_either_order(auth_client):
    session = auth_client.post("/api/v1/chat/sessions", {}, format="json").json()
    seed_messages(user_id_of(auth_client), session["session_id"], 1000)

    pages = follow(auth_client, f"/api/v1/chat/sessions/{session['session_id']}/messages")

    listed = [message["message_id"] for page in pages for message in page]
    assert len(listed) == len(set(listed)) == 1000
    assert listed == sorted(listed)

    newest_first = follow(
        auth_client, f"/api/v1/chat/sessions/{session['session_id']}/messages", {"order": "newest"}
    )

    assert [len(page) for page in newest_first][:1] == [LARGEST_PAGE]
    assert [message["message_id"] for page in newest_first for message in page] == listed[::-1]


def test_many_plans_come_newest_first_in_pages(auth_client):
    first = auth_client.post("/api/v1/plans", {}, format="json").json()
    stored = plans_table().get(user_id_of(auth_client), first["plan_id"])
    assert stored is not None
    older = [replace(stored, plan_id=str(ULID()), status="completed") for _ in range(149)]
    put_items(PLANS, [plan_to_item(plan) for plan in older])

    pages = follow(auth_client, "/api/v1/plans")

    listed = [plan["plan_id"] for page in pages for plan in page]
    assert listed == sorted([first["plan_id"], *(p.plan_id for p in older)], reverse=True)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/scans",
        "/api/v1/plans",
        "/api/v1/chat/sessions",
        "/api/v1/scans/progress",
    ],
)
def test_a_page_past_the_largest_is_400(auth_client, path):
    largest = 1000 if path.endswith("progress") else LARGEST_PAGE
    response = auth_client.get(path, {"limit": largest + 1})
    assert response.status_code == 400
    assert "limit" in response.json()["error"]["details"]
