"""DermaLens settings: every value is read from the environment once, here.

Production safety is the default (``DEBUG`` off, secure cookies, HSTS, TLS redirect);
local convenience is opt-in through ``.env`` (see ``.env.example``). There is no SQL
database: records live in DynamoDB behind the ``dynamo`` package.
"""

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ  # type: ignore[import-untyped]  # django-environ ships no type information
from botocore.config import Config as BotocoreConfig
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Values already in the process environment win over .env, so a deployment's real
# environment is never overridden by a stray file.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)


def _number(
    variable: str,
    default: Any,
    kind: type,
    lowest: float = 0,
    highest: float | None = None,
    above_zero: bool = False,
) -> Any:
    """``variable`` read as a number of ``kind`` (int or float) from ``lowest`` to
    ``highest`` (or more than 0, ``above_zero``: a timeout); ``default`` when unset or
    empty. Anything else stops the start with the variable's name, where django-environ's
    own readers take "30s" for 30, "1,5" for 1.5 and "-5" for a daily allowance, answer
    "abc" with a traceback that names no variable, and take 0 connections or 0 attempts."""
    text = env.str(variable, default="").strip()
    if not text:
        return default
    written = r"[0-9]{1,18}" if kind is int else r"[0-9]{1,18}(\.[0-9]{0,9})?|\.[0-9]{1,9}"
    value = kind(text) if re.fullmatch(written, text) else None
    if (
        value is None
        or value < lowest
        or (highest is not None and value > highest)
        or (above_zero and value == 0)
    ):
        what = "a whole number" if kind is int else "a number"
        if above_zero:
            span = "above 0"
        elif highest is None:
            span = f"{lowest:g} or more"
        else:
            span = f"from {lowest:g} to {highest:g}"
        raise ImproperlyConfigured(f"{variable} must be {what}, {span} (it is {text!r}).")
    return value


def _table_name(variable: str, default: str) -> str:
    """``variable`` as a DynamoDB table's name (3-255 letters, digits, "_", "-" and "."),
    ``default`` when unset or empty; another stops the start with the variable's name,
    where DynamoDB would refuse it with a 400 at the first call."""
    name = env.str(variable, default="").strip() or default
    if not re.fullmatch(r"[A-Za-z0-9_.-]{3,255}", name):
        raise ImproperlyConfigured(
            f"{variable} must be a DynamoDB table name: 3 to 255 letters, digits, "
            f"'_', '-' or '.' (it is {name!r})."
        )
    return name


def _url(variable: str, default: str = "") -> str:
    """``variable`` as an http or https URL with a host, ``default`` when unset or empty
    (which may be "": no URL). Another stops the start with the variable's name, where a
    URL without its scheme ("127.0.0.1:43473") failed each call made to it, which read
    as the service behind it being down, or went out in emailed links that open nothing."""
    url = env.str(variable, default="").strip() or default
    if not url:
        return url
    parts = urlsplit(url)
    try:
        port = parts.port  # a port that is no number, or past 65535, raises
    except ValueError:
        port = -1
    if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
        # What comes before an "@" may be a user and password: the message leaves it out.
        shown = "...@" + url.rpartition("@")[2] if "@" in url else url
        raise ImproperlyConfigured(
            f"{variable} must be an http:// or https:// URL with a host, such as "
            f"https://api.example.com (it is {shown!r})."
        )
    return url


def _api_key(variable: str) -> str | None:
    """``variable`` as an API key, stripped; None when unset or empty. A key is printable
    ASCII without spaces or quotes: a key pasted with a document's curly quotes around
    it, or with a space in it, was refused on every call, which read as the provider
    being unavailable. The message never shows the key, only where it is wrong."""
    key = env.str(variable, default="").strip()
    if not key:
        return None
    wrong = [
        place
        for place, character in enumerate(key, start=1)
        if not "!" <= character <= "~" or character in "\"'`"
    ]
    if wrong:
        raise ImproperlyConfigured(
            f"{variable} must be the key as issued: printable ASCII letters, digits and "
            f"punctuation, without spaces or quotes (character {wrong[0]} of its "
            f"{len(key)} is not one; the key itself is not shown)."
        )
    return key


def _choice(variable: str, default: str, choices: tuple[str, ...]) -> str:
    """``variable`` as one of ``choices``, written in any case, ``default`` when unset or
    empty; another stops the start naming the variable and the choices."""
    text = env.str(variable, default="").strip() or default
    for choice in choices:
        if text.casefold() == choice.casefold():
            return choice
    raise ImproperlyConfigured(
        f"{variable} must be one of {', '.join(choices)}, in any case (it is {text!r})."
    )


def _int(variable: str, default: int, lowest: int = 0, highest: int | None = None) -> int:
    return _number(variable, default, int, lowest, highest)


def _float(variable: str, default: float, above_zero: bool = False) -> float:
    return _number(variable, default, float, above_zero=above_zero)


# A placeholder that only development may use. Production refuses it (below).
_DEVELOPMENT_SECRET_KEY = "dermalens-development-only-secret-key-never-use-in-production"  # noqa: S105


