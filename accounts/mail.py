"""Account email: the one door through which DermaLens writes to a person.

    send_account_email(kind="password_reset", to=user.email, context={"link": link})

Call it only after the request's writes have succeeded: the message then describes
something that happened. Each kind is two templates, ``accounts/email/<kind>_subject.txt``
and ``accounts/email/<kind>.txt`` (the plain-text body, every message has one), rendered
here in the caller's thread, so a template error shows at once.

Sending goes through Django's ``EMAIL_BACKEND`` (Amazon SES through django-ses with the
host's IAM role in production, the console under ``make run``) on one sender thread per
process, off the request's path: a request never waits on SES, and an account that
exists answers a password-reset request as fast as one that does not. What it costs:
the queue is in memory, so a process that is killed (not stopped) loses the messages
not yet handed to SES; a graceful stop sends them first (Python joins the sender thread
at exit). A failed send is logged (kind and error type, never the address or the link)
and not retried; the person can ask again. When the job framework exists, this is the
one function to re-route onto it.

Whatever asks for it, a mailbox gets at most ``ACCOUNT_EMAILS_PER_ADDRESS_PER_HOUR``
messages an hour, counted in DynamoDB under a keyed digest of its inbox (the address
without a ``+tag``, ``emails.inbox_of``, so that registrations of ``bob+1``, ``bob+2``,
... do not each mail bob's inbox its own allowance): the views'
limits count requests, and some requests that send mail (a password change, an email
change's notice) are limited per account, so an account registered with a stranger's
address could otherwise mail that stranger a notice at every change. Past it a message
is dropped and logged (``mailbox_limit``); should the count fail, the message goes.
"""

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from accounts.emails import inbox_of, mail_address
from accounts.links import email_digest
from dynamo.errors import DynamoError
from dynamo.limits import limits_table

logger = logging.getLogger("dermalens.mail")

KINDS = frozenset(
    {
        "verify_email",
        "password_reset",
        "password_changed",
        "email_change",
        "email_change_requested",
        "email_changed",
    }
)
# One sender thread: messages leave in the order they were asked for, and a burst of
# requests never opens more than one SES connection per process.
SENDER_THREADS = 1
MAILBOX_WINDOW_SECONDS = 3600

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def send_account_email(*, kind: str, to: str, context: dict[str, Any]) -> Future:
    """Render one message of ``kind`` for ``to`` and queue it for sending; returns at once."""
    message = render_account_email(kind=kind, to=to, context=context)
    return sender().submit(deliver, kind, message)


def render_account_email(*, kind: str, to: str, context: dict[str, Any]) -> EmailMessage:
    if kind not in KINDS:
        raise ValueError(f"unknown account email {kind!r}; add its templates and name to KINDS")
    if isinstance(context.get("full_name"), str):
        # One line, as names are taken now: one stored before could hold line breaks,
        # and would open the message with lines of its own.
        context = {**context, "full_name": " ".join(context["full_name"].split())}
    subject = render_to_string(f"accounts/email/{kind}_subject.txt", context)
    body = render_to_string(f"accounts/email/{kind}.txt", context)
    return EmailMessage(
        subject=" ".join(subject.split()),  # one line: a header cannot hold a newline
        body=body.strip() + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[mail_address(to)],
    )


def deliver(kind: str, message: EmailMessage) -> None:
    if not mailbox_allows(message.to[0]):
        logger.warning("account email not sent", extra={"kind": kind, "error": "mailbox_limit"})
        return
    try:
        message.send()
    except Exception as err:  # a sender thread must outlive any provider failure
        logger.warning("account email not sent", extra={"kind": kind, "error": type(err).__name__})
    else:
        logger.info("account email sent", extra={"kind": kind})


def mailbox_allows(address: str) -> bool:
    """Count one more message to ``address``'s inbox this hour (``inbox_of``: its
    ``+tag`` spellings are one); False past the hour's allowance."""
    key = f"{settings.RATE_LIMIT_NAMESPACE}#mailbox#{email_digest(inbox_of(address))}"
    try:
        count = limits_table().count_in_window(
            key, seconds=MAILBOX_WINDOW_SECONDS, now=int(time.time())
        )
    except DynamoError as err:
        logger.warning("mailbox count failed", extra={"error": type(err).__name__})
        return True
    return count.hits <= settings.ACCOUNT_EMAILS_PER_ADDRESS_PER_HOUR


def wait_for_account_email(timeout: float = 30.0) -> None:
    """Block until every message queued so far in this process has been handed over."""
    sender().submit(lambda: None).result(timeout=timeout)


def sender() -> ThreadPoolExecutor:
    # Made at first use, so that each gunicorn worker (forked) has its own thread.
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=SENDER_THREADS, thread_name_prefix="account-email"
            )
        return _executor
