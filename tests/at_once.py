"""Calls that start at the same moment, from threads of their own."""

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

Result = TypeVar("Result")


def at_once(call: Callable[[], Result], *, threads: int) -> list[Result]:
    """``call()`` from ``threads`` threads released together; their results in order."""
    everyone_ready = threading.Barrier(threads)

    def released() -> Result:
        everyone_ready.wait()
        return call()

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(released) for _ in range(threads)]
        return [future.result() for future in futures]