def _secret_key(variable: str, default: str) -> str:
    """``variable`` as a signing key; production refuses one anyone could guess (the
    development placeholder, an example's, short or of few characters): whoever knows
    the key signs sessions and links for any account."""
    key = env.str(variable, default="") or default
    if not DEBUG and (
        key == _DEVELOPMENT_SECRET_KEY
        or key.startswith("change-me")
        or len(key) < 50
        or len(set(key)) < 5
    ):
        raise ImproperlyConfigured(
            f"{variable} is missing or insecure. With DEBUG=false set {variable} to a random "
            "value of at least 50 characters, for example the output of "
            "`python -c 'import secrets; print(secrets.token_urlsafe(64))'`."
        )
    return key


SECRET_KEY = _secret_key("SECRET_KEY", _DEVELOPMENT_SECRET_KEY)

# Entries as written around commas ("localhost, api.example.com"): a space kept in a name
# refused every request for it with a 400.
ALLOWED_HOSTS = [
    host.strip()
    for host in env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"] if DEBUG else [])
    if host.strip()
]

INSTALLED_APPS = [
    # contrib.auth is installed only because simplejwt imports its models; nothing
    # queries it (there is no database). Users live in the DynamoDB users table.
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "dynamo",
    "accounts",
    "scans",
    "plans",
    "chat",
    "ops",
    "ai",
    "privacy",
    "jobs",
    "telemetry",
]

MIDDLEWARE = [
    # The load balancer's health checks name the instance's IP address as their Host.
    "dermalens_site.middleware.HealthCheckHostMiddleware",
    "dermalens_site.middleware.RequestLogMiddleware",
    # Before the size limit, so that its refusals carry the security headers too.
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "dermalens_site.middleware.PrivateAnswersMiddleware",
    # Its 400 for a Host not allowed passes out through those above (their headers).
    "dermalens_site.middleware.AllowedHostMiddleware",
    "dermalens_site.middleware.BodySizeLimitMiddleware",
    "dermalens_site.middleware.IdentityBodiesMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "dermalens_site.middleware.AIWorkSlotMiddleware",
]

ROOT_URLCONF = "dermalens_site.urls"
# API paths have no trailing slash; never redirect a POST to a slashed URL.
APPEND_SLASH = False
WSGI_APPLICATION = "dermalens_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
            ],
        },
    },
]

# No SQL database, and no ORM model anywhere.
DATABASES: dict = {}
# Per-process memory only: nothing here outlives AUTH_USER_CACHE_SECONDS (see dynamo/users.py).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Immutable values, stored unpickled (dynamo/process_cache.py).
    "users": {
        "BACKEND": "dynamo.process_cache.ObjectMemoryCache",
        "LOCATION": "dermalens-users",
        "OPTIONS": {"MAX_ENTRIES": 10_000},
    },
    # Access tokens this worker has verified, each until it expires
    # (accounts/authentication.py): about 1.5 KB each.
    "access_tokens": {
        "BACKEND": "dynamo.process_cache.ObjectMemoryCache",
        "LOCATION": "dermalens-access-tokens",
        "OPTIONS": {"MAX_ENTRIES": 5_000},
    },
    # Signed image URLs, each reused for a third of its life (scans/storage.py). A
    # presigned S3 URL is about 1 KB: at most some 5 MB per worker.
    "image_urls": {
        "BACKEND": "dynamo.process_cache.ObjectMemoryCache",
        "LOCATION": "dermalens-image-urls",
        "OPTIONS": {"MAX_ENTRIES": 5_000},
    },
}
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
# Only the ops pages keep a session (a staff sign-in): a working day, sent to /ops/ only.
SESSION_COOKIE_AGE = 8 * 60 * 60
SESSION_COOKIE_PATH = "/ops/"

