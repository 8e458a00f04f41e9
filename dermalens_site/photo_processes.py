"""Work on uploaded photos in child processes of the web worker, at a lower priority.

    prepared = in_photo_process(prepare_photo, data)

Decoding a photo, re-encoding it for storage and drawing an overlay take a
12-megapixel phone photo hundreds of milliseconds of CPU. In the worker's CPU threads
(``run_cpu_bound``) that work shares the worker's GIL with every other request: Pillow's
JPEG encoder keeps the GIL for each piece of output, so each piece holds the worker's
greenlets, cheap reads included. Running those threads at a lower priority would let the
worker's own requests go first, but a low-priority thread that holds the GIL and waits
for a core stands the whole worker still (bench/concurrency.py and the photo-work test
measured both). A process of its own has a GIL of its own: the worker's requests never
wait for it, and the operating system can give it a lower priority
(``PHOTO_PROCESS_NICENESS``) so that the requests' work, the worker's, goes first when
the cores are full and the photos take what is left. Each is also a wall around the
decoders of untrusted files: one that crashes, or hangs past
``PHOTO_WORK_TIMEOUT_SECONDS``, takes its process with it and fails its request alone
(``PhotoWorkFailed``, a 503); the next photo gets a new process.

Each gevent worker has ``PHOTO_WORK_SLOTS_PER_WORKER`` of them, as many as its requests
that work on a photo at once, started with the worker (``deploy/gunicorn.conf.py``) or
on first use. A child is a fresh interpreter (``python -m
dermalens_site.photo_child``), not a fork of the worker: the worker's threads, locks
and connections stay behind. The worker and its child speak over a socket pair: the
function (by name) and its arguments go one way, what it returned or raised the other,
each as a length and a pickle; both ends are this code. A child exits when the socket
closes, so it never outlives its worker.

Outside a gevent worker (tests, ``manage.py`` commands, the analysis worker, gthread)
the function is simply called, in the caller's thread.
"""

import functools
import logging
import os
import pickle
import socket
import struct
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

from dermalens_site.concurrency import cooperative
from dermalens_site.errors import ServiceUnavailable

logger = logging.getLogger("dermalens.photo_processes")

Parameters = ParamSpec("Parameters")
Result = TypeVar("Result")

_LENGTH = struct.Struct("!Q")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What a child sends once it has loaded, and how long it may take to.
READY = b"ready"
START_TIMEOUT_SECONDS = 120
# A 12-megapixel photo's buffers (36 MiB of pixels, and their copies) are freed after each
# photo; by default glibc hands them back to the kernel, and the next photo takes them
# again page by page: 20,000 page faults, a third of the photo's CPU. Allocations under
# 32 MiB come from the heap instead, and up to 128 MiB of free heap is kept: 400 faults,
# 75 instead of 120 ms of CPU per photo, for about 50 MiB more held by the child.
CHILD_MALLOC_TUNABLES = (
    "glibc.malloc.mmap_threshold=33554432",
    "glibc.malloc.trim_threshold=134217728",
)


class PhotoWorkFailed(ServiceUnavailable):
    default_code = "photo_work_failed"
    default_message = "The photo could not be processed just now; please try again."


class RemoteTraceback(Exception):
    """The traceback of what a child raised, as text (tracebacks do not pickle): the
    ``__cause__`` of the exception raised again in the worker."""

    def __str__(self) -> str:
        return str(self.args[0])


def in_photo_process(
    function: Callable[Parameters, Result], *args: Parameters.args, **kwargs: Parameters.kwargs
) -> Result:
    """``function(*args, **kwargs)`` in one of the worker's photo processes; called
    directly outside a gevent worker.

    ``function`` must be importable by name (a module's function) and its arguments and
    result picklable. What it raises is raised here, with the child's traceback as its
    cause; a child that dies or hangs raises ``PhotoWorkFailed``.
    """
    if not cooperative():
        return function(*args, **kwargs)
    return cast(Result, photo_processes().run(function, args, kwargs))


@functools.cache
def photo_processes() -> "PhotoProcesses":
    """The worker's photo processes, made on first use (so after gunicorn forks it)."""
    from django.conf import settings

    return PhotoProcesses(
        size=settings.PHOTO_WORK_SLOTS_PER_WORKER,
        niceness=settings.PHOTO_PROCESS_NICENESS,
        timeout_seconds=settings.PHOTO_WORK_TIMEOUT_SECONDS,
    )


class PhotoProcesses:
    """A gevent worker's photo processes: a request takes an idle one, or waits for one."""

    def __init__(self, *, size: int, niceness: int, timeout_seconds: float) -> None:
        from gevent.queue import Queue

        self.niceness = niceness
        self.timeout_seconds = timeout_seconds
        # Idle processes; None is a place whose process is not started (or was lost).
        self.idle: Queue[PhotoProcess | None] = Queue()
        for _ in range(size):
            self.idle.put(None)

    def start(self) -> None:
        """Start every process not started yet (each then loads its modules meanwhile)."""
        waiting = [self.idle.get() for _ in range(self.idle.qsize())]
        for process in waiting:
            self.idle.put(process if process is not None else self._started())

    def run(self, function: Callable[..., Any], args: tuple, kwargs: dict[str, Any]) -> Any:
        process = self.idle.get()
        try:
            if process is not None and not process.alive():  # it died while idle
                process.stop()
                process = None
            if process is None:
                process = self._started()
            return process.call(function, args, kwargs, self.timeout_seconds)
        finally:
            # A process a call stopped leaves its place empty: the next request starts one.
            self.idle.put(process if process is not None and process.usable else None)

    def pids(self) -> list[int]:
        """The processes started and idle now (for the tests)."""
        return [process.pid for process in list(self.idle.queue) if process is not None]

    def _started(self) -> "PhotoProcess":
        return PhotoProcess(self.niceness)


