"""Scan use cases that write: upload, analyse (again), delete, and overlays.

    scan, created = upload_scan(user=user, image=upload, area="face", notes=None)

Nothing is lost on failure: the image is stored first, then the scan item (status
``pending``), and only then does analysis start; an analysis failure leaves the scan
``failed`` with a reason code, ready for ``analyze_scan``. If storing the image fails,
no scan item is written; if writing the item fails, the stored files are removed.

With ``ANALYSIS_QUEUE_URL`` set the analysis leaves the web process: the scan is stored
``pending``, one job goes to SQS (``scans.tasks.analyze_scan``) and a worker
(``manage.py jobs_worker``) runs it; ``analysis_queued(scan)`` tells the view to answer
202. The daily quota is still counted here, so a refusal is immediate.

Nothing outlives an erasure: the scan item is written only while the account is open
(``AccountClosed`` otherwise, and the stored files are removed), and the analysis reads
the account again before it runs (``as_stored``).
"""

import dataclasses
import functools
import hashlib
import logging
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from rest_framework import status
from ulid import ULID

from accounts.selectors import as_stored, skin_profile_of
from ai.analysis import SkinAnalysis, now_iso
from ai.providers import AnalysisFailed, get_provider
from dermalens_site.errors import ApplicationError, Conflict, NotFound
from dermalens_site.photo_processes import in_photo_process
from dynamo.allowances import ANALYSES, seconds_until_reset
from dynamo.audit import audit_table, failed_analysis_id, failed_analysis_ids_kept
from dynamo.errors import DynamoError, ItemNotFound, VersionConflict
from dynamo.scans import (
    CLAIM_ATTRIBUTES,
    ClaimRefused,
    IdempotencyKeyReused,
    IdempotencyKeyUsed,
    IdempotentScanGone,
    Scan,
    scans_table,
)
from dynamo.users import QuotaUsedUp, User, users_table
from jobs.services import QueueUnavailable, enqueue
from scans import storage
from scans.images import prepare_scan_image
from telemetry import record as telemetry

logger = logging.getLogger("dermalens.scans")

SCAN_STATUSES = ("pending", "complete", "failed")
AREAS = ("face", "forehead", "left_cheek", "right_cheek", "chin", "neck", "body")
QUOTA_REASON = "quota"
# Failures that count against the day's analyses all the same: the photo itself made the
# provider refuse it, and analysing it again gets the same answer. Any other failure
# (the provider down, slow, rate-limited, refusing our request, answering nonsense) is
# ours or the provider's, and the analysis's use is given back.
COUNTED_FAILURES = frozenset({"safety_block", "unreadable_image"})


class ScanNotFound(NotFound):
    default_message = "Scan not found."


class ScanImageMissing(Conflict):
    default_code = "image_missing"
    default_message = "The scan's image is no longer stored; upload it again."