PASSWORD_HASHERS = [
    # Django's Argon2 of the password's NFKC form, hashing off the event loop of a gevent
    # worker; then the hashes made before: Argon2 of the password as typed, PBKDF2.
    "accounts.hashers.NormalisedArgon2PasswordHasher",
    "accounts.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 128
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "accounts.validators.AttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("email", "full_name")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.VariedCharactersValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Production serves the output of `collectstatic` (hashed, compressed) through
# WhiteNoise; development and tests serve straight from the apps, no collect step.
STATIC_FROM_APPS = env.bool("STATIC_FROM_APPS", default=DEBUG)
WHITENOISE_USE_FINDERS = STATIC_FROM_APPS
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if STATIC_FROM_APPS
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Request size limits: JSON bodies are small; a larger body is a 413, never a 500.
MAX_JSON_BODY_BYTES = _int("MAX_JSON_BODY_BYTES", 64 * 1024, lowest=1)
MAX_IMAGE_BYTES = _int("MAX_IMAGE_BYTES", 10 * 1024 * 1024, lowest=1)
# An image upload's body is the image plus its multipart envelope and form fields.
MAX_UPLOAD_BODY_BYTES = MAX_IMAGE_BYTES + 64 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_JSON_BODY_BYTES

# --- AWS --------------------------------------------------------------------------
# Credentials come from boto3's default chain only (the IAM role in production).
AWS_REGION = env.str("AWS_REGION", default="us-east-1")
AWS_DYNAMODB_ENDPOINT = _url("AWS_DYNAMODB_ENDPOINT") or None
DYNAMODB_USERS_TABLE = _table_name("DYNAMODB_USERS_TABLE", "dermalens-users")
DYNAMODB_SCANS_TABLE = _table_name("DYNAMODB_SCANS_TABLE", "dermalens-scans")
DYNAMODB_PLANS_TABLE = _table_name("DYNAMODB_PLANS_TABLE", "dermalens-treatment-plans")
DYNAMODB_CHAT_TABLE = _table_name("DYNAMODB_CHAT_TABLE", "dermalens-chat-messages")
DYNAMODB_AUDIT_TABLE = _table_name("DYNAMODB_AUDIT_TABLE", "dermalens-audit")
DYNAMODB_JOBS_TABLE = _table_name("DYNAMODB_JOBS_TABLE", "dermalens-jobs")
DYNAMODB_CONNECT_TIMEOUT_SECONDS = _float("DYNAMODB_CONNECT_TIMEOUT_SECONDS", 2.0, above_zero=True)
DYNAMODB_READ_TIMEOUT_SECONDS = _float("DYNAMODB_READ_TIMEOUT_SECONDS", 5.0, above_zero=True)
DYNAMODB_MAX_ATTEMPTS = _int("DYNAMODB_MAX_ATTEMPTS", 3, lowest=1)
# Status checks (readiness, the dashboard, table_status): one attempt, this long to
# connect and as long to answer; a check answers within twice this whatever DynamoDB does.
DYNAMODB_STATUS_TIMEOUT_SECONDS = _float("DYNAMODB_STATUS_TIMEOUT_SECONDS", 1.0, above_zero=True)
# Kept-alive connections per worker: a gevent worker has hundreds of requests in flight,
# and past the pool each call opens (and then drops) a connection of its own.
DYNAMODB_MAX_POOL_CONNECTIONS = _int("DYNAMODB_MAX_POOL_CONNECTIONS", 200, lowest=1)
S3_BUCKET_NAME = env.str("S3_BUCKET_NAME", default="") or None
# Only for S3-compatible local servers (tests): another S3 address.
AWS_S3_ENDPOINT = _url("AWS_S3_ENDPOINT") or None
ANALYSIS_QUEUE_URL = env.str("ANALYSIS_QUEUE_URL", default="") or None
# Only for a local SQS server (tests: moto's server mode): another SQS address.
AWS_SQS_ENDPOINT = _url("AWS_SQS_ENDPOINT") or None
# A received message stays hidden from other workers this long, so it must outlast one
# analysis (Gemini: at most GEMINI_CALL_DEADLINE_SECONDS); only a
# worker that died leaves its message to reappear (SQS allows up to 43200).
ANALYSIS_VISIBILITY_TIMEOUT_SECONDS = _int(
    "ANALYSIS_VISIBILITY_TIMEOUT_SECONDS", 300, lowest=1, highest=43_200
)
# SQS long polling: a receive waits up to this long for a message (SQS allows 0 to 20).
ANALYSIS_WORKER_WAIT_SECONDS = _int("ANALYSIS_WORKER_WAIT_SECONDS", 20, highest=20)
# Jobs a worker process runs at once, each in a thread: they mostly wait (on Gemini, on
# DynamoDB and S3), so many fit in one process (jobs/management/commands/jobs_worker.py).
JOBS_WORKER_THREADS = _int("JOBS_WORKER_THREADS", 32, lowest=1)

# --- AI ---------------------------------------------------------------------------
# "gemini" or "offline"; unset: Gemini when GEMINI_API_KEY is set, offline otherwise.
AI_PROVIDER = env.str("AI_PROVIDER", default="") or None
# "gemini" or "offline" for chat replies alone; unset: the provider of AI_PROVIDER.
AI_CHAT_PROVIDER = env.str("AI_CHAT_PROVIDER", default="") or None
GEMINI_API_KEY = _api_key("GEMINI_API_KEY")
# A stable (GA) model with no shutdown date announced; gemini-2.5-flash retires in 2026.
# Choosing another: README, "Choosing the Gemini model and API version".
# An empty line is the default (google-genai refused every call with an empty name).
GEMINI_MODEL = env.str("GEMINI_MODEL", default="").strip() or "gemini-3.5-flash"
# google-genai 3.x calls "v1" by default, which refuses systemInstruction and
# responseSchema (400 "Unknown name"); every call sends both, so v1beta it is.
GEMINI_API_VERSION = env.str("GEMINI_API_VERSION", default="v1beta")
# How much each use may think: a level (minimal, low, medium, high) for Gemini 3 models,
# or a token budget for 2.5 ones (0 off, -1 dynamic); empty: the model's default.
# Thoughts count against max_output_tokens and the timeout.
GEMINI_THINKING_ANALYSIS = env.str("GEMINI_THINKING_ANALYSIS", default="low")
GEMINI_THINKING_PLAN = env.str("GEMINI_THINKING_PLAN", default="low")
GEMINI_THINKING_CHAT = env.str("GEMINI_THINKING_CHAT", default="minimal")
# Only for tests and proxies: another address for the Gemini REST API.
GEMINI_BASE_URL = _url("GEMINI_BASE_URL") or None
GEMINI_TIMEOUT_SECONDS = _float("GEMINI_TIMEOUT_SECONDS", 30.0, above_zero=True)
GEMINI_MAX_ATTEMPTS = _int("GEMINI_MAX_ATTEMPTS", 3, lowest=1)
# Every attempt and wait of one call is over by then (each attempt gets what is left, at
# most GEMINI_TIMEOUT_SECONDS), so a request waiting on Gemini is answered before the
# load balancer gives up on it (its idle timeout: 60 s, the default of an ALB); above 50
# the web tier of deploy/ no longer waits for its answer (check --deploy: ai.W001).
GEMINI_CALL_DEADLINE_SECONDS = _float("GEMINI_CALL_DEADLINE_SECONDS", 50.0, above_zero=True)
# Exponential backoff between attempts (429 and 5xx), with jitter.
GEMINI_RETRY_INITIAL_DELAY_SECONDS = _float("GEMINI_RETRY_INITIAL_DELAY_SECONDS", 1.0)
GEMINI_RETRY_MAX_DELAY_SECONDS = _float("GEMINI_RETRY_MAX_DELAY_SECONDS", 10.0)
# A 429's RetryInfo delay is waited out while the waits of one call stay within this;
# a longer delay fails at once, with the server's delay as Retry-After.
GEMINI_RATE_LIMIT_BUDGET_SECONDS = _float("GEMINI_RATE_LIMIT_BUDGET_SECONDS", 15.0)
# Connections per worker to Gemini, as many as the calls a gevent worker keeps in flight
# (gunicorn's worker_connections): httpx's default of 100 would queue the rest.
GEMINI_MAX_CONNECTIONS = _int("GEMINI_MAX_CONNECTIONS", 1000, lowest=1)
# Requests that call the AI or analyse a photo doing their own work at once, per gevent
# worker (their waits on Gemini hold no slot): few, so that a burst of them leaves the
# worker's run queue short for every other request (dermalens_site.concurrency).
AI_WORK_SLOTS_PER_WORKER = _int("AI_WORK_SLOTS_PER_WORKER", 4, lowest=1)
# Their DynamoDB calls on the wire at once, per gevent worker: a request gives its slot
# back while its call is out, so that the slots compute while the calls wait; few, so
# that a burst does not queue hundreds of calls at DynamoDB before a cheap request's.
AI_DYNAMODB_CALLS_PER_WORKER = _int("AI_DYNAMODB_CALLS_PER_WORKER", 3, lowest=1)
# The calls such a request makes after its AI call answered (storing a reply, a plan)
# have places of their own, fewer: the answers of a burst come back together, and their
# writes (a plan's transaction) would otherwise queue at DynamoDB ahead of a cheap
# request's read. bench/concurrency.py's 200 plans: GET /users/me p95 45-56 ms with one,
# 51-69 ms in the shared places, five alternated pairs.
AI_DYNAMODB_CALLS_AFTER_ANSWER_PER_WORKER = _int(
    "AI_DYNAMODB_CALLS_AFTER_ANSWER_PER_WORKER", 1, lowest=1
)
# Requests that work on a photo (an upload, an analysis again) at once per gevent worker,
# in slots of their own: each decodes, re-encodes and stores a photo, CPU and GIL that
# every other request of the worker waits behind. bench/concurrency.py's 200 uploads:
# 1 slot, probes' p95 50-61 ms; 2 slots, 90 ms; in the AI slots (4), 100-122 ms; the
# burst ends as soon either way, since the cores are what it waits for.
PHOTO_WORK_SLOTS_PER_WORKER = _int("PHOTO_WORK_SLOTS_PER_WORKER", 1, lowest=1)
# Requests that check or set a password (sign-in, registration, a password change, a
# reset, a confirmation) in line at once per worker: its one password thread takes
# about 0.2 s a hash, so 48 is a wait of about 10 s at most; one more gets a 503 with
# Retry-After at once, before an attempt is counted (dermalens_site.concurrency).
PASSWORD_REQUESTS_PER_WORKER = _int("PASSWORD_REQUESTS_PER_WORKER", 48, lowest=1)
# Of those, the places only an account's own requests may take (signed in, or a sign-in
# with the device token of a device it signed in on): strangers who fill the rest, from
# a few addresses each within its limits, do not keep the owner out.
PASSWORD_REQUESTS_RESERVED_PER_WORKER = _int(
    "PASSWORD_REQUESTS_RESERVED_PER_WORKER",
    PASSWORD_REQUESTS_PER_WORKER // 4,
    highest=PASSWORD_REQUESTS_PER_WORKER - 1,
)
# Each photo slot has a child process of the worker for the photo's CPU work
# (dermalens_site.photo_processes), at this much lower a priority (nice, 0-19): the
# worker's requests go first when the cores are full. A photo that takes its process
# longer than the timeout (a decoder stuck on a hostile file) fails with a 503.
PHOTO_PROCESS_NICENESS = _int("PHOTO_PROCESS_NICENESS", 10, highest=19)
PHOTO_WORK_TIMEOUT_SECONDS = _float("PHOTO_WORK_TIMEOUT_SECONDS", 60.0, above_zero=True)
# The ops pages' daily counters: each process writes what it counted at most this often
# (0: every event at once), rather than one DynamoDB write per AI call (dynamo.daily_stats).
DAILY_STATS_WRITE_SECONDS = _float("DAILY_STATS_WRITE_SECONDS", 10.0)

# --- Scans and images ---------------------------------------------------------------
MAX_IMAGE_PIXELS = _int("MAX_IMAGE_PIXELS", 40_000_000, lowest=1)
MIN_IMAGE_SHORT_SIDE_PX = _int("MIN_IMAGE_SHORT_SIDE_PX", 480, lowest=1)
STORED_IMAGE_MAX_SIDE_PX = 4096
STORED_JPEG_QUALITY = 90
THUMBNAIL_MAX_SIDE_PX = 320
IMAGE_URL_SECONDS = 15 * 60
AI_ANALYSES_PER_DAY = _int("AI_ANALYSES_PER_DAY", 20)
# Plans Gemini drafts, per user and UTC day; past them a plan is the rules' own
# (plans.services: `drafting_note` "assistant_quota_reached").
AI_PLAN_DRAFTS_PER_DAY = _int("AI_PLAN_DRAFTS_PER_DAY", 10)
SCAN_NOTES_MAX_LENGTH = 1000
CHECK_IN_NOTES_MAX_LENGTH = 1000
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))


