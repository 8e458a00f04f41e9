"""seed_demo makes an account whose API answers look alive."""

import io
import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from dynamo.audit import audit_table
from dynamo.users import users_table


def seed(email: str, *extra: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--email", email, "--weeks", "3", *extra, stdout=out)
    return out.getvalue()


def signed_in(email: str, output: str) -> APIClient:
    password = re.search(r"password: (\S+)\)", output).group(1)
    client = APIClient()
    login = client.post("/api/v1/auth/login", {"email": email, "password": password})
    assert login.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['access']}")
    return client


def test_the_demo_account_has_scans_over_time_a_plan_with_check_ins_and_a_chat(unique_email):
    email = unique_email()
    client = signed_in(email, seed(email))
    scans = client.get("/api/v1/scans").json()["items"]
    assert [s["status"] for s in scans] == ["complete"] * 3
    dates = [s["scanned_at"] for s in reversed(scans)]
    assert dates == sorted(dates) and dates[0][:10] != dates[-1][:10]
    redness = next(
        m
        for m in client.get("/api/v1/scans/progress").json()["metrics"]
        if m["metric"] == "redness"
    )
    assert redness["change"] > 0  # the flush fades week by week
    plan = client.get("/api/v1/plans/active").json()
    assert plan["adherence"]["check_ins"] == 14
    sessions = client.get("/api/v1/chat/sessions").json()["items"]
    messages = client.get(f"/api/v1/chat/sessions/{sessions[0]['session_id']}/messages").json()
    assert [m["role"] for m in messages["items"]] == ["user", "assistant"]


def test_an_existing_demo_account_is_kept_unless_replace_is_given(unique_email):
    email = unique_email()
    first = seed(email)
    with pytest.raises(CommandError):
        seed(email)
    second = seed(email, "--replace")
    client = signed_in(email, second)
    assert len(client.get("/api/v1/scans").json()["items"]) == 3
    old_password = re.search(r"password: (\S+)\)", first).group(1)
    relogin = APIClient().post("/api/v1/auth/login", {"email": email, "password": old_password})
    assert relogin.status_code == 401


def test_replace_erases_only_a_demo_account_and_records_it(unique_email, register):
    person = register()
    email = person["user"]["email"]
    with pytest.raises(CommandError, match="not a demo account"):
        seed(email, "--replace")
    assert users_table().get(person["user"]["user_id"]) is not None
    demo = unique_email()
    seed(demo)
    demo_id = users_table().find_user_id(demo)
    seed(demo, "--replace")
    [erased] = audit_table().entries_about(demo_id, limit=5)
    assert (erased.action, erased.actor_user_id) == ("erase_account", "manage.py")


def test_a_wrong_ai_setting_stops_it_before_the_account_is_made(unique_email, wrong_ai_setting):
    email = unique_email()
    wrong_ai_setting()
    with pytest.raises(CommandError, match="The AI provider for analysis cannot be made"):
        seed(email)
    assert users_table().find_user_id(email) is None
