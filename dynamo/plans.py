"""The treatment-plans table: plans, the active-plan pointer, and daily check-ins.

    plans = plans_table()
    plans.activate(user_id, new_plan=plan)          # archives the previous active plan
    plan = plans.get_active(user_id)
    plans.put_check_in(check_in)                    # one per plan and day; replaces

One partition per user holds three item kinds, told apart by the sort key:

- a plan: ``plan_id`` is its ULID (digits and capitals, so plans sort by time);
- the pointer: ``plan_id = "active"``, naming the one active plan;
- a check-in: ``plan_id = "checkin#<plan ULID>#<YYYY-MM-DD>"``.

The lower-case prefixes sort after every ULID, so "plans only" is the key condition
``plan_id < "a"`` and one plan's check-ins are ``begins_with("checkin#<id>#")``: each
list is one Query with no filter. Activation writes the new plan's status, the previous
plan's status and the pointer in one transaction conditioned on the pointer's version,
so concurrent activations leave exactly one active plan.

A plan carries its adherence counts (``days_checked_in``, ``routines_done``), moved in the
same transaction as each check-in, so reading a plan's adherence costs the same on its
first day and after a year of check-ins. Deleting a plan deletes the plan (and the
pointer naming it) at once; its check-ins, one a day, are deleted by a job afterwards
(``delete_check_ins``), and none is read or written once the plan is gone.

A plan's weeks count the days it was followed: when it stops being the active plan
(paused, completed, or replaced by another) it records ``inactive_since``, and when it
is made active again those days are added to ``inactive_days``. A plan paused for a
month and taken up again goes on from the week it stopped in.
"""

import contextlib
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from botocore.exceptions import ClientError

from dynamo.base import Page, Table, get_many
from dynamo.codec import Item, from_attribute, to_item
from dynamo.contention import Contention
from dynamo.errors import (
    AccountClosed,
    ConditionFailed,
    DynamoError,
    ItemNotFound,
    Unavailable,
    VersionConflict,
    error_code,
)
from dynamo.request_keys import KeyAnswered, RequestKey, answer_action
from dynamo.tables import PLANS
from dynamo.users import account_open_check, activity_update, users_table

ACTIVE_POINTER = "active"
CHECK_IN_PREFIX = "checkin#"
# A check-in may be dated this many days before the UTC day its plan was created: the
# person's own date can be a day behind UTC, for people west of Greenwich.
CHECK_IN_DAYS_BEFORE_START = 1
# A check-in of a plan that stopped being the active one may be dated this many days
# after the UTC day it stopped: east of Greenwich, the person's date can be a day ahead.
CHECK_IN_DAYS_AFTER_STOP = 1
PLANS_END = "a"  # every plan ULID sorts before this; every other item kind after it
# Below and above every YYYY-MM-DD: the ends of a plan's check-ins when a range has none.
FIRST_DAY = "0000-00-00"
LAST_DAY = "9999-99-99"
# Keys read per page while deleting a deleted plan's check-ins (keys only: a page stays
# small, and eight batches of 25 deletes follow each).
CHECK_IN_KEYS_PAGE_ITEMS = 200
DAYS_CHECKED_IN = "days_checked_in"
ROUTINES_DONE = "routines_done"
# A plan that stops being the active one keeps the moment it first stopped (a paused plan
# then completed stopped when it was paused).
STOPPED_FOLLOWING = "inactive_since = if_not_exists(inactive_since, :stopped)"


@dataclass(frozen=True, slots=True)
class Plan:
    user_id: str
    plan_id: str
    status: str  # active | paused | completed | archived
    title: str
    created_at: str
    updated_at: str
    content: dict[str, Any]
    scan_id: str | None = None
    version: int = 1
    # When it stopped being the active plan (None while it is), the whole days it spent
    # not active before it was last made active again, and when that was (None: since
    # it was created).
    inactive_since: str | None = None
    inactive_days: int = 0
    active_since: str | None = None
    # The days checked in and the AM and PM routines done on them, counted as check-ins
    # are written (``put_check_in``); None for a plan stored before they were counted
    # and not checked in since.
    days_checked_in: int | None = 0
    routines_done: int | None = 0

    def days_followed(self, today: date | None = None) -> int:
        """Days the plan has been followed (UTC days, the day it began being the first):
        to ``today`` while it is active, to the day it stopped otherwise. The day it
        stops and the day it is taken up again are days followed; the days between are
        not (``days_paused``), so the two always add up to the days since it began."""
        began = day_of(self.created_at)
        until = day_of(self.inactive_since) if self.inactive_since else today or utc_today()
        return max(1, (until - began).days + 1 - self.inactive_days)

    def followed_since(self) -> date:
        """The day the plan was last made the active one (created, or taken up again)."""
        return day_of(self.active_since or self.created_at)

    def current_week(self, today: date | None = None) -> int:
        """The week of the plan the person is in (1: its first seven days followed)."""
        return (self.days_followed(today) - 1) // 7 + 1

    def days_paused(self, today: date | None = None) -> int:
        """Days since it began that the plan was not the active one, to ``today``."""
        ongoing = (
            ((today or utc_today()) - day_of(self.inactive_since)).days
            if self.inactive_since
            else 0
        )
        return self.inactive_days + max(0, ongoing)