def s3_scan_images_storage(bucket: str, region: str, endpoint: str | None) -> dict:
    """Private, encrypted S3 objects through django-storages, reached by presigned URLs."""
    return {
        "BACKEND": "dermalens_site.s3_storage.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "region_name": region,
            # No ACL header: objects are private to the bucket's account anyway, and a
            # bucket with ACLs disabled (BucketOwnerEnforced, the default for new
            # buckets and our CloudFormation template's) refuses any ACL but
            # bucket-owner-full-control.
            "default_acl": None,
            "object_parameters": {"ServerSideEncryption": "AES256"},
            "signature_version": "s3v4",
            "querystring_auth": True,
            "querystring_expire": IMAGE_URL_SECONDS,
            "file_overwrite": True,
            "endpoint_url": endpoint,
            # django-storages ignores its signature_version and addressing_style options
            # once client_config is given, so they are set here too.
            "client_config": BotocoreConfig(
                signature_version="s3v4",
                # Path-style addressing only for a local S3 server, which has no DNS names.
                s3={"addressing_style": "path" if endpoint else "auto"},
                connect_timeout=2,
                read_timeout=20,
                retries={"mode": "standard", "max_attempts": 3},
            ),
            # A local S3 server accepts any credentials; AWS gets the IAM role's.
            **(
                {"access_key": "dermalenslocal", "secret_key": "dermalenslocal"} if endpoint else {}
            ),
        },
    }