class UploadKeyReused(ApplicationError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "idempotency_key_reused"
    default_message = (
        "This Idempotency-Key was sent with another upload (another photo, area or notes); "
        "a new upload needs a new key."
    )


class UploadKeyScanDeleted(Conflict):
    default_code = "idempotency_key_scan_deleted"
    default_message = (
        "The upload first sent with this Idempotency-Key was stored and has been deleted "
        "since; a new upload needs a new key."
    )


class AnalysisQuotaExceeded(ApplicationError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "analysis_quota_exceeded"
    default_message = "Today's analyses are used up; the scan is kept and can be analysed later."

    def __init__(self, retry_after_seconds: int):
        super().__init__(details={"limit_per_day": settings.AI_ANALYSES_PER_DAY})
        self.retry_after_seconds = retry_after_seconds


def upload_scan(
    *,
    user: User,
    image: UploadedFile,
    area: str,
    notes: str | None,
    idempotency_key: str | None = None,
) -> tuple[Scan, bool]:
    """Store and analyse a new scan; returns (scan, created). A replayed key returns the
    first, if it was sent with the same upload (else ``UploadKeyReused``)."""
    digest = upload_digest(image, area=area, notes=notes) if idempotency_key else None
    if idempotency_key:
        earlier = find_keyed_upload(user.user_id, idempotency_key, digest)
        if earlier is not None:
            return earlier, False
    telemetry.upload_received(size_bytes=image.size or 0, area=area)
    prepared = prepare_scan_image(image)
    scan_id = str(ULID())
    files = {
        storage.image_key(user.user_id, scan_id): prepared.jpeg,
        storage.thumbnail_key(user.user_id, scan_id): prepared.thumbnail,
    }
    store_files(files)
    timestamp = now_iso()
    scan = Scan(
        user_id=user.user_id,
        scan_id=scan_id,
        status="pending",
        area=area,
        scanned_at=timestamp,
        created_at=timestamp,
        updated_at=timestamp,
        image_key=storage.image_key(user.user_id, scan_id),
        thumbnail_key=storage.thumbnail_key(user.user_id, scan_id),
        notes=notes or None,
    )
    try:
        scan, counted = create_counting_quota(
            scan, idempotency_key=idempotency_key, request_digest=digest
        )
    except IdempotencyKeyUsed:
        # A concurrent retry of the same upload won the key; ours is the duplicate.
        storage.delete_scan_files(list(files))
        # Only a create that carries a key can collide on it, and the winner holds the key.
        if idempotency_key is None:
            raise
        existing = find_keyed_upload(user.user_id, idempotency_key, digest)
        if existing is None:
            raise
        return existing, False
    except Exception:
        storage.delete_scan_files(list(files))
        raise
    telemetry.scan_stored()
    if not counted:
        return scan, True  # kept, pending past the quota
    if settings.ANALYSIS_QUEUE_URL:
        return queue_analysis(user=user, scan=scan, quota_counted=True), True
    return run_analysis(user=user, scan=scan, image_jpeg=prepared.jpeg, quota_counted=True), True


def create_counting_quota(
    scan: Scan, *, idempotency_key: str | None, request_digest: str | None = None
) -> tuple[Scan, bool]:
    """Store a new scan and count its analysis in the same transaction; past the daily
    quota, store it pending with ``QUOTA_REASON`` (kept, to be analysed later). Returns
    the scan as stored and whether its analysis was counted."""
    store = functools.partial(
        scans_table().create, idempotency_key=idempotency_key, request_digest=request_digest
    )
    try:
        store(scan, now=int(time.time()), quota=ANALYSES.update(scan.user_id))
    except QuotaUsedUp:
        kept = dataclasses.replace(scan, failure_reason=QUOTA_REASON)
        store(kept, now=int(time.time()))
        return kept, False
    return scan, True


def upload_digest(image: UploadedFile, *, area: str, notes: str | None) -> str:
    """What an upload sent: the photo's bytes, its area and notes (SHA-256, hex)."""
    digest = hashlib.sha256()
    for chunk in image.chunks():
        digest.update(chunk)  # SHA-256 at about 1 GB/s: ~10 ms for the largest photo
    image.seek(0)
    digest.update(b"\0" + area.encode() + b"\0" + (notes or "").encode())
    return digest.hexdigest()


def find_keyed_upload(user_id: str, idempotency_key: str, digest: str | None) -> Scan | None:
    try:
        return scans_table().find_by_idempotency_key(
            user_id, idempotency_key, request_digest=digest
        )
    except IdempotencyKeyReused as err:
        raise UploadKeyReused() from err
    except IdempotentScanGone as err:
        raise UploadKeyScanDeleted() from err


def store_files(files: dict[str, bytes]) -> None:
    """Store every file or none: a failure removes what was already stored."""
    stored: list[str] = []
    try:
        for key, data in files.items():
            storage.save_scan_file(key, data)
            stored.append(key)
    except storage.StorageUnavailable:
        if stored:
            try:
                storage.delete_scan_files(stored)
            except storage.StorageUnavailable:
                logger.warning("orphaned scan files", extra={"keys": stored})
        raise


def analyze_scan(*, user: User, scan_id: str) -> Scan:
    """Run the analysis of a stored scan again (after a failure, or past the quota)."""
    scan = scans_table().get(user.user_id, scan_id, consistent=True)
    if scan is None:
        raise ScanNotFound()
    if settings.ANALYSIS_QUEUE_URL:
        if not image_is_stored(scan.image_key):
            raise ScanImageMissing()
        return queue_analysis(user=user, scan=scan, refuse_past_quota=True)
    image = storage.read_scan_file(scan.image_key)
    if image is None:
        raise ScanImageMissing()
    return run_analysis(user=user, scan=scan, image_jpeg=image, refuse_past_quota=True)


def run_analysis(
    *,
    user: User,
    scan: Scan,
    image_jpeg: bytes,
    refuse_past_quota: bool = False,
    quota_counted: bool = False,
) -> Scan:
    """Analyse the scan in this request; ``quota_counted`` when its upload counted it."""
    if not quota_counted and not ANALYSES.consume(user.user_id):
        return keep_past_quota(scan, refuse=refuse_past_quota)
    # The request's user may be the worker's cached copy; the profile must be current.
    return analyze_image(user=as_stored(user), scan=scan, image_jpeg=image_jpeg)


def queue_analysis(
    *, user: User, scan: Scan, refuse_past_quota: bool = False, quota_counted: bool = False
) -> Scan:
    """Leave the analysis to a worker: the scan is ``pending`` until it runs
    (``quota_counted`` when its upload counted it)."""
    if not quota_counted and not ANALYSES.consume(user.user_id):
        return keep_past_quota(scan, refuse=refuse_past_quota)
    if scan.status != "pending" or scan.failure_reason:
        # Pending first, so that the worker finds it waiting; a stored analysis stays
        # until the new one replaces it.
        scan = record(scan, status="pending", failure_reason=None, analysis=None)
    from scans import tasks  # the tasks call back into this module

    try:
        # The job's trace links to this request's (telemetry on only).
        trace: dict[str, str] = {}
        telemetry.inject_trace_context(trace)
        enqueue(
            tasks.analyze_scan,
            user_id=user.user_id,
            scan_id=scan.scan_id,
            trace=trace,
            queued_at=time.time(),
        )
    except QueueUnavailable:
        # Nothing will analyse it: say so, as a provider outage would, so it can be retried.
        return record(scan, status="failed", failure_reason="provider_unavailable", analysis=None)
    return scan


def analysis_queued(scan: Scan) -> bool:
    """True when the scan waits for a worker (the request is accepted, not done)."""
    return scan.status == "pending" and scan.failure_reason is None


def analyze_queued_scan(*, user_id: str, scan_id: str, claim_seconds: int) -> str:
    """The analysis job: claim the pending scan, analyse it, record it; the outcome.

    ``user_gone`` (erased, or being erased), ``scan_gone``, ``already_done`` (analysed
    on an earlier delivery, or not queued), ``busy`` (another worker holds it), or what
    ``analyze_claimed_scan`` says. Three DynamoDB calls when all goes well: the account
    read, the claim (a conditional write that also tells why it was refused) and the
    analysis recorded, which ends the claim in the same write.
    """
    user = users_table().get(user_id)
    if user is None or user.erasure_started_at is not None:
        return "user_gone"
    scans = scans_table()
    now = int(time.time())
    claim_id = uuid.uuid4().hex
    try:
        claimed = scans.claim_for_analysis(
            user_id, scan_id, claim_id=claim_id, now=now, until=now + claim_seconds
        )
    except ClaimRefused as refused:
        return refused.reason
    recorded = False
    try:
        outcome = analyze_claimed_scan(user=user, scan=claimed)
        recorded = outcome != "scan_changed"
        return outcome
    finally:
        if not recorded:
            scans.release_claim(user_id, scan_id, claim_id=claim_id)


def analyze_claimed_scan(*, user: User, scan: Scan) -> str:
    """Analyse a queued scan that this worker has claimed; returns the worker's outcome:
    the scan's new status, ``image_missing`` or ``scan_changed``."""
    image = storage.read_scan_file(scan.image_key)
    try:
        if image is None:
            record(scan, status="failed", failure_reason="unreadable_image", analysis=None)
            return "image_missing"
        return analyze_image(user=user, scan=scan, image_jpeg=image).status
    except (ItemNotFound, VersionConflict):
        # Deleted meanwhile, or queued again (that newer message will analyse it).
        return "scan_changed"


def remeasure_scan(*, user: User, scan: Scan) -> str:
    """Analyse a completed scan again, from its stored photo, with the provider as
    configured now: after the pipeline's version changed (``remeasure_scans``). The
    outcome: ``remeasured``, or, the scan keeping the analysis it has, ``image_missing``,
    ``failed`` (the provider gave nothing) or ``scan_changed`` (deleted, or changed
    meanwhile). Not counted on the person's daily allowance: the service asked, not they.
    """
    image = storage.read_scan_file(scan.image_key)
    if image is None:
        return "image_missing"
    try:
        analysis = provider_analysis(user=user, scan=scan, image_jpeg=image)
    except AnalysisFailed as failure:
        logger.warning(
            "scan not measured again", extra={"scan_id": scan.scan_id, "reason": failure.reason}
        )
        return "failed"
    except Exception:
        # A provider bug ends this scan's turn, not the whole run.
        logger.exception(
            "scan not measured again: analysis crashed", extra={"scan_id": scan.scan_id}
        )
        return "failed"
    try:
        scans_table().update(
            scan.user_id,
            scan.scan_id,
            changes={"analysis": analysis.to_dict(), "updated_at": now_iso()},
            expected_version=scan.version,
        )
    except (ItemNotFound, VersionConflict):
        return "scan_changed"
    return "remeasured"


def keep_past_quota(scan: Scan, *, refuse: bool) -> Scan:
    updated = record(scan, status="pending", failure_reason=QUOTA_REASON, analysis=None)
    if refuse:
        raise AnalysisQuotaExceeded(seconds_until_reset())
    return updated


def analyze_image(*, user: User, scan: Scan, image_jpeg: bytes) -> Scan:
    """Run the provider on the image and record the outcome (the quota is already counted).

    ``user`` is read as stored: ``run_analysis`` reads the request's user again, and
    the analysis job (``analyze_queued_scan``) reads the user itself.
    """
    try:
        analysis = provider_analysis(user=user, scan=scan, image_jpeg=image_jpeg)
    except AnalysisFailed as failure:
        if failure.reason not in COUNTED_FAILURES:
            ANALYSES.give_back(scan.user_id)
        return record(scan, status="failed", failure_reason=failure.reason, analysis=None)
    except Exception:
        # A provider bug must not cost the user their upload: the scan stays, failed.
        logger.exception("analysis crashed", extra={"scan_id": scan.scan_id})
        ANALYSES.give_back(scan.user_id)
        return record(scan, status="failed", failure_reason="provider_unavailable", analysis=None)
    return record(scan, status="complete", failure_reason=None, analysis=analysis.to_dict())


def provider_analysis(*, user: User, scan: Scan, image_jpeg: bytes) -> SkinAnalysis:
    """The configured provider's analysis of the scan's photo, for ``user``'s profile
    (``AnalysisFailed`` when it gives none)."""
    provider = get_provider()
    with telemetry.ai_call(use="analysis", provider=provider):
        return provider.analyze_skin(
            image_jpeg=image_jpeg, area=scan.area, profile=skin_profile_of(user)
        )


def record(
    scan: Scan, *, status: str, failure_reason: str | None, analysis: dict[str, Any] | None
) -> Scan:
    timestamp = now_iso()
    changes: dict[str, Any] = {
        "status": status,
        "failure_reason": failure_reason,
        "updated_at": timestamp,
    }
    if analysis is not None or status != "pending":
        changes["analysis"] = analysis
    failure_log_id = failed_analysis_id(failed_at=timestamp) if status == "failed" else None
    if failure_log_id is not None:
        # Kept on the scan before the entry is written, so that deleting the scan or
        # erasing the account finds the entry by key.
        changes["failure_log_ids"] = [
            *failed_analysis_ids_kept(scan.failure_log_ids),
            failure_log_id,
        ]
    if status != "pending":
        # A finished scan is no worker's to analyse: an analysis worker's claim ends
        # with this write, not with one more write of the whole item.
        changes.update(dict.fromkeys(CLAIM_ATTRIBUTES))
    updated = scans_table().update(
        scan.user_id, scan.scan_id, changes=changes, expected_version=scan.version
    )
    was_failed, is_failed = scan.status == "failed", updated.status == "failed"
    if was_failed != is_failed:
        # The write above held at ``scan.version``, so the status really moved from
        # ``scan.status``: the account's count of failed scans moves with it.
        users_table().count_activity(scan.user_id, counts={"failed_scans": 1 if is_failed else -1})
    if failure_log_id is not None:
        log_failed_analysis(
            updated, entry_id=failure_log_id, reason=failure_reason or "provider_unavailable"
        )
    if status in ("complete", "failed"):
        telemetry.analysis_finished(status=status, failure_reason=failure_reason)
    return updated


def log_failed_analysis(scan: Scan, *, entry_id: str, reason: str) -> None:
    """Tell the ops dashboard (the scans table has no index by status to find failures)."""
    try:
        audit_table().record_failed_analysis(
            user_id=scan.user_id, scan_id=scan.scan_id, reason=reason, entry_id=entry_id
        )
    except DynamoError:
        # The scan itself says it failed; a missed dashboard line must not fail the request.
        logger.warning("failed analysis not logged", extra={"scan_id": scan.scan_id})


def image_is_stored(key: str) -> bool:
    try:
        return storage.scan_storage().exists(key)
    except storage.storage_errors() as err:
        raise storage.StorageUnavailable() from err


def delete_scan(*, user_id: str, scan_id: str) -> None:
    """Remove the image, thumbnail and overlays, then the item; re-running finishes the job."""
    scans = scans_table()
    scan = scans.get(user_id, scan_id, consistent=True)
    if scan is None:
        raise ScanNotFound()
    storage.delete_scan_files(scan_file_keys(scan))
    scans.delete(user_id, scan_id)


def scan_file_keys(scan: Scan) -> list[str]:
    from ai.offline import OVERLAY_METRICS

    overlays = [storage.overlay_key(scan.user_id, scan.scan_id, m) for m in OVERLAY_METRICS]
    return [scan.image_key, *([scan.thumbnail_key] if scan.thumbnail_key else []), *overlays]


def overlay_for_scan(*, user_id: str, scan_id: str, metric: str) -> bytes:
    """The scan's PNG overlay for ``metric``: made once from the pixels, then stored."""
    from ai.offline import render_overlay

    scan = scans_table().get(user_id, scan_id)
    if scan is None:
        raise ScanNotFound()
    key = storage.overlay_key(user_id, scan_id, metric)
    overlay = storage.read_scan_file(key)
    if overlay is None:
        image = storage.read_scan_file(scan.image_key)
        if image is None:
            raise ScanImageMissing()
        overlay = in_photo_process(render_overlay, image, metric)
        storage.save_scan_file(key, overlay)
        if scans_table().get(user_id, scan_id, consistent=True) is None:
            # Deleted, or erased with its account, while the overlay was drawn: the
            # sweep may have passed already, and no file may outlive its scan.
            storage.delete_scan_files([key])
            raise ScanNotFound()
    return overlay
