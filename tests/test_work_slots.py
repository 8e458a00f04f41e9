"""The work slots of AI requests (``dermalens_site.concurrency``): a few compute at once
per worker, any number wait on the AI, and only the AI's routes take one.

Greenlets stand for the requests of one gevent worker; the serving tests
(tests/test_serving.py) show the same through gunicorn.
"""

import time

import gevent
import pytest
from django.urls import resolve

from dermalens_site.concurrency import WorkGate, waiting
from dermalens_site.middleware import calls_the_ai

ULID = "01JB0000000000000000000000"


def test_a_few_requests_work_at_once_and_all_of_them_wait_on_the_ai_together():
    gate = WorkGate(slots=2)
    working = []
    most_working = 0

    def request() -> None:
        nonlocal most_working
        with gate.occupied():
            working.append(1)
            most_working = max(most_working, len(working))
            gevent.sleep(0.01)  # its own reads and writes
            working.pop()
            with waiting():
                gevent.sleep(0.3)  # Gemini thinking: no slot held
            working.append(1)
            most_working = max(most_working, len(working))
            gevent.sleep(0.01)  # storing the reply
            working.pop()

    started = time.monotonic()
    gevent.joinall([gevent.spawn(request) for _ in range(20)], raise_error=True)
    elapsed = time.monotonic() - started

    assert most_working == 2
    # The twenty waits overlap: about one wait, not ten rounds of it (3 s).
    assert elapsed < 1.2
    assert gate.in_use() == 0


def test_a_slot_is_given_back_when_the_request_fails():
    gate = WorkGate(slots=1)

    def failing() -> None:
        with gate.occupied(), waiting():
            raise RuntimeError("Gemini is down")

    with pytest.raises(RuntimeError):
        failing()
    assert gate.in_use() == 0
    with gate.occupied():  # the next request gets it
        assert gate.in_use() == 1


def test_waiting_without_a_slot_changes_nothing():
    gate = WorkGate(slots=1)
    with waiting():  # a job or a test calling Gemini: no slot to give back
        assert gate.in_use() == 0


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", f"/api/v1/chat/sessions/{ULID}/messages", True),
        ("GET", f"/api/v1/chat/sessions/{ULID}/messages", False),
        ("POST", "/api/v1/chat/sessions", False),
        ("POST", "/api/v1/scans", True),
        ("POST", f"/api/v1/scans/{ULID}/analyze", True),
        ("GET", "/api/v1/scans", False),
        ("POST", "/api/v1/plans", True),
        ("GET", "/api/v1/plans", False),
        ("GET", "/api/v1/users/me", False),
    ],
)
def test_only_the_routes_that_call_the_ai_take_a_slot(method, path, expected):
    assert calls_the_ai(resolve(path).func, method) is expected