if S3_BUCKET_NAME:
    _SCAN_IMAGES_STORAGE = s3_scan_images_storage(S3_BUCKET_NAME, AWS_REGION, AWS_S3_ENDPOINT)
else:
    _SCAN_IMAGES_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT / "scans", "allow_overwrite": True},
    }
STORAGES["scan_images"] = _SCAN_IMAGES_STORAGE

# --- Chat ---------------------------------------------------------------------------
AI_REPLIES_PER_DAY = _int("AI_REPLIES_PER_DAY", 50)
CHAT_HISTORY_MESSAGES = 20
CHAT_MESSAGE_MAX_LENGTH = 4000

# --- API --------------------------------------------------------------------------
ACCESS_TOKEN_MINUTES = _int("ACCESS_TOKEN_MINUTES", 15, lowest=1)
# How long a worker may authenticate from its own copy of a user (one DynamoDB call per
# read request instead of two). A change made by another worker (disable, revoke)
# reaches this one within this delay; 0 reads the user on every request.
AUTH_USER_CACHE_SECONDS = _float("AUTH_USER_CACHE_SECONDS", 5.0)
REFRESH_TOKEN_DAYS = _int("REFRESH_TOKEN_DAYS", 14, lowest=1)
# Off (0) by default: a used refresh token is refused, and presenting it again ends every
# session of the account (RFC 9700's reuse detection). Set, a refresh token sent again
# this soon after its rotation, while the new refresh token is unused, gets that same
# pair again (an answer lost on the way, refreshes sent at once) instead.
REFRESH_RETRY_SECONDS = _int("REFRESH_RETRY_SECONDS", 0)
PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100
# Scans per page of GET /scans/progress: one point per metric and scan, about 1.2 KB of
# JSON a scan with every metric. The default keeps a page near the size of a list page
# of 100 scans however long the history; the maximum is the whole chart a request read
# before the chart had pages.
PROGRESS_PAGE_SIZE_DEFAULT = 100
PROGRESS_PAGE_SIZE_MAX = 1000
CURSOR_MAX_AGE_SECONDS = 24 * 60 * 60

