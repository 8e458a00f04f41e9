"""The IAM policy grants exactly what the code calls.

Two views of "what the code calls", both compared with ``ops/iam.py``:
- observed: botocore's ``before-parameter-build`` event on the process's DynamoDB, S3,
  SQS and SES clients records every call while the main flows run for real (accounts
  with their email sent through django-ses, scans on S3 analysed through SQS, plans,
  privacy export and erasure, health, the schema check);
- named: every DynamoDB, S3 and SQS operation that the source calls by name (table
  managers' ``call("query", ...)``, ``client.describe_table(...)``, transactions' items),
  so code that no flow here runs (chat, the ops pages) is covered too.
"""

import ast
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore import xform_name
from django.conf import settings as django_settings
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.mail import wait_for_account_email
from dynamo.client import get_client
from ops import iam
from scans.tests import queues
from scans.tests.conftest import SAMPLE_FACE, upload_file

BASE_DIR = Path(django_settings.BASE_DIR)
SERVICES = ("dynamodb", "s3", "sqs")
# Development and deployment code, not the service's: its calls need no grant.
NOT_APP_CODE = {".venv", "node_modules", "var", "bench", "deploy", "tests", "scripts"}
# create_tables runs with an operator's role (iam.operator_policy).
OPERATOR_CODE = {Path("dynamo/management/commands/create_tables.py")}
# A table manager's call("query", ...) and call_client("batch_get_item", ...).
TABLE_CALLS = {"call", "call_client"}
# A table manager's transactions: transact(actions) and transact_write(actions, ...).
TRANSACTION_CALLS = {"transact", "transact_write"}
STRONG_PASSWORD = "correct-horse-battery-staple"


class CallLog:
    """A botocore event handler that records the IAM actions of every call it sees."""

    def __init__(self):
        self.actions: dict[str, str] = {}  # action -> the first operation that needed it
        self._lock = threading.Lock()

    def __call__(self, params, model, **kwargs):
        service = model.service_model.signing_name
        with self._lock:
            for action in iam.actions_for_call(service, model.name, params):
                self.actions.setdefault(action, model.name)

    @contextmanager
    def watching_new_clients(self, service: str):
        """Also watch every ``service`` client made meanwhile (kombu makes its own)."""
        make_client = boto3.session.Session.client

        def client(session, service_name, *args, **kwargs):
            made = make_client(session, service_name, *args, **kwargs)
            if service_name == service:
                made.meta.events.register("before-parameter-build", self)
            return made

        boto3.session.Session.client = client
        try:
            yield self
        finally:
            boto3.session.Session.client = make_client

    @contextmanager
    def watching(self, *clients):
        for client in clients:
            client.meta.events.register("before-parameter-build", self)
        try:
            yield self
        finally:
            for client in clients:
                client.meta.events.unregister("before-parameter-build", self)


def app_source_files() -> list[Path]:
    return [
        path
        for path in BASE_DIR.rglob("*.py")
        if not NOT_APP_CODE & set(path.relative_to(BASE_DIR).parts) and path.name != "conftest.py"
    ]


def operations_by_method() -> dict[str, set[tuple[str, str]]]:
    """boto3 method name -> {(service, operation)} for the three services."""
    session = botocore.session.get_session()
    methods: dict[str, set[tuple[str, str]]] = {}
    for service in SERVICES:
        for operation in session.get_service_model(service).operation_names:
            methods.setdefault(xform_name(operation), set()).add((service, operation))
    return methods


def named_methods(tree: ast.AST) -> Iterator[str]:
    """boto3 method names called in the code: call("query", ...), get_client().get_item(...)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
        if name in TABLE_CALLS and node.args and isinstance(node.args[0], ast.Constant):
            yield str(node.args[0].value)
        elif name in TRANSACTION_CALLS and isinstance(function, ast.Attribute):
            yield "transact_write_items"
        elif isinstance(function, ast.Attribute) and ast.unparse(function.value).endswith(
            ("client", "client()")
        ):
            yield function.attr


def transaction_items(tree: ast.AST) -> Iterator[str]:
    """The kinds of item in TransactWriteItems requests: {"Put": ...}, {"ConditionCheck": ...}."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key in node.keys:
                if isinstance(key, ast.Constant) and key.value in iam.ACTION_OF_TRANSACTION_ITEM:
                    yield key.value


