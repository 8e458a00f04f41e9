"""Idempotency-Keys of the requests that ask the assistant: a chat message, a plan.

    key = RequestKey(user_id, "plan", "k-1", digest, held_until=now + 60)
    claim_key(key)                                # False: another request holds it
    stored = find_key(user_id, "plan", "k-1")     # a retry: what the key holds
    hold_key(stored, now=now, until=now + 60)     # a retry after a failed attempt
    actions.append(answer_action(stored, result_id=plan_id))  # in the result's transaction

A key is an item in its owner's partition of the jobs table ("request-key#<kind>#<sha256
of the client's key>"): like a job, it is the state of one piece of asked-for work, and
that table already gives what a key needs, a TTL (``expires_at``, one day, as an upload's
claim) and a partition that an erasure deletes with the account. It holds nothing of the
request's text: ids, and a keyed digest of what was sent that tells a retry from another
request. While an attempt asks the assistant it holds the key (``held_until``, epoch
seconds), so a copy sent meanwhile is refused rather than asking twice; a failed attempt
lets it go at once, and one that died with its worker holds it only until
``held_until``. ``kind`` keeps each endpoint's keys apart: a key names one request of one
endpoint. A chat message's key names its session, and goes when the session is deleted.
"""

import contextlib
import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from dynamo.codec import Item, to_item
from dynamo.errors import AccountClosed, ConditionFailed
from dynamo.jobs import jobs_table
from dynamo.scans import IDEMPOTENCY_SECONDS
from dynamo.tables import JOBS
from dynamo.users import account_open_check

logger = logging.getLogger("dermalens.dynamo")

# Stored with a key's claim while it is held: the longest Gemini call and the storing of
# its result (``hold_seconds``).
HOLD_MARGIN_SECONDS = 10
# The sort key's prefix: after every job's ULID, so a key is never read as a job.
KEY_PREFIX = "request-key#"


class KeyTaken(ConditionFailed):
    """Another request holds this Idempotency-Key: it was claimed first."""

    default_message = "This Idempotency-Key is held by another request."


class KeyAnswered(ConditionFailed):
    """The key's request has its result already (another attempt stored it first)."""

    default_message = "The request sent with this Idempotency-Key has its result."


@dataclass(frozen=True)
class RequestKey:
    user_id: str
    kind: str  # the endpoint's: "chat", "plan"
    key: str
    request_digest: str
    # What the request stored before asking (a chat message), and what answered it (the
    # reply, the plan): the result is recorded in the transaction that stores it.
    subject_id: str | None = None
    result_id: str | None = None
    held_until: int | None = None
    # A chat message's session: its keys are deleted with it.
    session_id: str | None = None


def key_sort_key(kind: str, key: str) -> str:
    # Hashed: the key is the client's text, and its length and content are theirs.
    return f"{KEY_PREFIX}{kind}#{hashlib.sha256(key.encode()).hexdigest()}"


def item_key(user_id: str, kind: str, key: str) -> Item:
    return {"user_id": {"S": user_id}, "job_id": {"S": key_sort_key(kind, key)}}


def _item_key(key: RequestKey) -> Item:
    return item_key(key.user_id, key.kind, key.key)


def key_to_item(key: RequestKey, *, now: int) -> Item:
    return to_item(
        {
            "user_id": key.user_id,
            "job_id": key_sort_key(key.kind, key.key),
            "item_type": f"{key.kind}_idempotency_key",
            "request_digest": key.request_digest,
            "subject_id": key.subject_id,
            "result_id": key.result_id,
            "held_until": key.held_until,
            "session_id": key.session_id,
            "expires_at": now + IDEMPOTENCY_SECONDS,
        }
    )


def key_from_item(user_id: str, kind: str, key: str, item: Item) -> RequestKey:
    def text(name: str) -> str | None:
        return item[name]["S"] if name in item else None

    return RequestKey(
        user_id=user_id,
        kind=kind,
        key=key,
        request_digest=item["request_digest"]["S"],
        subject_id=text("subject_id"),
        result_id=text("result_id"),
        held_until=int(item["held_until"]["N"]) if "held_until" in item else None,
        session_id=text("session_id"),
    )


def claim_action(key: RequestKey, *, now: int) -> dict[str, Any]:
    """A transaction's Put of a new key (it fails when the key is held already)."""
    return {
        "TableName": JOBS.name,
        "Item": key_to_item(key, now=now),
        "ConditionExpression": "attribute_not_exists(job_id)",
    }


