"""Test set-up shared by every app: a real DynamoDB Local, settings, API clients, users.

The pytest controller starts one in-memory DynamoDB Local on a free port and creates
the tables before any test runs; xdist workers inherit its address through the
environment. No test mocks DynamoDB.
"""

import copy
import hashlib
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid

import pytest

# Every setting the tests depend on is fixed here, before Django reads the environment,
# so neither a developer's shell nor their .env can change what the suite exercises.
TEST_ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "dermalens_site.settings",
    "DEBUG": "false",
    "SECRET_KEY": "dermalens-test-only-" + "k3y-" * 12,
    "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
    "SECURE_SSL_REDIRECT": "false",
    "STATIC_FROM_APPS": "true",
    "AWS_REGION": "us-east-1",
    "DYNAMODB_USERS_TABLE": "test-users",
    "DYNAMODB_SCANS_TABLE": "test-scans",
    "DYNAMODB_PLANS_TABLE": "test-treatment-plans",
    "DYNAMODB_CHAT_TABLE": "test-chat-messages",
    "DYNAMODB_AUDIT_TABLE": "test-audit",
    "DYNAMODB_JOBS_TABLE": "test-jobs",
    "DYNAMODB_READ_TIMEOUT_SECONDS": "5",
    "S3_BUCKET_NAME": "",
    "GEMINI_API_KEY": "",
    "ANALYSIS_QUEUE_URL": "",
    "JWT_SIGNING_KEY": "",
    # Hour-long windows: a test's attempts never straddle a window boundary (which
    # would reset the count) unless run in the last seconds of an hour.
    "THROTTLE_LOGIN_RATE": "10/hour",
    "THROTTLE_REGISTER_RATE": "30/hour",
    "THROTTLE_TOKEN_RATE": "60/hour",
    "LOG_LEVEL": "WARNING",
    "AI_PROVIDER": "offline",
    "AWS_S3_ENDPOINT": "",
    "AI_ANALYSES_PER_DAY": "50",
    "THROTTLE_UPLOAD_RATE": "1000/hour",
    # Every test account is unverified and at one address; tests of this limit set it.
    "THROTTLE_AI_UNVERIFIED_RATE": "1000/hour",
    # Tests write months of check-ins through the API; the limit's own test sets it.
    "THROTTLE_CHECK_IN_RATE": "10000/hour",
    # Test clients connect directly (no proxy), and production settings (DEBUG off)
    # refuse to start without it.
    "NUM_PROXIES": "0",
    # Each count written as it happens, so a test reads it back at once.
    "DAILY_STATS_WRITE_SECONDS": "0",
}
ENDPOINT_VARIABLE = "AWS_DYNAMODB_ENDPOINT"
IS_XDIST_WORKER = "PYTEST_XDIST_WORKER" in os.environ

_dynamodb_local = None
_media_root: str | None = None


