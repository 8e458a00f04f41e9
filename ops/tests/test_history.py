"""The dashboard's last 14 days: sharded daily counters written as things happen, read
in one batch, drawn as inline SVG (no script), and shown in a real browser."""

import random
import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from dynamo.daily_stats import (
    SHARDS,
    DayStats,
    PendingCounts,
    daily_stats,
    key,
    latency_counter,
)
from ops.history import service_history
from ops.tests.test_browser import SCREENSHOTS, browser_page, ops_server  # noqa: F401 (fixtures)
from scans.tests.conftest import SAMPLE_FACE, upload_file


def a_day_of_its_own() -> date:
    """A past day no other test writes, so its counters are this test's alone."""
    return date(2001, 1, 1) + timedelta(days=random.randrange(8000))


def today_counts() -> DayStats:
    return daily_stats().read(days=1)[0]


class TestCounters:
    def test_a_process_writes_its_counts_together_once_the_interval_has_passed(self):
        pending = PendingCounts()
        name = f"counted_{uuid.uuid4().hex[:8]}"

        pending.count({name: 1}, interval_seconds=3600)
        pending.count({name: 2}, interval_seconds=3600)
        assert today_counts().count(name) == 0  # held: the interval has not passed

        pending.count({name: 4}, interval_seconds=0)
        assert today_counts().count(name) == 7  # all three, in one write

        pending.count({name: 1}, interval_seconds=3600)
        pending.flush()  # as at the process's exit
        assert today_counts().count(name) == 8

    def test_many_writes_of_a_day_spread_over_shards_and_read_back_summed(self):
        day = a_day_of_its_own()
        for _ in range(40):
            daily_stats().add(counts={"scans": 1, "signups": 2}, day=day)

        shards_written = [
            shard
            for shard in range(SHARDS)
            if daily_stats().get_item(key(day, shard), consistent=True) is not None
        ]
        (read,) = daily_stats().read(days=1, today=day)
        assert len(shards_written) > 1
        assert (read.day, read.count("scans"), read.count("signups")) == (day, 40, 80)

    def test_fourteen_days_read_in_order_with_empty_days_as_zero(self):
        day = a_day_of_its_own()
        daily_stats().add(counts={"chat_replies": 3}, day=day - timedelta(days=13))
        daily_stats().add(counts={"chat_replies": 5}, day=day)

        days = daily_stats().read(days=14, today=day)

        assert [d.day for d in days] == [day - timedelta(days=n) for n in range(13, -1, -1)]
        assert [d.count("chat_replies") for d in days] == [3] + [0] * 12 + [5]

    @pytest.mark.parametrize(
        ("latencies_ms", "p50", "p95"),
        [
            ([100] * 10, 250, 250),
            ([100] * 4 + [900] * 5 + [4000], 1000, 5000),
            ([70_000] * 3, 60_001, 60_001),
        ],
    )
    def test_latency_percentiles_come_from_the_buckets(self, latencies_ms, p50, p95):
        day = a_day_of_its_own()
        for latency in latencies_ms:
            daily_stats().add(counts={latency_counter(latency): 1}, day=day)

        (read,) = daily_stats().read(days=1, today=day)

        assert (read.latency_percentile(0.5), read.latency_percentile(0.95)) == (p50, p95)

    def test_a_day_without_ai_calls_has_no_latency(self):
        (read,) = daily_stats().read(days=1, today=a_day_of_its_own())
        assert read.latency_percentile(0.5) is None


class TestEventsAreCounted:
    def test_a_sign_up_an_upload_with_its_analysis_and_a_chat_reply_are_counted_today(
        self, register, api_client
    ):
        before = today_counts()

        session = register()
        api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {session['access']}")
        upload = api_client.post(
            "/api/v1/scans", {"image": upload_file(SAMPLE_FACE.read_bytes())}, format="multipart"
        )
        assert upload.json()["status"] == "complete"
        chat = api_client.post("/api/v1/chat/sessions", {}, format="json").json()
        reply = api_client.post(
            f"/api/v1/chat/sessions/{chat['session_id']}/messages",
            {"content": "Is my skin dry?"},
            format="json",
        )
        assert reply.status_code == 201, reply.content

        after = today_counts()
        changed = {
            name: after.count(name) - before.count(name)
            for name in ("signups", "scans", "analyses_complete", "analyses_failed", "chat_replies")
        }
        # Today's counters are shared with tests running in parallel: at least ours.
        assert changed["signups"] >= 1
        assert changed["scans"] >= 1
        assert changed["analyses_complete"] >= 1
        assert changed["chat_replies"] >= 1
        ai_calls = sum(v for k, v in after.counts.items() if k.startswith("ai_ms_")) - sum(
            v for k, v in before.counts.items() if k.startswith("ai_ms_")
        )
        assert ai_calls >= 2  # the analysis and the reply


class TestDashboardCharts:
    def test_the_history_holds_each_chart_with_the_days_numbers(self):
        day = a_day_of_its_own()
        daily_stats().add(
            counts={"signups": 4, "scans": 7, "analyses_complete": 6, "analyses_failed": 1}, day=day
        )
        daily_stats().add(counts={latency_counter(1800): 3, "chat_replies": 2}, day=day)

        charts = {chart.slug: chart for chart in service_history(today=day)}

        assert list(charts) == ["signups", "scans", "analyses", "ai-latency", "chat"]
        assert charts["analyses"].rows[-1] == (day.isoformat(), ["6", "1"])
        assert charts["ai-latency"].rows[-1] == (day.isoformat(), ["2000", "2000"])
        assert charts["ai-latency"].rows[0][1] == ["\N{EN DASH}", "\N{EN DASH}"]
        svg = str(charts["analyses"].svg)
        assert svg.startswith("<svg") and 'role="img"' in svg
        assert f"<title>{day.isoformat()} failed: 1</title>" in svg

    def test_the_dashboard_draws_five_charts_inline_without_any_script(self, staff_client):
        html = staff_client.get("/ops/").content.decode()

        assert html.count('<svg class="chart"') == 5
        for title in ("Sign-ups", "Scans", "Analyses by outcome", "AI latency", "Chat replies"):
            assert f">{title} <span" in html
        assert "<script" not in html
        assert not re.search(r'(src|href)="https?://', html)


def test_staff_see_the_last_fourteen_days_in_a_browser_without_javascript(
    ops_server,  # noqa: F811 (the fixture imported above)
    browser_page,  # noqa: F811
    create_staff,
):
    today = datetime.now(UTC).date()
    for back in range(14):
        daily_stats().add(
            counts={
                "signups": 2 + back % 3,
                "scans": 5 + back % 4,
                "analyses_complete": 4 + back % 4,
                "analyses_failed": back % 2,
                "chat_replies": 3 + back % 5,
                latency_counter(900 + 300 * (back % 4)): 6,
                latency_counter(6000): 1,
            },
            day=today - timedelta(days=back),
        )
    staff = create_staff()
    page = browser_page

    page.goto(f"{ops_server}/ops/")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill("correct-horse-battery-staple")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="The last 14 days").wait_for()

    charts = page.locator("svg.chart")
    assert charts.count() == 5
    for index in range(5):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 100
    assert page.get_by_role("img", name="AI latency (ms), last 14 days").is_visible()
    assert page.locator("svg.chart rect").count() > 14 * 3
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "history-dashboard.png"), full_page=True)
    print(f"\nscreenshot: {SCREENSHOTS / 'history-dashboard.png'}")
