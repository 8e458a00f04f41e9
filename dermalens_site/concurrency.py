"""Where CPU-bound work runs, so that it holds no other request for longer than it runs.

    analysis = run_cpu_bound(examine_and_score, image_jpeg, area)

The web workers are gevent's (``deploy/gunicorn.conf.py``): every request in flight is a
greenlet on the worker's one thread, and a greenlet that computes for 400 ms (the
offline analysis, an Argon2 hash) would hold all the others, cheap reads included, for
those 400 ms. So that work goes to the worker's pool of real threads (a gevent
``ThreadPool`` of its own, apart from the hub's, which resolves host names): OpenCV,
numpy and Argon2 release the GIL while they compute, the other greenlets go on
meanwhile, and the request that asked waits for the result as it waits for a socket.
Work that keeps the GIL gains nothing from a thread: an uploaded photo's decoding and
re-encoding (Pillow's JPEG encoder keeps the GIL for each piece of output) go to the
worker's photo processes instead (``dermalens_site.photo_processes``). The pool also
bounds how much such work runs at once per worker (``CPU_THREADS_PER_WORKER``), and with
it the memory a burst takes.

Password hashes have a thread of their own per worker, below the worker's priority
(``run_password_work``). Each Argon2 hash takes about 0.2 s of CPU and 100 MiB: in the
shared pool, 50 sign-ins at once took 640 MiB more on two workers and held the cores
from every other request (``GET /users/me`` at p95 820 ms, bench/concurrency.py
``--scenarios logins``). One at a time, ten nice steps down, a burst of sign-ins takes
what the cores have left after the worker's other requests, and 100 MiB per worker at
most. Argon2 keeps no GIL while it hashes, so its low priority never holds the worker's
own thread (as it did with Pillow's encoder, which keeps the GIL).

A burst of sign-ins from many addresses (each within its own limits) would otherwise
queue without end behind that one thread: at 0.2 s a hash, the thousandth waits minutes,
long after its client gave up, and every sign-in waits as long. So the requests that
check or set a password first take a place in the worker's password line
(``password_work_place``, ``PASSWORD_REQUESTS_PER_WORKER`` places: a few seconds of
hashing); one more is turned away at once (``Overloaded``: a 503 with ``Retry-After``),
before anything is counted against its account. A few of the places are kept for the
account's own requests (signed in, or a sign-in from a device the account signed in
on), which strangers cannot make.

Outside a gevent worker (tests, ``manage.py`` commands, the analysis worker, gthread)
the function is simply called: threads there are real already.

The other half is fairness. A burst of hundreds of AI requests would otherwise put
hundreds of greenlets in the worker's run queue (reading the account, the session, the
history; storing the message) and a cheap read arriving then would wait behind all of
them, as would its own DynamoDB call behind theirs. So the requests that call the AI
take one of the worker's work slots (``AI_WORK_SLOTS_PER_WORKER``) for the work they do
themselves, first come first served, and give it back while their call to the AI is on
the wire (``calling_out()``, around every Gemini call, and the Gemini client's httpx
hooks): hundreds wait on Gemini at once, a few compute, and every other request (a
profile, a list of scans) goes straight by. Building a call and reading its answer is
the request's own work, done in its slot. A request keeps its place while its DynamoDB
calls are on the wire (``OrderedPermits``), and what it does with the AI's answer
queues from the moment the answer came, so a burst's requests reach the AI in the order
they came and steadily, and none waits for ever. The requests that work on a photo (an
upload: decoding, re-encoding, storing) have a gate of their own with fewer slots
(``PHOTO_WORK_SLOTS_PER_WORKER``, ``photo_work_gate``): their CPU and GIL hold the
worker's other requests more than an AI request's do.

A slot counts work, not waits: while one of the request's DynamoDB calls is on the wire
the slot is free for another request too (botocore's ``before-send`` and ``needs-retry``
events, ``free_slot_while_sending``). The calls on the wire take a place of their own
instead (``AI_DYNAMODB_CALLS_PER_WORKER``), so a burst cannot queue hundreds of calls at
DynamoDB before a cheap request's own one. Measured with bench/concurrency.py (500 chat
messages on 2 cores): slots held through the calls left the cores partly idle. The calls
a request makes after its AI call answered (storing what came back) have places of their
own, fewer (``AI_DYNAMODB_CALLS_AFTER_ANSWER_PER_WORKER``): a burst's answers come back
together, and their writes would otherwise fill the wire at once.

    gate = WorkGate(slots=4, calls=3)
    with gate.occupied():          # the AI request's own work
        prepare()                  # (its DynamoDB calls on the wire hold no slot)
        with calling_out():        # no slot held while the call to Gemini is on the wire
            call_gemini()          # (an httpx client made with http_call_hooks())
        store()
"""

