"""Writes that contend with others for one item, tried again until one wins or time runs out.

    retries = Contention()
    while True:
        try:
            write()
            break
        except ...:                      # lost to a concurrent write of the same item
            if not retries.wait():
                raise Unavailable()

An optimistic condition on one item (an account's active-plan pointer, a day's check-in
and its plan's counts, a transaction's items) lets one of the writes that meet there win
each round; the others read again and retry. A fixed number of rounds makes the outcome
depend on how many meet: ten plan creations of one account at once got through on six
rounds, thirty did not, and the losers were 503s after the work they had paid for (a
plan's Gemini draft). A time budget does not depend on that number. Each wait is drawn
at random from a window that doubles from 20 ms up to 640 ms ("full jitter", as in the
AWS SDKs' retries), so a herd spreads out and a lone retry is quick; at a few tens of
milliseconds a transaction, the budget lets many dozens of one account's writes through.
"""

import random
import time

# Long enough for a herd of one account's requests on a loaded host, well inside the
# request's own budget (gunicorn's timeout, the load balancer's 60 s).
CONTENTION_SECONDS = 10.0
FIRST_WINDOW_SECONDS = 0.02
LARGEST_WINDOW_SECONDS = 0.64


class Contention:
    """The retries of one contended write, from its first try."""

    def __init__(self, seconds: float | None = None) -> None:
        budget = CONTENTION_SECONDS if seconds is None else seconds
        self.deadline = time.monotonic() + budget
        self.window = FIRST_WINDOW_SECONDS

    def wait(self) -> bool:
        """Sleep a random while before the next try; False, at once, when the time is spent."""
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(remaining, random.uniform(0, self.window)))  # noqa: S311 (jitter)
        self.window = min(self.window * 2, LARGEST_WINDOW_SECONDS)
        return True