def day_of(timestamp: str) -> date:
    return date.fromisoformat(timestamp[:10])


def utc_today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True, slots=True)
class CheckIn:
    user_id: str
    plan_id: str
    date: str  # YYYY-MM-DD
    am_done: bool
    pm_done: bool
    irritation: int  # 0-5
    created_at: str
    notes: str | None = None


class CheckInBeforePlan(ConditionFailed):
    """A check-in dated before its plan began (``CHECK_IN_DAYS_BEFORE_START`` aside)."""

    def __init__(self, started: date):
        super().__init__(f"The plan began on {started.isoformat()}.")
        self.earliest_day = started - timedelta(days=CHECK_IN_DAYS_BEFORE_START)


class CheckInAfterPlanStopped(ConditionFailed):
    """A check-in dated after its plan stopped being followed (paused, completed or set
    aside for another; ``CHECK_IN_DAYS_AFTER_STOP`` aside): those are days it was not."""

    def __init__(self, stopped: date, status: str):
        super().__init__(f"The plan is {status} since {stopped.isoformat()}.")
        self.status = status
        self.latest_day = stopped + timedelta(days=CHECK_IN_DAYS_AFTER_STOP)


def earliest_stop_for(check_in: CheckIn) -> str:
    """The ``inactive_since`` a stopped plan must sort at or after for the check-in to be
    on it: the check-in's day moved back by the grace (ISO timestamps sort as strings)."""
    day = date.fromisoformat(check_in.date)
    if day - date.min < timedelta(days=CHECK_IN_DAYS_AFTER_STOP):
        return FIRST_DAY  # year one's first day: every stop is at or after it
    return (day - timedelta(days=CHECK_IN_DAYS_AFTER_STOP)).isoformat()


def latest_start_after(check_in: CheckIn) -> str:
    """The ``created_at`` a plan must sort before for the check-in to be on it: the day
    after the check-in's, moved by the grace (ISO timestamps sort as strings)."""
    day = date.fromisoformat(check_in.date) + timedelta(days=1 + CHECK_IN_DAYS_BEFORE_START)
    return day.isoformat()


def plan_from_item(item: Item) -> Plan:
    scan = item.get("scan_id")
    status = item["status"]["S"]
    inactive_since = item.get("inactive_since")
    inactive_days = item.get("inactive_days")
    active_since = item.get("active_since")
    checked_in = item.get(DAYS_CHECKED_IN)
    done = item.get(ROUTINES_DONE)
    return Plan(
        user_id=item["user_id"]["S"],
        plan_id=item["plan_id"]["S"],
        status=status,
        title=item["title"]["S"],
        created_at=item["created_at"]["S"],
        updated_at=item["updated_at"]["S"],
        content=from_attribute(item["content"]),
        scan_id=scan["S"] if scan else None,
        version=int(item["version"]["N"]),
        # A plan stored before these were recorded stopped at its last change, at latest.
        inactive_since=(
            inactive_since["S"]
            if inactive_since
            else (item["updated_at"]["S"] if status != "active" else None)
        ),
        inactive_days=int(inactive_days["N"]) if inactive_days else 0,
        active_since=active_since["S"] if active_since else None,
        days_checked_in=int(checked_in["N"]) if checked_in else None,
        routines_done=int(done["N"]) if done else None,
    )