class PhotoProcess:
    """One child process and the worker's end of its socket."""

    def __init__(self, niceness: int) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(  # noqa: S603 (this interpreter, this module)
                [
                    sys.executable,
                    "-m",
                    "dermalens_site.photo_child",
                    str(theirs.fileno()),
                    str(niceness),
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                env=child_environment(),
                # Out of the terminal's process group: Ctrl-C at `make run` is the
                # worker's to handle; the child goes when the worker's socket closes.
                process_group=0,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.connection = ours
        self.pid = self.process.pid
        self.ready = False  # the child said it has loaded
        # False once a call failed on the way (the process died, hung, or the stream
        # between them is out of step): the process is stopped and replaced.
        self.usable = True

    def alive(self) -> bool:
        return self.process.poll() is None

    def call(
        self,
        function: Callable[..., Any],
        args: tuple,
        kwargs: dict[str, Any],
        timeout_seconds: float,
    ) -> Any:
        request = pickle.dumps((function, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        try:
            if not self.ready:
                # Loading takes the child about a second, longer on busy cores at its
                # priority: that is not the photo's time.
                self.connection.settimeout(START_TIMEOUT_SECONDS)
                if receive_message(self.connection) != READY:
                    raise EOFError("the photo process did not start")
                self.ready = True
            self.connection.settimeout(timeout_seconds)
            send_message(self.connection, request)
            answer = receive_message(self.connection)
        except BaseException as err:
            # Whatever stopped the exchange (the child died or hung, or this greenlet
            # was killed), the stream is out of step: the process goes.
            self.usable = False
            self.stop()
            if not isinstance(err, (OSError, EOFError)):
                raise
            logger.warning(
                "photo process lost",
                extra={
                    "pid": self.pid,
                    "returncode": self.process.returncode,
                    "error": type(err).__name__,
                    "function": getattr(function, "__qualname__", repr(function)),
                },
            )
            raise PhotoWorkFailed() from err
        kind, value, remote_traceback = pickle.loads(answer)  # noqa: S301 (our own child)
        if kind == "raised":
            raise value from RemoteTraceback(remote_traceback)
        return value

    def stop(self) -> None:
        self.connection.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


def child_environment() -> dict[str, str]:
    """The worker's environment, with the project importable wherever the child starts,
    and glibc's allocator told to keep what a photo freed for the next one
    (``CHILD_MALLOC_TUNABLES``)."""
    paths = [str(PROJECT_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    tunables = [*filter(None, os.environ.get("GLIBC_TUNABLES", "").split(":"))]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths),
        "GLIBC_TUNABLES": ":".join([*tunables, *CHILD_MALLOC_TUNABLES]),
    }


def send_message(connection: socket.socket, payload: bytes) -> None:
    connection.sendall(_LENGTH.pack(len(payload)))
    connection.sendall(payload)


def receive_message(connection: socket.socket) -> bytearray:
    (length,) = _LENGTH.unpack(_receive_exactly(connection, _LENGTH.size))
    return _receive_exactly(connection, length)


def _receive_exactly(connection: socket.socket, length: int) -> bytearray:
    buffer = bytearray(length)
    view = memoryview(buffer)
    received = 0
    while received < length:
        count = connection.recv_into(view[received:])
        if not count:
            raise EOFError("the other end closed the connection")
        received += count
    return buffer


def serve(descriptor: int) -> None:
    """A photo process: call what the worker sends, one at a time, until it goes."""
    connection = socket.socket(fileno=descriptor)
    connection.setblocking(True)  # the worker's end is gevent's, and made it non-blocking
    try:
        send_message(connection, READY)
        while True:
            answer_request(connection, receive_message(connection))
    except (EOFError, BrokenPipeError, ConnectionResetError):
        # The worker closed its end: it is stopping, or stopped before this process had
        # loaded (a reset: it never read this process's READY).
        return


def answer_request(connection: socket.socket, request: bytearray) -> None:
    """Call what the worker asked for; send back what it returned or raised."""
    function, args, kwargs = pickle.loads(request)  # noqa: S301 (our own worker)
    try:
        outcome: tuple[str, Any, str | None] = ("returned", function(*args, **kwargs), None)
    except Exception as err:
        outcome = ("raised", err, traceback.format_exc())
    try:
        reply = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as err:  # an exception that does not pickle: say what it was
        failure = RuntimeError(f"{type(outcome[1]).__name__} could not be sent back")
        reply = pickle.dumps(("raised", failure, repr(err)))
    send_message(connection, reply)