def answer_action(key: RequestKey, *, result_id: str) -> dict[str, Any]:
    """A transaction's Update recording the key's result and ending its hold (it fails
    when another attempt recorded one first)."""
    return {
        "TableName": JOBS.name,
        "Key": _item_key(key),
        "UpdateExpression": "SET result_id = :result REMOVE held_until",
        "ConditionExpression": "attribute_exists(job_id) AND attribute_not_exists(result_id)",
        "ExpressionAttributeValues": {":result": {"S": result_id}},
    }


def find_key(user_id: str, kind: str, key: str) -> RequestKey | None:
    """The key as stored (strongly consistent), or None."""
    item = jobs_table().get_item(item_key(user_id, kind, key), consistent=True)
    return key_from_item(user_id, kind, key, item) if item else None


def claim_key(key: RequestKey, *, now: int) -> bool:
    """Store a new key on its own, while its account is open (else ``AccountClosed``: an
    erasure under way would not find it); False when another request holds it."""
    try:
        jobs_table().transact_write(
            [account_open_check(key.user_id), {"Put": claim_action(key, now=now)}],
            refused=ConditionFailed,
            refused_at={0: AccountClosed},
        )
    except AccountClosed:
        raise
    except ConditionFailed:
        return False
    return True


def answer_key(key: RequestKey, *, result_id: str) -> None:
    """Record the key's result on its own (``answer_action`` outside a transaction);
    ``KeyAnswered`` when another attempt recorded one first."""
    action = answer_action(key, result_id=result_id)
    del action["TableName"]  # ``Table.call`` names it
    try:
        jobs_table().call("update_item", **action)
    except ConditionFailed as err:
        raise KeyAnswered(cause=err.cause) from err


def hold_key(key: RequestKey, *, now: int, until: int) -> bool:
    """Let one attempt ask the assistant for the key's request until ``until``: False
    when another attempt holds it, or its result is stored."""
    try:
        jobs_table().call(
            "update_item",
            Key=_item_key(key),
            UpdateExpression="SET held_until = :until",
            ConditionExpression="attribute_exists(job_id) AND "
            "attribute_not_exists(result_id) AND "
            "(attribute_not_exists(held_until) OR held_until < :now)",
            ExpressionAttributeValues={":until": {"N": str(until)}, ":now": {"N": str(now)}},
        )
    except ConditionFailed:
        return False
    return True


def hold_seconds() -> int:
    """How long an attempt holds its key while it asks the assistant. Past it, the hold
    of an attempt that died with its worker lapses."""
    return int(settings.GEMINI_CALL_DEADLINE_SECONDS) + HOLD_MARGIN_SECONDS


def let_go(key: RequestKey | None) -> None:
    """``release_key`` for an attempt that failed, whatever else failed with it: if the
    key cannot be released either, its hold lapses by itself."""
    if key is None:
        return
    try:
        release_key(key)
    except Exception:
        logger.warning("an Idempotency-Key could not be released", exc_info=True)


def release_key(key: RequestKey) -> None:
    """The attempt ended without a result: a retry with the key may go ahead at once."""
    with contextlib.suppress(ConditionFailed):
        jobs_table().call(
            "update_item",
            Key=_item_key(key),
            UpdateExpression="REMOVE held_until",
            ConditionExpression="attribute_exists(job_id) AND attribute_not_exists(result_id)",
        )


def delete_session_keys(user_id: str, session_id: str) -> int:
    """Delete the keys of a chat session's messages (with the session); how many.

    One Query over the partition's chat keys, filtered by session: a key lives a day, so
    this reads at most a day's keyed messages of the account.
    """
    jobs = jobs_table()
    request: dict[str, Any] = {
        "KeyConditionExpression": "user_id = :user AND begins_with(job_id, :kind)",
        "FilterExpression": "session_id = :session",
        "ExpressionAttributeValues": {
            ":user": {"S": user_id},
            ":kind": {"S": f"{KEY_PREFIX}chat#"},
            ":session": {"S": session_id},
        },
        "ProjectionExpression": "user_id, job_id",
        "ConsistentRead": True,
    }
    deleted = 0
    while True:
        response = jobs.call("query", **request)
        keys = response["Items"]
        if keys:
            jobs.batch_write([{"DeleteRequest": {"Key": key}} for key in keys])
            deleted += len(keys)
        if "LastEvaluatedKey" not in response:
            return deleted
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
