"""Ops reads: the dashboard, finding accounts, one account's overview, the audit log.

    overview = user_overview(user_id=user_id)   # None when there is no such account
    page = list_audit_entries(staff_id=staff.user_id, cursor=None)

Nothing here returns a photo, an analysis or chat text: counts, times, ids and reason
codes only (``dynamo.activity`` reads no more than that).

Recently failed analyses come from the audit table's failed-analysis log, one Query a
day for the last few days, rather than from the scans table, which is partitioned by
account and has no index by status: finding failures there would take a Scan of every
scan. The scans app writes that log when an analysis fails
(``audit_table().record_failed_analysis``); the scan item keeps its own status.
"""

from dataclasses import dataclass

from ai.providers import get_provider
from dynamo.activity import AccountActivity, FailedScan, account_activity, failed_scans
from dynamo.audit import AuditEntry, FailedAnalysis, audit_table
from dynamo.base import Page
from dynamo.status import TableStatus, describe_tables
from dynamo.users import User, users_table

OPS_PAGE_SIZE = 50
RECENT_FAILURE_DAYS = 7
RECENT_FAILURES_SHOWN = 50
FAILED_SCANS_SHOWN = 20
ACTIONS_SHOWN = 20


@dataclass(frozen=True, slots=True)
class ProviderInUse:
    use: str
    name: str
    model: str


@dataclass(frozen=True, slots=True)
class Dashboard:
    tables: list[TableStatus]
    providers: list[ProviderInUse]
    recent_failures: list[FailedAnalysis]
    recent_failure_days: int


@dataclass(frozen=True, slots=True)
class UserOverview:
    user: User
    activity: AccountActivity
    last_activity_at: str
    failed_scans: list[FailedScan]
    recent_actions: list[AuditEntry]


# What each provider is used for (AI_PROVIDER; AI_CHAT_PROVIDER, which defaults to it).
PROVIDER_USES = (("analysis", "Scan analysis and plans"), ("chat", "Chat replies"))


def providers_in_use() -> list[ProviderInUse]:
    providers = []
    for use, label in PROVIDER_USES:
        provider = get_provider(use)
        providers.append(ProviderInUse(use=label, name=provider.name, model=provider.model))
    return providers


def dashboard() -> Dashboard:
    return Dashboard(
        tables=describe_tables(),
        providers=providers_in_use(),
        recent_failures=recent_failures_of_accounts(),
        recent_failure_days=RECENT_FAILURE_DAYS,
    )


def recent_failures_of_accounts() -> list[FailedAnalysis]:
    """The recent failed analyses of accounts that are still there: an erased account's
    stay in the log until they expire, and their links led to a 404."""
    failures = audit_table().recent_failed_analyses(
        days=RECENT_FAILURE_DAYS, limit=RECENT_FAILURES_SHOWN
    )
    if not failures:
        return failures
    accounts = users_table().existing(failure.user_id for failure in failures)
    return [failure for failure in failures if failure.user_id in accounts]


def find_user_by_email(*, email: str) -> User | None:
    return users_table().find_by_email(email)


def list_users(*, staff_id: str, cursor: str | None) -> Page[User]:
    # The cursor is bound to the staff member who was shown the previous page.
    return users_table().scan_users(limit=OPS_PAGE_SIZE, cursor=cursor, scope=f"ops:{staff_id}")


def user_overview(*, user_id: str) -> UserOverview | None:
    user = users_table().get(user_id)
    if user is None:
        return None
    activity = account_activity(user_id)
    return UserOverview(
        user=user,
        activity=activity,
        last_activity_at=activity.last_activity_at(profile_updated_at=user.updated_at),
        failed_scans=failed_scans(user_id, limit=FAILED_SCANS_SHOWN)
        if activity.failed_scans
        else [],
        recent_actions=audit_table().entries_about(user_id, limit=ACTIONS_SHOWN),
    )


def list_audit_entries(*, staff_id: str, cursor: str | None) -> Page[AuditEntry]:
    return audit_table().list_entries(
        limit=OPS_PAGE_SIZE, cursor=cursor, scope=f"ops-audit:{staff_id}"
    )
