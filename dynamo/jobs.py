"""The jobs table: the state of work that runs outside a request, in its owner's partition.

    jobs = jobs_table()
    jobs.create(job)                                   # while the account is open
    jobs.record(user_id, job_id, status="running", done_items=200)
    job = jobs.get(user_id, job_id)

A job record says what a person asked for (``kind``, and the ``subject_id`` it is about,
such as a chat session), where it is (``queued``, ``running``, ``done``, ``failed``) and how
far it got (``done_items``). It holds ids and counts only, never content. Records expire
through TTL ``JOB_RECORD_DAYS`` after they were made; an erasure sweeps the partition
with the rest of the account.

The partition also holds the Idempotency-Keys of chat messages and plan requests
(``dynamo.request_keys``: "request-key#..." sorts after every job's ULID, and the job
endpoint looks up ULIDs only), for the same TTL and the same erasure.
"""

import contextlib
import functools
from dataclasses import dataclass

from dynamo.base import Table
from dynamo.codec import Item, to_item
from dynamo.errors import AccountClosed, ConditionFailed
from dynamo.tables import JOBS
from dynamo.users import account_open_check

JOB_STATUSES = ("queued", "running", "done", "failed")
# Long enough to look at a finished job's outcome, short enough to keep no history.
JOB_RECORD_DAYS = 7


@dataclass(frozen=True, slots=True)
class Job:
    user_id: str
    job_id: str
    kind: str
    status: str
    created_at: str
    updated_at: str
    expires_at: int
    subject_id: str | None = None
    done_items: int = 0
    error: str | None = None


def job_from_item(item: Item) -> Job:
    subject = item.get("subject_id")
    error = item.get("error")
    return Job(
        user_id=item["user_id"]["S"],
        job_id=item["job_id"]["S"],
        kind=item["kind"]["S"],
        status=item["status"]["S"],
        created_at=item["created_at"]["S"],
        updated_at=item["updated_at"]["S"],
        expires_at=int(item["expires_at"]["N"]),
        subject_id=subject["S"] if subject else None,
        done_items=int(item.get("done_items", {"N": "0"})["N"]),
        error=error["S"] if error else None,
    )


def job_to_item(job: Job) -> Item:
    return to_item(
        {
            "user_id": job.user_id,
            "job_id": job.job_id,
            "kind": job.kind,
            "status": job.status,
            "created_at": job.created_at,
            "updated_at": job.updated_at,
            "expires_at": job.expires_at,
            "subject_id": job.subject_id,
            "done_items": job.done_items,
            "error": job.error,
        }
    )


class JobsTable(Table):
    definition = JOBS

    def key(self, user_id: str, job_id: str) -> Item:
        return {"user_id": {"S": user_id}, "job_id": {"S": job_id}}

    def create(self, job: Job) -> None:
        """Store a new job while its account is open (else ``AccountClosed``)."""
        put = {
            "TableName": self.name,
            "Item": job_to_item(job),
            "ConditionExpression": "attribute_not_exists(job_id)",
        }
        self.transact_write(
            [account_open_check(job.user_id), {"Put": put}],
            refused=ConditionFailed,
            refused_at={0: AccountClosed},
        )

    def get(self, user_id: str, job_id: str) -> Job | None:
        item = self.get_item(self.key(user_id, job_id), consistent=True)
        return job_from_item(item) if item else None

    def record(
        self,
        user_id: str,
        job_id: str,
        *,
        status: str,
        updated_at: str,
        done_items: int | None = None,
        error: str | None = None,
    ) -> None:
        """Say where a job is. A record that is gone (erased, expired) stays gone."""
        if status not in JOB_STATUSES:
            raise ValueError(f"status must be one of {JOB_STATUSES}")
        sets = ["#status = :status", "updated_at = :now"]
        values = {":status": {"S": status}, ":now": {"S": updated_at}}
        if done_items is not None:
            sets.append("done_items = :done")
            values[":done"] = {"N": str(done_items)}
        if error is not None:
            sets.append("#error = :error")
            values[":error"] = {"S": error}
        with contextlib.suppress(ConditionFailed):
            self.call(
                "update_item",
                Key=self.key(user_id, job_id),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(job_id)",
                ExpressionAttributeNames={"#status": "status", "#error": "error"}
                if error is not None
                else {"#status": "status"},
                ExpressionAttributeValues=values,
            )


@functools.cache
def jobs_table() -> JobsTable:
    return JobsTable()
