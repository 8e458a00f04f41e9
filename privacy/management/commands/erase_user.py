"""Erase one account and everything it holds, as DELETE /users/me does.

    python manage.py erase_user --email ana@example.com          # asks to confirm
    python manage.py erase_user --email ana@example.com --yes    # for scripts

Finds the account by its email claim, or through the ``email-index`` when an erasure
was interrupted after the claim went; running it again finishes an interrupted one.
The audit trail holds the erasure's start before any of it is done (a process killed
midway leaves that much), and its end: erased, or failed and why (Ctrl-C, SIGTERM and
errors alike).
"""

import contextlib
import signal
import threading
from collections.abc import Iterator

from django.core.management.base import CommandError

from accounts.services import normalize_email
from dermalens_site.commands import DataCommand
from dynamo.errors import DynamoError
from ops.services import record_command_action
from privacy import selectors, services


class Command(DataCommand):
    help = "Erase an account: its profile, scans, images, plans, check-ins and chat."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="the account's email address")
        parser.add_argument("--yes", action="store_true", help="do not ask to confirm")

    def handle(self, *args, email: str, yes: bool, **options):
        email = normalize_email(email)
        user_id = selectors.find_account_id(email=email)
        if user_id is None:
            raise CommandError(f"No account has the email {email!r} (nothing to erase).")
        if not yes and not self.confirmed(email, user_id):
            raise CommandError("Aborted; nothing was erased.")
        record_command_action(action="erase_account_started", target_user_id=user_id)
        try:
            with terminate_as_interrupt():
                services.erase_account(user_id=user_id, email=email)
        except (Exception, KeyboardInterrupt) as err:
            interrupted = isinstance(err, KeyboardInterrupt)
            with contextlib.suppress(DynamoError):  # the failure itself says more
                record_command_action(
                    action="erase_account_failed",
                    target_user_id=user_id,
                    error="interrupted" if interrupted else type(err).__name__,
                )
            if interrupted:
                raise CommandError(
                    f"Interrupted: the account {user_id} is closed and partly erased. "
                    "Run the same command again to finish."
                ) from None
            raise
        record_command_action(action="erase_account", target_user_id=user_id)
        self.stdout.write(f"Erased the account {user_id} ({email}).")

    def confirmed(self, email: str, user_id: str) -> bool:
        self.stdout.write(
            f"This erases the account {user_id} ({email}) and all its data, for good."
        )
        try:
            answer = input("Type 'yes' to erase it: ")
        except EOFError:
            answer = ""
        return answer.strip().lower() == "yes"


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (systemd, a container's stop) ends the block as Ctrl-C does, so that an
    erasure stopped that way is recorded too, rather than the process just ending."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread (a command called from another)
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
