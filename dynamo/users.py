"""The users table: accounts, the email claims that keep emails unique, and revoked
refresh tokens.

    users = users_table()
    users.create(user)                      # user + email claim in one transaction
    user_id = users.find_user_id(email)     # strongly consistent, not the GSI
    user = users.get(user_id)
    user = users.get_recent(user_id, max_age=5)   # this process's copy, if that fresh

Email uniqueness cannot rest on the ``email-index`` GSI, which is eventually
consistent: registration writes the user and an ``email#<address>`` claim item in one
TransactWriteItems, each conditioned on ``attribute_not_exists``.

``get_recent`` serves authentication from a per-process cache (Django's ``users`` cache)
so that a read endpoint costs one DynamoDB call, not two. Every write of a user item
through this manager drops the cached copy in the writing process; another process
sees the change once its copy is ``max_age`` seconds old.
"""

import contextlib
import functools
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from dynamo.base import Page, Table, item_on_failure
from dynamo.codec import Item, to_item
from dynamo.cursors import read_cursor, sign_cursor
from dynamo.errors import AccountClosed, ConditionFailed, InvalidCursor, ItemNotFound
from dynamo.process_cache import process_cache
from dynamo.tables import USERS

EMAIL_CLAIM_PREFIX = "email#"
REVOKED_REFRESH_PREFIX = "revoked-refresh#"
# Why a refresh token is revoked: traded for a new pair, or signed out.
REFRESH_ROTATED = "rotated"
REFRESH_LOGGED_OUT = "logged_out"
USER_CACHE_ALIAS = "users"

# This process's reads of users on the wire (``UsersTable.get_recent``), by user id. The
# lock is held for the dict alone, never across a call (in a gevent worker it is gevent's).
_reads_in_flight: dict[str, set[object]] = {}
_reads_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class RefreshRevocation:
    """A used-up refresh token: ``reason`` (``REFRESH_ROTATED`` or ``REFRESH_LOGGED_OUT``)
    and, for a rotation, when the pair that replaced it was issued (epoch seconds)."""

    reason: str
    rotated_at: int | None = None


class EmailTaken(ConditionFailed):
    default_message = "An account with this email already exists."


class EmailChangeRefused(ConditionFailed):
    """The new address was claimed meanwhile, or the account changed since it was read."""


class QuotaUsedUp(ConditionFailed):
    """A daily allowance counted in a transaction (``daily_quota_update``) is used up."""

    default_message = "Today's allowance is used up."


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    email: str
    full_name: str
    password_hash: str = field(repr=False)
    created_at: str
    updated_at: str
    is_active: bool = True
    is_staff: bool = False
    email_verified: bool = False
    token_version: int = 0
    # Bumped when the staff member signs out of the ops pages: every ops session
    # cookie signed before it stops working (the API's tokens are not touched).
    ops_session_version: int = 0
    version: int = 1
    skin_type: str | None = None
    skin_concerns: tuple[str, ...] = ()
    sensitivities: tuple[str, ...] = ()
    allergies: tuple[str, ...] = ()
    age_range: str | None = None
    pregnant_or_breastfeeding: bool | None = None
    # Set when the account's erasure begins: from then on it is unusable and nothing
    # more may be written for it (see ``account_open_check``).
    erasure_started_at: str | None = None

    # What Django REST framework and simplejwt expect of a user object.
    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False

    @property
    def pk(self) -> str:
        return self.user_id

    @property
    def id(self) -> str:
        return self.user_id


PROFILE_LISTS = ("skin_concerns", "sensitivities", "allergies")
ERASURE_STARTED = "erasure_started_at"


def quota_key(user_id: str, *, name: str, day: str) -> Item:
    """The key of the counter of one user's uses of the daily allowance ``name`` on ``day``."""
    return {"user_id": {"S": f"quota#{name}#{user_id}#{day}"}}