import contextlib
import functools
import heapq
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, ParamSpec, TypeVar, cast

from gevent.event import Event
from gevent.monkey import get_original, is_module_patched
from gevent.threadpool import ThreadPool

Parameters = ParamSpec("Parameters")
Result = TypeVar("Result")

# Threads per worker for CPU work: beyond the cores they only queue for the GIL and hold
# memory (a 12-megapixel photo's pixels alone are 35 MiB), so a small number suffices.
CPU_THREADS_PER_WORKER = 4
# Password hashes: one at a time per worker (Argon2 takes 100 MiB each), this many nice
# steps below the worker's own thread.
PASSWORD_THREADS_PER_WORKER = 1
PASSWORD_THREAD_NICENESS = 10


def cooperative() -> bool:
    """Whether this process runs requests as gevent greenlets (the standard library patched)."""
    return is_module_patched("threading")


@functools.cache
def cpu_pool() -> ThreadPool:
    """The worker's pool, made on first use (so after gunicorn forks the worker)."""
    return ThreadPool(CPU_THREADS_PER_WORKER)


@functools.cache
def password_pool() -> ThreadPool:
    return ThreadPool(PASSWORD_THREADS_PER_WORKER)


def run_cpu_bound(
    function: Callable[Parameters, Result], *args: Parameters.args, **kwargs: Parameters.kwargs
) -> Result:
    """``function(*args, **kwargs)``, in a real thread when requests are greenlets.

    Exceptions reach the caller as if the function had been called directly, and only
    the caller: gevent's pool would also print each one's traceback to stderr, so an
    error the request answers as a 400 would leave one in the log. They travel as the
    result.
    """
    if not cooperative():
        return function(*args, **kwargs)
    return _run_in(cpu_pool(), function, args, kwargs)


def run_password_work(
    function: Callable[Parameters, Result], *args: Parameters.args, **kwargs: Parameters.kwargs
) -> Result:
    """``function(*args, **kwargs)`` (a password hash or its check) in the worker's
    password thread, below the worker's priority, when requests are greenlets."""
    if not cooperative():
        return function(*args, **kwargs)
    niceness = min(19, os.getpriority(os.PRIO_PROCESS, 0) + PASSWORD_THREAD_NICENESS)
    return _run_in(password_pool(), _at_niceness, (niceness, function, *args), kwargs)


def _at_niceness(
    niceness: int, function: Callable[..., Result], *args: Any, **kwargs: Any
) -> Result:
    """``function`` in a thread whose niceness is ``niceness`` (per thread, on Linux)."""
    if os.getpriority(os.PRIO_PROCESS, 0) < niceness:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)  # 0: the calling thread
    return function(*args, **kwargs)


def _run_in(
    pool: ThreadPool, function: Callable[..., Result], args: tuple[Any, ...], kwargs: dict
) -> Result:
    returned, raised = pool.apply(_outcome, (function, args, kwargs))
    if raised is not None:
        raise raised
    return cast(Result, returned)


def _outcome(
    function: Callable[..., Result], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Result | None, BaseException | None]:
    """``function`` in a CPU thread: what it returned, or what it raised."""
    try:
        return function(*args, **kwargs), None
    except Exception as err:  # raised again in the caller's greenlet, traceback and all
        return None, err


