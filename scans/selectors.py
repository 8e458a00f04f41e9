"""Scan reads: history, one scan, progress over time, and comparisons.

page = list_scans(user_id=u, limit=20, cursor=None, date_from=None, date_to=None)
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from ai.analysis import readable
from dynamo.base import Page
from dynamo.scans import Scan, scans_table
from skincare.metrics import METRICS

# Progress reads at most this many scans (a weekly scan for ten years is 520).
PROGRESS_MAX_SCANS = 1000
PROGRESS_PAGE_SIZE = 100
# The pages in which to look for the latest analysed scan, newest first: 100 scans in
# all. Usually the newest is analysed (or the one before, while an upload is analysed),
# so the first page is small: each scan read holds a whole analysis, and the chat reads
# this for every message.
LATEST_COMPLETED_PAGE_SIZES = (2, 8, 30, 60)


def day_start(day: date | None) -> str | None:
    return f"{day.isoformat()}T00:00:00.000Z" if day else None


def day_end(day: date | None) -> str | None:
    return f"{day.isoformat()}T23:59:59.999Z" if day else None


def list_scans(
    *,
    user_id: str,
    limit: int,
    cursor: str | None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> Page[Scan]:
    """Newest first, one Query (the date-index LSI when a date range is given)."""
    return scans_table().query_page(
        user_id,
        limit=limit,
        cursor=cursor,
        scanned_from=day_start(date_from),
        scanned_to=day_end(date_to),
    )


def get_scan(*, user_id: str, scan_id: str) -> Scan | None:
    return scans_table().get(user_id, scan_id)


@dataclass(frozen=True)
class MetricProgress:
    metric: str
    points: list[dict[str, Any]]  # {"scan_id", "scanned_at", "score"}, oldest first
    first: float | None
    latest: float | None
    change: float | None


def scan_progress(
    *,
    user_id: str,
    area: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> tuple[int, list[MetricProgress]]:
    """Per metric, the scores of the user's completed scans over time, and the change."""
    completed = [
        scan
        for scan in scans_in_range(user_id, day_start(date_from), day_end(date_to))
        if scan.status == "complete" and scan.analysis and (area is None or scan.area == area)
    ]
    series = []
    for metric in METRICS:
        points: list[dict[str, Any]] = []
        for scan in completed:
            score = metric_score(scan, metric)
            if score is not None:
                points.append(
                    {
                        "scan_id": scan.scan_id,
                        "scanned_at": scan.scanned_at,
                        "score": score,
                        "source": metric_source(scan, metric),
                    }
                )
        first = points[0]["score"] if points else None
        latest = points[-1]["score"] if points else None
        change = None
        # Two points or more: both ends hold a score.
        if len(points) > 1 and first is not None and latest is not None:
            change = round(latest - first, 1)
        series.append(MetricProgress(metric, points, first, latest, change))
    return len(completed), series


def scans_in_range(user_id: str, scanned_from: str | None, scanned_to: str | None) -> list[Scan]:
    """The range's newest PROGRESS_MAX_SCANS scans (all of them, usually), oldest first.

    Read newest first, so that past the limit (a daily scanner's few years) the chart
    still ends at the latest scan and shows the most recent stretch.
    """
    scans: list[Scan] = []
    cursor = None
    while len(scans) < PROGRESS_MAX_SCANS:
        page = scans_table().query_page(
            user_id,
            limit=min(PROGRESS_PAGE_SIZE, PROGRESS_MAX_SCANS - len(scans)),
            cursor=cursor,
            newest_first=True,
            scanned_from=scanned_from,
            scanned_to=scanned_to,
        )
        scans += page.items
        cursor = page.next_cursor
        if cursor is None:
            break
    return scans[:PROGRESS_MAX_SCANS][::-1]


def compare_scans(*, user_id: str, scan_id: str, other_id: str) -> dict[str, Any] | None:
    """Per-metric deltas from ``other_id`` (the earlier one, usually) to ``scan_id``.

    Both scans come from one BatchGetItem in the caller's partition; None if either is
    missing.
    """
    found = scans_table().get_many(user_id, [scan_id, other_id])
    scan, other = found.get(scan_id), found.get(other_id)
    if scan is None or other is None:
        return None
    deltas = {}
    for metric in METRICS:
        now, before = metric_score(scan, metric), metric_score(other, metric)
        deltas[metric] = {
            "score": now,
            "other_score": before,
            "delta": round(now - before, 1) if now is not None and before is not None else None,
        }
    return {"scan": scan, "other": other, "metrics": deltas}


def metric_score(scan: Scan, metric: str) -> float | None:
    if not scan.analysis:
        return None
    score = ((scan.analysis.get("metrics") or {}).get(metric) or {}).get("score")
    return float(score) if score is not None else None


def metric_source(scan: Scan, metric: str) -> str | None:
    """Where a scan's score came from (``measured`` or ``model``), as the API shows it."""
    analysis = readable(scan.analysis)
    if not analysis:
        return None
    return ((analysis.get("metrics") or {}).get(metric) or {}).get("source")


def latest_completed_scan(*, user_id: str) -> Scan | None:
    """The newest scan with an analysis among the latest 100 (newest first, a page at a
    time: ``LATEST_COMPLETED_PAGE_SIZES``)."""
    cursor = None
    for size in LATEST_COMPLETED_PAGE_SIZES:
        page = scans_table().query_page(user_id, limit=size, cursor=cursor)
        for scan in page.items:
            if scan.status == "complete" and scan.analysis:
                return scan
        cursor = page.next_cursor
        if cursor is None:
            break
    return None
