"""Ops use cases: what staff do to an account, each one written to the audit trail.

    user = disable_account(staff=staff, user_id=user_id)
    outcome = rerun_failed_analyses(staff=staff, user_id=user_id)
    erase_account(staff=staff, user_id=user_id, confirm_email="ana@example.com")

Every action records who did what to which account, and when (``record_action``);
the audit page lists the records newest first. Records carry ids, codes and counts,
never the account's data.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from rest_framework import status
from ulid import ULID

from accounts.services import normalize_email, now_iso, send_password_reset_link
from dermalens_site.errors import ApplicationError, NotFound
from dynamo.activity import failed_scans
from dynamo.audit import AuditEntry, audit_table
from dynamo.errors import AccountClosed, ConditionFailed, ItemNotFound
from dynamo.users import User, users_table

# A re-run analyses at most this many of the account's newest failed scans at once.
RERUN_MAX_SCANS = 20
# The actor of changes made with manage.py commands (there is no signed-in staff member).
COMMAND_ACTOR = "manage.py"

ACTION_LABELS = {
    "login": "signed in to ops",
    "logout": "signed out of ops",
    "disable_account": "disabled the account",
    "enable_account": "enabled the account",
    "revoke_sessions": "revoked every session",
    "rerun_analyses": "re-ran failed analyses",
    "send_password_reset": "sent a password reset link",
    "erase_account": "erased the account (or began to: the erasure runs as a job)",
    "erase_account_started": "began to erase the account",
    "erase_account_failed": "tried to erase the account (failed)",
    "export_account": "exported the account's data",
    "create_staff": "created a staff account",
    "promote_staff": "made the account staff",
    "remove_staff": "took the account's staff access away",
    "remeasure_scans": "analysed scans again with the pipeline's current version",
}


class UserNotFound(NotFound):
    default_message = "No account has this id."


BEING_ERASED = "The account is being erased: it stays closed until its data is gone."


class ActionRefused(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    default_code = "action_refused"


class ErasureUnavailable(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "erasure_unavailable"
    default_message = "Account erasure is not available in this version of the service."


@dataclass(frozen=True, slots=True)
class RerunOutcome:
    complete: int = 0
    failed: int = 0
    pending: int = 0  # queued, or held back by the account's daily analysis quota
    skipped: int = 0  # the image is gone, or the scan was deleted meanwhile

    def as_details(self) -> dict[str, int]:
        return {
            "complete": self.complete,
            "failed": self.failed,
            "pending": self.pending,
            "skipped": self.skipped,
        }


def record_action(
    *,
    actor_user_id: str,
    actor_email: str,
    action: str,
    target_user_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    if action not in ACTION_LABELS:
        raise ValueError(f"unknown ops action {action!r}; add it to ACTION_LABELS")
    entry = AuditEntry(
        entry_id=str(ULID()),
        at=now_iso(),
        actor_user_id=actor_user_id,
        actor_email=actor_email,
        action=action,
        target_user_id=target_user_id,
        details=details or {},
    )
    audit_table().record(entry)
    return entry


def record_command_action(
    *, action: str, target_user_id: str | None = None, **details: Any
) -> AuditEntry:
    """An audit entry for what a ``manage.py`` command did (``COMMAND_ACTOR`` did it)."""
    return record_action(
        actor_user_id=COMMAND_ACTOR,
        actor_email=COMMAND_ACTOR,
        action=action,
        target_user_id=target_user_id,
        details=details,
    )


def record_staff_action(
    *, staff: User, action: str, target_user_id: str | None = None, **details: Any
) -> AuditEntry:
    return record_action(
        actor_user_id=staff.user_id,
        actor_email=staff.email,
        action=action,
        target_user_id=target_user_id,
        details=details,
    )


def disable_account(*, staff: User, user_id: str) -> User:
    """Disable the account; its tokens stop working at once and stay revoked."""
    refuse_own_account(staff, user_id, "disable")
    existing_user(user_id)
    user = change_account(lambda: users_table().disable(user_id, updated_at=now_iso()))
    record_staff_action(staff=staff, action="disable_account", target_user_id=user_id)
    return user


def enable_account(*, staff: User, user_id: str) -> User:
    """Let a disabled account sign in again; never one whose erasure has begun."""
    existing_user(user_id)
    try:
        user = change_account(lambda: users_table().enable(user_id, updated_at=now_iso()))
    except AccountClosed as err:
        raise ActionRefused(BEING_ERASED) from err
    record_staff_action(staff=staff, action="enable_account", target_user_id=user_id)
    return user


def revoke_sessions(*, staff: User, user_id: str) -> User:
    """Every token issued to the account so far stops working (and its ops sign-in)."""
    existing_user(user_id)
    user = change_account(lambda: users_table().revoke_sessions(user_id, updated_at=now_iso()))
    record_staff_action(staff=staff, action="revoke_sessions", target_user_id=user_id)
    return user


def send_password_reset(*, staff: User, user_id: str) -> None:
    """Email the account a reset link, as "forgot password" would: staff never see it."""
    user = existing_user(user_id)
    if user.erasure_started_at is not None:
        raise ActionRefused(BEING_ERASED)
    if not user.is_active:
        raise ActionRefused("The account is disabled: enable it before sending a reset link.")
    record_staff_action(staff=staff, action="send_password_reset", target_user_id=user_id)
    send_password_reset_link(user=user)


def rerun_failed_analyses(*, staff: User, user_id: str) -> RerunOutcome:
    """Analyse the account's newest failed scans again (at most RERUN_MAX_SCANS)."""
    from scans.services import AnalysisQuotaExceeded, analyze_scan

    user = existing_user(user_id)
    counts = {"complete": 0, "failed": 0, "pending": 0, "skipped": 0}
    failures = failed_scans(user_id, limit=RERUN_MAX_SCANS)
    for position, failure in enumerate(failures):
        try:
            scan = analyze_scan(user=user, scan_id=failure.scan_id)
        except AnalysisQuotaExceeded:
            # The account's quota for today is spent: the rest would be refused too.
            counts["pending"] += len(failures) - position
            break
        except (ApplicationError, ConditionFailed):
            counts["skipped"] += 1
            continue
        outcome = scan.status if scan.status in counts else "pending"
        counts[outcome] += 1
    result = RerunOutcome(**counts)
    record_staff_action(
        staff=staff, action="rerun_analyses", target_user_id=user_id, **result.as_details()
    )
    return result


