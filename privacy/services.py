"""Account export and erasure: everything the service holds about one user.

    chunks = export_account(user_id=user_id)      # a zip archive, streamed
    erase_account(user_id=user_id)                 # re-runnable until it completes

Export writes one JSON document (profile, scans with analyses, plans, check-ins, chat)
and every stored file of the user, entry by entry, so memory stays flat however much
there is.

Erasure first closes the account in one write (login refused, every token revoked, and
no data may be written for it any more: each write that creates data checks that in
its own transaction). It then deletes the stored files, then the items of every domain,
then the email claim and the user item last: until the user item goes the account can
be found (by the claim, or the ``email-index``) and the erasure run again. A person
(``DELETE /users/me``) or staff (the ops page) only start it (``begin_erasure``): it
runs as a job (``privacy.tasks.erase_account``), since a large account takes longer
than a request may; ``manage.py erase_user`` runs it in the foreground.
"""

import contextlib
import posixpath
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from accounts.services import confirm_password
from ai.analysis import now_iso
from dermalens_site.errors import NotFound
from dynamo.errors import ItemNotFound
from dynamo.partitions import (
    USER_PARTITIONS,
    delete_failed_analysis_log,
    delete_partition,
    delete_user_items,
)
from dynamo.users import User, users_table
from jobs.services import enqueue
from privacy import selectors
from privacy.archive import Entry, json_array, json_chunks, json_value, zip_stream
from privacy.files import delete_user_files, read_file_chunks, user_file_keys, user_prefix

DOCUMENT_NAME = "dermalens-export.json"
IMAGES_FOLDER = "images"


class AccountNotFound(NotFound):
    default_message = "No such account."


def export_filename(*, user_id: str | None = None, today: date | None = None) -> str:
    """dermalens-export-<date>.zip; staff exports name the account too."""
    day = (today or datetime.now(UTC).date()).isoformat()
    return f"dermalens-export-{user_id}-{day}.zip" if user_id else f"dermalens-export-{day}.zip"


def export_account(*, user_id: str) -> Iterator[bytes]:
    """The zip archive of the account, as chunks of bytes produced while it is written.

    The profile is read before the first chunk, so a missing account (or an unavailable
    table) is an error the caller can still answer with, not a broken download.
    """
    profile = selectors.profile_of(user_id=user_id)
    if profile is None:
        raise AccountNotFound()
    return zip_stream(_export_entries(user_id, profile))


def _export_entries(user_id: str, profile: dict[str, Any]) -> Iterator[Entry]:
    # The keys only (a few short strings per scan): the files are read one at a time later.
    files = {key: _archive_path(user_id, key) for key in user_file_keys(user_id)}
    paths_by_scan: dict[str, list[str]] = defaultdict(list)
    for path in files.values():
        paths_by_scan[path.split("/")[1]].append(path)
    yield DOCUMENT_NAME, json_chunks(_document(user_id, profile, paths_by_scan))
    for key, path in files.items():
        yield path, read_file_chunks(key)


def _document(
    user_id: str, profile: dict[str, Any], paths_by_scan: dict[str, list[str]]
) -> Iterator[str]:
    """The JSON document, record by record."""
    exported_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    yield '{\n"exported_at": ' + json_value(exported_at)
    yield ',\n"profile": ' + json_value(profile)
    yield ',\n"scans": '
    yield from json_array(
        # Each scan names its files in the archive (image, thumbnail, overlays).
        {**scan, "files": paths_by_scan.get(scan["scan_id"], [])}
        for scan in selectors.scans_of(user_id=user_id)
    )
    yield ',\n"failed_analyses": '
    yield from json_array(selectors.failed_analyses_of(user_id=user_id))
    yield ',\n"plans": '
    yield from json_array(selectors.plans_of(user_id=user_id))
    yield ',\n"check_ins": '
    yield from json_array(selectors.check_ins_of(user_id=user_id))
    yield ',\n"chat": {\n"sessions": '
    yield from json_array(selectors.chat_sessions_of(user_id=user_id))
    yield ',\n"messages": '
    yield from json_array(selectors.chat_messages_of(user_id=user_id))
    yield "\n}\n}\n"


def _archive_path(user_id: str, key: str) -> str:
    # "<user_id>/<scan_id>/image.jpg" -> "images/<scan_id>/image.jpg"
    return posixpath.join(IMAGES_FOLDER, key.removeprefix(user_prefix(user_id)))


def erase_account(*, user_id: str, email: str | None = None) -> None:
    """Delete every file and item of the account; running it again finishes the job.

    ``email`` is needed only when the user item is gone but its claim is not (the
    user item carries the address otherwise). Each step deletes whatever is still
    there, so a repeat after any interruption is harmless. A second sweep of
    files and items at the end takes what requests in flight wrote meanwhile.
    """
    profile = selectors.profile_of(user_id=user_id)
    if profile is not None:
        email = profile["email"]
        close_account(user_id)
    _erase_data(user_id)
    delete_user_items(user_id, email)
    _erase_data(user_id)


def _erase_data(user_id: str) -> None:
    # Files first, then items: an interrupted run may leave items whose files are gone
    # (the next run takes them), never files that no item points to.
    delete_user_files(user_id)
    # Before the scans, which keep the ids of the entries.
    delete_failed_analysis_log(user_id)
    for definition in USER_PARTITIONS:
        delete_partition(definition, user_id)


def close_account(user_id: str) -> None:
    """Make the account unusable and closed to new data; nothing when it is gone already."""
    with contextlib.suppress(ItemNotFound):
        users_table().start_erasure(user_id, started_at=now_iso())


def begin_erasure(*, user_id: str) -> None:
    """Start erasing the account as a job; it is unusable when this returns.

    The job is handed over first, so that a refusal of the queue (a 503) leaves the
    account as it was, to be tried again; then the account is closed, unless the job
    (run here when no queue is configured) has done it already.
    """
    from privacy import tasks  # the task calls back into this module

    enqueue(tasks.erase_account, user_id=user_id)
    close_account(user_id)


def erase_own_account(*, user: User, password: str) -> None:
    """Start erasing the caller's account once they have confirmed it with their password."""
    confirm_password(user, password)
    begin_erasure(user_id=user.user_id)
