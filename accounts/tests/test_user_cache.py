"""Authentication from a worker's recent copy of the user.

A read endpoint costs one DynamoDB call once the worker knows the user; a change made
through this process takes effect at once, one made by another worker (here: written
straight to DynamoDB, behind this process's back) within AUTH_USER_CACHE_SECONDS.
"""

import time

import pytest
from django.core.cache import caches
from rest_framework.test import APIClient

from conftest import STRONG_PASSWORD
from dynamo.metrics import measure_dynamodb
from dynamo.users import USER_CACHE_ALIAS, users_table

SCANS = "/api/v1/scans"
ME = "/api/v1/users/me"
PASSWORD = "/api/v1/auth/password"
CACHE_SECONDS = 1.5


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def revoke_from_another_worker(user_id: str) -> None:
    users_table().call(
        "update_item",
        Key={"user_id": {"S": user_id}},
        UpdateExpression="ADD token_version :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )


@pytest.fixture
def short_cache(settings):
    settings.AUTH_USER_CACHE_SECONDS = CACHE_SECONDS
    return settings


def test_a_known_user_reads_the_scan_list_with_one_query(auth_client):
    first = auth_client.get(SCANS)
    with measure_dynamodb() as usage:
        second = auth_client.get(SCANS)

    assert first.status_code == second.status_code == 200
    assert usage.calls_by_operation == {"Query": 1}


def test_with_no_cache_age_every_request_reads_the_user(auth_client, settings):
    settings.AUTH_USER_CACHE_SECONDS = 0
    auth_client.get(SCANS)
    with measure_dynamodb() as usage:
        auth_client.get(SCANS)

    assert usage.calls_by_operation == {"GetItem": 1, "Query": 1}


def test_another_workers_revocation_arrives_within_the_cache_age(register, short_cache):
    session = register()
    client = bearer(session["access"])
    assert client.get(SCANS).status_code == 200

    revoke_from_another_worker(session["user"]["user_id"])
    assert client.get(SCANS).status_code == 200  # this worker's copy is still young
    time.sleep(CACHE_SECONDS + 0.2)

    response = client.get(SCANS)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_revoked"


def test_a_revocation_in_this_process_takes_effect_at_once(register, short_cache):
    session = register()
    client = bearer(session["access"])
    assert client.get(SCANS).status_code == 200

    users_table().revoke_sessions(session["user"]["user_id"], updated_at="2026-11-25T00:00:00Z")

    assert client.get(SCANS).status_code == 401


def test_a_token_newer_than_the_workers_copy_is_accepted(register, short_cache):
    # The password changes on another worker; this one still holds the old copy.
    session = register()
    user_id = session["user"]["user_id"]
    assert bearer(session["access"]).get(SCANS).status_code == 200
    stale = users_table().get(user_id)
    changed = bearer(session["access"]).post(
        PASSWORD, {"current_password": STRONG_PASSWORD, "new_password": "a fresh long phrase 42"}
    )
    assert changed.status_code == 200
    caches[USER_CACHE_ALIAS].set(user_id, stale, 60)

    response = bearer(changed.json()["access"]).get(SCANS)

    assert response.status_code == 200
    assert caches[USER_CACHE_ALIAS].get(user_id).token_version == stale.token_version + 1


def test_the_profile_is_read_fresh_after_another_worker_changed_it(auth_client, short_cache):
    user_id = auth_client.session_data["user"]["user_id"]
    assert auth_client.get(ME).json()["skin_type"] is None
    users_table().call(
        "update_item",
        Key={"user_id": {"S": user_id}},
        UpdateExpression="SET skin_type = :oily",
        ExpressionAttributeValues={":oily": {"S": "oily"}},
    )

    assert auth_client.get(ME).json()["skin_type"] == "oily"


def test_the_profile_read_by_authentication_in_the_request_is_not_read_twice(auth_client):
    user_id = auth_client.session_data["user"]["user_id"]
    users_table().forget(user_id)  # the worker's copy gone: authentication reads it now

    with measure_dynamodb() as usage:
        response = auth_client.get(ME)

    assert response.status_code == 200
    assert response.json()["user_id"] == user_id
    assert usage.calls_by_operation == {"GetItem": 1}


def test_the_workers_copy_of_the_profile_is_read_again_for_the_profile(auth_client):
    assert auth_client.get(ME).status_code == 200  # the worker now holds a copy

    with measure_dynamodb() as usage:
        response = auth_client.get(ME)

    assert response.status_code == 200
    assert usage.calls_by_operation == {"GetItem": 1}  # the view's own, not the copy


def changed_on_another_worker(session: dict, new_password: str) -> None:
    """The owner changes the password through another worker; this one keeps its copy."""
    user_id = session["user"]["user_id"]
    assert bearer(session["access"]).get(SCANS).status_code == 200  # this worker's copy
    stale = caches[USER_CACHE_ALIAS].get(user_id)
    change = {"current_password": STRONG_PASSWORD, "new_password": new_password}
    assert bearer(session["access"]).post(PASSWORD, change).status_code == 200
    caches[USER_CACHE_ALIAS].set(user_id, stale, 60)


def test_a_workers_old_copy_never_confirms_the_old_password_for_a_new_one(register, unique_email):
    old_phone = register()
    changed_on_another_worker(old_phone, "the owners new passphrase 1")
    # The old phone's holder, who knows the old password, tries to take the account.
    taken = bearer(old_phone["access"]).post(
        PASSWORD, {"current_password": STRONG_PASSWORD, "new_password": "a thiefs passphrase 2"}
    )

    assert taken.status_code == 401, taken.content
    email = old_phone["user"]["email"]
    owner = {"email": email, "password": "the owners new passphrase 1"}
    assert APIClient().post("/api/v1/auth/login", owner).status_code == 200


def test_a_workers_old_copy_never_confirms_the_old_password_for_an_erasure(register):
    old_phone = register()
    changed_on_another_worker(old_phone, "the owners new passphrase 1")

    erased = bearer(old_phone["access"]).delete(ME, {"password": STRONG_PASSWORD}, format="json")

    assert erased.status_code == 401, erased.content
    assert users_table().get(old_phone["user"]["user_id"]).is_active
