"""Write one account's export (the same zip as GET /users/me/export) to a file.

    python manage.py export_user --email ana@example.com --output ana.zip

The archive is written in chunks as it is produced, to FILE.partial first, and renamed
only when complete: a failed export never leaves a file that looks whole. The export
writing FILE.partial holds a lock on it: another export to FILE is refused while it runs,
and a partial file that no export holds (one killed midway) is written over.
"""

import fcntl
import os
from pathlib import Path
from typing import BinaryIO

from django.core.management.base import CommandError

from dermalens_site.commands import DataCommand
from ops.services import record_command_action
from privacy import selectors, services


class Command(DataCommand):
    help = "Export everything the service holds about one account to a zip file."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="the account's email address")
        parser.add_argument(
            "--output",
            metavar="FILE",
            help="where to write the zip (default: dermalens-export-<user id>-<date>.zip)",
        )

    def handle(self, *args, email: str, output: str | None, **options):
        user_id = selectors.find_account_id(email=email)
        if user_id is None:
            raise CommandError(f"No account has the email {email!r}.")
        path = Path(output or services.export_filename(user_id=user_id))
        if path.exists():
            raise CommandError(f"{path} exists already; choose another --output.")
        partial = path.with_name(path.name + ".partial")
        archive = locked_partial_file(partial)
        size = 0
        try:
            with archive:
                for chunk in services.export_account(user_id=user_id):
                    try:
                        archive.write(chunk)
                    except OSError as err:
                        raise CommandError(
                            f"Writing {partial} failed: {err.strerror or err}."
                        ) from err
                    size += len(chunk)
            partial.rename(path)
        except services.AccountNotFound as err:
            raise CommandError(f"The account {user_id} is gone.") from err
        finally:
            partial.unlink(missing_ok=True)
        record_command_action(
            action="export_account",
            target_user_id=user_id,
            bytes=size,
        )
        self.stdout.write(f"Wrote the export of {user_id} ({size} bytes) to {path}")


def locked_partial_file(partial: Path) -> BinaryIO:
    """``partial`` opened empty for writing, locked for as long as it is open; a
    CommandError if another export holds it (the lock goes with its process)."""
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT, 0o600)
    except OSError as err:
        raise CommandError(f"Cannot write {partial}: {err.strerror or err}.") from err
    archive = os.fdopen(descriptor, "wb")
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as err:
        archive.close()
        raise CommandError(f"Another export is writing {partial}; wait for it.") from err
    # What a killed export left there is written over.
    archive.truncate(0)
    return archive
