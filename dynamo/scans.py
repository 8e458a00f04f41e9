"""The scans table: one item per skin scan, in the owner's partition, newest last.

    scans = scans_table()
    scans.create(scan)
    page = scans.query_page(user_id, limit=20, cursor=None)

``scan_id`` is a ULID, so the sort key orders scans by upload time; the
``scan-date-index`` LSI orders them by ``scanned_at`` for date-range queries.
"""

import contextlib
import functools
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dynamo.audit import audit_table, failed_analysis_ids_kept
from dynamo.base import Page, T, Table, item_on_failure
from dynamo.codec import Item, from_document, to_item
from dynamo.errors import AccountClosed, ConditionFailed, DynamoError, ItemNotFound
from dynamo.tables import SCANS, USERS
from dynamo.users import QuotaUsedUp, account_open_check, activity_update, users_table

IDEMPOTENCY_PREFIX = "idempotency#"
IDEMPOTENCY_SECONDS = 24 * 60 * 60
# The ends of a date range left open: below and above every stored scanned_at
# ("9999" alone sorts before a scan of 9999-12-31 and made such a range empty-ended).
EARLIEST = "0000"
LATEST = "9999-12-31T23:59:59.999999Z"


class IdempotencyKeyUsed(ConditionFailed):
    default_message = "This Idempotency-Key was used for another upload."


class IdempotencyKeyReused(ConditionFailed):
    """The key's first upload was another request (another photo, area or notes)."""

    default_message = "This Idempotency-Key was used for an upload of something else."


class IdempotentScanGone(ConditionFailed):
    """The key's first upload was stored, and its scan has been deleted since."""

    default_message = "The upload sent with this Idempotency-Key was deleted since."


class ClaimRefused(ConditionFailed):
    """A scan an analysis worker may not have; ``reason`` says why: ``scan_gone``,
    ``already_done`` (not waiting for an analysis) or ``busy`` (a live worker holds it)."""

    def __init__(self, reason: str, *, cause: BaseException | None = None):
        super().__init__(f"The scan cannot be claimed: {reason}.", cause=cause)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Scan:
    user_id: str
    scan_id: str
    status: str  # pending | complete | failed
    area: str
    scanned_at: str
    created_at: str
    updated_at: str
    image_key: str
    thumbnail_key: str | None = None
    notes: str | None = None
    analysis: dict[str, Any] | None = None
    failure_reason: str | None = None
    version: int = 1
    # The ids of its entries in the failed-analysis log (``dynamo.audit``), for as long
    # as they may be stored: deleting the scan or erasing the account deletes them by key.
    failure_log_ids: tuple[str, ...] = ()


def scan_from_item(item: Item) -> Scan:
    # Direct lookups rather than a generic deserializer: this runs for every item of
    # every list page, and the benchmark holds it to 1.10x of the raw client call.
    thumbnail = item.get("thumbnail_key")
    notes = item.get("notes")
    analysis = item.get("analysis")
    failure = item.get("failure_reason")
    failure_log = item.get("failure_log_ids")
    return Scan(
        user_id=item["user_id"]["S"],
        scan_id=item["scan_id"]["S"],
        status=item["status"]["S"],
        area=item["area"]["S"],
        scanned_at=item["scanned_at"]["S"],
        created_at=item["created_at"]["S"],
        updated_at=item["updated_at"]["S"],
        image_key=item["image_key"]["S"],
        thumbnail_key=thumbnail["S"] if thumbnail else None,
        notes=notes["S"] if notes else None,
        analysis=from_document(analysis) if analysis else None,
        failure_reason=failure["S"] if failure else None,
        version=int(item["version"]["N"]),
        failure_log_ids=tuple(v["S"] for v in failure_log["L"]) if failure_log else (),
    )


@dataclass(frozen=True, slots=True)
class ScanScores:
    """A scan as the progress chart reads it (``ScansTable.scores_page``): its place in
    time and, of its analysis, only each metric's ``score`` and ``source``, ``heuristic``,
    ``image_quality.acceptable`` and ``measured_by``. A tenth of a stored scan's bytes."""

    scan_id: str
    status: str
    area: str
    scanned_at: str
    analysis: dict[str, Any] | None = None


def scores_from_item(item: Item) -> ScanScores:
    analysis = item.get("analysis")
    return ScanScores(
        scan_id=item["scan_id"]["S"],
        status=item["status"]["S"],
        area=item["area"]["S"],
        scanned_at=item["scanned_at"]["S"],
        analysis=from_document(analysis) if analysis else None,
    )


