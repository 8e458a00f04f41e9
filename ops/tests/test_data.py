"""The data layer behind the ops pages: the audit table, activity counts, user additions."""

from datetime import UTC, date, datetime

import pytest
from ulid import ULID

from accounts.services import now_iso
from dynamo.activity import account_activity
from dynamo.audit import AuditEntry, audit_table, previous_month
from dynamo.errors import InvalidCursor
from dynamo.users import users_table
from tests.seeding import seed_failed_analysis


def entry(at: str, action: str = "disable_account", target: str | None = None) -> AuditEntry:
    moment = datetime.fromisoformat(at)
    return AuditEntry(
        entry_id=str(ULID.from_timestamp(moment.timestamp())),
        at=at,
        actor_user_id="staff",
        actor_email="staff@example.com",
        action=action,
        target_user_id=target or str(ULID()),
    )


class TestAuditTable:
    @pytest.mark.parametrize(
        ("month", "before"),
        [("2026-11", "2026-10"), ("2026-01", "2025-12"), ("2026-10", "2026-09")],
    )
    def test_previous_month(self, month, before):
        assert previous_month(month) == before

    def test_pages_run_newest_first_across_month_partitions(self):
        # Far in the future, so that no other test's entries are in these months.
        audit = audit_table()
        march = [entry(f"2999-03-0{day}T10:00:00.000Z") for day in (1, 2, 3)]
        january = entry("2999-01-15T10:00:00.000Z")
        for item in [*march, january]:
            audit.record(item)
        now = datetime(2999, 3, 20, tzinfo=UTC)

        first = audit.list_entries(limit=2, cursor=None, scope="s", now=now)
        assert [e.entry_id for e in first.items] == [march[2].entry_id, march[1].entry_id]
        second = audit.list_entries(limit=2, cursor=first.next_cursor, scope="s")
        # The rest of March, then February is empty, then January.
        assert [e.entry_id for e in second.items] == [march[0].entry_id, january.entry_id]
        assert second.next_cursor is not None

    def test_the_walk_stops_at_the_month_the_table_was_created(self, monkeypatch):
        audit = audit_table()
        monkeypatch.setattr(type(audit), "earliest_month", lambda self: "2998-11")
        old = entry("2998-11-02T10:00:00.000Z")
        audit.record(old)
        page = audit.list_entries(limit=50, cursor=None, scope="s", now=datetime(2998, 12, 5))
        assert [e.entry_id for e in page.items] == [old.entry_id]
        assert page.next_cursor is None

    def test_a_page_reads_at_most_a_year_of_empty_months(self):
        audit = audit_table()
        page = audit.list_entries(limit=5, cursor=None, scope="s", now=datetime(3500, 6, 1))
        assert page.items == []
        assert page.next_cursor is not None  # the walk goes on from the next page

    @pytest.mark.parametrize("cursor", ["garbage", "eyJzIjoicyJ9:1abc:signature"])
    def test_a_tampered_cursor_is_refused(self, cursor):
        with pytest.raises(InvalidCursor):
            audit_table().list_entries(limit=5, cursor=cursor, scope="s")

    def test_a_cursor_of_another_list_is_refused(self):
        audit = audit_table()
        page = audit.list_entries(
            limit=1, cursor=None, scope="ops-audit:one", now=datetime(3400, 1, 1)
        )
        with pytest.raises(InvalidCursor, match="another list"):
            audit.list_entries(limit=1, cursor=page.next_cursor, scope="ops-audit:two")

    def test_entries_about_an_account_come_newest_first(self):
        audit = audit_table()
        target = str(ULID())
        earlier = entry("2999-05-01T10:00:00.000Z", "disable_account", target)
        later = entry("2999-05-02T10:00:00.000Z", "enable_account", target)
        audit.record(earlier)
        audit.record(later)
        assert [e.action for e in audit.entries_about(target, limit=5)] == [
            "enable_account",
            "disable_account",
        ]

    def test_failed_analyses_are_read_day_by_day_newest_first(self):
        audit = audit_table()
        user_id = str(ULID())
        for at, scan in [
            ("2999-07-08T09:00:00.000Z", "a"),
            ("2999-07-10T09:00:00.000Z", "b"),
            ("2999-07-10T11:00:00.000Z", "c"),
            ("2999-06-01T09:00:00.000Z", "too-old"),
        ]:
            seed_failed_analysis(user_id, scan, reason="timeout", failed_at=at)
        failures = audit.recent_failed_analyses(days=7, limit=50, today=date(2999, 7, 10))
        assert [f.scan_id for f in failures] == ["c", "b", "a"]
        assert (
            audit.recent_failed_analyses(days=7, limit=2, today=date(2999, 7, 10))[-1].scan_id
            == "b"
        )


class TestUsersAdditions:
    def test_find_by_email_reads_the_gsi(self, register):
        account = register()
        user = users_table().find_by_email(account["user"]["email"])
        assert user.user_id == account["user"]["user_id"]
        assert users_table().find_by_email("nobody-" + account["user"]["email"]) is None

    def test_revoke_sessions_and_disable_bump_the_token_version(self, register):
        user_id = register()["user"]["user_id"]
        users = users_table()
        assert users.revoke_sessions(user_id, updated_at=now_iso()).token_version == 1
        disabled = users.disable(user_id, updated_at=now_iso())
        assert (disabled.is_active, disabled.token_version) == (False, 2)
        assert users.set_staff(user_id, is_staff=True, updated_at=now_iso()).is_staff

    def test_scan_users_returns_user_items_only_with_a_scoped_cursor(self, register):
        register()
        users = users_table()
        page = users.scan_users(limit=1, cursor=None, scope="a")
        assert len(page.items) == 1
        assert page.next_cursor
        following = users.scan_users(limit=3, cursor=page.next_cursor, scope="a")
        assert page.items[0].user_id not in {u.user_id for u in following.items}
        assert all(not u.user_id.startswith("email#") for u in following.items)
        with pytest.raises(InvalidCursor):
            users.scan_users(limit=1, cursor=page.next_cursor, scope="b")


class TestAccountActivity:
    def test_a_new_account_has_nothing(self, register):
        account = register()
        activity = account_activity(account["user"]["user_id"])
        assert (activity.scans, activity.plans, activity.chat_messages) == (0, 0, 0)
        assert (
            activity.last_activity_at(profile_updated_at=account["user"]["updated_at"])
            == (account["user"]["updated_at"])
        )
