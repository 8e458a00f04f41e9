"""Opaque pagination cursors, signed and bound to the caller and the query.

    cursor = encode_cursor(user_id=u, scope="scans", last_key=response["LastEvaluatedKey"])
    start_key = decode_cursor(cursor, user_id=u, scope="scans")  # ExclusiveStartKey

A cursor is a LastEvaluatedKey signed with the project's secret (django.core.signing),
so a client can neither read nor alter it. It is valid only for the user whose
partition it points into and for the query (``scope``) that produced it: anything else
is an ``InvalidCursor`` (a 400), never a peek into another partition.
"""

from typing import Any

from django.conf import settings
from django.core import signing

from dynamo.codec import Item

SALT = "dermalens.dynamo.cursor"


def encode_cursor(*, user_id: str, scope: str, last_key: Item | None) -> str | None:
    if not last_key:
        return None
    plain = {name: _plain(attribute) for name, attribute in last_key.items()}
    return signing.dumps({"s": scope, "k": plain}, salt=SALT, compress=True)


def decode_cursor(cursor: str | None, *, user_id: str, scope: str) -> Item | None:
    from dynamo.errors import InvalidCursor

    if not cursor:
        return None
    key = read_cursor(cursor, scope=scope).get("k")
    if not isinstance(key, dict) or key.get("user_id") != ["S", user_id]:
        raise InvalidCursor("The pagination cursor belongs to another account.")
    return {name: {kind: value} for name, (kind, value) in key.items()}


def _plain(attribute: dict[str, Any]) -> list[str]:
    # Keys are strings or numbers only, so one [type, value] pair describes each.
    ((kind, value),) = attribute.items()
    return [kind, value]


def sign_cursor(payload: dict[str, Any], *, scope: str) -> str:
    """A signed cursor for a list whose position is not a LastEvaluatedKey."""
    return signing.dumps({**payload, "s": scope}, salt=SALT, compress=True)


def read_cursor(cursor: str, *, scope: str) -> dict[str, Any]:
    """The payload of a ``sign_cursor`` cursor; InvalidCursor if altered, stale or foreign."""
    from dynamo.errors import InvalidCursor

    try:
        payload = signing.loads(cursor, salt=SALT, max_age=settings.CURSOR_MAX_AGE_SECONDS)
    except signing.SignatureExpired as err:
        raise InvalidCursor("The pagination cursor has expired; start again.", cause=err) from err
    except signing.BadSignature as err:
        raise InvalidCursor(cause=err) from err
    if not isinstance(payload, dict) or payload.get("s") != scope:
        raise InvalidCursor("The pagination cursor belongs to another list.")
    return payload
