import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from dynamo.client import get_client
from dynamo.errors import ConditionFailed, ItemNotFound, PreconditionFailed, VersionConflict
from dynamo.tests.factories import a_user, new_id, unique_email
from dynamo.users import EMAIL_CLAIM_PREFIX, REVOKED_REFRESH_PREFIX, EmailTaken, users_table


def stored_item(key):
    table = users_table().name
    key_item = {"user_id": {"S": key}}
    return get_client().get_item(TableName=table, Key=key_item, ConsistentRead=True).get("Item")


def created_user(**changes):
    user = a_user(**changes)
    users_table().create(user)
    return user


def test_a_created_user_reads_back_whole():
    user = created_user(
        skin_type="combination",
        skin_concerns=("acne", "redness"),
        allergies=("fragrance",),
        age_range="25-34",
        pregnant_or_breastfeeding=False,
    )
    assert users_table().get(user.user_id) == user


def test_a_created_user_s_email_finds_it_at_once():
    user = created_user()
    assert users_table().find_user_id(user.email) == user.user_id


def test_an_unclaimed_email_finds_nobody():
    assert users_table().find_user_id(unique_email()) is None


def test_the_email_claim_and_revoked_token_items_are_not_users():
    user = created_user()
    token_id = new_id()
    users_table().revoke_refresh_token(user.user_id, token_id=token_id, expires_at=1)
    for key in (EMAIL_CLAIM_PREFIX + user.email, REVOKED_REFRESH_PREFIX + token_id):
        assert stored_item(key) is not None
        assert users_table().get(key) is None


def test_a_second_account_with_the_same_email_is_refused_and_not_written():
    first = created_user()
    second = a_user(email=first.email)

    with pytest.raises(EmailTaken):
        users_table().create(second)

    assert stored_item(second.user_id) is None
    assert users_table().find_user_id(first.email) == first.user_id


def test_a_refused_create_leaves_no_email_claim_behind():
    first = created_user()
    clash = a_user(user_id=first.user_id)  # same id, new email
    with pytest.raises(ConditionFailed):
        users_table().create(clash)
    assert users_table().find_user_id(clash.email) is None
    assert users_table().get(first.user_id) == first


def test_of_concurrent_sign_ups_with_one_email_exactly_one_wins():
    email = unique_email()
    candidates = [a_user(email=email) for _ in range(10)]
    start = threading.Barrier(len(candidates))

    def sign_up(user):
        start.wait()
        try:
            users_table().create(user)
        except EmailTaken:
            return None
        return user.user_id

    with ThreadPoolExecutor(len(candidates)) as pool:
        winners = [uid for uid in pool.map(sign_up, candidates) if uid]

    assert len(winners) == 1
    assert users_table().find_user_id(email) == winners[0]
    losers = [c.user_id for c in candidates if c.user_id != winners[0]]
    assert [stored_item(uid) for uid in losers] == [None] * len(losers)


def test_updating_a_profile_at_the_current_version_bumps_the_version():
    user = created_user()
    updated = users_table().update_profile(
        user.user_id, {"skin_type": "oily", "skin_concerns": ["acne"]}, expected_version=1
    )
    assert (updated.version, updated.skin_type, updated.skin_concerns) == (2, "oily", ("acne",))
    assert users_table().get(user.user_id) == updated


def test_updating_a_profile_at_a_stale_version_fails_and_tells_the_current_one():
    user = created_user()
    users_table().update_profile(user.user_id, {"skin_type": "dry"}, expected_version=1)

    with pytest.raises(PreconditionFailed) as raised:
        users_table().update_profile(user.user_id, {"skin_type": "oily"}, expected_version=1)

    assert raised.value.current_version == 2
    assert users_table().get(user.user_id).skin_type == "dry"


def test_an_internal_versioned_write_at_a_stale_version_is_a_version_conflict():
    user = created_user()
    with pytest.raises(VersionConflict) as raised:
        users_table().update_versioned(
            {"user_id": {"S": user.user_id}}, changes={"full_name": "X"}, expected_version=5
        )
    assert not isinstance(raised.value, PreconditionFailed)
    assert raised.value.current_version == 1


def test_updating_without_a_version_always_applies():
    user = created_user()
    users_table().update_profile(user.user_id, {"age_range": "18-24"})
    updated = users_table().update_profile(user.user_id, {"age_range": "25-34"})
    assert (updated.version, updated.age_range) == (3, "25-34")


def test_clearing_profile_fields_removes_them():
    user = created_user(skin_type="oily", sensitivities=("retinol",))
    updated = users_table().update_profile(user.user_id, {"skin_type": None, "sensitivities": []})
    assert (updated.skin_type, updated.sensitivities) == (None, ())
    assert "sensitivities" not in stored_item(user.user_id)


@pytest.mark.parametrize("expected_version", [None, 1])
def test_updating_a_missing_user_raises_item_not_found(expected_version):
    missing = new_id()
    with pytest.raises(ItemNotFound):
        users_table().update_profile(
            missing, {"skin_type": "oily"}, expected_version=expected_version
        )
    assert stored_item(missing) is None


def test_setting_a_password_bumps_the_token_version():
    user = created_user()
    changed = users_table().set_password(
        user.user_id, password_hash="argon2$new", updated_at="2024-04-01T00:00:00.000Z"
    )
    again = users_table().set_password(
        user.user_id, password_hash="argon2$newer", updated_at="2024-04-02T00:00:00.000Z"
    )
    assert (changed.token_version, again.token_version) == (1, 2)
    assert users_table().get(user.user_id).password_hash == "argon2$newer"


def test_setting_a_password_of_a_missing_user_raises_item_not_found():
    with pytest.raises(ItemNotFound):
        users_table().set_password(new_id(), password_hash="h", updated_at="now")


def test_deactivating_a_user_is_stored():
    user = created_user()
    users_table().set_active(user.user_id, is_active=False, updated_at="later")
    assert users_table().get(user.user_id).is_active is False


def test_a_refresh_token_can_be_revoked_only_once():
    user_id, token_id = new_id(), new_id()
    assert users_table().is_refresh_token_revoked(token_id) is False
    assert users_table().revoke_refresh_token(user_id, token_id=token_id, expires_at=2) is True
    assert users_table().revoke_refresh_token(user_id, token_id=token_id, expires_at=2) is False
    assert users_table().is_refresh_token_revoked(token_id) is True


def test_of_ten_concurrent_revocations_of_one_token_exactly_one_succeeds():
    user_id, token_id = new_id(), new_id()
    start = threading.Barrier(10)

    def revoke(_):
        start.wait()
        return users_table().revoke_refresh_token(user_id, token_id=token_id, expires_at=2)

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(revoke, range(10)))

    assert sorted(results) == [False] * 9 + [True]
