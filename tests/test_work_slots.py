"""The work slots of AI requests (``dermalens_site.concurrency``): a few compute at once
per worker, any number wait on the AI, and only the AI's routes take one.

Greenlets stand for the requests of one gevent worker; the serving tests
(tests/test_serving.py) show the same through gunicorn. The DynamoDB calls are real
(DynamoDB Local); a hook that sleeps in ``before-send`` stands for the time a call is
on the wire, during which the other greenlets run. Calls to the AI go through an httpx
client with the work-slot hooks, whose transport sleeps as Gemini thinks; the last test
checks the real Gemini client against the fake Gemini server, in a process patched as a
worker is.
"""

import dataclasses
import time
from collections.abc import Iterable

import gevent
import httpx2
import pytest
from django.urls import resolve

from dermalens_site.concurrency import WorkGate, calling_out, http_call_hooks
from dermalens_site.middleware import AIWorkSlotMiddleware, slot_kind
from dynamo.client import get_client
from dynamo.tests.factories import new_user_id
from dynamo.users import users_table
from tests.fake_gemini import FakeResponse
from tests.gevent_process import run_patched_with_gemini

ULID = "01JB0000000000000000000000"


def ai_client(seconds: float = 0.3, statuses: Iterable[int] = ()) -> httpx2.Client:
    """An HTTP client with the work-slot hooks, as the Gemini client has: each call is on
    the wire for ``seconds`` (its ``X-Seconds`` header if it has one) while the other
    greenlets run, then answered ``statuses`` in turn, and 200 after them."""
    answers = iter(statuses)

    def answer(request: httpx2.Request) -> httpx2.Response:
        gevent.sleep(float(request.headers.get("X-Seconds", seconds)))
        return httpx2.Response(next(answers, 200), json={})

    return httpx2.Client(
        base_url="http://ai.test",
        transport=httpx2.MockTransport(answer),
        event_hooks=http_call_hooks(),
    )


def test_a_few_requests_work_at_once_and_all_of_them_wait_on_the_ai_together():
    gate = WorkGate(slots=2, calls=2)
    ai = ai_client(seconds=0.3)
    working = []
    most_working = 0

    def request() -> None:
        nonlocal most_working
        with gate.occupied():
            working.append(1)
            most_working = max(most_working, len(working))
            gevent.sleep(0.01)  # its own reads and writes
            working.pop()
            with calling_out():
                ai.post("/generate")  # Gemini thinking: no slot held
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


def test_the_slot_is_kept_to_build_the_call_and_read_the_answer_and_free_on_the_wire():
    """google-genai turns the request into JSON and the answer into objects: work of the
    request's own, done in its slot, so that a burst's answers are not read all at once."""
    gate = WorkGate(slots=1, calls=1)
    ai = ai_client(seconds=0.2)
    turns = []

    def caller() -> None:
        with gate.occupied(), calling_out():
            turns.append("caller builds its call")
            gevent.sleep(0.05)  # stands for the CPU the building takes
            response = ai.post("/generate")
            turns.append(f"caller reads the answer ({gate.in_use()} slot in use)")
            gevent.sleep(0.05)
            turns.append(f"caller done ({response.status_code})")

    def other() -> None:
        with gate.occupied():
            turns.append("other works")

    first = gevent.spawn(caller)
    gevent.sleep(0)  # the caller holds the slot; the other request queues for it
    gevent.joinall([first, gevent.spawn(other)], raise_error=True)

    assert turns == [
        "caller builds its call",
        "other works",
        "caller reads the answer (1 slot in use)",
        "caller done (200)",
    ]
    assert gate.in_use() == 0


def comes_later(gate: WorkGate, turns: list[str], seconds: float = 0.1) -> None:
    """Another request, coming ``seconds`` after the first: it works once it has a slot."""
    gevent.sleep(seconds)
    with gate.occupied():
        turns.append("other works")


def test_after_an_error_answer_the_slot_stays_free_through_the_back_off():
    gate = WorkGate(slots=1, calls=1)
    ai = ai_client(seconds=0.02, statuses=[503])
    turns = []

    def caller() -> None:
        with gate.occupied(), calling_out():
            turns.append(f"caller got {ai.post('/generate').status_code}")
            gevent.sleep(0.2)  # the back-off before trying again
            turns.append(f"caller got {ai.post('/generate').status_code}")
            turns.append(f"caller reads the answer ({gate.in_use()} slot in use)")
        turns.append("caller done")

    # The other comes during the back-off.
    gevent.joinall([gevent.spawn(caller), gevent.spawn(comes_later, gate, turns)], raise_error=True)

    assert turns == [
        "caller got 503",
        "other works",
        "caller got 200",
        "caller reads the answer (1 slot in use)",
        "caller done",
    ]
    assert gate.in_use() == 0