def daily_quota_update(
    user_id: str, *, name: str, day: str, limit: int, expires_at: int
) -> dict[str, Any]:
    """The Update (of a TransactWriteItems, or alone) that counts one use of the daily
    allowance ``name``; its condition fails once ``limit`` uses are counted that day."""
    return {
        "TableName": USERS.name,
        "Key": quota_key(user_id, name=name, day=day),
        "UpdateExpression": "SET item_type = :type, expires_at = :expires ADD used :one",
        "ConditionExpression": "attribute_not_exists(used) OR used < :limit",
        "ExpressionAttributeValues": {
            ":type": {"S": "quota"},
            ":expires": {"N": str(expires_at)},
            ":one": {"N": "1"},
            ":limit": {"N": str(limit)},
        },
    }


def account_open_check(user_id: str) -> dict[str, Any]:
    """A TransactWriteItems action that holds only while the account exists and its
    erasure has not begun.

    Every write that creates data for a user carries it, in the same transaction as the
    data: an upload, a plan or a chat message that a worker finishes after the erasure
    began is refused (``AccountClosed``) instead of outliving the account. What was
    written before that moment is found by the erasure's sweep, which starts after it.
    """
    return {
        "ConditionCheck": {
            "TableName": USERS.name,
            "Key": {"user_id": {"S": user_id}},
            "ConditionExpression": "item_type = :user AND attribute_not_exists(#erasure)",
            "ExpressionAttributeNames": {"#erasure": ERASURE_STARTED},
            "ExpressionAttributeValues": {":user": {"S": "user"}},
        }
    }


def stored_user(item: Item | None) -> User | None:
    """The account stored as ``item`` (the users table also holds other kinds of item)."""
    if item is None or item.get("item_type", {}).get("S") != "user":
        return None
    return user_from_item(item)


def user_from_item(item: Item) -> User:
    def text(name: str) -> str | None:
        attribute = item.get(name)
        return attribute["S"] if attribute else None

    def strings(name: str) -> tuple[str, ...]:
        attribute = item.get(name)
        return tuple(sorted(attribute["SS"])) if attribute else ()

    pregnant = item.get("pregnant_or_breastfeeding")
    verified = item.get("email_verified")  # absent on accounts made before verification
    return User(
        user_id=item["user_id"]["S"],
        email=item["email"]["S"],
        full_name=item["full_name"]["S"],
        password_hash=item["password_hash"]["S"],
        created_at=item["created_at"]["S"],
        updated_at=item["updated_at"]["S"],
        is_active=item["is_active"]["BOOL"],
        is_staff=item["is_staff"]["BOOL"],
        email_verified=verified["BOOL"] if verified else False,
        token_version=int(item["token_version"]["N"]),
        ops_session_version=int(item.get("ops_session_version", {"N": "0"})["N"]),
        version=int(item["version"]["N"]),
        skin_type=text("skin_type"),
        skin_concerns=strings("skin_concerns"),
        sensitivities=strings("sensitivities"),
        allergies=strings("allergies"),
        age_range=text("age_range"),
        pregnant_or_breastfeeding=pregnant["BOOL"] if pregnant else None,
        erasure_started_at=text(ERASURE_STARTED),
    )


def user_to_item(user: User) -> Item:
    values: dict[str, Any] = {
        "user_id": user.user_id,
        "item_type": "user",
        "email": user.email,
        "full_name": user.full_name,
        "password_hash": user.password_hash,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "email_verified": user.email_verified,
        "token_version": user.token_version,
        "ops_session_version": user.ops_session_version,
        "version": user.version,
        "skin_type": user.skin_type,
        "age_range": user.age_range,
        "pregnant_or_breastfeeding": user.pregnant_or_breastfeeding,
    }
    for name in PROFILE_LISTS:
        values[name] = set(getattr(user, name)) or None  # DynamoDB has no empty sets
    return to_item(values)


def profile_value(name: str, value: Any) -> Any:
    """The stored form of one profile field (lists become string sets; empty removes)."""
    if name in PROFILE_LISTS:
        return set(value) or None
    return value