def erase_account(*, staff: User, user_id: str, confirm_email: str) -> None:
    """Erase the account and all its data, once the account's email is typed to confirm.

    The account is closed at once; its data is erased by a job (``begin_erasure``).
    """
    user = existing_user(user_id)
    refuse_own_account(staff, user_id, "erase")
    if normalize_email(confirm_email) != user.email:
        raise ActionRefused("The email typed does not match the account's; nothing was erased.")
    erase_everything = privacy_erasure()
    try:
        erase_everything(user_id=user_id)
    except Exception as err:
        record_staff_action(
            staff=staff,
            action="erase_account_failed",
            target_user_id=user_id,
            error=type(err).__name__,
        )
        raise
    record_staff_action(staff=staff, action="erase_account", target_user_id=user_id)


def privacy_erasure() -> Callable[..., None]:
    # Imported when used: privacy depends on every domain, ops must not at import time.
    try:
        module = importlib.import_module("privacy.services")
        return cast(Callable[..., None], module.begin_erasure)
    except (ImportError, AttributeError) as err:
        raise ErasureUnavailable() from err


def existing_user(user_id: str) -> User:
    """The account (a user item: never an email claim or another kind sharing the table)."""
    user = users_table().get(user_id)
    if user is None:
        raise UserNotFound()
    return user


def change_account(write: Callable[[], User]) -> User:
    # The account may be erased between the read and the write.
    try:
        return write()
    except ItemNotFound as err:
        raise UserNotFound() from err


def refuse_own_account(staff: User, user_id: str, verb: str) -> None:
    if staff.user_id == user_id:
        raise ActionRefused(
            f"You cannot {verb} your own account here; ask another staff member or use manage.py."
        )
