"""Scan reads: history, one scan, progress over time, and comparisons.

page = list_scans(user_id=u, limit=20, cursor=None, date_from=None, date_to=None)
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from ai.analysis import measured_by, readable
from dynamo.base import Page
from dynamo.scans import Scan, ScanScores, scans_table
from skincare.metrics import METRICS

# A page of progress reads at most this many scans, however few of them its area filter
# keeps (a weekly scan for ten years is 520): a page may then hold fewer scans than its
# limit, and its cursor goes on from the last scan read.
PROGRESS_READ_MAX_SCANS = 1000
# Why two scans' scores are not compared (``incomparable_because``).
DIFFERENT_AREAS = "different_areas"
PHOTO_QUALITY = "photo_quality"
MEASURED_DIFFERENTLY = "measured_differently"
INCOMPARABLE_REASONS = (DIFFERENT_AREAS, PHOTO_QUALITY, MEASURED_DIFFERENTLY)
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
    # {"scan_id", "scanned_at", "score", "source", "area", "acceptable", "measured_by"},
    # oldest first
    points: list[dict[str, Any]]
    # The ends of the change, and their area (``comparable_points``).
    first: float | None
    latest: float | None
    change: float | None
    area: str | None = None


@dataclass(frozen=True)
class Progress:
    scans: int  # the completed scans of the page
    metrics: list[MetricProgress]
    next_cursor: str | None  # the page of the scans before these; None at the first


def scan_progress(
    *,
    user_id: str,
    limit: int,
    cursor: str | None = None,
    area: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    metric: str | None = None,
) -> Progress:
    """Per metric (or ``metric`` alone), the scores of a page of the user's completed
    scans (the newest ``limit``, or those before ``cursor``), oldest first, and the
    change from the first to the latest of those that can be compared
    (``comparable_points``) on the page."""
    metrics = (metric,) if metric else METRICS
    page = completed_scores(
        user_id,
        metrics=metrics,
        limit=limit,
        cursor=cursor,
        area=area,
        scanned_from=day_start(date_from),
        scanned_to=day_end(date_to),
    )
    series = []
    for name in metrics:
        points: list[dict[str, Any]] = []
        for scan in page.items:
            score = metric_score(scan, name)
            if score is not None:
                points.append(
                    {
                        "scan_id": scan.scan_id,
                        "scanned_at": scan.scanned_at,
                        "score": score,
                        "source": metric_source(scan, name),
                        "area": scan.area,
                        "acceptable": photo_acceptable(scan),
                        "measured_by": measured_by(scan.analysis),
                    }
                )
        ends = comparable_points(points)
        first: float | None = ends[0]["score"] if ends else None
        latest: float | None = ends[-1]["score"] if ends else None
        change = None
        if len(ends) > 1 and first is not None and latest is not None:
            change = round(latest - first, 1)
        ends_area = ends[-1]["area"] if ends else None
        series.append(MetricProgress(name, points, first, latest, change, ends_area))
    return Progress(len(page.items), series, page.next_cursor)


def completed_scores(
    user_id: str,
    *,
    metrics: tuple[str, ...],
    limit: int,
    cursor: str | None,
    area: str | None,
    scanned_from: str | None,
    scanned_to: str | None,
) -> Page[ScanScores]:
    """Up to ``limit`` analysed scans (of ``area``) of the range, the newest before
    ``cursor``, oldest first, with the cursor of the scans before them.

    Read newest first, a Query at a time, each asking for no more scans than the page
    still needs, so that the cursor is the last scan read and the next page goes on
    exactly from it. At most PROGRESS_READ_MAX_SCANS are read for one page.
    """
    kept: list[ScanScores] = []
    read = 0
    while True:
        page = scans_table().scores_page(
            user_id,
            metrics=metrics,
            limit=min(limit - len(kept), PROGRESS_READ_MAX_SCANS - read),
            cursor=cursor,
            scanned_from=scanned_from,
            scanned_to=scanned_to,
        )
        read += len(page.items)
        kept += [
            scan
            for scan in page.items
            if scan.status == "complete" and scan.analysis and (area is None or scan.area == area)
        ]
        cursor = page.next_cursor
        if cursor is None or len(kept) >= limit or read >= PROGRESS_READ_MAX_SCANS:
            return Page(kept[::-1], cursor)


def comparable_points(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The points a change may be measured between (oldest first): photos that passed
    the quality checks, of the area of the latest of them, measured by the same version
    of the pipeline. A dark or blurred photo, a cheek close-up beside a whole face, or a
    photo read by another version of the measures (a threshold moved) moves the scores
    by more than the skin changed; such points are shown, not counted."""
    acceptable = [point for point in points if point["acceptable"]]
    if not acceptable:
        return []
    latest = acceptable[-1]
    return [
        point
        for point in acceptable
        if point["area"] == latest["area"] and point["measured_by"] == latest["measured_by"]
    ]