# --- Account email ------------------------------------------------------------------
# The address people reach this service at; links in emails start with it unless
# PASSWORD_RESET_URL / EMAIL_VERIFY_URL point at the app's own pages.
SITE_URL = _url("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
PASSWORD_RESET_URL = _url("PASSWORD_RESET_URL", f"{SITE_URL}/account/reset-password")
EMAIL_VERIFY_URL = _url("EMAIL_VERIFY_URL", f"{SITE_URL}/account/verify-email")
PASSWORD_RESET_TOKEN_MINUTES = _int("PASSWORD_RESET_TOKEN_MINUTES", 30, lowest=1)
# Django's PasswordResetTokenGenerator (accounts/links.py) reads this one.
PASSWORD_RESET_TIMEOUT = PASSWORD_RESET_TOKEN_MINUTES * 60
EMAIL_VERIFY_TOKEN_HOURS = _int("EMAIL_VERIFY_TOKEN_HOURS", 72, lowest=1)
EMAIL_CHANGE_TOKEN_HOURS = _int("EMAIL_CHANGE_TOKEN_HOURS", 24, lowest=1)
# The sender: an address (or a domain) verified in Amazon SES.
DEFAULT_FROM_EMAIL = env.str("EMAIL_FROM", default="DermaLens <no-reply@localhost>")
# Production: Amazon SES through django-ses, with the host's IAM role (no SMTP password,
# no keys), one SES client per process (dermalens_site/ses.py). `make run` (DEBUG)
# prints each message on the server's console instead.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default=(
        "django.core.mail.backends.console.EmailBackend"
        if DEBUG
        else "dermalens_site.ses.SESBackend"
    ),
)
AWS_SES_REGION_NAME = env.str("AWS_SES_REGION", default=AWS_REGION)
# Only for a local SES server (tests: moto's server mode): another SES address.
_SES_ENDPOINT = _url("AWS_SES_ENDPOINT")
if _SES_ENDPOINT:
    AWS_SES_REGION_ENDPOINT_URL = _SES_ENDPOINT
# django-ses would ask SES for the account's send rate (GetSendQuota) before every
# message; one sender thread per process and botocore's retries on Throttling do instead.
AWS_SES_AUTO_THROTTLE = None
AWS_SES_CONFIG = BotocoreConfig(
    connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 4}
)
# The SES identity (a domain or an address) that the IAM policy lets the app send as;
# unset: the domain of EMAIL_FROM.
AWS_SES_IDENTITY = env.str("AWS_SES_IDENTITY", default="") or None

# Rate-limit counters (DynamoDB, shared by every worker) of deployments that share a
# users table are kept apart by this prefix.
RATE_LIMIT_NAMESPACE = env.str("RATE_LIMIT_NAMESPACE", default="dermalens")
# Account email to one mailbox, whatever asked for it (accounts/mail.py).
ACCOUNT_EMAILS_PER_ADDRESS_PER_HOUR = _int("ACCOUNT_EMAILS_PER_ADDRESS_PER_HOUR", 10, lowest=1)