def scores_projection(metrics: Sequence[str]) -> tuple[str, dict[str, str]]:
    """The ProjectionExpression of ``ScanScores`` for ``metrics``, with its names (every
    one a placeholder: ``status`` is a reserved word, and metric names are ours to grow)."""
    names = {
        "#status": "status",
        "#area": "area",
        "#analysis": "analysis",
        "#metrics": "metrics",
        "#score": "score",
        "#source": "source",
        "#heuristic": "heuristic",
        "#quality": "image_quality",
        "#acceptable": "acceptable",
        "#measured_by": "measured_by",
    }
    paths = [
        "scan_id",
        "scanned_at",
        "#status",
        "#area",
        "#analysis.#heuristic",
        "#analysis.#quality.#acceptable",
        "#analysis.#measured_by",
    ]
    for number, metric in enumerate(metrics):
        names[f"#m{number}"] = metric
        paths += [f"#analysis.#metrics.#m{number}.#score", f"#analysis.#metrics.#m{number}.#source"]
    return ", ".join(paths), names


def scan_to_item(scan: Scan) -> Item:
    return to_item(
        {
            "user_id": scan.user_id,
            "scan_id": scan.scan_id,
            "status": scan.status,
            "area": scan.area,
            "scanned_at": scan.scanned_at,
            "created_at": scan.created_at,
            "updated_at": scan.updated_at,
            "image_key": scan.image_key,
            "thumbnail_key": scan.thumbnail_key,
            "notes": scan.notes,
            "analysis": scan.analysis,
            "failure_reason": scan.failure_reason,
            "version": scan.version,
            "failure_log_ids": list(scan.failure_log_ids) or None,
        }
    )


