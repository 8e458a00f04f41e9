"""Where CPU-bound work runs, so that it holds no other request for longer than it runs.

    prepared = run_cpu_bound(prepare_scan_image, upload)

The web workers are gevent's (``deploy/gunicorn.conf.py``): every request in flight is a
greenlet on the worker's one thread, and a greenlet that computes for 400 ms (decoding a
12-megapixel photo, the offline analysis, an Argon2 hash) would hold all the others,
cheap reads included, for those 400 ms. So that work goes to the worker's pool of real
threads (a gevent ``ThreadPool`` of its own, apart from the hub's, which resolves
host names): Pillow, OpenCV, numpy and Argon2 release the GIL
while they compute, the other greenlets go on meanwhile, and the request that asked
waits for the result as it waits for a socket. The pool also bounds how many images are
decoded at once per worker (``CPU_THREADS_PER_WORKER``), and with them the memory a
burst of uploads takes.

Outside a gevent worker (tests, ``manage.py`` commands, the analysis worker, gthread)
the function is simply called: threads there are real already.
"""

import functools
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from gevent.monkey import get_original, is_module_patched
from gevent.threadpool import ThreadPool

Parameters = ParamSpec("Parameters")
Result = TypeVar("Result")

# Threads per worker for CPU work: beyond the cores they only queue for the GIL and hold
# memory (an upload's decoding takes ~130 MiB at its peak), so a small number suffices.
CPU_THREADS_PER_WORKER = 4


def cooperative() -> bool:
    """Whether this process runs requests as gevent greenlets (the standard library patched)."""
    return is_module_patched("threading")


@functools.cache
def cpu_pool() -> ThreadPool:
    """The worker's pool, made on first use (so after gunicorn forks the worker)."""
    return ThreadPool(CPU_THREADS_PER_WORKER)


def run_cpu_bound(
    function: Callable[Parameters, Result], *args: Parameters.args, **kwargs: Parameters.kwargs
) -> Result:
    """``function(*args, **kwargs)``, in a real thread when requests are greenlets.

    Exceptions reach the caller as if the function had been called directly.
    """
    if not cooperative():
        return function(*args, **kwargs)
    return cpu_pool().apply(function, args, kwargs)


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