def named_actions(paths: list[Path]) -> dict[str, str]:
    """IAM action -> the file that names a call needing it."""
    methods = operations_by_method()
    actions: dict[str, str] = {}
    for path in paths:
        tree = ast.parse(path.read_text())
        where = str(path.relative_to(BASE_DIR))
        names = list(named_methods(tree))
        for name in names:
            operations = methods.get(name, set())
            assert len(operations) <= 1, f"{where}: {name} is ambiguous: {operations}"
            for service, operation in operations:
                for action in iam.actions_for_call(service, operation, {}):
                    actions.setdefault(action, where)
        if "transact_write_items" in names:
            for kind in transaction_items(tree):
                actions.setdefault(iam.ACTION_OF_TRANSACTION_ITEM[kind], where)
    return actions


def wait_until(condition, *, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def run_the_main_flows(api_client: APIClient, email: str) -> None:
    """Accounts, scans (S3, analysed through SQS), plans, privacy, health, schema check."""
    body = {"email": email, "password": STRONG_PASSWORD, "full_name": "Policy Check"}
    session = api_client.post("/api/v1/auth/register", body, format="json").json()
    assert api_client.post("/api/v1/auth/password/reset", {"email": email}).status_code == 202
    credentials = {"email": email, "password": STRONG_PASSWORD}
    login = api_client.post("/api/v1/auth/login", credentials, format="json").json()
    refreshed = api_client.post("/api/v1/auth/refresh", {"refresh": login["refresh"]}).json()
    client = bearer(refreshed["access"])
    assert client.post("/api/v1/auth/logout", {"refresh": refreshed["refresh"]}).status_code == 204
    assert client.patch("/api/v1/users/me", {"skin_type": "oily"}).status_code == 200
    user_id = session["user"]["user_id"]

    def upload(**headers) -> str:
        image = upload_file(SAMPLE_FACE.read_bytes())
        response = client.post("/api/v1/scans", {"image": image}, format="multipart", **headers)
        assert response.status_code == 202, response.content
        return response.json()["scan_id"]

    scans = "/api/v1/scans"

    def analysed(*scan_ids: str) -> bool:
        return all(client.get(f"{scans}/{s}").json()["status"] == "complete" for s in scan_ids)

    first = upload(HTTP_IDEMPOTENCY_KEY="policy-check")
    second = upload()
    # One worker for every job, as on a host (kombu's event loop is per process).
    with queues.running_worker():
        assert wait_until(lambda: analysed(first, second))
        today = datetime.now(UTC).date().isoformat()
        assert len(client.get(scans).json()["items"]) == 2
        assert len(client.get(scans, {"from": today, "to": today}).json()["items"]) == 2
        assert client.get(f"{scans}/{first}").json()["status"] == "complete"
        overlay = client.get(f"{scans}/{first}/overlay", {"metric": "redness"})
        assert overlay.status_code == 200
        assert client.get(f"{scans}/{first}/compare", {"with": second}).status_code == 200
        assert client.get(f"{scans}/progress").status_code == 200
        assert client.post(f"{scans}/{second}/analyze").status_code == 202
        assert wait_until(lambda: analysed(second))

    plans = "/api/v1/plans"
    plan = client.post(plans, {}).json()
    url = f"{plans}/{plan['plan_id']}"
    assert client.patch(url, {"status": "paused", "version": plan["version"]}).status_code == 200
    check_in = {"date": today, "am_done": True, "pm_done": False, "irritation": 0}
    assert client.post(f"{url}/check-ins", check_in).status_code == 201
    assert client.delete(url).status_code == 204
    assert client.delete(f"{scans}/{second}").status_code == 204

    from privacy.services import erase_account, export_account

    assert b"".join(export_account(user_id=user_id))
    erase_account(user_id=user_id)

    assert APIClient().get("/api/v1/health/ready").status_code == 200
    call_command("create_tables", "--check", stdout=io.StringIO())


@pytest.fixture
def s3_and_sqs(s3_storage, moto_s3_server, settings):
    with queues.analysis_queue(moto_s3_server, settings) as analysis_queue:
        yield analysis_queue


@pytest.fixture
def watched_ses(ses_mailbox, monkeypatch):
    """django-ses makes a client per connection: each one is watched as it is made."""
    from django_ses import SESBackend

    log = CallLog()
    open_connection = SESBackend.open

    def open_watched(backend):
        created = open_connection(backend)
        if backend.connection is not None:
            backend.connection.meta.events.register("before-parameter-build", log)
        return created

    monkeypatch.setattr(SESBackend, "open", open_watched)
    return log


def test_the_app_policy_grants_every_call_and_nothing_else(
    api_client, unique_email, s3_and_sqs, watched_ses
):
    clients = (get_client(), storages["scan_images"].connection.meta.client)
    with CallLog().watching(*clients) as observed, observed.watching_new_clients("sqs"):
        run_the_main_flows(api_client, unique_email())
    wait_for_account_email()
    observed.actions.update(watched_ses.actions)
    named = named_actions(
        [p for p in app_source_files() if p.relative_to(BASE_DIR) not in OPERATOR_CODE]
    )
    granted = iam.granted_actions()

    assert {
        "s3:PutObject",
        "sqs:SendMessage",
        "sqs:DeleteMessage",
        "dynamodb:Query",
        "ses:SendRawEmail",
    } <= set(observed.actions)
    not_granted = {
        action: where
        for action, where in {**named, **observed.actions}.items()
        if action not in granted
    }
    assert not not_granted, f"add these to ops/iam.py (action: where it is called): {not_granted}"
    never_called = granted - set(named) - set(observed.actions) - set(iam.RARELY_CALLED)
    assert not never_called, f"nothing calls these; remove them from ops/iam.py: {never_called}"


def test_create_tables_needs_only_the_operator_policy():
    named = named_actions([BASE_DIR / path for path in OPERATOR_CODE])
    operator = set(iam.OPERATOR_TABLE_ACTIONS) | set(iam.DYNAMODB_ACCOUNT_ACTIONS)
    assert set(named) <= operator
    assert "dynamodb:CreateTable" not in iam.granted_actions()


def policy_from_command(*args: str) -> dict:
    output = io.StringIO()
    call_command("iam_policy", *args, stdout=output)
    return json.loads(output.getvalue())


def statements(policy: dict) -> dict[str, dict]:
    return {statement["Sid"]: statement for statement in policy["Statement"]}


@pytest.fixture
def production_resources(settings):
    """A bucket and a sender of a domain SES can verify, as production has them."""
    settings.S3_BUCKET_NAME = "scan-images"
    settings.EMAIL_BACKEND = "django_ses.SESBackend"
    settings.DEFAULT_FROM_EMAIL = "DermaLens <no-reply@mail.example.com>"


def test_iam_policy_names_the_configured_tables_indexes_bucket_queue_and_sender(settings):
    settings.S3_BUCKET_NAME = "scan-images"
    settings.ANALYSIS_QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/123456789012/analysis"
    settings.AWS_REGION = settings.AWS_SES_REGION_NAME = "eu-west-1"
    settings.EMAIL_BACKEND = "django_ses.SESBackend"
    settings.DEFAULT_FROM_EMAIL = "DermaLens <no-reply@mail.example.com>"
    by_sid = statements(policy_from_command())

    table = "arn:aws:dynamodb:eu-west-1:123456789012:table/"
    assert by_sid["DynamoDBTables"]["Resource"][0] == f"{table}{settings.DYNAMODB_USERS_TABLE}"
    assert (
        f"{table}{settings.DYNAMODB_SCANS_TABLE}/index/*" in by_sid["DynamoDBIndexes"]["Resource"]
    )
    assert (
        f"{table}{settings.DYNAMODB_PLANS_TABLE}/index/*"
        not in by_sid["DynamoDBIndexes"]["Resource"]
    )
    assert by_sid["DynamoDBIndexes"]["Action"] == ["dynamodb:Query"]
    assert by_sid["DynamoDBListTables"]["Resource"] == "*"
    assert by_sid["ScanImagesBucket"] == {
        "Sid": "ScanImagesBucket",
        "Effect": "Allow",
        "Action": ["s3:ListBucket"],
        "Resource": "arn:aws:s3:::scan-images",
    }
    assert by_sid["ScanImages"]["Resource"] == "arn:aws:s3:::scan-images/*"
    assert by_sid["AnalysisQueue"]["Resource"] == "arn:aws:sqs:eu-west-1:123456789012:analysis"
    assert by_sid["AccountEmail"] == {
        "Sid": "AccountEmail",
        "Effect": "Allow",
        "Action": ["ses:SendRawEmail"],
        "Resource": "arn:aws:ses:eu-west-1:123456789012:identity/mail.example.com",
    }
    actions = {a for s in by_sid.values() for a in s["Action"]}
    assert actions == iam.granted_actions()
    assert not {a for a in actions if a.endswith("*") or "Create" in a or "Delete" + "Table" in a}


def test_iam_policy_leaves_out_what_is_not_configured_and_needs_an_account(settings):
    settings.S3_BUCKET_NAME = None
    settings.ANALYSIS_QUEUE_URL = None
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    with pytest.raises(CommandError, match="--account-id"):
        policy_from_command()
    # Scan images on the host's disk: said on purpose, as production needs a bucket.
    by_sid = statements(policy_from_command("--account-id", "210987654321", "--no-s3"))
    assert set(by_sid) == {"DynamoDBTables", "DynamoDBIndexes", "DynamoDBListTables"}


def test_iam_policy_in_production_refuses_a_policy_without_the_bucket_naming_it(
    settings, production_resources
):
    # Printed without it, the role met AccessDenied at the first upload.
    settings.S3_BUCKET_NAME = None
    with pytest.raises(CommandError, match="no S3 bucket for the scan images: set S3_BUCKET_NAME"):
        policy_from_command("--account-id", "210987654321")
    by_sid = statements(policy_from_command("--account-id", "210987654321", "--no-s3"))
    assert "ScanImages" not in by_sid
    assert "AccountEmail" in by_sid
    by_sid = statements(policy_from_command("--account-id", "210987654321", "--bucket", "given"))
    assert by_sid["ScanImages"]["Resource"] == "arn:aws:s3:::given/*"


@pytest.mark.parametrize(
    ("sender", "said"),
    [
        ("DermaLens <no-reply@localhost>", "EMAIL_FROM 'DermaLens <no-reply@localhost>'"),
        ("no-reply@127.0.0.1", "EMAIL_FROM 'no-reply@127.0.0.1'"),
        ("DermaLens", "EMAIL_FROM 'DermaLens'"),
    ],
)
def test_iam_policy_in_production_refuses_to_send_as_a_local_identity_naming_it(
    settings, production_resources, sender, said
):
    # identity/localhost granted nothing: every account email failed.
    settings.DEFAULT_FROM_EMAIL = sender
    with pytest.raises(CommandError, match=re.escape(f"{said} names no SES identity")):
        policy_from_command("--account-id", "210987654321")
    by_sid = statements(policy_from_command("--account-id", "210987654321", "--no-ses"))
    assert "AccountEmail" not in by_sid
    assert "ScanImages" in by_sid
    given = ("--account-id", "210987654321", "--ses-identity", "mail.example.com")
    assert statements(policy_from_command(*given))["AccountEmail"]["Resource"].endswith(
        ":identity/mail.example.com"
    )
    settings.AWS_SES_IDENTITY = "localhost"
    with pytest.raises(CommandError, match="AWS_SES_IDENTITY 'localhost' names no SES identity"):
        policy_from_command("--account-id", "210987654321")


def test_iam_policy_in_development_prints_what_is_missing_as_warnings(settings):
    settings.DEBUG = True
    settings.S3_BUCKET_NAME = None
    settings.EMAIL_BACKEND = "django_ses.SESBackend"
    settings.DEFAULT_FROM_EMAIL = "DermaLens <no-reply@localhost>"
    errors = io.StringIO()
    output = io.StringIO()
    call_command("iam_policy", "--account-id", "210987654321", stdout=output, stderr=errors)
    assert "Warning: no S3 bucket" in errors.getvalue()
    assert "EMAIL_FROM 'DermaLens <no-reply@localhost>' names no SES identity" in errors.getvalue()
    assert "ScanImages" not in statements(json.loads(output.getvalue()))


def test_iam_policy_sends_as_the_configured_ses_identity_or_the_one_given(
    settings, production_resources
):
    settings.EMAIL_BACKEND = "django_ses.SESBackend"
    settings.AWS_SES_IDENTITY = "dermalens.example"
    settings.AWS_REGION = settings.AWS_SES_REGION_NAME = "us-east-1"
    identity = "arn:aws:ses:us-east-1:210987654321:identity/"
    by_sid = statements(policy_from_command("--account-id", "210987654321"))
    assert by_sid["AccountEmail"]["Resource"] == f"{identity}dermalens.example"
    given = ("--account-id", "210987654321", "--ses-identity", "no-reply@other.example")
    by_sid = statements(policy_from_command(*given))
    assert by_sid["AccountEmail"]["Resource"] == f"{identity}no-reply@other.example"


def test_iam_policy_for_the_operator_creates_tables_only(settings):
    by_sid = statements(policy_from_command("--operator", "--account-id", "210987654321"))
    assert "dynamodb:CreateTable" in by_sid["CreateTables"]["Action"]
    assert not {a for s in by_sid.values() for a in s["Action"] if "Item" in a}


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (("--account-id", "abc"), "--account-id is an AWS account's 12 digits, not 'abc'"),
        (("--queue-url", "notaurl"), "--queue-url is not an SQS queue's URL"),
    ],
)
def test_iam_policy_names_the_argument_it_cannot_use(arguments, said):
    with pytest.raises(CommandError, match=re.escape(said)):
        policy_from_command(*arguments)