class ScansTable(Table):
    definition = SCANS

    def get(self, user_id: str, scan_id: str, *, consistent: bool = False) -> Scan | None:
        key = {"user_id": {"S": user_id}, "scan_id": {"S": scan_id}}
        item = self.get_item(key, consistent=consistent)
        return scan_from_item(item) if item else None

    def get_many(self, user_id: str, scan_ids: list[str]) -> dict[str, Scan]:
        """Several of the user's scans by id (one BatchGetItem per 100 ids)."""
        keys = [{"user_id": {"S": user_id}, "scan_id": {"S": s}} for s in scan_ids]
        return {scan.scan_id: scan for scan in map(scan_from_item, self.batch_get(keys))}

    def create(
        self,
        scan: Scan,
        *,
        idempotency_key: str | None = None,
        request_digest: str | None = None,
        now: int = 0,
        quota: dict[str, Any] | None = None,
    ) -> None:
        """Store a new scan while its account is open; with an idempotency key, claim the
        key in the same transaction (with the ``request_digest`` of what was uploaded),
        and with ``quota`` (a ``daily_quota_update``) count the use of an allowance in it
        too.

        ``AccountClosed`` means the account is gone or being erased (nothing is written);
        ``IdempotencyKeyUsed`` means another upload holds the key (find it with
        ``find_by_idempotency_key``); ``QuotaUsedUp`` means the allowance is used up
        (nothing is written). A replayed key is told before a used-up allowance.
        """
        put = {
            "TableName": self.name,
            "Item": scan_to_item(scan),
            "ConditionExpression": "attribute_not_exists(scan_id)",
        }
        counted = activity_update(
            scan.user_id,
            counts={"scans": 1, **({"failed_scans": 1} if scan.status == "failed" else {})},
            latest={"last_scan_at": scan.created_at},
        )
        actions: list[dict[str, Any]] = [
            account_open_check(scan.user_id),
            {"Update": counted},
            {"Put": put},
        ]
        if idempotency_key is not None:
            claim = to_item(
                {
                    "user_id": idempotency_claim_id(scan.user_id, idempotency_key),
                    "item_type": "idempotency_key",
                    "scan_id": scan.scan_id,
                    "request_digest": request_digest,
                    "expires_at": now + IDEMPOTENCY_SECONDS,
                }
            )
            actions.append(
                {
                    "Put": {
                        "TableName": USERS.name,
                        "Item": claim,
                        "ConditionExpression": "attribute_not_exists(user_id)",
                    }
                }
            )
        refused_at: dict[int, type[DynamoError]] = {0: AccountClosed}
        if quota is not None:
            refused_at[len(actions)] = QuotaUsedUp
            actions.append({"Update": quota})
        self.transact_write(actions, refused=IdempotencyKeyUsed, refused_at=refused_at)

    def find_by_idempotency_key(
        self, user_id: str, idempotency_key: str, *, request_digest: str | None = None
    ) -> Scan | None:
        """The scan first uploaded with this key, if any; ``IdempotencyKeyReused`` when
        that upload's digest differs from ``request_digest`` (a claim stored without
        one matches any), ``IdempotentScanGone`` when its scan was deleted since."""
        claim = self.call_client(
            "get_item",
            TableName=USERS.name,
            Key={"user_id": {"S": idempotency_claim_id(user_id, idempotency_key)}},
            ConsistentRead=True,
        ).get("Item")
        if claim is None:
            return None
        stored_digest = claim.get("request_digest")
        if request_digest and stored_digest and stored_digest["S"] != request_digest:
            raise IdempotencyKeyReused()
        scan = self.get(user_id, claim["scan_id"]["S"], consistent=True)
        if scan is None:
            raise IdempotentScanGone()
        return scan

    def update(
        self,
        user_id: str,
        scan_id: str,
        *,
        changes: Mapping[str, Any],
        expected_version: int | None = None,
    ) -> Scan:
        item = self.update_versioned(
            {"user_id": {"S": user_id}, "scan_id": {"S": scan_id}},
            changes=changes,
            expected_version=expected_version,
        )
        return scan_from_item(item)

    def claim_for_analysis(
        self, user_id: str, scan_id: str, *, claim_id: str, now: int, until: int
    ) -> Scan:
        """Let one analysis worker have a pending scan until ``until`` (epoch seconds).

        SQS delivers a message at least once and a scan can be queued twice, so two
        workers may hold messages for one scan; the condition lets exactly one of them
        analyse it. A claim that outlives a crashed worker expires. Returns the scan;
        ``ClaimRefused`` says why not, from the scan as it stood (one write, no read
        before it). Recording the analysis ends the claim (``CLAIM_ATTRIBUTES``);
        ``release_claim`` ends one that recorded nothing.
        """
        try:
            response = self.call(
                "update_item",
                Key={"user_id": {"S": user_id}, "scan_id": {"S": scan_id}},
                UpdateExpression="SET claimed_until = :until, claim_id = :claim",
                ConditionExpression=(
                    "#status = :pending AND attribute_not_exists(failure_reason) AND "
                    "(attribute_not_exists(claimed_until) OR claimed_until < :now)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":until": {"N": str(until)},
                    ":claim": {"S": claim_id},
                    ":pending": {"S": "pending"},
                    ":now": {"N": str(now)},
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as err:
            raise ClaimRefused(refusal_reason(item_on_failure(err)), cause=err.cause) from err
        return scan_from_item(response["Attributes"])

    def release_claim(self, user_id: str, scan_id: str, *, claim_id: str) -> None:
        """End a worker's claim; one that expired and was taken over is left alone."""
        with contextlib.suppress(ConditionFailed):
            self.call(
                "update_item",
                Key={"user_id": {"S": user_id}, "scan_id": {"S": scan_id}},
                UpdateExpression="REMOVE claimed_until, claim_id",
                ConditionExpression="claim_id = :claim",
                ExpressionAttributeValues={":claim": {"S": claim_id}},
            )

    def query_page(
        self,
        user_id: str,
        *,
        limit: int,
        cursor: str | None = None,
        newest_first: bool = True,
        scanned_from: str | None = None,
        scanned_to: str | None = None,
    ) -> Page[Scan]:
        return self._query_scans(
            user_id,
            parse=scan_from_item,
            scope="scans",
            limit=limit,
            cursor=cursor,
            newest_first=newest_first,
            scanned_from=scanned_from,
            scanned_to=scanned_to,
        )

    def scores_page(
        self,
        user_id: str,
        *,
        metrics: Sequence[str],
        limit: int,
        cursor: str | None = None,
        scanned_from: str | None = None,
        scanned_to: str | None = None,
    ) -> Page[ScanScores]:
        """Newest first, as ``query_page``, the scans' scores of ``metrics`` alone
        (``ScanScores``); its cursors are its own."""
        projection, names = scores_projection(metrics)
        return self._query_scans(
            user_id,
            parse=scores_from_item,
            scope="scan-scores",
            limit=limit,
            cursor=cursor,
            newest_first=True,
            scanned_from=scanned_from,
            scanned_to=scanned_to,
            projection=projection,
            names=names,
        )

    def _query_scans(
        self,
        user_id: str,
        *,
        parse: Callable[[Item], T],
        scope: str,
        limit: int,
        cursor: str | None,
        newest_first: bool,
        scanned_from: str | None,
        scanned_to: str | None,
        **request: Any,
    ) -> Page[T]:
        if scanned_from is None and scanned_to is None:
            return self.query_partition(
                user_id,
                parse=parse,
                limit=limit,
                cursor=cursor,
                scope=f"{scope}:{int(newest_first)}",
                newest_first=newest_first,
                **request,
            )
        # A date range reads the LSI, whose sort key is the scan date.
        return self.query_partition(
            user_id,
            parse=parse,
            limit=limit,
            cursor=cursor,
            # The range is part of the scope: a start key outside another range is refused.
            scope=f"{scope}-by-date:{int(newest_first)}:{scanned_from}:{scanned_to}",
            newest_first=newest_first,
            index="scan-date-index",
            key_condition="user_id = :user_id AND scanned_at BETWEEN :from AND :to",
            values={":from": scanned_from or EARLIEST, ":to": scanned_to or LATEST},
            **request,
        )

    def measured_otherwise(self, engine: str, *, user_id: str | None = None) -> Iterator[Scan]:
        """The completed scans whose analysis was measured by another version of the
        pipeline than ``engine`` (or before versions were recorded): of ``user_id`` (a
        Query of its partition), or of every account (a Scan of the table, for a
        maintenance command, never an API path). A page of DynamoDB's at a time."""
        request: dict[str, Any] = {
            "FilterExpression": "#status = :complete AND (attribute_not_exists("
            "#analysis.#measured_by) OR #analysis.#measured_by <> :engine)",
            "ExpressionAttributeNames": {
                "#status": "status",
                "#analysis": "analysis",
                "#measured_by": "measured_by",
            },
            "ExpressionAttributeValues": {
                ":complete": {"S": "complete"},
                ":engine": {"S": engine},
            },
        }
        if user_id is not None:
            request["KeyConditionExpression"] = "user_id = :user_id"
            request["ExpressionAttributeValues"][":user_id"] = {"S": user_id}
        while True:
            response = self.call("query" if user_id is not None else "scan", **request)
            yield from (scan_from_item(item) for item in response["Items"])
            if "LastEvaluatedKey" not in response:
                return
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete(self, user_id: str, scan_id: str) -> Scan:
        """Delete a scan and return it (for its images); ItemNotFound if it is not there."""
        try:
            response = self.call(
                "delete_item",
                Key={"user_id": {"S": user_id}, "scan_id": {"S": scan_id}},
                ConditionExpression="attribute_exists(scan_id)",
                ReturnValues="ALL_OLD",
            )
        except ConditionFailed as err:
            raise ItemNotFound(cause=err.cause) from err
        deleted = scan_from_item(response["Attributes"])
        # The conditional delete succeeds once per scan, so the count moves once.
        failed = {"failed_scans": -1} if deleted.status == "failed" else {}
        users_table().count_activity(user_id, counts={"scans": -1, **failed})
        # No entry can be logged for it from now on (``record_failed_analysis`` checks
        # that the scan holds the entry's id), so its ids as deleted are all there are.
        audit_table().delete_failed_analyses(failed_analysis_ids_kept(deleted.failure_log_ids))
        return deleted

    def failure_log_ids_of(self, user_id: str) -> Iterator[str]:
        """The ids of the account's entries in the failed-analysis log, read from its
        scans (only that attribute, strongly consistent, every page)."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "user_id = :user_id",
            "FilterExpression": "attribute_exists(failure_log_ids)",
            "ProjectionExpression": "failure_log_ids",
            "ExpressionAttributeValues": {":user_id": {"S": user_id}},
            "ConsistentRead": True,
        }
        while True:
            response = self.call("query", **request)
            for item in response["Items"]:
                yield from failed_analysis_ids_kept(v["S"] for v in item["failure_log_ids"]["L"])
            last_key = response.get("LastEvaluatedKey")
            if not last_key:
                return
            request["ExclusiveStartKey"] = last_key


def idempotency_claim_id(user_id: str, idempotency_key: str) -> str:
    # Hashed: the key is the client's text, and its length and content are theirs.
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
    return f"{IDEMPOTENCY_PREFIX}{user_id}#{digest}"


# What a write of a finished analysis removes: the claim of the worker that made it.
CLAIM_ATTRIBUTES = ("claimed_until", "claim_id")


def refusal_reason(item: Item | None) -> str:
    """Why a scan stored as ``item`` could not be claimed (``claim_for_analysis``)."""
    if item is None:
        return "scan_gone"
    if item.get("status", {}).get("S") != "pending" or "failure_reason" in item:
        return "already_done"
    return "busy"


@functools.cache
def scans_table() -> ScansTable:
    return ScansTable()
