"""A web worker is ready before its first request: ``dermalens_site.wsgi`` builds at import
what the first requests would otherwise build while a burst waits behind them.

Checked in a process of its own, patched as a gevent worker is, with S3, SES and a
jobs queue configured at addresses where nothing listens: the clients are made, and no
request is sent for them.
"""

import statistics

from dynamo.local import free_port
from tests.fake_gemini import FakeResponse
from tests.gevent_process import run_patched, run_patched_with_gemini

WORKER_START = """
import json
import sys

import dermalens_site.wsgi  # what gunicorn imports in each worker
from dermalens_site import celery, ses
from dynamo import client
from scans import storage

views = ("scans.views", "chat.views", "plans.views")
print(json.dumps({
    "views_imported": all(name in sys.modules for name in views),
    "jwt_imported": "jwt.algorithms" in sys.modules,
    "dynamodb_clients": len(client.made_clients()),  # the shared one, the status checks'
    "sqs_clients": len(celery._sqs_clients),
    "s3_connection": getattr(storage.scan_storage()._connections, "connection", None) is not None,
    "ses_clients": len(ses._clients),
}))
"""


def test_a_worker_makes_its_clients_and_imports_its_views_before_the_first_request():
    nowhere = f"http://127.0.0.1:{free_port()}"
    ready = run_patched(
        WORKER_START,
        S3_BUCKET_NAME="dermalens-start-test",
        AWS_S3_ENDPOINT=nowhere,
        ANALYSIS_QUEUE_URL=f"{nowhere}/123456789012/dermalens-jobs",
        AWS_SQS_ENDPOINT=nowhere,
        EMAIL_BACKEND="dermalens_site.ses.SESBackend",
        AWS_SES_ENDPOINT=nowhere,
    )

    assert ready == {
        "views_imported": True,
        "jwt_imported": True,
        "dynamodb_clients": 2,
        "sqs_clients": 1,
        "s3_connection": True,
        "ses_clients": 1,
    }


FIRST_GEMINI_CALLS = """
import json
import time

import dermalens_site.wsgi  # a worker's start: the AI providers are made
from ai.chat import ChatContext
from ai.providers import get_provider

chat = get_provider("chat")
cpu_seconds = []
for _ in range(4):
    started = time.process_time()
    chat.reply(context=ChatContext(), history=[], message="Is retinol safe?")
    cpu_seconds.append(time.process_time() - started)
print(json.dumps(cpu_seconds))
"""


def test_a_fresh_workers_first_gemini_call_costs_about_what_the_next_ones_do():
    """google-genai builds its pydantic models on first use: in a worker's first chat
    reply that was ten times a later reply's CPU, while the worker's other requests
    waited. The worker builds them as it starts."""
    answer = FakeResponse.text_answer("Yes, at night.")
    first, *later = run_patched_with_gemini(FIRST_GEMINI_CALLS, answer, GEMINI_MAX_ATTEMPTS="1")

    assert first < 5 * statistics.median(later)
