"""Where scan images live, through Django's storages API, and how clients reach them.

    save_scan_file(key, data)
    url = image_url(key)   # short-lived: S3 presigned GET, or a signed local URL

Keys are per user and per scan (``<user_id>/<scan_id>/image.jpg``). On S3 the objects
are private and encrypted at rest; a client only ever gets a URL that expires in
``IMAGE_URL_SECONDS``. On the filesystem the same is done with a signed token that the
``scan-image`` view checks.

A URL is made once per key and handed out again for the first third of its life (from
the worker's ``image_urls`` cache), so every URL a client gets has at least two thirds
of its life left. Making an S3 presigned URL costs botocore about 0.4 ms of CPU, 8 ms for
a list page of 20 thumbnails; and a repeated URL lets the client's HTTP cache keep the
image rather than fetch it again on every refresh.
"""

import functools
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
from django.urls import get_script_prefix, reverse

from dermalens_site.errors import ServiceUnavailable
from dermalens_site.s3_storage import S3Storage
from dynamo.process_cache import process_cache

IMAGE_NAME = "image.jpg"
THUMBNAIL_NAME = "thumbnail.jpg"
URL_SALT = "dermalens.scans.image-url"
URL_CACHE_ALIAS = "image_urls"


class StorageUnavailable(ServiceUnavailable):
    default_code = "storage_unavailable"
    default_message = "Image storage is unavailable right now; please retry shortly."


def scan_storage() -> Storage:
    return storages["scan_images"]


def scan_prefix(user_id: str, scan_id: str) -> str:
    return f"{user_id}/{scan_id}/"


def image_key(user_id: str, scan_id: str) -> str:
    return scan_prefix(user_id, scan_id) + IMAGE_NAME


def thumbnail_key(user_id: str, scan_id: str) -> str:
    return scan_prefix(user_id, scan_id) + THUMBNAIL_NAME


def overlay_key(user_id: str, scan_id: str, metric: str) -> str:
    return scan_prefix(user_id, scan_id) + f"overlay-{metric}.png"


def uses_s3() -> bool:
    return bool(settings.S3_BUCKET_NAME)


def connect_to_s3() -> None:
    """Make this thread's S3 connection now (nothing is sent), as a web worker does at
    start; without S3, nothing."""
    storage = scan_storage()
    if isinstance(storage, S3Storage):
        storage.connection  # noqa: B018 (a property that makes it)


def storage_errors() -> tuple[type[BaseException], ...]:
    """The failures of the storage backend that mean "unavailable", not "bug"."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (OSError, BotoCoreError, ClientError)


def save_scan_file(key: str, data: bytes) -> None:
    try:
        scan_storage().save(key, ContentFile(data))
    except storage_errors() as err:
        raise StorageUnavailable() from err


def read_scan_file(key: str) -> bytes | None:
    """The stored bytes, or None when the file is not there."""
    storage = scan_storage()
    try:
        with storage.open(key, "rb") as stored:
            return stored.read()
    except FileNotFoundError:
        return None
    except storage_errors() as err:
        if _is_missing(err):
            return None
        raise StorageUnavailable() from err


def delete_scan_files(keys: list[str]) -> None:
    """Delete files; a file that is already gone is fine (erasure can be re-run)."""
    storage = scan_storage()
    try:
        for key in keys:
            storage.delete(key)
    except storage_errors() as err:
        raise StorageUnavailable() from err


def image_url(key: str) -> str:
    """A URL that shows the file for at least two thirds of IMAGE_URL_SECONDS."""
    urls = process_cache(URL_CACHE_ALIAS)
    url = urls.get(key)
    if url is None:
        url = new_image_url(key)
        urls.set(key, url, timeout=settings.IMAGE_URL_SECONDS // 3)
    return url


def new_image_url(key: str) -> str:
    """A URL that shows the file for IMAGE_URL_SECONDS from now, then stops working."""
    if uses_s3():
        return scan_storage().url(key)
    token = signing.dumps(key, salt=URL_SALT)
    return file_url_prefix(get_script_prefix()) + token


@functools.cache
def file_url_prefix(script_prefix: str) -> str:
    """The path before the token (``reverse`` costs ~0.2 ms; a list page signs 20 URLs)."""
    placeholder = "token"
    return reverse("scan-image-file", kwargs={"token": placeholder}).removesuffix(placeholder)


@dataclass(frozen=True, slots=True)
class SignedImage:
    """What a valid signed URL grants: one file, for ``seconds_left`` more seconds."""

    key: str
    seconds_left: int


def signed_image(token: str) -> SignedImage | None:
    """The file a token names and how long it still may be shown; None if invalid or expired."""
    try:
        key = signing.loads(token, salt=URL_SALT, max_age=settings.IMAGE_URL_SECONDS)
    except signing.BadSignature:
        return None
    # A token is "<payload>:<base62 timestamp>:<signature>" (django.core.signing); the
    # signature has been checked, so its timestamp is the one it was signed with.
    signed_at = signing.b62_decode(token.rsplit(signing.Signer().sep, 2)[-2])
    seconds_left = settings.IMAGE_URL_SECONDS - (time.time() - signed_at)
    return SignedImage(key=key, seconds_left=max(0, math.floor(seconds_left)))


def key_from_token(token: str) -> str | None:
    image = signed_image(token)
    return image.key if image else None


def _is_missing(err: BaseException) -> bool:
    response = getattr(err, "response", None) or {}
    return response.get("Error", {}).get("Code") in ("NoSuchKey", "404")