def plan_to_item(plan: Plan) -> Item:
    return to_item(
        {
            "user_id": plan.user_id,
            "plan_id": plan.plan_id,
            "status": plan.status,
            "title": plan.title,
            "created_at": plan.created_at,
            "updated_at": plan.updated_at,
            "content": plan.content,
            "scan_id": plan.scan_id,
            "version": plan.version,
            "inactive_since": plan.inactive_since,
            "inactive_days": plan.inactive_days,
            "active_since": plan.active_since,
            DAYS_CHECKED_IN: plan.days_checked_in,
            ROUTINES_DONE: plan.routines_done,
        }
    )


def check_in_key(plan_id: str, day: str) -> str:
    return f"{CHECK_IN_PREFIX}{plan_id}#{day}"


def check_in_to_item(check_in: CheckIn) -> Item:
    return to_item(
        {
            "user_id": check_in.user_id,
            "plan_id": check_in_key(check_in.plan_id, check_in.date),
            "item_type": "check_in",
            "for_plan_id": check_in.plan_id,
            "date": check_in.date,
            "am_done": check_in.am_done,
            "pm_done": check_in.pm_done,
            "irritation": check_in.irritation,
            "notes": check_in.notes,
            "created_at": check_in.created_at,
        }
    )


def routines_of(check_in: CheckIn | None) -> int:
    """The AM and PM routines a check-in says were done (none for no check-in)."""
    return int(check_in.am_done) + int(check_in.pm_done) if check_in else 0


def check_in_from_item(item: Item) -> CheckIn:
    notes = item.get("notes")
    return CheckIn(
        user_id=item["user_id"]["S"],
        plan_id=item["for_plan_id"]["S"],
        date=item["date"]["S"],
        am_done=item["am_done"]["BOOL"],
        pm_done=item["pm_done"]["BOOL"],
        irritation=int(item["irritation"]["N"]),
        created_at=item["created_at"]["S"],
        notes=notes["S"] if notes else None,
    )


