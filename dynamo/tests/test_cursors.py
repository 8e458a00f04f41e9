import time

import pytest
from django.core import signing

from dynamo.cursors import SALT, decode_cursor, encode_cursor
from dynamo.errors import InvalidCursor
from dynamo.tests.factories import new_id


def last_key(user_id):
    return {"user_id": {"S": user_id}, "scan_id": {"S": new_id()}, "rank": {"N": "17"}}


def a_cursor(user_id, scope="scans"):
    return encode_cursor(user_id=user_id, scope=scope, last_key=last_key(user_id))


def test_a_cursor_decodes_to_the_key_it_was_made_from():
    user_id = new_id()
    key = last_key(user_id)
    cursor = encode_cursor(user_id=user_id, scope="scans", last_key=key)
    assert decode_cursor(cursor, user_id=user_id, scope="scans") == key


def test_a_cursor_does_not_show_the_key_in_clear():
    user_id = new_id()
    assert user_id not in a_cursor(user_id)


@pytest.mark.parametrize("last", [None, {}])
def test_there_is_no_cursor_after_the_last_page(last):
    assert encode_cursor(user_id=new_id(), scope="scans", last_key=last) is None


@pytest.mark.parametrize("cursor", [None, ""])
def test_no_cursor_means_the_first_page(cursor):
    assert decode_cursor(cursor, user_id=new_id(), scope="scans") is None


def test_a_cursor_naming_another_user_is_invalid():
    cursor = a_cursor(new_id())
    with pytest.raises(InvalidCursor, match="another account"):
        decode_cursor(cursor, user_id=new_id(), scope="scans")


def test_a_cursor_from_another_scope_is_invalid():
    user_id = new_id()
    cursor = a_cursor(user_id, scope="scans")
    with pytest.raises(InvalidCursor, match="another list"):
        decode_cursor(cursor, user_id=user_id, scope="scans-by-date")


def changed_at(text, position):
    replacement = "A" if text[position] != "A" else "B"
    return text[:position] + replacement + text[position + 1 :]


@pytest.mark.parametrize("where", ["first", "middle", "signature", "last"])
def test_a_tampered_cursor_is_invalid(where):
    user_id = new_id()
    cursor = a_cursor(user_id)
    position = {
        "first": 0,
        "middle": len(cursor) // 2,
        "signature": cursor.rindex(":") + 1,
        "last": len(cursor) - 1,
    }[where]
    with pytest.raises(InvalidCursor):
        decode_cursor(changed_at(cursor, position), user_id=user_id, scope="scans")


@pytest.mark.parametrize(
    "make",
    [
        lambda cursor: cursor[:-1],
        lambda cursor: cursor + "A",
        lambda cursor: cursor.split(":")[0],
        lambda cursor: "not-a-cursor",
        lambda cursor: ":::",
        lambda cursor: "é:ü:ö",
    ],
    ids=["truncated", "extended", "unsigned", "garbage", "colons", "non-ascii"],
)
def test_a_mangled_cursor_is_invalid(make):
    user_id = new_id()
    with pytest.raises(InvalidCursor):
        decode_cursor(make(a_cursor(user_id)), user_id=user_id, scope="scans")


@pytest.mark.parametrize(
    "sign",
    [
        lambda payload: signing.dumps(payload, salt="another.salt", compress=True),
        lambda payload: signing.dumps(payload, key="another-secret-" * 4, salt=SALT),
    ],
    ids=["other-salt", "other-secret"],
)
def test_a_cursor_signed_by_anyone_else_is_invalid(sign):
    user_id = new_id()
    payload = {"s": "scans", "k": {"user_id": ["S", user_id], "scan_id": ["S", new_id()]}}
    with pytest.raises(InvalidCursor):
        decode_cursor(sign(payload), user_id=user_id, scope="scans")


@pytest.mark.parametrize(
    "payload",
    [["scans"], {"s": "scans"}, {"s": "scans", "k": ["user_id"]}, {"s": "scans", "k": {}}],
)
def test_a_validly_signed_cursor_of_the_wrong_shape_is_invalid(payload):
    cursor = signing.dumps(payload, salt=SALT, compress=True)
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, user_id=new_id(), scope="scans")


def made_seconds_ago(monkeypatch, seconds, user_id):
    made_at = time.time() - seconds
    with monkeypatch.context() as patch:
        patch.setattr(signing.time, "time", lambda: made_at)
        return a_cursor(user_id)


@pytest.mark.parametrize(
    ("age", "valid"),
    [(60, True), (23 * 3600, True), (24 * 3600 + 60, False), (30 * 86400, False)],
)
def test_a_cursor_is_valid_for_a_day(monkeypatch, age, valid):
    user_id = new_id()
    cursor = made_seconds_ago(monkeypatch, age, user_id)
    if valid:
        assert decode_cursor(cursor, user_id=user_id, scope="scans") is not None
    else:
        with pytest.raises(InvalidCursor, match="expired"):
            decode_cursor(cursor, user_id=user_id, scope="scans")


def test_the_cursor_lifetime_follows_the_setting(settings, monkeypatch):
    user_id = new_id()
    cursor = made_seconds_ago(monkeypatch, 120, user_id)
    settings.CURSOR_MAX_AGE_SECONDS = 60
    with pytest.raises(InvalidCursor, match="expired"):
        decode_cursor(cursor, user_id=user_id, scope="scans")
