"""The work slots of AI requests (``dermalens_site.concurrency``): a few compute at once
per worker, any number wait on the AI, and only the AI's routes take one.

Greenlets stand for the requests of one gevent worker; the serving tests
(tests/test_serving.py) show the same through gunicorn. The DynamoDB calls are real
(DynamoDB Local); a hook that sleeps in ``before-send`` stands for the time a call is
on the wire, during which the other greenlets run.
"""

import time

import gevent
import pytest
from django.urls import resolve

from dermalens_site.concurrency import WorkGate, waiting
from dermalens_site.middleware import AIWorkSlotMiddleware, slot_kind
from dynamo.client import get_client
from dynamo.tests.factories import new_user_id
from dynamo.users import users_table

ULID = "01JB0000000000000000000000"


def test_a_few_requests_work_at_once_and_all_of_them_wait_on_the_ai_together():
    gate = WorkGate(slots=2, calls=2)
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
    gate = WorkGate(slots=1, calls=1)

    def failing() -> None:
        with gate.occupied(), waiting():
            raise RuntimeError("Gemini is down")

    with pytest.raises(RuntimeError):
        failing()
    assert gate.in_use() == 0
    with gate.occupied():  # the next request gets it
        assert gate.in_use() == 1


def test_waiting_without_a_slot_changes_nothing():
    gate = WorkGate(slots=1, calls=1)
    with waiting():  # a job or a test calling Gemini: no slot to give back
        assert gate.in_use() == 0


def test_an_answer_from_the_ai_is_handled_after_the_work_already_waiting_then():
    """What a request does with Gemini's answer is work that came when the answer did:
    behind the requests waiting then, before the ones that come after it."""
    gate = WorkGate(slots=1, calls=1)
    turns = []

    def request(name: str, ai_seconds: float = 1.0) -> None:
        with gate.occupied():
            turns.append(f"{name} prepares")
            gevent.sleep(0.02)
            with waiting():
                gevent.sleep(ai_seconds)
            turns.append(f"{name} stores")

    first = gevent.spawn(request, "first", ai_seconds=0.01)
    gevent.sleep(0)  # the first takes the slot; the burst queues behind it
    burst = [gevent.spawn(request, f"burst-{n}") for n in range(3)]
    gevent.sleep(0.05)  # the first's answer is in, burst-0 prepares
    later = gevent.spawn(request, "later")
    gevent.joinall([first, *burst, later], raise_error=True)

    assert turns[:6] == [
        "first prepares",
        "burst-0 prepares",
        "burst-1 prepares",
        "burst-2 prepares",
        "first stores",
        "later prepares",
    ]
    assert gate.in_use() == 0


def test_a_request_that_gives_up_waiting_leaves_the_queue_and_the_slot_goes_on():
    gate = WorkGate(slots=1, calls=1)
    served = []

    def request(name: str) -> None:
        with gate.occupied():
            served.append(name)
            gevent.sleep(0.05)

    holder = gevent.spawn(request, "holder")
    gevent.sleep(0)
    leaving = gevent.spawn(request, "leaving")
    staying = gevent.spawn(request, "staying")
    gevent.sleep(0.01)
    leaving.kill()  # the client went away, or the worker's timeout struck

    gevent.joinall([holder, staying], timeout=5, raise_error=True)
    assert served == ["holder", "staying"]
    assert gate.in_use() == 0
    with gate.occupied():
        assert gate.in_use() == 1


@pytest.fixture
def on_the_wire():
    """The gate's state each time a DynamoDB call goes out (after the slot was given
    back), each call then kept on the wire for 50 ms while other greenlets run."""
    AIWorkSlotMiddleware(lambda request: None)  # loaded as a worker loads it
    seen: list[tuple[int, int]] = []
    gates: list[WorkGate] = []

    def observe(**kwargs) -> None:
        if gates:
            seen.append((gates[0].in_use(), gates[0].calls_in_flight()))
        gevent.sleep(0.05)

    events = get_client().meta.events
    events.register_last("before-send.dynamodb", observe)
    yield gates, seen
    events.unregister("before-send.dynamodb", observe)


def test_a_request_gives_its_slot_back_while_its_dynamodb_call_is_on_the_wire(on_the_wire):
    gates, seen = on_the_wire
    user_id = new_user_id()
    gate = WorkGate(slots=1, calls=1)
    gates.append(gate)

    with gate.occupied():
        assert users_table().get(user_id).user_id == user_id
        # Answered: the request holds its slot again, and nothing is on the wire.
        assert (gate.in_use(), gate.calls_in_flight()) == (1, 0)

    assert seen == [(0, 1)]
    assert (gate.in_use(), gate.calls_in_flight()) == (0, 0)