# Failed logins are limited per account (by normalised email, whether or not it is
# registered), not per address: these many failures are free, then each further one
# locks the account's logins for a wait that doubles from the first to the longest;
# a successful login forgets them, and so does a day without a failure.
LOGIN_FAILURES_BEFORE_LOCKOUT = _int("LOGIN_FAILURES_BEFORE_LOCKOUT", 5)
LOGIN_LOCKOUT_FIRST_SECONDS = _int("LOGIN_LOCKOUT_FIRST_SECONDS", 60, lowest=1)
LOGIN_LOCKOUT_MAX_SECONDS = _int("LOGIN_LOCKOUT_MAX_SECONDS", 60 * 60, lowest=1)
LOGIN_FAILURES_MEMORY_SECONDS = _int("LOGIN_FAILURES_MEMORY_SECONDS", 24 * 60 * 60, lowest=1)
# A session's device token (accounts/devices.py) lets later logins from that device be
# counted on the device, not the account, for this long.
LOGIN_DEVICE_TOKEN_DAYS = _int("LOGIN_DEVICE_TOKEN_DAYS", 180, lowest=1)
# Failed logins per client address an hour, whatever emails they name (password spraying):
# counted before the password is checked and given back when it is right, so the people
# behind a shared address spend it only on their typos; a login from a device that signed
# in to the account before (a device token) is never counted here.
LOGIN_FAILURES_PER_ADDRESS_PER_HOUR = _int("LOGIN_FAILURES_PER_ADDRESS_PER_HOUR", 100, lowest=1)
# An IPv6 client is counted on its /64 (one household, one phone) at an IPv4 address's
# budget, and on its /48 too (accounts/addresses.py): a carrier puts many subscribers'
# /64s in one /48, more people than behind an IPv4 NAT, while counting each /64 alone
# would give whoever holds a /48 65,536 budgets. This is the /48's.
LOGIN_FAILURES_PER_IPV6_48_PER_HOUR = _int("LOGIN_FAILURES_PER_IPV6_48_PER_HOUR", 1000, lowest=1)
# The same for the per-address rates (THROTTLE_LOGIN_RATE, ..._REGISTER_, ..._TOKEN_,
# ..._PASSWORD_RESET_, ..._AI_UNVERIFIED_): an IPv6 client's /64 has the rate, its /48
# this many times it.
IPV6_48_ALLOWANCE_FACTOR = _int("IPV6_48_ALLOWANCE_FACTOR", 10, lowest=1)
# An IPv6 client's /56 (the prefix a household is commonly delegated: 256 /64s it can
# rotate through) has this many times each per-address rate and failure budget, so one
# household spends a few addresses' worth, not its whole /48's.
IPV6_56_ALLOWANCE_FACTOR = _int("IPV6_56_ALLOWANCE_FACTOR", 2, lowest=1)
# After a reset link is used, the account's sign-ins with the right password pass an
# address's spent failure budget for this long (the new password is one no guesser tried).
LOGIN_AFTER_RESET_SECONDS = _int("LOGIN_AFTER_RESET_SECONDS", 24 * 60 * 60, lowest=1)

# The per-address limits are flood brakes, not the defence of an account (that is the
# per-account lockout): hundreds of people may share one address behind a mobile
# carrier's NAT, a campus or an office, and must not lock each other out.
# DRF reads a rate as a count per period, the period by its first letter alone (s, m, h or
# d): a rate it cannot read ("300 per minute", "20/week") failed every request of its
# scope with a 500 from the first one, and "10/month" meant ten a minute.
_RATE = re.compile(
    r"[1-9][0-9]*/(s|secs?|seconds?|m|mins?|minutes?|h|hours?|d|days?)", re.IGNORECASE
)


def _rate_setting(variable: str, default: str) -> str:
    rate = env.str(variable, default="").strip() or default  # an empty line: the default
    if not _RATE.fullmatch(rate):
        raise ImproperlyConfigured(
            f"{variable} must be a count per second, minute, hour or day, such as "
            f"60/min or 300/hour (it is {rate!r})."
        )
    return rate.lower()


ADDRESS_RATE_DEFAULTS = {
    "login": "300/min",
    "register": "300/hour",
    "password_reset": "300/hour",
    "token": "600/min",
}

# Proxies in front of the app that append to X-Forwarded-For (an ALB: 1; none: 0). The
# client's address is the entry this many hops from the end; without it anyone could
# write their own address. Required with DEBUG off: a wrong guess either trusts a
# forged header or puts every client behind the load balancer's address.
_NUM_PROXIES = env.str("NUM_PROXIES", default="").strip()
NUM_PROXIES = int(_NUM_PROXIES) if _NUM_PROXIES.isdigit() else None
if not _NUM_PROXIES and DEBUG:
    NUM_PROXIES = 0