def native_lock() -> threading.Lock:
    """A lock of the operating system's threads, for state that only CPU threads share.

    In a gevent worker ``threading.Lock`` is gevent's, made for greenlets of one thread;
    the CPU threads are real threads, and one waiting on gevent's lock would have to wait
    through the hub of a thread that has none.
    """
    if cooperative():
        allocate: Callable[[], threading.Lock] = get_original("_thread", "allocate_lock")
        return allocate()
    return threading.Lock()


class Overloaded(Exception):
    """Turned away: the worker has as much of this kind of work in line as it can do
    while the client still waits."""


class WaitingLine:
    """At most ``places`` requests at once wait for (or do) one kind of work in a worker;
    one more is turned away at once rather than left waiting longer than its client
    will. The last ``reserved`` places are for ``trusted`` requests only (the account's
    own: signed in, or from a device it signed in on), so that strangers who fill the
    line do not keep out the owner. A request in line already keeps its place in a
    nested use (a password change confirms the current password first).

        line = WaitingLine(48, reserved=12)
        with line.place(trusted=False):   # or Overloaded, before the block runs
            check_password()
    """

    def __init__(self, places: int, *, reserved: int = 0) -> None:
        if places < 1 or not 0 <= reserved < places:
            raise ValueError("a waiting line needs a place, and fewer reserved than all")
        self.places = places
        self.reserved = reserved
        self.taken = 0
        self._held: ContextVar[bool] = ContextVar(f"dermalens_line_{id(self)}", default=False)

    @contextlib.contextmanager
    def place(self, *, trusted: bool = False) -> Iterator[None]:
        if self._held.get():
            yield
            return
        # Greenlets of one thread: nothing runs between the test and the count.
        if self.taken >= (self.places if trusted else self.places - self.reserved):
            raise Overloaded()
        self.taken += 1
        held = self._held.set(True)
        try:
            yield
        finally:
            self._held.reset(held)
            self.taken -= 1


@functools.cache
def password_line() -> WaitingLine | None:
    """The worker's line of requests that check or set a password; None outside a gevent
    worker, where each request is a thread of its own."""
    from django.conf import settings

    if not cooperative():
        return None
    return WaitingLine(
        settings.PASSWORD_REQUESTS_PER_WORKER,
        reserved=settings.PASSWORD_REQUESTS_RESERVED_PER_WORKER,
    )


@contextlib.contextmanager
def password_work_place(*, trusted: bool = False) -> Iterator[None]:
    """The block in a place of the password line (``Overloaded`` when it is full)."""
    line = password_line()
    if line is None:
        yield
        return
    with line.place(trusted=trusted):
        yield


class OrderedPermits:
    """A semaphore of greenlets (one worker's thread) that serves the lowest ticket first.

    Each waiter brings the ticket of its piece of work (``next_ticket()``, taken when the
    work became ready: the request arrived, or Gemini answered); a permit given back goes
    straight to the waiter with the lowest ticket. So a request that comes back from a
    DynamoDB call keeps its place. gevent's own ``Semaphore`` wakes waiters in the order
    they *waited*: each return from a call put a request behind every request of a
    burst, so hundreds of them shared the cores in turns, all reached Gemini late, and
    their replies came back together at the end.
    """

    def __init__(self, count: int) -> None:
        self.count = count
        self.free = count
        # (ticket, arrival, waiter); a waiter that gave up stays until popped.
        self._waiters: list[tuple[int, int, _Waiter]] = []
        self._arrivals = itertools.count()

    def acquire(self, ticket: int) -> None:
        if self.free:  # a free permit means nobody waits: it went to a waiter otherwise
            self.free -= 1
            return
        waiter = _Waiter()
        heapq.heappush(self._waiters, (ticket, next(self._arrivals), waiter))
        try:
            waiter.granted.wait()
        except BaseException:  # killed or timed out while waiting
            if waiter.granted.is_set():
                self.release()  # the permit came as it left: the next one takes it
            else:
                waiter.gone = True
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = heapq.heappop(self._waiters)[2]
            if not waiter.gone:
                waiter.granted.set()
                return
        self.free += 1

    def in_use(self) -> int:
        return self.count - self.free