def test_iam_policy_warns_of_a_region_botocore_does_not_know(settings, production_resources):
    errors = io.StringIO()
    output = io.StringIO()
    call_command(
        "iam_policy",
        "--account-id",
        "210987654321",
        "--region",
        "us-eest-1",
        stdout=output,
        stderr=errors,
    )
    assert "'us-eest-1' is no region of the aws partition" in errors.getvalue()
    tables = statements(json.loads(output.getvalue()))["DynamoDBTables"]["Resource"]
    assert all(":us-eest-1:" in arn for arn in tables)  # as asked: a newer region may be right
    quiet = io.StringIO()
    call_command("iam_policy", "--account-id", "210987654321", stdout=io.StringIO(), stderr=quiet)
    assert quiet.getvalue() == ""


@pytest.mark.parametrize(
    ("url", "arn"),
    [
        (
            "https://sqs.eu-west-1.amazonaws.com/210987654321/jobs.fifo",
            "arn:aws:sqs:eu-west-1:210987654321:jobs.fifo",
        ),
        (
            "https://sqs.cn-north-1.amazonaws.com.cn/210987654321/jobs",
            "arn:aws-cn:sqs:cn-north-1:210987654321:jobs",
        ),
    ],
)
def test_iam_policy_takes_a_fifo_queue_and_one_in_china(production_resources, url, arn):
    partition = arn.split(":")[1]
    policy = policy_from_command("--queue-url", url, "--partition", partition)
    queue_arns = {
        resource
        for statement in policy["Statement"]
        for resource in (
            [statement["Resource"]]
            if isinstance(statement["Resource"], str)
            else statement["Resource"]
        )
        if ":sqs:" in resource
    }
    assert queue_arns == {arn}