if NUM_PROXIES is None:
    raise ImproperlyConfigured(
        "NUM_PROXIES must be a whole number, and is required when DEBUG=false: the number "
        "of proxies in front of the app that append to X-Forwarded-For (0 when clients "
        "connect directly, 1 behind the Application Load Balancer of deploy/)."
    )

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.DynamoJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # orjson writes a list page of scans in a tenth of the time of the json module.
    "DEFAULT_RENDERER_CLASSES": ["dermalens_site.renderers.APIJSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "dermalens_site.negotiation.ContentNegotiation",
    "DEFAULT_METADATA_CLASS": "dermalens_site.metadata.APIMetadata",
    # A Decimal read from DynamoDB that reaches the renderer stays a JSON number, as
    # with DRF's own renderer (the orjson one would write it as a string).
    "COERCE_DECIMAL_TO_STRING": False,
    # orjson reads a body as strict JSON: no NaN, no text that is not Unicode (a lone
    # surrogate escape, which no answer, log or DynamoDB item could hold), at most 1,024
    # levels deep; each is a 400 malformed_request. The json module would take the
    # surrogate, and 60 KB of "[" would exhaust its recursion: both were 500s.
    "DEFAULT_PARSER_CLASSES": ["dermalens_site.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "dermalens_site.schema.AutoSchema",
    "EXCEPTION_HANDLER": "dermalens_site.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Per client address (login, register, token) or per account (uploads); every
    # count is kept in DynamoDB, shared by all workers and hosts (accounts/throttles.py).
    "DEFAULT_THROTTLE_RATES": {
        "login": _rate_setting("THROTTLE_LOGIN_RATE", ADDRESS_RATE_DEFAULTS["login"]),
        "register": _rate_setting("THROTTLE_REGISTER_RATE", ADDRESS_RATE_DEFAULTS["register"]),
        "token": _rate_setting("THROTTLE_TOKEN_RATE", ADDRESS_RATE_DEFAULTS["token"]),
        # A login or reset request with a device token, a refresh with a refresh token
        # and a link we mailed prove an earlier session or the mailbox: they are counted
        # per account, so a flood from their address does not keep the people who signed
        # in before from their sessions, nor anyone from the links in their mail.
        "session": _rate_setting("THROTTLE_SESSION_RATE", "60/min"),
        "uploads": _rate_setting("THROTTLE_UPLOAD_RATE", "60/hour"),
        # Analyses asked for again per account (POST /scans/{id}/analyze): a failure the
        # AI caused is given back to the day's allowance, and each try is a billed call.
        "analyses_again": _rate_setting("THROTTLE_ANALYSE_AGAIN_RATE", "30/hour"),
        # An export streams every stored image of the account: a few a day are plenty.
        "export": _rate_setting("THROTTLE_EXPORT_RATE", "10/hour"),
        # Plans created per account (each archives the one before, which is kept).
        "plans": _rate_setting("THROTTLE_PLAN_RATE", "30/hour"),
        # Check-ins written per account (one a day, corrected or filled in for missed days).
        "check_ins": _rate_setting("THROTTLE_CHECK_IN_RATE", "60/hour"),
        # Chat sessions started and deleted (a delete queues a job on the shared queue).
        "chat_sessions": _rate_setting("THROTTLE_CHAT_SESSION_RATE", "120/hour"),
        # Requests that send account email: reset requests per client address, a
        # signed-in account's verification resends and email changes per account, and
        # all of them per email address written to (whoever asks), so one mailbox is
        # never flooded.
        "password_reset": _rate_setting(
            "THROTTLE_PASSWORD_RESET_RATE", ADDRESS_RATE_DEFAULTS["password_reset"]
        ),
        "account_email": _rate_setting("THROTTLE_ACCOUNT_EMAIL_RATE", "30/hour"),
        "account_email_address": _rate_setting("THROTTLE_EMAIL_ADDRESS_RATE", "5/hour"),
        # AI work (analysed uploads, drafted plans, assistant replies) of accounts whose
        # email address is not verified, per client address: one address cannot mint
        # accounts to spend Gemini; verified accounts are never counted.
        "ai_unverified": _rate_setting("THROTTLE_AI_UNVERIFIED_RATE", "60/day"),
    },
    "NUM_PROXIES": NUM_PROXIES,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=ACCESS_TOKEN_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=REFRESH_TOKEN_DAYS),
    "ALGORITHM": "HS256",
    "SIGNING_KEY": _secret_key("JWT_SIGNING_KEY", SECRET_KEY),
    "USER_ID_FIELD": "user_id",
    "USER_ID_CLAIM": "sub",
    "UPDATE_LAST_LOGIN": False,
    "ROTATE_REFRESH_TOKENS": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "LEEWAY": 5,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "DermaLens API",
    "DESCRIPTION": (
        "Skin scans, analysis, treatment plans and an assistant chat. Authenticate with "
        "`POST /api/v1/auth/login`, then send `Authorization: Bearer <access>`. Every "
        'error has the shape `{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "ENUM_NAME_OVERRIDES": {
        "ScanStatusEnum": "scans.services.SCAN_STATUSES",
        "ReadinessStatusEnum": "ops.health.READINESS_STATUSES",
        "PlanStatusEnum": "plans.services.PLAN_STATUSES",
        "SettablePlanStatusEnum": "plans.services.SETTABLE_STATUSES",
    },
}

# --- Production safety ------------------------------------------------------------
# TLS terminates at the load balancer, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# The load balancer's health checks speak plain HTTP to the instance.
SECURE_REDIRECT_EXEMPT = [r"^api/v1/health"]
SECURE_HSTS_SECONDS = _int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = not DEBUG
X_FRAME_OPTIONS = "DENY"

# --- Logging ----------------------------------------------------------------------
# In any case, as gunicorn (deploy/gunicorn.conf.py) reads the same variable; another
# level stops the start naming LOG_LEVEL (logging's own error names no variable).
LOG_LEVEL = _choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "datefmt": "%Y-%m-%dT%H:%M:%S%z",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    # No log line holds a credential that travels in a URL path (signed image tokens);
    # trace_id and span_id on each line written inside a trace (telemetry on only).
    "filters": {
        "paths": {"()": "dermalens_site.log_paths.LoggablePathsFilter"},
        "trace": {"()": "telemetry.logs.TraceContextFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["paths", "trace"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The request log line (dermalens.request) replaces Django's own 4xx warnings,
        # which would repeat each failed request as unstructured text.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "ERROR"},
        "botocore": {"level": "WARNING"},
    },
}
