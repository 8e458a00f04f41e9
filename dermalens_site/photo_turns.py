"""One account's photo work, one request at a time, on every worker and host.

    turn = take_photo_turn(user_id=user.user_id)   # or PhotoInProgress, a 429
    try:
        prepare_and_store()
    finally:
        turn.end()

A request that works on a photo (an upload, an analysis again: a viewset's
``photo_actions``) holds one of its worker's few photo slots, and a hostile or merely huge
photo can hold it for up to ``PHOTO_WORK_TIMEOUT_SECONDS``. Without a bound per account,
four uploads at once from one account held every slot of two workers for a minute, and
every other account's upload waited behind them. So an account's photo work takes a
turn first, an item in the users table beside the rate counters (``LimitsTable``), written
only if no turn of the account is held. Another request of the account meanwhile is
refused as soon as it reaches a photo slot, in milliseconds, before its body is read or
its upload counted against the account's limits (429 ``photo_in_progress`` with
Retry-After), rather than left to hold the slot behind the first: a client that sends
several photos at once learns to send them one after another.

The turn is given back when the request ends, however it ends. A worker killed
mid-photo gives nothing back, so a turn also ends by itself ``PHOTO_WORK_TIMEOUT_SECONDS`` +
``PHOTO_TURN_MARGIN_SECONDS`` after it was taken: longer than a photo's work may take
(its process is stopped at the timeout) with the upload's reading and storing.
"""

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.crypto import salted_hmac
from rest_framework import status

from dermalens_site.errors import ApplicationError
from dynamo.errors import Unavailable
from dynamo.limits import limits_table

logger = logging.getLogger("dermalens.photo_turns")

# How long a turn lasts past PHOTO_WORK_TIMEOUT_SECONDS at most (reading the body,
# storing the photo and the scan).
PHOTO_TURN_MARGIN_SECONDS = 60
# A photo's work takes a second or two: the client tries again after about that.
PHOTO_TURN_RETRY_AFTER_SECONDS = 3
# An upload whose body is smaller than this (its Content-Length) takes no turn: what
# held a slot for a minute was a small file's decoding, which the scans' limits now end
# in milliseconds (a JPEG's count of scans, MAX_IMAGE_PIXELS), so the turn is for bodies
# that take long to read (a phone's photo, one sent in chunks of unknown size). Its two
# writes on every upload of the 512 px sample (about 50 KB) took bench/concurrency.py's
# 200 uploads from a probe's p95 of 35 ms to 51-53.
PHOTO_TURN_MIN_BODY_BYTES = 1024 * 1024


class PhotoInProgress(ApplicationError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "photo_in_progress"
    default_message = "Another of your photos is being processed; send this one when it is done."
    retry_after_seconds = PHOTO_TURN_RETRY_AFTER_SECONDS


def photo_turn_seconds() -> int:
    return int(settings.PHOTO_WORK_TIMEOUT_SECONDS) + PHOTO_TURN_MARGIN_SECONDS


@dataclass(frozen=True)
class PhotoTurn:
    user_id: str
    holder: str  # this request's, so that a turn that ended by itself is not ended twice

    def end(self) -> None:
        limits_table().end_turn(photo_key(self.user_id), holder=self.holder)


def photo_key(user_id: str) -> str:
    """A keyed digest of the account's id, not the id: an erased account leaves no item
    that names it (a turn its worker never gave back stays until the table's TTL)."""
    return "photo#" + salted_hmac("dermalens.photo_turns", user_id, algorithm="sha256").hexdigest()


def take_photo_turn(*, user_id: str, now: float | None = None) -> PhotoTurn:
    """The account's turn of photo work, or ``PhotoInProgress`` while another is held."""
    taken_at = int(time.time() if now is None else now)
    holder = secrets.token_hex(8)
    if not limits_table().take_turn(
        photo_key(user_id), holder=holder, now=taken_at, until=taken_at + photo_turn_seconds()
    ):
        raise PhotoInProgress()
    return PhotoTurn(user_id, holder)


def takes_a_turn(request: Any, action: str) -> bool:
    """Whether a photo request takes the account's turn: an analysis again (of the stored
    photo), and an upload whose body is of unknown size (chunked) or large."""
    if action != "create":
        return True
    length = request.META.get("CONTENT_LENGTH") or ""
    return not length.isdigit() or int(length) >= PHOTO_TURN_MIN_BODY_BYTES


class OnePhotoAtATimeMixin:
    """A viewset whose ``photo_actions`` run in the account's photo turn: taken once the
    request is authenticated and allowed, before it is throttled (a refusal spends none
    of the account's allowances) or its body read; given back when the request ends."""

    photo_actions: frozenset[str] = frozenset()
    photo_turn: PhotoTurn | None = None

    def check_throttles(self, request: Any) -> None:
        action = getattr(self, "action", None)
        if action in self.photo_actions and takes_a_turn(request, action):
            self.photo_turn = take_photo_turn(user_id=request.user.user_id)
        super().check_throttles(request)  # type: ignore[misc]

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # However the request ends: an error DRF does not handle (a 500) or a greenlet
        # killed at a timeout skips finalize_response, and left the account's next photos
        # refused for two minutes while nothing was being worked on.
        try:
            return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
        finally:
            if self.photo_turn is not None:
                turn, self.photo_turn = self.photo_turn, None
                try:
                    turn.end()
                except Unavailable:
                    # The photo is stored and answered for: the turn ends by itself.
                    logger.warning("photo turn not given back", extra={"user_id": turn.user_id})