ACTIVITY_PREFIX = "activity#"
# What an account's activity item counts, kept up to date by the writes that change them.
ACTIVITY_COUNTS = ("scans", "failed_scans", "plans", "chat_sessions", "chat_messages")
# The newest moment of each kind of data, set by the writes that create it.
ACTIVITY_LATEST = ("last_scan_at", "last_plan_at", "last_message_at")
# Set once the counts are known to be complete: the item was made with the account, or
# an account older than these counters was counted once (``dynamo.activity``).
ACTIVITY_COUNTED = "counted"


def activity_key(user_id: str) -> Item:
    return {"user_id": {"S": ACTIVITY_PREFIX + user_id}}


def activity_update(
    user_id: str, *, counts: Mapping[str, int], latest: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """An Update action on the account's activity item: ``counts`` added, ``latest`` set.

    Goes into the TransactWriteItems that changes the data, after ``account_open_check``,
    so a count moves exactly when its data does (one transaction, one outcome).
    """
    names: dict[str, str] = {}
    values: dict[str, Any] = {":type": {"S": "activity"}}
    adds, sets = [], ["item_type = :type"]
    for position, (name, amount) in enumerate(counts.items()):
        if name not in ACTIVITY_COUNTS:
            raise ValueError(f"{name} is not an activity count: {ACTIVITY_COUNTS}")
        names[f"#n{position}"] = name
        values[f":n{position}"] = {"N": str(amount)}
        adds.append(f"#n{position} :n{position}")
    for position, (name, moment) in enumerate((latest or {}).items()):
        if name not in ACTIVITY_LATEST:
            raise ValueError(f"{name} is not an activity moment: {ACTIVITY_LATEST}")
        names[f"#l{position}"] = name
        values[f":l{position}"] = {"S": moment}
        sets.append(f"#l{position} = :l{position}")
    expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
    update: dict[str, Any] = {
        "TableName": USERS.name,
        "Key": activity_key(user_id),
        "UpdateExpression": expression,
        "ExpressionAttributeValues": values,
    }
    if names:
        update["ExpressionAttributeNames"] = names
    return update


class UsersTable(Table):
    definition = USERS

    def get(self, user_id: str, *, consistent: bool = True) -> User | None:
        return stored_user(self.get_item(self.user_key(user_id), consistent=consistent))

    def user_key(self, user_id: str) -> Item:
        return {"user_id": {"S": user_id}}

    def existing(self, user_ids: Iterable[str]) -> set[str]:
        """Which of ``user_ids`` an account still has (BatchGetItem, 100 ids a call)."""
        items = self.batch_get([self.user_key(user_id) for user_id in set(user_ids)])
        return {user.user_id for item in items if (user := stored_user(item)) is not None}

    def get_recent(self, user_id: str, *, max_age: float) -> User | None:
        """The user as this process read or wrote it at most ``max_age`` seconds ago.

        Otherwise (or with ``max_age`` 0) a strongly consistent GetItem, remembered for
        next time. A missing user is never remembered.
        """
        return self.read_recent(user_id, max_age=max_age)[0]

    def read_recent(self, user_id: str, *, max_age: float) -> tuple[User | None, bool]:
        """``get_recent``, and whether the user was read from DynamoDB now (strongly
        consistent) rather than taken from this process's copy."""
        if max_age <= 0:
            return self.get(user_id), True
        cache = process_cache(USER_CACHE_ALIAS)
        user: User | None = cache.get(user_id)
        if user is not None:
            return user, False
        read = object()
        with _reads_lock:
            _reads_in_flight.setdefault(user_id, set()).add(read)
        try:
            user = self.get(user_id)
        finally:
            with _reads_lock:
                reads = _reads_in_flight.get(user_id, set())
                current = read in reads
                reads.discard(read)
                if not reads:
                    _reads_in_flight.pop(user_id, None)
        # A read that was on the wire when this process wrote the user (``forget``) may
        # have been answered before the write: it serves its own request, but it is not
        # remembered, or the older copy would stand for ``max_age`` seconds after the write.
        if user is not None and current:
            cache.set(user_id, user, max_age)
        return user, True

    def read_again(self, user_id: str, *, max_age: float) -> tuple[User | None, bool]:
        """``read_recent`` past this process's copy: the user as DynamoDB has it now
        (strongly consistent), kept as the new copy."""
        self.forget(user_id)
        return self.read_recent(user_id, max_age=max_age)

    def forget(self, user_id: str) -> None:
        """Drop this process's cached copy of the user (after a write, or an erasure), and
        keep the reads of it on the wire now from being remembered."""
        with _reads_lock:
            _reads_in_flight.pop(user_id, None)
        process_cache(USER_CACHE_ALIAS).delete(user_id)

    def update_versioned(self, key: Item, **update: Any) -> Item:
        try:
            return super().update_versioned(key, **update)
        finally:
            self.forget(key["user_id"]["S"])

    def find_user_id(self, email: str) -> str | None:
        """The id of the account that claimed ``email`` (a strongly consistent read)."""
        claim = self.get_item({"user_id": {"S": EMAIL_CLAIM_PREFIX + email}}, consistent=True)
        return claim["owner_user_id"]["S"] if claim else None

    def create(self, user: User) -> None:
        """Write the user and the claim on its email together, or neither."""
        claim = to_item(
            {
                "user_id": EMAIL_CLAIM_PREFIX + user.email,
                "item_type": "email_claim",
                "owner_user_id": user.user_id,
                "created_at": user.created_at,
            }
        )
        activity = to_item(
            {
                "user_id": ACTIVITY_PREFIX + user.user_id,
                "item_type": "activity",
                ACTIVITY_COUNTED: True,
                **dict.fromkeys(ACTIVITY_COUNTS, 0),
            }
        )
        items = [user_to_item(user), claim, activity]
        request = [
            {
                "Put": {
                    "TableName": self.name,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(user_id)",
                }
            }
            for item in items
        ]
        self.transact_write(request, refused=EmailTaken)

    def update_profile(
        self, user_id: str, changes: Mapping[str, Any], *, expected_version: int | None = None
    ) -> User:
        stored = {name: profile_value(name, value) for name, value in changes.items()}
        item = self.update_versioned(
            {"user_id": {"S": user_id}},
            changes=stored,
            expected_version=expected_version,
            if_match=expected_version is not None,
        )
        return user_from_item(item)

    def set_password(
        self,
        user_id: str,
        *,
        password_hash: str,
        updated_at: str,
        expected_version: int | None = None,
        email_verified: bool | None = None,
    ) -> User:
        """Store a new password hash; bumping token_version revokes every token.

        With ``expected_version`` (a password reset) the write holds only if the account
        is unchanged since the token was checked, so one reset link sets one password;
        a reset link also proves the address (``email_verified``).
        """
        changes: dict[str, Any] = {"password_hash": password_hash, "updated_at": updated_at}
        if email_verified is not None:
            changes["email_verified"] = email_verified
        item = self.update_versioned(
            {"user_id": {"S": user_id}},
            changes=changes,
            add={"token_version": 1},
            expected_version=expected_version,
        )
        return user_from_item(item)

    def rehash_password(self, user_id: str, *, old_hash: str, new_hash: str) -> bool:
        """Store the same password hashed anew (stronger parameters, one lane), only if
        ``old_hash`` is still the stored one; tokens stay valid (it is the same password).
        Whether it was stored: a password changed meanwhile is left as it is."""
        try:
            self.call(
                "update_item",
                Key={"user_id": {"S": user_id}},
                UpdateExpression="SET password_hash = :new",
                ConditionExpression="password_hash = :old",
                ExpressionAttributeValues={":new": {"S": new_hash}, ":old": {"S": old_hash}},
            )
        except ConditionFailed:
            return False
        finally:
            self.forget(user_id)
        return True

    def mark_email_verified(self, user_id: str, *, expected_version: int, updated_at: str) -> User:
        """Record that the account's email is proven; refused if the account changed since."""
        item = self.update_versioned(
            {"user_id": {"S": user_id}},
            changes={"email_verified": True, "updated_at": updated_at},
            expected_version=expected_version,
        )
        return user_from_item(item)

    def change_email(self, user: User, *, new_email: str, updated_at: str) -> User:
        """Move the account to ``new_email`` (verified, since a link sent there was used).

        One transaction, as at registration: the claim on the new address is written
        only if nobody holds it (two accounts racing for one address: one wins, the
        other gets ``EmailTaken``), the old claim is deleted only if it is this
        account's, and the user item changes only if it is still as ``user`` read it.
        """
        claim = to_item(
            {
                "user_id": EMAIL_CLAIM_PREFIX + new_email,
                "item_type": "email_claim",
                "owner_user_id": user.user_id,
                "created_at": updated_at,
            }
        )
        request = [
            {
                "Put": {
                    "TableName": self.name,
                    "Item": claim,
                    "ConditionExpression": "attribute_not_exists(user_id)",
                }
            },
            {
                "Delete": {
                    "TableName": self.name,
                    "Key": {"user_id": {"S": EMAIL_CLAIM_PREFIX + user.email}},
                    "ConditionExpression": "owner_user_id = :owner",
                    "ExpressionAttributeValues": {":owner": {"S": user.user_id}},
                }
            },
            {
                "Update": {
                    "TableName": self.name,
                    "Key": {"user_id": {"S": user.user_id}},
                    "UpdateExpression": (
                        "SET email = :new, email_verified = :true, updated_at = :at, "
                        "#version = #version + :one"
                    ),
                    "ConditionExpression": "#version = :expected AND email = :old",
                    "ExpressionAttributeNames": {"#version": "version"},
                    "ExpressionAttributeValues": {
                        ":new": {"S": new_email},
                        ":old": {"S": user.email},
                        ":true": {"BOOL": True},
                        ":at": {"S": updated_at},
                        ":one": {"N": "1"},
                        ":expected": {"N": str(user.version)},
                    },
                }
            },
        ]
        try:
            self.transact_write(request, refused=EmailChangeRefused)
        except EmailChangeRefused as err:
            cause = err.cause
            reasons = getattr(cause, "response", {}).get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                raise EmailTaken(cause=cause) from err
            raise
        finally:
            self.forget(user.user_id)
        return replace(
            user,
            email=new_email,
            email_verified=True,
            updated_at=updated_at,
            version=user.version + 1,
        )

    def enable(self, user_id: str, *, updated_at: str) -> User:
        """Enable the account, unless its erasure has begun (``AccountClosed``): a closed
        account stays closed, whoever asks, until the erasure has removed it. Its earlier
        tokens stay revoked (``disable`` bumped ``token_version``)."""
        try:
            response = self.call(
                "update_item",
                Key={"user_id": {"S": user_id}},
                UpdateExpression="SET is_active = :yes, updated_at = :now ADD #version :one",
                ConditionExpression="attribute_exists(user_id) AND attribute_not_exists(#erasure)",
                ExpressionAttributeNames={"#version": "version", "#erasure": ERASURE_STARTED},
                ExpressionAttributeValues={
                    ":yes": {"BOOL": True},
                    ":now": {"S": updated_at},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as err:
            if item_on_failure(err) is None:
                raise ItemNotFound(cause=err.cause) from err
            raise AccountClosed(cause=err.cause) from err
        return user_from_item(response["Attributes"])

    def set_active(self, user_id: str, *, is_active: bool, updated_at: str) -> User:
        item = self.update_versioned(
            {"user_id": {"S": user_id}},
            changes={"is_active": is_active, "updated_at": updated_at},
        )
        return user_from_item(item)

    def count_activity(
        self, user_id: str, *, counts: Mapping[str, int], latest: Mapping[str, str] | None = None
    ) -> None:
        """Move the activity counts outside a transaction (an analysis failing, a deletion).

        Only an existing activity item is changed: after an erasure nothing may bring it
        back, and an account older than the counters is counted in full when first read.
        """
        update = activity_update(user_id, counts=counts, latest=latest)
        del update["TableName"]
        with contextlib.suppress(ConditionFailed):
            self.call("update_item", ConditionExpression="attribute_exists(user_id)", **update)

    def revoke_refresh_token(
        self,
        user_id: str,
        *,
        token_id: str,
        expires_at: int,
        reason: str = REFRESH_LOGGED_OUT,
        rotated_at: int | None = None,
    ) -> bool:
        """Record a refresh token as used up; False if it already was (a replay).

        The conditional put makes rotation race-free: of two requests presenting
        the same refresh token, exactly one gets True. ``reason`` (``REFRESH_ROTATED``
        or ``REFRESH_LOGGED_OUT``) tells a later replay what it replays; a rotation
        also records when its new pair was issued (``rotated_at``, epoch seconds).
        """
        attributes: dict[str, Any] = {
            "user_id": REVOKED_REFRESH_PREFIX + token_id,
            "item_type": "revoked_refresh_token",
            "owner_user_id": user_id,
            "expires_at": expires_at,
            "reason": reason,
        }
        if rotated_at is not None:
            attributes["rotated_at"] = rotated_at
        try:
            self.call(
                "put_item",
                Item=to_item(attributes),
                ConditionExpression="attribute_not_exists(user_id)",
            )
        except ConditionFailed:
            return False
        return True

    def refresh_token_revocation(self, token_id: str) -> RefreshRevocation | None:
        """Why and when the refresh token was revoked; None if it was not.

        Records written before reasons were kept read as ``REFRESH_LOGGED_OUT``, and
        rotations recorded before their time was kept have ``rotated_at`` None.
        """
        item = self.get_item({"user_id": {"S": REVOKED_REFRESH_PREFIX + token_id}}, consistent=True)
        if item is None:
            return None
        rotated_at = item.get("rotated_at")
        return RefreshRevocation(
            reason=item.get("reason", {}).get("S", REFRESH_LOGGED_OUT),
            rotated_at=int(rotated_at["N"]) if rotated_at else None,
        )

    def consume_daily_quota(
        self, user_id: str, *, name: str, day: str, limit: int, expires_at: int
    ) -> bool:
        """Count one use of a daily allowance; False (and nothing counted) past ``limit``.

        One atomic update: concurrent requests on several hosts cannot overshoot. It is
        sent as a transaction for its idempotency token (botocore makes one per call): a
        retry of a call that timed out after it was applied does not count twice.
        """
        update = daily_quota_update(user_id, name=name, day=day, limit=limit, expires_at=expires_at)
        try:
            self.transact_write([{"Update": update}], refused=QuotaUsedUp)
        except QuotaUsedUp:
            return False
        return True

    def give_back_daily_quota(self, user_id: str, *, name: str, day: str) -> bool:
        """Uncount one use of a daily allowance (a use that gave nothing); False when
        there was none to give back."""
        try:
            self.call(
                "update_item",
                Key=quota_key(user_id, name=name, day=day),
                UpdateExpression="ADD used :minus_one",
                ConditionExpression="used > :none",
                ExpressionAttributeValues={":minus_one": {"N": "-1"}, ":none": {"N": "0"}},
            )
        except ConditionFailed:
            return False
        return True

    def is_refresh_token_revoked(self, token_id: str) -> bool:
        key = {"user_id": {"S": REVOKED_REFRESH_PREFIX + token_id}}
        return self.get_item(key, consistent=True) is not None

    # --- for the ops pages ------------------------------------------------------------

    def set_staff(self, user_id: str, *, is_staff: bool, updated_at: str) -> User:
        item = self.update_versioned(
            {"user_id": {"S": user_id}},
            changes={"is_staff": is_staff, "updated_at": updated_at},
        )
        return user_from_item(item)

    def disable(self, user_id: str, *, updated_at: str) -> User:
        """Disable the account and revoke its tokens in one write.

        Bumping token_version too means that enabling the account again does not bring
        back the tokens (or the ops sign-in) it had before.
        """
        item = self.update_versioned(
            {"user_id": {"S": user_id}},
            changes={"is_active": False, "updated_at": updated_at},
            add={"token_version": 1},
        )
        return user_from_item(item)

    def start_erasure(self, user_id: str, *, started_at: str) -> User:
        """Make the account unusable at once, before its data is erased.

        One write: disabled (login refused), ``token_version`` bumped (every token
        revoked) and ``erasure_started_at`` set, which ``account_open_check`` refuses
        from now on. ``ItemNotFound`` when the account is already gone.
        """
        item = self.update_versioned(
            {"user_id": {"S": user_id}},
            changes={"is_active": False, ERASURE_STARTED: started_at, "updated_at": started_at},
            add={"token_version": 1},
        )
        return user_from_item(item)

    def revoke_sessions(self, user_id: str, *, updated_at: str) -> User:
        """Bump token_version: every access and refresh token issued so far stops working."""
        item = self.update_versioned(
            {"user_id": {"S": user_id}},
            changes={"updated_at": updated_at},
            add={"token_version": 1},
        )
        return user_from_item(item)

    def end_ops_sessions(self, user_id: str, *, updated_at: str) -> User:
        """Bump ops_session_version: every ops sign-in of this staff member ends."""
        item = self.update_versioned(
            {"user_id": {"S": user_id}},
            changes={"updated_at": updated_at},
            add={"ops_session_version": 1},
        )
        return user_from_item(item)

    def find_by_email(self, email: str) -> User | None:
        """The account with exactly this (normalised) email, through the email-index GSI.

        The GSI is eventually consistent: fine for a staff search, never for login or
        uniqueness (those read the email claim).
        """
        response = self.call(
            "query",
            IndexName="email-index",
            KeyConditionExpression="email = :email",
            FilterExpression="item_type = :user",
            ExpressionAttributeValues={":email": {"S": email}, ":user": {"S": "user"}},
        )
        items = response["Items"]
        return user_from_item(items[0]) if items else None

    def scan_users(self, *, limit: int, cursor: str | None, scope: str) -> Page[User]:
        """A page of accounts in the table's own order, for the ops users list.

        A Scan with a filter (the table also holds claims, revoked tokens and quotas):
        acceptable on a staff page, never on an API path. Each call evaluates at most
        ``USERS_SCAN_BATCH`` items and a page makes at most ``USERS_SCAN_MAX_CALLS``
        calls, so a page's cost is bounded even when accounts are sparse.
        """
        start_id = _decode_users_cursor(cursor, scope=scope)
        users: list[User] = []
        for _ in range(USERS_SCAN_MAX_CALLS):
            request: dict[str, Any] = {
                "FilterExpression": "item_type = :user",
                "ExpressionAttributeValues": {":user": {"S": "user"}},
                "Limit": USERS_SCAN_BATCH,
            }
            if start_id:
                request["ExclusiveStartKey"] = {"user_id": {"S": start_id}}
            response = self.call("scan", **request)
            last_key = response.get("LastEvaluatedKey")
            items = response["Items"]
            for position, item in enumerate(items):
                users.append(user_from_item(item))
                if len(users) == limit:
                    at_end = position == len(items) - 1 and not last_key
                    next_cursor = None if at_end else _users_cursor(users[-1].user_id, scope)
                    return Page(users, next_cursor)
            if not last_key:
                return Page(users, None)
            start_id = last_key["user_id"]["S"]
        return Page(users, _users_cursor(start_id, scope) if start_id else None)


USERS_SCAN_BATCH = 200
USERS_SCAN_MAX_CALLS = 10


def _users_cursor(start_id: str, scope: str) -> str:
    # A Scan's start key is any key of the table: the last account shown is enough.
    return sign_cursor({"k": start_id}, scope=f"users-scan:{scope}")


def _decode_users_cursor(cursor: str | None, *, scope: str) -> str | None:
    if not cursor:
        return None
    start_id = read_cursor(cursor, scope=f"users-scan:{scope}").get("k")
    if not isinstance(start_id, str) or not start_id:
        raise InvalidCursor()
    return start_id


@functools.cache
def users_table() -> UsersTable:
    return UsersTable()