class _Waiter:
    __slots__ = ("gone", "granted")

    def __init__(self) -> None:
        self.granted = Event()
        self.gone = False


# Places in the worker's queues: work is served in the order it became ready.
next_ticket = itertools.count().__next__


class WorkGate:
    """At most ``slots`` requests do their own work at once, and at most ``calls`` of
    their DynamoDB calls are on the wire (with ``after_answer``, the calls made after a
    request's AI call answered, storing a reply or a plan, go out in that many places of
    their own); the others wait their turn.

    First come, first served (``OrderedPermits``): a request's own work goes in the
    order the requests came, each keeping its place while its DynamoDB calls are on the
    wire; what it does with Gemini's answer is work that came when the answer did
    (``calling_out()``), behind the work that was waiting then. So no request waits for
    ever, and the requests waiting to reach Gemini go before the answers that come back
    meanwhile. A request with a call on the wire (DynamoDB's or the AI's) holds no slot.
    """

    def __init__(self, slots: int, calls: int, after_answer: int | None = None) -> None:
        if slots < 1 or calls < 1 or (after_answer is not None and after_answer < 1):
            raise ValueError("a work gate needs at least one slot and one call")
        self.slots = slots
        self.calls = calls
        self.semaphore = OrderedPermits(slots)
        self.wire = OrderedPermits(calls)
        self.wire_after_answer = self.wire if after_answer is None else OrderedPermits(after_answer)

    @contextlib.contextmanager
    def occupied(self, *, after_answer: bool = False) -> Iterator[None]:
        """The block in a slot; ``after_answer``: work on an AI answer that came already."""
        slot = _Slot(self, next_ticket(), after_answer=after_answer)
        token = _current_slot.set(slot)
        slot.take()
        try:
            yield
        finally:
            slot.land()
            slot.give_back()
            _current_slot.reset(token)

    def in_use(self) -> int:
        return self.semaphore.in_use()

    def calls_in_flight(self) -> int:
        if self.wire_after_answer is self.wire:
            return self.wire.in_use()
        return self.wire.in_use() + self.wire_after_answer.in_use()


class _Slot:
    """One request's hold on a gate's slot (each greenlet has its own context)."""

    def __init__(self, gate: WorkGate, ticket: int, *, after_answer: bool = False) -> None:
        self.gate = gate
        self.ticket = ticket
        self.held = False
        self.sending = False
        # Past its AI call: its DynamoDB calls go out in the gate's after-answer places.
        self.after_answer = after_answer
        self.places = gate.wire
        # In ``calling_out()``: the slot goes back only while an HTTP call is on the wire,
        # and is taken again when the answer's headers come (unless take_at_answer is off).
        self.calling_out = False
        self.take_at_answer = True

    def take(self) -> None:
        self.gate.semaphore.acquire(self.ticket)
        self.held = True

    def take_anew(self) -> None:
        """Take a slot again as work that came now, behind the work waiting already
        (its AI call answered, or failed)."""
        self.ticket = next_ticket()
        self.after_answer = True
        self.take()

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self.gate.semaphore.release()

    def send(self) -> None:
        """Swap the slot for a place on the wire (a DynamoDB call is about to go out)."""
        self.give_back()
        self.places = self.gate.wire_after_answer if self.after_answer else self.gate.wire
        self.places.acquire(self.ticket)
        self.sending = True

    def land(self) -> None:
        """Give the place on the wire back (the call was answered, or failed)."""
        if self.sending:
            self.sending = False
            self.places.release()


_current_slot: ContextVar[_Slot | None] = ContextVar("dermalens_work_slot", default=None)


@functools.cache
def ai_work_gate() -> WorkGate | None:
    """The worker's gate of AI work (AI_WORK_SLOTS_PER_WORKER slots); None outside a gevent
    worker, where requests are threads of their own."""
    return _worker_gate("AI_WORK_SLOTS_PER_WORKER")