def pytest_configure(config):
    global _dynamodb_local, _media_root
    if not IS_XDIST_WORKER:
        os.environ.update(TEST_ENVIRONMENT)
        # Locally stored images of this run, shared by the xdist workers; removed when
        # the run ends (each run left tens of MB in the temporary directory).
        _media_root = os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="dermalens-test-media-")
    import django

    django.setup()
    from django.conf import settings

    # The hashes stored before passwords were normalised are checked as in production.
    settings.PASSWORD_HASHERS = [
        "tests.hashers.QuickArgon2PasswordHasher",
        "accounts.hashers.Argon2PasswordHasher",
    ]
    _index_static_files_once()
    _remember_offline_analyses()
    if IS_XDIST_WORKER:
        return  # the controller started DynamoDB Local and created the tables

    from django.core.management import call_command

    from dynamo.local import DynamoDBLocal, free_port

    _dynamodb_local = DynamoDBLocal(port=free_port()).start()
    os.environ[ENDPOINT_VARIABLE] = _dynamodb_local.endpoint
    settings.AWS_DYNAMODB_ENDPOINT = _dynamodb_local.endpoint
    call_command("create_tables", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115


def _index_static_files_once() -> None:
    """WhiteNoise indexes the apps' static files (STATIC_FROM_APPS: nothing is collected
    here) when its middleware is made: once per worker in production, but the test client
    makes the middleware chain again for every client, and the index took about 7 ms of
    each client's first request. Here a process indexes once for each set of the options
    the index is built with, and every later middleware starts from a copy."""
    from whitenoise.middleware import WhiteNoiseMiddleware

    index_files = WhiteNoiseMiddleware.add_files_from_finders
    indexes: dict[tuple, dict] = {}

    def add_files_from_finders(self) -> None:
        options = (
            self.static_prefix,
            self.max_age,
            self.allow_all_origins,
            self.charset,
            self.add_headers_function,
        )
        if options not in indexes:
            before = dict(self.files)
            index_files(self)
            indexes[options] = {url: f for url, f in self.files.items() if url not in before}
        self.files.update(indexes[options])

    WhiteNoiseMiddleware.add_files_from_finders = add_files_from_finders


# Whether this test may be answered from the process's earlier analyses (it may not when
# marked ``analysed_anew``).
_remembering = True


def _remember_offline_analyses() -> None:
    """The offline analysis is a function of the photo's bytes and area alone (its own
    test, marked ``analysed_anew``, checks that it is) and costs about 0.25 s a photo; the
    API tests upload the same sample photo some 200 times, and the analyser's tests
    analyse their reference photos over again beside each edit. A process analyses each
    photo once for each area and gives later tests a copy of that answer: about a minute
    of the suite's CPU. A photo the analyser refuses is analysed again every time. The
    answers are kept by photo, not by the analyser's code: a test that patches a module
    or constant of ``ai.offline`` is marked ``analysed_anew``."""
    from ai.offline import provider

    examine_and_score = provider.examine_and_score
    answers: dict[tuple[bytes, str], dict] = {}

    def remembered(image_jpeg: bytes, area: str) -> dict:
        if not _remembering:
            return examine_and_score(image_jpeg, area)
        key = (hashlib.sha256(image_jpeg).digest(), area)
        if key not in answers:
            answers[key] = examine_and_score(image_jpeg, area)
        return copy.deepcopy(answers[key])

    provider.examine_and_score = remembered


@pytest.fixture(autouse=True)
def _analyses_remembered_unless_marked(request):
    global _remembering
    _remembering = request.node.get_closest_marker("analysed_anew") is None
    yield
    _remembering = True


def pytest_unconfigure(config):
    if _dynamodb_local is not None:
        _dynamodb_local.stop()
    if _media_root is not None:
        shutil.rmtree(_media_root, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fresh_throttles(settings, monkeypatch):
    """Each test starts with untouched allowances: its own namespace for the DynamoDB
    counters of the account throttles, and an empty cache for DRF's own throttles (and
    no image URL made by an earlier test).

    The account throttles count in fixed windows; their clock stands still during a
    test, so that a test running across a window's end still sees one window.
    """
    from django.core.cache import cache, caches

    from accounts.throttles import DynamoRateThrottle

    settings.RATE_LIMIT_NAMESPACE = f"test-{uuid.uuid4().hex}"
    started = time.time()
    monkeypatch.setattr(DynamoRateThrottle, "timer", staticmethod(lambda: started))
    cache.clear()
    caches["image_urls"].clear()
    yield


@pytest.fixture
def unreachable_dynamodb(settings):
    """Point the shared client at a closed port; the real client is back afterwards.

    This fixture's teardown runs before the ``settings`` fixture restores the endpoint,
    so the cache is cleared and the next ``get_client()`` builds the real client again.
    """
    from dynamo.client import get_client, reset_client

    settings.AWS_DYNAMODB_ENDPOINT = f"http://127.0.0.1:{closed_port()}"
    settings.DYNAMODB_CONNECT_TIMEOUT_SECONDS = 0.5
    settings.DYNAMODB_READ_TIMEOUT_SECONDS = 0.5
    settings.DYNAMODB_MAX_ATTEMPTS = 1
    reset_client()
    get_client()  # built now, so a test's timing measures the call and not the set-up
    yield
    reset_client()


class SilentDynamoDB:
    """An address that takes connections and never answers (a hung host): each call
    waits for its read timeout. ``connections`` counts the connections it took."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(128)
        self.endpoint = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list[socket.socket] = []
        threading.Thread(target=self.take_connections, daemon=True).start()

    @property
    def connections(self) -> int:
        return len(self.held)

    def take_connections(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed
                return
            self.held.append(connection)  # kept open, never read

    def close(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def silent_dynamodb(settings):
    """Point the shared clients at a ``SilentDynamoDB``; the real ones are back afterwards."""
    from dynamo.client import reset_client

    silent = SilentDynamoDB()
    settings.AWS_DYNAMODB_ENDPOINT = silent.endpoint
    reset_client()
    yield silent
    reset_client()
    silent.close()


def closed_port() -> int:
    """A port nothing listens on (bound for a moment by us, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# AI settings a web worker refuses to start with (the providers are built as it starts).
WRONG_AI_SETTINGS = {
    "a provider that is none": {"AI_PROVIDER": "gemni"},
    "gemini without a key": {"AI_PROVIDER": "gemini", "GEMINI_API_KEY": None},
    "a thinking level that is none": {
        "AI_PROVIDER": "gemini",
        "GEMINI_API_KEY": "test-key",
        "GEMINI_THINKING_ANALYSIS": "lots",
    },
}


@pytest.fixture(params=WRONG_AI_SETTINGS.values(), ids=WRONG_AI_SETTINGS.keys())
def wrong_ai_setting(request, settings):
    """Sets each of WRONG_AI_SETTINGS in turn when called, the providers to be built anew
    under it (and again under the test's settings afterwards)."""
    from ai.providers import forget_providers

    def set_it() -> None:
        for name, value in request.param.items():
            setattr(settings, name, value)
        forget_providers()

    yield set_it
    forget_providers()


@pytest.fixture
def throttle_rates(settings):
    """Set some of DEFAULT_THROTTLE_RATES for one test: ``throttle_rates(login="3/minute")``."""

    def set_rates(**rates: str) -> None:
        current = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {**current, **rates},
        }

    return set_rates


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def unique_email():
    def make() -> str:
        return f"user-{uuid.uuid4().hex[:12]}@example.com"

    return make


STRONG_PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def register(api_client, unique_email):
    """Register a fresh account through the API; returns the response body."""

    def create(email: str | None = None, password: str = STRONG_PASSWORD, **extra) -> dict:
        from accounts.mail import wait_for_account_email

        body = {"email": email or unique_email(), "password": password, "full_name": "Test User"}
        response = api_client.post("/api/v1/auth/register", {**body, **extra}, format="json")
        assert response.status_code == 201, response.content
        # The verification email is sent (its mailbox counted in DynamoDB) by the sender
        # thread: done before the test goes on, so that no test sees its call.
        wait_for_account_email()
        return {**response.json(), "password": password}

    return create


@pytest.fixture
def auth_client(register):
    """An API client signed in as a fresh user; ``client.session`` holds the tokens."""
    from rest_framework.test import APIClient

    session = register()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session['access']}")
    client.session_data = session
    return client


@pytest.fixture(scope="session")
def moto_s3_server():
    """A moto S3 server on a free loopback port, for the S3 storage path."""
    from moto.server import ThreadedMotoServer

    from dynamo.local import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def jobs_queue(moto_s3_server, settings):
    """The jobs queue (and its dead-letter queue) on the moto server, configured; a test
    runs its jobs with ``scans.tests.queues.running_worker()``."""
    from scans.tests import queues

    with queues.analysis_queue(moto_s3_server, settings) as created:
        yield created


@pytest.fixture
def s3_storage(moto_s3_server, settings):
    """Scan images go to a fresh private bucket on the moto server, as in production."""
    from dermalens_site.settings import s3_scan_images_storage
    from tests.moto_clients import moto_client

    bucket = f"dermalens-test-{uuid.uuid4().hex[:12]}"
    s3 = moto_client("s3", moto_s3_server)
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_ownership_controls(
        Bucket=bucket,
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    )
    settings.S3_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT = moto_s3_server
    settings.STORAGES = {
        **settings.STORAGES,
        "scan_images": s3_scan_images_storage(bucket, "us-east-1", moto_s3_server),
    }
    s3.bucket = bucket
    return s3


SES_TEST_DOMAIN = "dermalens.test"


@pytest.fixture
def ses_mailbox(moto_s3_server, settings):
    """Account email goes through django-ses to moto's SES server, as in production to
    Amazon SES, from a sender domain verified there; returns a reader of what it accepted
    (``accounts/tests/mailbox.py``)."""
    from accounts.mail import wait_for_account_email
    from accounts.tests.mailbox import SesMailbox
    from dermalens_site.ses import forget_clients
    from tests.moto_clients import moto_client

    ses = moto_client("ses", moto_s3_server)
    ses.verify_domain_identity(Domain=SES_TEST_DOMAIN)
    settings.EMAIL_BACKEND = "dermalens_site.ses.SESBackend"
    forget_clients()  # made again, under these settings and the test's own watchers
    settings.DEFAULT_FROM_EMAIL = f"DermaLens <no-reply@{SES_TEST_DOMAIN}>"
    settings.AWS_SES_REGION_NAME = "us-east-1"
    settings.AWS_SES_REGION_ENDPOINT_URL = moto_s3_server
    # A local SES server accepts any credentials; AWS gets the IAM role's.
    settings.AWS_SES_ACCESS_KEY_ID = "dermalenslocal"
    settings.AWS_SES_SECRET_ACCESS_KEY = "dermalenslocal"
    mailbox = SesMailbox(moto_s3_server)
    yield mailbox
    # Nothing of this test is sent under the next test's settings.
    wait_for_account_email(timeout=120)
    forget_clients()


GEMINI_TEST_API_KEY = "test-key"
GEMINI_TEST_MODEL = "gemini-3.5-flash"


@pytest.fixture(scope="session")
def fake_gemini_server():
    """One fake Gemini server for the whole run (per xdist worker)."""
    from tests.fake_gemini import FakeGemini

    with FakeGemini() as server:
        yield server


@pytest.fixture
def fake_gemini(fake_gemini_server):
    """The shared server with no script and no recorded requests."""
    fake_gemini_server.reset()
    yield fake_gemini_server
    fake_gemini_server.reset()


@pytest.fixture
def gemini_settings(settings, fake_gemini):
    """GEMINI_* settings pointing at the fake server; the providers are built again."""
    from ai.providers import forget_providers

    settings.AI_PROVIDER = "gemini"
    settings.GEMINI_API_KEY = GEMINI_TEST_API_KEY
    settings.GEMINI_MODEL = GEMINI_TEST_MODEL
    settings.GEMINI_BASE_URL = fake_gemini.base_url
    settings.GEMINI_TIMEOUT_SECONDS = 5.0
    settings.GEMINI_MAX_ATTEMPTS = 3
    settings.GEMINI_RETRY_INITIAL_DELAY_SECONDS = 0.01
    settings.GEMINI_RETRY_MAX_DELAY_SECONDS = 0.05
    forget_providers()
    yield settings
    forget_providers()
