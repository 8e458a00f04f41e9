"""Reads of jobs: one job of the caller's."""

from dynamo.jobs import Job, jobs_table


def get_job(*, user_id: str, job_id: str) -> Job | None:
    return jobs_table().get(user_id, job_id)