def test_a_failed_dynamodb_call_gives_the_wire_back_and_the_slot_too(on_the_wire):
    gates, _ = on_the_wire
    gate = WorkGate(slots=1, calls=1)
    gates.append(gate)

    with pytest.raises(Exception, match="ResourceNotFoundException"), gate.occupied():
        get_client().get_item(TableName="no-such-table", Key={"k": {"S": "x"}})

    assert (gate.in_use(), gate.calls_in_flight()) == (0, 0)
    with gate.occupied():  # the next request gets both
        users_table().get(new_user_id())


def test_while_calls_are_on_the_wire_other_requests_compute_and_the_wire_stays_bounded(
    on_the_wire,
):
    gates, seen = on_the_wire
    user_ids = [new_user_id() for _ in range(8)]
    gate = WorkGate(slots=2, calls=3)
    gates.append(gate)

    def request(user_id: str) -> None:
        with gate.occupied():
            for _ in range(2):
                users_table().get(user_id)

    started = time.monotonic()
    gevent.joinall([gevent.spawn(request, u) for u in user_ids], raise_error=True)
    elapsed = time.monotonic() - started

    assert len(seen) == 16
    assert max(in_flight for _, in_flight in seen) == 3
    # Slots held through the calls would have sent them two at a time: 8 rounds of
    # 50 ms. Three on the wire at once take about 16 / 3 of them.
    assert elapsed < 0.65
    assert (gate.in_use(), gate.calls_in_flight()) == (0, 0)


def test_a_request_back_from_its_dynamodb_call_keeps_its_place_in_the_queue(on_the_wire):
    """gevent's Semaphore would put it behind every request that queued meanwhile: a
    burst's requests would take turns call by call and all finish at its end."""
    gates, _ = on_the_wire
    user_ids = [new_user_id() for _ in range(6)]
    gate = WorkGate(slots=1, calls=6)
    gates.append(gate)
    turns = []

    def request(n: int) -> None:
        with gate.occupied():
            turns.append(f"{n} starts")
            gevent.sleep(0.02)  # its own work
            users_table().get(user_ids[n])  # 50 ms on the wire, no slot held
            gevent.sleep(0.02)
            turns.append(f"{n} done")

    gevent.joinall([gevent.spawn(request, n) for n in range(6)], raise_error=True)

    # Back from its call, the first went before the requests that came after it (in
    # gevent's order the last two would have started first).
    assert turns.index("0 done") < turns.index("5 starts")
    assert [turn for turn in turns if turn.endswith("done")] == [f"{n} done" for n in range(6)]
    assert (gate.in_use(), gate.calls_in_flight()) == (0, 0)


@pytest.mark.parametrize(
    ("method", "path", "kind"),
    [
        ("POST", f"/api/v1/chat/sessions/{ULID}/messages", "ai"),
        ("GET", f"/api/v1/chat/sessions/{ULID}/messages", None),
        ("POST", "/api/v1/chat/sessions", None),
        ("POST", "/api/v1/scans", "photo"),
        ("POST", f"/api/v1/scans/{ULID}/analyze", "photo"),
        ("GET", "/api/v1/scans", None),
        ("POST", "/api/v1/plans", "ai"),
        ("GET", "/api/v1/plans", None),
        ("GET", "/api/v1/users/me", None),
    ],
)
def test_only_the_routes_that_call_the_ai_or_work_on_a_photo_take_a_slot(method, path, kind):
    assert slot_kind(resolve(path).func, method) == kind


def test_photo_work_has_slots_of_its_own_beside_the_ai_slots():
    """A burst of uploads takes the photo slots; a chat message still finds an AI slot."""
    from gevent.lock import Semaphore

    middleware = AIWorkSlotMiddleware(lambda request: None)
    ai, photo = WorkGate(slots=2, calls=3), WorkGate(slots=1, calls=3)
    middleware.gates = {"ai": ai, "photo": photo}  # a gevent worker's, sized down
    holding = Semaphore(0)
    seen = []

    def view(kind):
        def run(request):
            seen.append((kind, ai.in_use(), photo.in_use()))
            holding.acquire()

        run.cls = type("View", (), {f"{kind}_actions": frozenset({"post"})})
        return run

    def send(kind):
        request = type("Request", (), {"method": "POST"})()
        return gevent.spawn(middleware.process_view, request, view(kind), (), {})

    uploads = [send("photo") for _ in range(3)]
    chat = send("ai")
    gevent.sleep(0.05)

    # One upload works, two wait for the photo slot; the chat message is not behind them.
    assert seen == [("photo", 0, 1), ("ai", 1, 1)]
    for _ in range(4):
        holding.release()
    gevent.joinall([*uploads, chat], timeout=5)
    assert len(seen) == 4 and (ai.in_use(), photo.in_use()) == (0, 0)