@functools.cache
def photo_work_gate() -> WorkGate | None:
    """The worker's gate of work on photos (PHOTO_WORK_SLOTS_PER_WORKER slots): uploads
    decode and store a photo, so few at once; None outside a gevent worker."""
    return _worker_gate("PHOTO_WORK_SLOTS_PER_WORKER")


def _worker_gate(slots_setting: str) -> WorkGate | None:
    from django.conf import settings

    if not cooperative():
        return None
    return WorkGate(
        getattr(settings, slots_setting),
        settings.AI_DYNAMODB_CALLS_PER_WORKER,
        settings.AI_DYNAMODB_CALLS_AFTER_ANSWER_PER_WORKER,
    )


@contextlib.contextmanager
def work_slot() -> Iterator[None]:
    """The block in one of the worker's AI work slots, unless it holds one already: for
    an AI request's work after its view has returned (a streamed reply being stored)."""
    gate = ai_work_gate()
    held = _current_slot.get()
    if gate is None or (held is not None and held.held):
        yield
        return
    with gate.occupied(after_answer=True):
        yield


@contextlib.contextmanager
def calling_out(*, until_block_ends: bool = False) -> Iterator[None]:
    """A block that calls the AI over HTTP, through a client made with
    ``http_call_hooks()``: the request's slot is given back while each call is on the
    wire, and the request holds one again when the block ends (without a slot: a job,
    a test, nothing happens).

    Building a call and reading its answer is the request's own work (google-genai
    turns the contents and configuration into the API's JSON, and the answer into typed
    objects: 3-5 ms of CPU for a chat reply with ten earlier messages), so it is
    done in the slot: were the slot given back for the whole block, the hundreds of
    requests of a burst would do that work all at once, ahead of every cheap request.
    The slot is taken again when a successful answer's headers come, as work that came
    then (behind the work waiting already); after an error status it stays free through
    the back-off before a retry. With ``until_block_ends`` it stays free until the block
    ends: a streamed answer's headers come before its first words."""
    slot = _current_slot.get()
    if slot is None or not slot.held:
        yield
        return
    slot.calling_out = True
    slot.take_at_answer = not until_block_ends
    try:
        yield
    finally:
        slot.calling_out = False
        if not slot.held:
            slot.take_anew()


def _call_sent(request: object) -> None:
    slot = _current_slot.get()
    if slot is not None and slot.calling_out and slot.held:
        slot.give_back()


def _answer_came(response: Any) -> None:
    slot = _current_slot.get()
    if slot is None or not (slot.calling_out and slot.take_at_answer):
        return
    if not slot.held and response.is_success:
        slot.take_anew()


def http_call_hooks() -> dict[str, list[Callable[[Any], None]]]:
    """httpx event hooks for an AI client's calls made in ``calling_out()`` (no-ops
    outside it, and for a request without a slot)."""
    return {"request": [_call_sent], "response": [_answer_came]}


# botocore keeps one registration per id, however often a worker registers these.
_BEFORE_SEND_ID = "dermalens-work-slot-before-send"
_AFTER_ATTEMPT_ID = "dermalens-work-slot-after-attempt"


def _before_send(**kwargs: object) -> None:
    slot = _current_slot.get()
    if slot is not None and slot.held:
        slot.send()


def _after_attempt(**kwargs: object) -> None:
    # needs-retry follows every attempt, answered or failed, before botocore decides
    # whether to try again; a retry's back-off is then waited in the slot.
    slot = _current_slot.get()
    if slot is not None and slot.sending:
        slot.land()
        slot.take()


def free_slot_while_sending(client: Any) -> None:
    """Register on a DynamoDB client: a request in a work slot gives it back while its
    call is on the wire, in a place of the gate's ``calls`` (both no-ops without a slot).
    Registering again is harmless."""
    events = client.meta.events
    events.register("before-send.dynamodb", _before_send, unique_id=_BEFORE_SEND_ID)
    events.register("needs-retry.dynamodb", _after_attempt, unique_id=_AFTER_ATTEMPT_ID)