def test_a_streamed_answer_leaves_the_slot_free_until_its_first_words():
    """A stream's headers come at once, its first words when the model has them: the
    slot is taken again when the block that waits for them ends, not at the headers."""
    gate = WorkGate(slots=1, calls=1)
    ai = ai_client(seconds=0.02)
    turns = []

    def caller() -> None:
        with gate.occupied():
            with calling_out(until_block_ends=True):
                ai.post("/stream")  # the headers
                turns.append(f"caller has the headers ({gate.in_use()} slot in use)")
                gevent.sleep(0.2)  # the model's first words are on their way
            turns.append(f"caller reads the first words ({gate.in_use()} slot in use)")

    # The other comes while the caller waits for the first words.
    gevent.joinall([gevent.spawn(caller), gevent.spawn(comes_later, gate, turns)], raise_error=True)

    assert turns == [
        "caller has the headers (0 slot in use)",
        "other works",
        "caller reads the first words (1 slot in use)",
    ]
    assert gate.in_use() == 0


@pytest.mark.parametrize("failure", ["in the block", "on the wire"])
def test_a_slot_is_given_back_when_the_request_fails(failure):
    def down(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("Gemini is down", request=request)

    gate = WorkGate(slots=1, calls=1)
    unreachable = httpx2.Client(transport=httpx2.MockTransport(down), event_hooks=http_call_hooks())

    def failing() -> None:
        with gate.occupied(), calling_out():
            if failure == "in the block":
                raise RuntimeError("the answer was not JSON")
            unreachable.post("http://ai.test/generate")

    with pytest.raises((RuntimeError, httpx2.ConnectError)):
        failing()
    assert gate.in_use() == 0
    with gate.occupied():  # the next request gets it
        assert gate.in_use() == 1


def test_calling_out_without_a_slot_changes_nothing():
    gate = WorkGate(slots=1, calls=1)
    with calling_out():  # a job or a test calling Gemini: no slot to give back
        assert ai_client(seconds=0).post("/generate").status_code == 200
        assert gate.in_use() == 0


def test_an_answer_from_the_ai_is_handled_after_the_work_already_waiting_then():
    """What a request does with Gemini's answer is work that came when the answer did:
    behind the requests waiting then, before the ones that come after it."""
    gate = WorkGate(slots=1, calls=1)
    ai = ai_client()
    turns = []

    def request(name: str, ai_seconds: float = 1.0) -> None:
        with gate.occupied():
            turns.append(f"{name} prepares")
            gevent.sleep(0.02)
            with calling_out():
                ai.post("/generate", headers={"X-Seconds": str(ai_seconds)})
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


def test_the_calls_after_an_ai_answer_go_out_in_places_of_their_own(on_the_wire):
    """A burst's answers come back together: the writes that store them take the gate's
    after-answer places (one here), while the reads before the AI call share the others,
    so DynamoDB never holds more than one of a worker's stores ahead of a cheap read."""
    gates, _ = on_the_wire
    user_ids = [new_user_id() for _ in range(4)]
    gate = WorkGate(slots=4, calls=3, after_answer=1)
    gates.append(gate)
    ai = ai_client(seconds=0.1)
    places: list[tuple[int, int]] = []  # (before the answer, after it) as each call goes

    def count(**kwargs) -> None:
        places.append((gate.wire.in_use(), gate.wire_after_answer.in_use()))

    def request(user_id: str) -> None:
        with gate.occupied():
            users_table().get(user_id)  # reading what the AI is asked about
            with calling_out():
                ai.post("/generate")
            for _ in range(2):  # storing the answer
                users_table().get(user_id)

    events = get_client().meta.events
    events.register("before-send.dynamodb", count)
    try:
        gevent.joinall([gevent.spawn(request, u) for u in user_ids], raise_error=True)
    finally:
        events.unregister("before-send.dynamodb", count)

    assert len(places) == 12
    assert max(before for before, _ in places) == 3
    assert max(after for _, after in places) == 1
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


GEMINI_CALL_IN_A_SLOT = """
import json

import gevent

import dermalens_site.wsgi  # set up as a worker is
from ai.chat import ChatContext
from ai.providers import get_provider
from dermalens_site.concurrency import WorkGate

gate = WorkGate(slots=1, calls=1)
order = []


def asker():
    with gate.occupied():
        reply = get_provider("chat").reply(context=ChatContext(), history=[], message="Retinol?")
        order.append("reply: " + reply)


def other():
    gevent.sleep(0.3)  # the asker's call is on the wire by then
    with gate.occupied():
        order.append("other request")


gevent.joinall([gevent.spawn(asker), gevent.spawn(other)], raise_error=True)
print(json.dumps(order))
"""


def test_the_gemini_client_gives_the_slot_back_while_gemini_thinks():
    answer = dataclasses.replace(FakeResponse.text_answer("Yes, at night."), delay_seconds=1.0)
    order = run_patched_with_gemini(GEMINI_CALL_IN_A_SLOT, answer, GEMINI_MAX_ATTEMPTS="1")

    assert order == ["other request", "reply: Yes, at night."]
