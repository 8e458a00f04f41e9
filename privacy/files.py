"""A user's stored files (scan images, thumbnails, overlays), found by walking their prefix.

    for key in user_file_keys(user_id):        # "<user_id>/<scan_id>/image.jpg", ...
        for chunk in read_file_chunks(key):
            ...
    delete_user_files(user_id)

Every file of a user lives under ``<user_id>/`` in the ``scan_images`` storage (see
``scans.storage``). Walking that prefix, rather than following the scan items, also
finds files whose item was never written (an upload interrupted between the two) and
overlays, which no item names: export and erasure cover whatever is stored.
"""

import contextlib
import posixpath
from collections.abc import Iterator

from scans.storage import StorageUnavailable, scan_storage, storage_errors

# Read size for streaming a file into the export: one chunk in memory at a time.
CHUNK_BYTES = 64 * 1024


def user_prefix(user_id: str) -> str:
    return f"{user_id}/"


def user_file_keys(user_id: str) -> Iterator[str]:
    """The storage key of every file under the user's prefix, directory by directory."""
    for directory, names in _walk(user_prefix(user_id)):
        for name in names:
            yield posixpath.join(directory, name)


def read_file_chunks(key: str) -> Iterator[bytes]:
    """The stored file in chunks; nothing when it is gone meanwhile.

    On the filesystem only one chunk is in memory; django-storages' S3 file buffers
    the one object it reads, so memory stays bounded by the largest image (10 MB).
    """
    try:
        with scan_storage().open(key, "rb") as stored:
            yield from stored.chunks(CHUNK_BYTES)
    except FileNotFoundError:
        return
    except storage_errors() as err:
        if _is_missing(err):
            return
        raise StorageUnavailable() from err


def delete_user_files(user_id: str) -> int:
    """Delete every file under the user's prefix (and, on a filesystem, its directories).

    A file that is already gone is fine, so an interrupted erasure can be run again.
    Returns how many files were deleted.
    """
    storage = scan_storage()
    deleted = 0
    try:
        # Deepest directories first, so each is empty when its turn comes.
        for directory, names in reversed(list(_walk(user_prefix(user_id)))):
            for name in names:
                storage.delete(posixpath.join(directory, name))
                deleted += 1
            # Only a filesystem has directories; on S3 a prefix vanishes with its objects.
            if storage.exists(directory):
                # Not empty means a file arrived meanwhile: erasure's second sweep takes it.
                with contextlib.suppress(OSError):
                    storage.delete(directory)
    except storage_errors() as err:
        raise StorageUnavailable() from err
    return deleted


def _walk(top: str) -> Iterator[tuple[str, list[str]]]:
    """(directory, its file names) for ``top`` and every directory below, parents first."""
    pending = [top.rstrip("/")]
    while pending:
        directory = pending.pop()
        directories, files = _listdir(directory)
        yield directory, files
        pending += [posixpath.join(directory, name) for name in reversed(directories)]


def _listdir(directory: str) -> tuple[list[str], list[str]]:
    try:
        directories, files = scan_storage().listdir(directory)
    except FileNotFoundError:
        return [], []
    except storage_errors() as err:
        raise StorageUnavailable() from err
    return sorted(directories), sorted(files)


def _is_missing(err: BaseException) -> bool:
    response = getattr(err, "response", None) or {}
    return response.get("Error", {}).get("Code") in ("NoSuchKey", "404")
