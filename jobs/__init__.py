"""Jobs: work that runs outside an HTTP request, on Celery workers fed by SQS.

    from jobs.services import enqueue, start_job
    enqueue(send_email, to=address)                     # any @shared_task, fire and forget
    job = start_job(user_id=u, kind="delete_chat_session", subject_id=s, task=delete_session)

``GET /api/v1/jobs/{job_id}`` shows a job that ``start_job`` recorded to its owner.
"""
