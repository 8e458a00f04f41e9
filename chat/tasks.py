"""Chat jobs: deleting a session, whose messages can run to thousands.

delete_session.delay(user_id=u, job_id=j, session_id=s)   # via jobs.services.start_job
"""

import contextlib

from celery import shared_task

from dynamo.chat import SessionNotFound, chat_table
from jobs.services import job_progress


@shared_task(name="chat.delete_session")
def delete_session(*, user_id: str, job_id: str, session_id: str) -> None:
    """Delete the session's messages (counted in the job's ``done_items``), then the session.

    Safe to run twice: a second run finds less, or nothing, to delete.
    """
    # SessionNotFound: an earlier delivery of this job finished it.
    with (
        job_progress(user_id=user_id, job_id=job_id) as advance,
        contextlib.suppress(SessionNotFound),
    ):
        chat_table().delete_session(user_id, session_id, on_progress=advance)