class PlansTable(Table):
    definition = PLANS

    def key(self, user_id: str, plan_id: str) -> Item:
        return {"user_id": {"S": user_id}, "plan_id": {"S": plan_id}}

    def get(self, user_id: str, plan_id: str, *, consistent: bool = False) -> Plan | None:
        item = self.get_item(self.key(user_id, plan_id), consistent=consistent)
        return plan_from_item(item) if item else None

    def get_active(self, user_id: str) -> Plan | None:
        pointer = self.get_item(self.active_pointer_key(user_id), consistent=True)
        return self.get_active_from(user_id, pointer)

    def active_pointer_key(self, user_id: str) -> Item:
        """The key of the item that names the active plan (read it with ``get_many``)."""
        return self.key(user_id, ACTIVE_POINTER)

    def get_active_from(self, user_id: str, pointer: Item | None) -> Plan | None:
        """The plan that ``pointer`` (the item at ``active_pointer_key``) names, if any."""
        if pointer is None or "active_plan_id" not in pointer:
            return None
        return self.get(user_id, pointer["active_plan_id"]["S"], consistent=True)

    def get_active_with_check_ins(
        self, user_id: str, pointer: Item | None, days: Sequence[str]
    ) -> tuple[Plan | None, list[CheckIn]]:
        """The plan that ``pointer`` names and its check-ins of ``days`` (YYYY-MM-DD, at
        most 99), strongly consistent, from one BatchGetItem: a check-in's key is its
        plan and day, so no Query is needed."""
        if pointer is None or "active_plan_id" not in pointer:
            return None, []
        plan_id = pointer["active_plan_id"]["S"]
        keys = [self.key(user_id, plan_id)]
        keys += [self.key(user_id, check_in_key(plan_id, day)) for day in days]
        plan_item, *check_in_items = get_many([(self, key) for key in keys], consistent=True)
        if plan_item is None:
            return None, []
        found = [check_in_from_item(item) for item in check_in_items if item is not None]
        return plan_from_item(plan_item), found

    def create(self, plan: Plan) -> None:
        """Store a plan that is not active (use ``activate`` for one that is), while its
        account is open (else ``AccountClosed``)."""
        put = {
            "TableName": self.name,
            "Item": plan_to_item(plan),
            "ConditionExpression": "attribute_not_exists(plan_id)",
        }
        self.transact_write(
            [*plan_created_actions(plan), {"Put": put}],
            refused=ConditionFailed,
            refused_at={0: AccountClosed},
        )

    def query_page(self, user_id: str, *, limit: int, cursor: str | None = None) -> Page[Plan]:
        """The user's plans, newest first (check-ins and the pointer are left out)."""
        return self.query_partition(
            user_id,
            parse=plan_from_item,
            limit=limit,
            cursor=cursor,
            scope="plans",
            key_condition="user_id = :user_id AND plan_id < :plans_end",
            values={":plans_end": PLANS_END},
        )

    def update(
        self,
        user_id: str,
        plan_id: str,
        *,
        changes: Mapping[str, Any],
        expected_version: int | None = None,
    ) -> Plan:
        item = self.update_versioned(
            self.key(user_id, plan_id), changes=changes, expected_version=expected_version
        )
        return plan_from_item(item)

    def activate(
        self,
        user_id: str,
        *,
        new_plan: Plan | None = None,
        plan_id: str | None = None,
        expected_version: int | None = None,
        updated_at: str,
        answering: RequestKey | None = None,
    ) -> Plan:
        """Make a plan the active one and archive the previous one, in one transaction.

        Either ``new_plan`` (stored now, as active) or ``plan_id`` (an existing plan,
        optionally at ``expected_version``). A concurrent activation makes the pointer's
        condition fail; the attempt is repeated against the new pointer. Returns the plan
        as stored: a new plan as it was written, an existing one read back. ``answering``
        records a new plan as its Idempotency-Key's result in the same transaction
        (``KeyAnswered`` if another plan was recorded first: nothing is written).
        """
        target = new_plan.plan_id if new_plan else plan_id
        if target is None:
            raise TypeError("activate() needs new_plan or plan_id.")
        retries = Contention()
        while True:
            pointer = self.get_item(self.key(user_id, ACTIVE_POINTER), consistent=True)
            previous = (
                pointer["active_plan_id"]["S"] if pointer and "active_plan_id" in pointer else None
            )
            pointer_version = int(pointer["version"]["N"]) if pointer else 0
            if new_plan is not None:
                target_action = self._new_plan_action(new_plan)
            else:
                target_action = self._resume_action(
                    self._stored_at(user_id, target, expected_version), updated_at
                )
            actions = [target_action]
            if previous and previous != target:
                actions.append(self._archive_action(user_id, previous, updated_at))
            actions.append(self._pointer_action(user_id, target, pointer_version))
            answer_at = None
            if answering is not None:
                answer_at = len(actions)
                actions.append({"Update": answer_action(answering, result_id=target)})
            if new_plan is not None:
                actions += plan_created_actions(new_plan)
            try:
                self.transact(actions)
                break
            except ClientError as err:
                if error_code(err) != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in err.response.get("CancellationReasons", [])]
                if answer_at is not None and reasons[answer_at] == "ConditionalCheckFailed":
                    raise KeyAnswered(cause=err) from err
                if new_plan is not None and reasons[-2] == "ConditionalCheckFailed":
                    raise AccountClosed(cause=err) from err
                if reasons[0] == "ConditionalCheckFailed":
                    if new_plan is not None:
                        raise ConditionFailed("The plan exists already.", cause=err) from err
                    if expected_version is not None:
                        current = self.get(user_id, target, consistent=True)
                        if current is None:
                            raise ItemNotFound(cause=err) from err
                        raise VersionConflict(current_version=current.version, cause=err) from err
                    # Changed since it was read: read it again, below.
                # The pointer moved (or a transaction overlapped): read it again.
                if not retries.wait():
                    raise Unavailable(cause=err) from err
        if new_plan is not None:
            return plan_from_item(new_plan_item(new_plan))
        activated = self.get(user_id, target, consistent=True)
        if activated is None:
            raise ItemNotFound()
        return activated

    def _new_plan_action(self, new_plan: Plan) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self.name,
                "Item": new_plan_item(new_plan),
                "ConditionExpression": "attribute_not_exists(plan_id)",
            }
        }

    def _stored_at(self, user_id: str, plan_id: str, expected_version: int | None) -> Plan:
        """The plan as stored, which must be at ``expected_version`` when one is given."""
        plan = self.get(user_id, plan_id, consistent=True)
        if plan is None:
            raise ItemNotFound()
        if expected_version is not None and plan.version != expected_version:
            raise VersionConflict(current_version=plan.version)
        return plan

    def _resume_action(self, plan: Plan, updated_at: str) -> dict[str, Any]:
        """Make a stored plan the active one, at the version it was read at; the days it
        was not active are added to ``inactive_days`` (whole days, as its weeks count)."""
        values: dict[str, Any] = {
            ":active": {"S": "active"},
            ":one": {"N": "1"},
            ":now": {"S": updated_at},
            ":seen": {"N": str(plan.version)},
        }
        update = "SET #status = :active, updated_at = :now"
        if plan.status != "active" and plan.inactive_since:
            # The days between the day it stopped and today (both days followed).
            away = max(0, (day_of(updated_at) - day_of(plan.inactive_since)).days - 1)
            values[":days"] = {"N": str(plan.inactive_days + away)}
            update += ", inactive_days = :days, active_since = :now REMOVE inactive_since"
        return {
            "Update": {
                "TableName": self.name,
                "Key": self.key(plan.user_id, plan.plan_id),
                "UpdateExpression": f"{update} ADD #version :one",
                "ConditionExpression": "#version = :seen",
                "ExpressionAttributeNames": {"#status": "status", "#version": "version"},
                "ExpressionAttributeValues": values,
            }
        }

    def _archive_action(self, user_id: str, plan_id: str, updated_at: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.name,
                "Key": self.key(user_id, plan_id),
                "UpdateExpression": "SET #status = :archived, updated_at = :now, "
                f"{STOPPED_FOLLOWING} ADD #version :one",
                "ConditionExpression": "attribute_exists(plan_id)",
                "ExpressionAttributeNames": {"#status": "status", "#version": "version"},
                "ExpressionAttributeValues": {
                    ":archived": {"S": "archived"},
                    ":one": {"N": "1"},
                    ":now": {"S": updated_at},
                    ":stopped": {"S": updated_at},  # the active plan it was stops now
                },
            }
        }

    def _pointer_action(self, user_id: str, plan_id: str, version: int) -> dict[str, Any]:
        condition = "attribute_not_exists(plan_id)" if version == 0 else "#version = :seen"
        values = {":plan": {"S": plan_id}, ":next": {"N": str(version + 1)}}
        if version:
            values[":seen"] = {"N": str(version)}
        return {
            "Update": {
                "TableName": self.name,
                "Key": self.key(user_id, ACTIVE_POINTER),
                "UpdateExpression": "SET active_plan_id = :plan, #version = :next",
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": values,
            }
        }

    def set_status(
        self, user_id: str, plan_id: str, *, status: str, expected_version: int, updated_at: str
    ) -> Plan:
        """Pause, complete or archive a plan; if it was the active one, clear the pointer."""
        plan = self.get(user_id, plan_id, consistent=True)
        if plan is None:
            raise ItemNotFound()
        if plan.version != expected_version:
            raise VersionConflict(current_version=plan.version)
        actions: list[dict[str, Any]] = [
            {
                "Update": {
                    "TableName": self.name,
                    "Key": self.key(user_id, plan_id),
                    "UpdateExpression": "SET #status = :status, updated_at = :now, "
                    f"{STOPPED_FOLLOWING} ADD #version :one",
                    "ConditionExpression": "#version = :expected",
                    "ExpressionAttributeNames": {"#status": "status", "#version": "version"},
                    "ExpressionAttributeValues": {
                        ":status": {"S": status},
                        ":now": {"S": updated_at},
                        # A plan stopped already keeps when (read as ``plan_from_item``
                        # reads one stored before this was recorded).
                        ":stopped": {"S": plan.inactive_since or updated_at},
                        ":one": {"N": "1"},
                        ":expected": {"N": str(expected_version)},
                    },
                }
            }
        ]
        if plan.status == "active":
            actions.append(self._clear_pointer_action(user_id, plan_id))
        try:
            self.transact(actions)
        except ClientError as err:
            if error_code(err) != "TransactionCanceledException":
                raise
            current = self.get(user_id, plan_id, consistent=True)
            if current is None:
                raise ItemNotFound(cause=err) from err
            raise VersionConflict(current_version=current.version, cause=err) from err
        changed = self.get(user_id, plan_id, consistent=True)
        if changed is None:
            raise ItemNotFound()
        return changed

    def _clear_pointer_action(self, user_id: str, plan_id: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.name,
                "Key": self.key(user_id, ACTIVE_POINTER),
                "UpdateExpression": "REMOVE active_plan_id ADD #version :one",
                "ConditionExpression": "active_plan_id = :plan",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":plan": {"S": plan_id}, ":one": {"N": "1"}},
            }
        }

    def delete(self, user_id: str, plan_id: str) -> None:
        """Delete a plan, clearing the pointer if it named this plan; its check-ins are
        left to ``delete_check_ins``, run as a job (a plan followed for years has a
        check-in a day).

        One transaction: one that loses a race (the plan made inactive meanwhile) is
        ``ConditionFailed`` with nothing deleted. A check-in is written only while its
        plan exists (``put_check_in``), so none can follow; and none is read meanwhile,
        since a plan's check-ins are read through the plan (its check-ins, its adherence,
        the active plan's) and the export leaves out those of plans not stored.
        """
        plan = self.get(user_id, plan_id, consistent=True)
        if plan is None:
            raise ItemNotFound()
        actions: list[dict[str, Any]] = [
            {
                "Delete": {
                    "TableName": self.name,
                    "Key": self.key(user_id, plan_id),
                    "ConditionExpression": "attribute_exists(plan_id)",
                }
            }
        ]
        if plan.status == "active":
            actions.append(self._clear_pointer_action(user_id, plan_id))
        try:
            self.transact(actions)
        except ClientError as err:
            if error_code(err) != "TransactionCanceledException":
                raise
            raise ConditionFailed(cause=err) from err
        # The delete is conditioned on the plan, so it succeeds (and counts) once.
        users_table().count_activity(user_id, counts={"plans": -1})

    def has_check_ins(self, user_id: str, plan_id: str) -> bool:
        """Whether any check-in of the plan is stored (one Query of one key)."""
        return bool(self._check_in_keys_page(user_id, plan_id, limit=1)[0])

    def delete_check_ins(
        self,
        user_id: str,
        plan_id: str,
        *,
        on_progress: Callable[[int], None] | None = None,
    ) -> int:
        """Delete the check-ins of a deleted plan, a page of keys at a time; how many.

        Nothing while the plan is stored: its check-ins are its own (a plan id is never
        used again, so once gone the plan stays gone). Safe to run twice, or after an
        interrupted run: each finds only what is left.
        """
        if self.get(user_id, plan_id, consistent=True) is not None:
            return 0
        deleted = 0
        start_key: Item | None = None
        while True:
            keys, start_key = self._check_in_keys_page(
                user_id, plan_id, limit=CHECK_IN_KEYS_PAGE_ITEMS, start_key=start_key
            )
            self.batch_write([{"DeleteRequest": {"Key": key}} for key in keys])
            deleted += len(keys)
            if keys and on_progress is not None:
                on_progress(len(keys))
            if start_key is None:
                return deleted

    def _check_in_keys_page(
        self, user_id: str, plan_id: str, *, limit: int, start_key: Item | None = None
    ) -> tuple[list[Item], Item | None]:
        """A page of the keys of a plan's check-ins (strongly consistent), and where the
        next page starts (None after the last)."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "user_id = :user_id AND begins_with(plan_id, :plan)",
            "ExpressionAttributeValues": {
                ":user_id": {"S": user_id},
                ":plan": {"S": check_in_key(plan_id, "")},
            },
            "ProjectionExpression": "user_id, plan_id",
            "ConsistentRead": True,
            "Limit": limit,
        }
        if start_key is not None:
            request["ExclusiveStartKey"] = start_key
        response = self.call("query", **request)
        return response["Items"], response.get("LastEvaluatedKey")

    def put_check_in(self, check_in: CheckIn) -> None:
        """Store the day's check-in (replacing that day's earlier one) if the plan exists,
        had begun by that day (``CheckInBeforePlan`` otherwise) and, if it is not the
        active plan, had not stopped before it (``CheckInAfterPlanStopped``): a plan's
        check-ins are then at most one a day of its life, which ``all_check_ins`` reads
        whole, and a pause's days are not checked in as days followed.

        The plan's adherence counts move in the same transaction by what the check-in
        adds: a new day, and the routines done less those of the check-in it replaces,
        which must still be as read (else it is read again). A plan stored before it was
        counted is counted whole on its first check-in since (``_count_check_ins``).
        """
        key = self.key(check_in.user_id, check_in_key(check_in.plan_id, check_in.date))
        retries = Contention()
        while True:
            earlier_item = self.get_item(key, consistent=True)
            earlier = check_in_from_item(earlier_item) if earlier_item else None
            refused = self._transact_check_in(
                check_in, self._counted_action(check_in, earlier), self._check_in_put(earlier)
            )
            if refused is None:
                return
            reasons = refused.response.get("CancellationReasons", [])
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                plan_item = cast(Item | None, reasons[0].get("Item"))
                if not plan_item:
                    raise ItemNotFound(cause=refused) from refused
                if plan_item["created_at"]["S"] >= latest_start_after(check_in):
                    raise CheckInBeforePlan(day_of(plan_item["created_at"]["S"])) from refused
                # As the plan reads it: one stored before stops were recorded stopped
                # when it was last changed.
                stopped = plan_from_item(plan_item).inactive_since
                if stopped is not None and stopped < earliest_stop_for(check_in):
                    raise CheckInAfterPlanStopped(
                        day_of(stopped), plan_item["status"]["S"]
                    ) from refused
                if ROUTINES_DONE not in plan_item:
                    self._count_check_ins(check_in)
                    return
            # The day's check-in changed since it was read: read it again.
            if not retries.wait():
                raise Unavailable(cause=refused) from refused

    def _transact_check_in(
        self, check_in: CheckIn, plan_action: dict[str, Any], put: dict[str, Any]
    ) -> ClientError | None:
        """Write the plan's action and the check-in (``put``, its item added here) while
        the account is open (else ``AccountClosed``); None once written, else the
        refusal, whose first cancellation reason is the plan's and second the put's."""
        put["Put"]["Item"] = check_in_to_item(check_in)
        try:
            self.transact([plan_action, put, account_open_check(check_in.user_id)])
        except ClientError as err:
            if error_code(err) != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in err.response.get("CancellationReasons", [])]
            if reasons and reasons[-1] == "ConditionalCheckFailed":
                raise AccountClosed(cause=err) from err
            return err
        return None

    def _counted_action(self, check_in: CheckIn, earlier: CheckIn | None) -> dict[str, Any]:
        """The plan (which must exist, have begun by the check-in's day, and be counted)
        moves its counts by what the check-in adds to ``earlier``, the day's last one."""
        return {
            "Update": {
                "TableName": self.name,
                "Key": self.key(check_in.user_id, check_in.plan_id),
                "UpdateExpression": "ADD #days :days, #done :done",
                # Created before the end of the check-in's day plus the grace, and followed
                # on that day: active, or stopped no earlier than the day less the grace
                # (a plan stored before stops were recorded: when it was last changed, as
                # ``plan_from_item`` reads it).
                "ConditionExpression": "attribute_exists(plan_id) AND created_at < :after "
                "AND attribute_exists(#done) AND (inactive_since >= :stopped_by "
                "OR (attribute_not_exists(inactive_since) "
                "AND (#status = :active OR updated_at >= :stopped_by)))",
                "ExpressionAttributeNames": {
                    "#days": DAYS_CHECKED_IN,
                    "#done": ROUTINES_DONE,
                    "#status": "status",
                },
                "ExpressionAttributeValues": {
                    ":after": {"S": latest_start_after(check_in)},
                    ":stopped_by": {"S": earliest_stop_for(check_in)},
                    ":active": {"S": "active"},
                    ":days": {"N": "0" if earlier else "1"},
                    ":done": {"N": str(routines_of(check_in) - routines_of(earlier))},
                },
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }

    def _check_in_put(self, earlier: CheckIn | None) -> dict[str, Any]:
        """A check-in's put, while the day's earlier one (its routines counted) is as read."""
        put: dict[str, Any] = {"TableName": self.name}
        if earlier is None:
            put["ConditionExpression"] = "attribute_not_exists(plan_id)"
        else:
            put["ConditionExpression"] = "am_done = :am AND pm_done = :pm"
            put["ExpressionAttributeValues"] = {
                ":am": {"BOOL": earlier.am_done},
                ":pm": {"BOOL": earlier.pm_done},
            }
        return {"Put": put}

    def _count_check_ins(self, check_in: CheckIn) -> None:
        """Store a check-in of a plan stored before its check-ins were counted, and set
        its counts from every check-in it has (this one in place of the day's earlier),
        in one transaction conditioned on the plan not being counted yet: a concurrent
        first check-in makes it fail, and the check-in is sent again as a counted one."""
        days = {
            c.date: c
            for c in self.all_check_ins(check_in.user_id, check_in.plan_id, consistent=True)
        }
        days[check_in.date] = check_in
        count = {
            "Update": {
                "TableName": self.name,
                "Key": self.key(check_in.user_id, check_in.plan_id),
                "UpdateExpression": "SET #days = :days, #done = :done",
                "ConditionExpression": "attribute_exists(plan_id) AND attribute_not_exists(#done)",
                "ExpressionAttributeNames": {"#days": DAYS_CHECKED_IN, "#done": ROUTINES_DONE},
                "ExpressionAttributeValues": {
                    ":days": {"N": str(len(days))},
                    ":done": {"N": str(sum(routines_of(c) for c in days.values()))},
                },
            }
        }
        refused = self._transact_check_in(check_in, count, {"Put": {"TableName": self.name}})
        if refused is None:
            return
        reasons = refused.response.get("CancellationReasons", [])
        if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
            self.put_check_in(check_in)  # counted meanwhile (or deleted: 404 there)
            return
        raise Unavailable(cause=refused) from refused

    def counted(self, plan: Plan) -> Plan:
        """``plan`` with its adherence counts: a plan stored before its check-ins were
        counted, and not checked in since, is counted from every check-in it has, and the
        counts are kept on it, so that it is read whole once rather than at every read
        of its adherence (a plan set aside may never be checked in again).

        The counts are kept only while the plan is stored and still uncounted: a
        check-in counts it meanwhile (``_count_check_ins``) and its counts stand. A write
        on a read's path, they are a cache: when DynamoDB refuses it (busy, unreachable),
        the read answers all the same, and a later one keeps them.
        """
        if plan.days_checked_in is not None and plan.routines_done is not None:
            return plan
        check_ins = self.all_check_ins(plan.user_id, plan.plan_id, consistent=True)
        counted = replace(
            plan,
            days_checked_in=len(check_ins),
            routines_done=sum(routines_of(c) for c in check_ins),
        )
        with contextlib.suppress(DynamoError):
            self.call(
                "update_item",
                Key=self.key(plan.user_id, plan.plan_id),
                UpdateExpression="SET #days = :days, #done = :done",
                ConditionExpression="attribute_exists(plan_id) AND attribute_not_exists(#done)",
                ExpressionAttributeNames={"#days": DAYS_CHECKED_IN, "#done": ROUTINES_DONE},
                ExpressionAttributeValues={
                    ":days": {"N": str(counted.days_checked_in)},
                    ":done": {"N": str(counted.routines_done)},
                },
            )
        return counted

    def check_ins_page(
        self,
        user_id: str,
        plan_id: str,
        *,
        limit: int,
        cursor: str | None = None,
        consistent: bool = False,
        day_from: str | None = None,
        day_to: str | None = None,
    ) -> Page[CheckIn]:
        """A plan's check-ins, newest day first; those from ``day_from`` to ``day_to``
        (YYYY-MM-DD, both included) when given: the day ends the key, so a range is one
        Query however long the plan has run."""
        return self.query_partition(
            user_id,
            parse=check_in_from_item,
            limit=limit,
            cursor=cursor,
            # A range is part of the scope: a start key outside another range is refused.
            scope=f"check-ins:{plan_id}" + (f":{day_from}:{day_to}" if day_from or day_to else ""),
            key_condition="user_id = :user_id AND plan_id BETWEEN :first AND :last",
            values={
                ":first": check_in_key(plan_id, day_from or FIRST_DAY),
                ":last": check_in_key(plan_id, day_to or LAST_DAY),
            },
            consistent=consistent,
        )

    def all_check_ins(
        self, user_id: str, plan_id: str, *, consistent: bool = False
    ) -> list[CheckIn]:
        """Every check-in of a plan: at most one a day since it began (``put_check_in``),
        a page of 200 for every 200 days of its life."""
        check_ins: list[CheckIn] = []
        cursor = None
        while True:
            page = self.check_ins_page(
                user_id, plan_id, limit=200, cursor=cursor, consistent=consistent
            )
            check_ins += page.items
            cursor = page.next_cursor
            if cursor is None:
                return check_ins


def new_plan_item(plan: Plan) -> Item:
    """The item a new plan is stored as: active from the start."""
    return plan_to_item(replace(plan, status="active"))


def plan_created_actions(plan: Plan) -> list[dict[str, Any]]:
    """What every new plan's transaction carries: the account is still open, and its
    count of plans moves with the plan."""
    counted = activity_update(
        plan.user_id, counts={"plans": 1}, latest={"last_plan_at": plan.updated_at}
    )
    return [account_open_check(plan.user_id), {"Update": counted}]


@functools.cache
def plans_table() -> PlansTable:
    return PlansTable()