def photo_acceptable(scan: Scan | ScanScores) -> bool:
    """Whether the scan's photo passed the analysis's quality checks (an analysis stored
    before it had them passed)."""
    quality = (scan.analysis or {}).get("image_quality") or {}
    return bool(quality.get("acceptable", True))


def incomparable_because(scan: Scan, other: Scan) -> list[str]:
    """Why two scans' scores cannot be compared (``INCOMPARABLE_REASONS``): a close-up
    and a whole face, a photo that failed the quality checks, two versions of the
    measures."""
    reasons = []
    if scan.area != other.area:
        reasons.append(DIFFERENT_AREAS)
    if not (photo_acceptable(scan) and photo_acceptable(other)):
        reasons.append(PHOTO_QUALITY)
    if (
        scan.analysis
        and other.analysis
        and measured_by(scan.analysis) != measured_by(other.analysis)
    ):
        reasons.append(MEASURED_DIFFERENTLY)
    return reasons


def compare_scans(*, user_id: str, scan_id: str, other_id: str) -> dict[str, Any] | None:
    """Per-metric deltas from ``other_id`` (the earlier one, usually) to ``scan_id``;
    none when the two cannot be compared (``incomparable_because``), their scores shown
    all the same.

    Both scans come from one BatchGetItem in the caller's partition; None if either is
    missing.
    """
    found = scans_table().get_many(user_id, [scan_id, other_id])
    scan, other = found.get(scan_id), found.get(other_id)
    if scan is None or other is None:
        return None
    reasons = incomparable_because(scan, other)
    deltas = {}
    for metric in METRICS:
        now, before = metric_score(scan, metric), metric_score(other, metric)
        delta = None
        if now is not None and before is not None and not reasons:
            delta = round(now - before, 1)
        deltas[metric] = {"score": now, "other_score": before, "delta": delta}
    return {
        "scan": scan,
        "other": other,
        "comparable": not reasons,
        "incomparable_because": reasons,
        "metrics": deltas,
    }


def metric_score(scan: Scan | ScanScores, metric: str) -> float | None:
    if not scan.analysis:
        return None
    score = ((scan.analysis.get("metrics") or {}).get(metric) or {}).get("score")
    return float(score) if score is not None else None


def metric_source(scan: Scan | ScanScores, metric: str) -> str | None:
    """Where a scan's score came from (``measured`` or ``model``), as the API shows it."""
    analysis = readable(scan.analysis)
    if not analysis:
        return None
    return ((analysis.get("metrics") or {}).get(metric) or {}).get("source")


def latest_completed_scan(*, user_id: str) -> Scan | None:
    """The newest analysed scan among the latest 100 whose photo passed the quality
    checks; failing that, the newest with any score (newest first, a page at a time:
    ``LATEST_COMPLETED_PAGE_SIZES``).

    A plan drafted from, or a chat answer about, a dark photo's scores or a photo with
    no face in it would describe the photo, not the skin, while a good one a week older
    says how the skin is."""
    fallback = None
    cursor = None
    for size in LATEST_COMPLETED_PAGE_SIZES:
        page = scans_table().query_page(user_id, limit=size, cursor=cursor)
        for scan in page.items:
            if scan.status != "complete" or not scan.analysis:
                continue
            if photo_acceptable(scan):
                return scan
            if fallback is None and any(metric_score(scan, m) is not None for m in METRICS):
                fallback = scan
        cursor = page.next_cursor
        if cursor is None:
            break
    return fallback
