"""deploy/: the CloudFormation template matches the code, and the other files hold up.

The template's tables must be the ones ``create_tables`` would make (same keys, indexes
and attribute types), its role must carry ``ops/iam.py``'s policy, and the committed
file must be exactly what ``deploy/make_cloudformation.py`` writes today.
"""

import configparser
import http.server
import importlib.util
import io
import json
import logging
import os
import runpy
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from django.conf import settings as django_settings
from django.core.management import call_command
from gunicorn.util import load_class

from dynamo.tables import ALL_TABLES
from ops import iam

DEPLOY = Path(django_settings.BASE_DIR) / "deploy"
EXAMPLE_ACCOUNT = "123456789012"
EXAMPLE_BUCKET = "dermalens-scan-images-example"
EXAMPLE_QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/dermalens-analysis"
EXAMPLE_SES_IDENTITY = "dermalens.example.com"


def deploy_module(name: str):
    """deploy/<name>.py, loaded as a module (deploy/ is no package)."""
    spec = importlib.util.spec_from_file_location(name, DEPLOY / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_generator():
    return deploy_module("make_cloudformation")


@pytest.fixture(scope="module")
def template() -> dict:
    return yaml.safe_load((DEPLOY / "cloudformation.yaml").read_text())


def env_example_defaults() -> dict[str, str]:
    """NAME=value lines of .env.example: the documented defaults."""
    lines = (Path(django_settings.BASE_DIR) / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def resource_of(template: dict, setting: str) -> tuple[str, dict]:
    """The table resource whose name parameter stands for ``setting``."""
    for parameter, spec in template["Parameters"].items():
        if spec.get("Description", "").endswith(setting):
            name = parameter.removesuffix("Name")
            return parameter, template["Resources"][name]
    raise AssertionError(f"no table parameter for {setting}")


class TestCloudFormation:
    def test_the_committed_template_is_the_generators_output(self):
        assert (DEPLOY / "cloudformation.yaml").read_text() == load_generator().render(), (
            "deploy/cloudformation.yaml is stale: run deploy/make_cloudformation.py"
        )

    @pytest.mark.parametrize("definition", ALL_TABLES, ids=lambda d: d.setting)
    def test_each_table_is_the_code_definition_on_demand_with_recovery_and_protection(
        self, template, definition
    ):
        parameter, resource = resource_of(template, definition.setting)
        expected = definition.create_request()
        properties = resource["Properties"]
        assert properties["TableName"] == {"Ref": parameter}
        for key in ("KeySchema", "AttributeDefinitions", "BillingMode"):
            assert properties[key] == expected[key], key
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            assert properties.get(key) == expected.get(key), key
        assert properties["BillingMode"] == "PAY_PER_REQUEST"
        assert properties["PointInTimeRecoverySpecification"] == {
            "PointInTimeRecoveryEnabled": True
        }
        assert properties["DeletionProtectionEnabled"] is True
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
        ttl = properties.get("TimeToLiveSpecification")
        if definition.ttl_attribute:
            assert ttl == {"AttributeName": definition.ttl_attribute, "Enabled": True}
        else:
            assert ttl is None
        default = template["Parameters"][parameter]["Default"]
        assert default == env_example_defaults()[definition.setting]

    def test_the_template_has_no_other_table(self, template):
        tables = [r for r in template["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table"]
        assert len(tables) == len(ALL_TABLES)

    def test_the_bucket_is_private_encrypted_and_unversioned(self, template):
        bucket = template["Resources"]["ScanImagesBucket"]["Properties"]
        assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
        assert len(bucket["PublicAccessBlockConfiguration"]) == 4
        [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
        assert "VersioningConfiguration" not in bucket  # erasure must really erase
        policy = template["Resources"]["ScanImagesBucketPolicy"]["Properties"]["PolicyDocument"]
        [deny] = policy["Statement"]
        assert deny["Effect"] == "Deny"
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}

    def test_the_queue_sends_failures_to_its_dead_letter_queue(self, template):
        queue = template["Resources"]["AnalysisQueue"]["Properties"]
        assert queue["RedrivePolicy"] == {
            "deadLetterTargetArn": {"Fn::GetAtt": ["AnalysisDeadLetterQueue", "Arn"]},
            "maxReceiveCount": 5,
        }
        assert queue["VisibilityTimeout"] == {"Ref": "AnalysisVisibilityTimeoutSeconds"}
        default = template["Parameters"]["AnalysisVisibilityTimeoutSeconds"]["Default"]
        assert (
            default == load_generator().settings_defaults()["ANALYSIS_VISIBILITY_TIMEOUT_SECONDS"]
        )
        assert queue["ReceiveMessageWaitTimeSeconds"] == 20
        dead_letters = template["Resources"]["AnalysisDeadLetterQueue"]["Properties"]
        assert dead_letters["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]

    def test_alarms_may_publish_to_their_encrypted_topic(self, template):
        # CloudWatch cannot use the AWS-managed alias/aws/sns: a key of the stack's own,
        # whose policy lets alarms encrypt what they publish.
        resources = template["Resources"]
        topic = resources["AlarmTopic"]["Properties"]
        assert topic["KmsMasterKeyId"] == {"Ref": "AlarmTopicKey"}
        key = resources["AlarmTopicKey"]["Properties"]
        assert key["EnableKeyRotation"] is True
        [alarms] = [
            statement
            for statement in key["KeyPolicy"]["Statement"]
            if statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        ]
        assert set(alarms["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}

    def test_the_role_has_the_app_policy_and_an_instance_profile(self, template):
        role = template["Resources"]["AppRole"]["Properties"]
        trust = json.loads((DEPLOY / "iam" / "trust-policy.json").read_text())
        assert role["AssumeRolePolicyDocument"] == trust
        [principal] = [s["Principal"]["Service"] for s in trust["Statement"]]
        assert set(principal) == {"ec2.amazonaws.com", "ecs-tasks.amazonaws.com"}
        [policy] = role["Policies"]
        statements = policy["PolicyDocument"]["Statement"]
        assert {a for s in statements for a in s["Action"]} == iam.granted_actions()
        assert "ManagedPolicyArns" not in role
        [sender] = [s for s in statements if s["Sid"] == "AccountEmail"]
        assert sender["Action"] == ["ses:SendRawEmail"]
        assert sender["Resource"]["Fn::Sub"].endswith(":identity/${SesIdentity}")
        assert "Default" not in template["Parameters"]["SesIdentity"]  # the operator names it
        profile = template["Resources"]["AppInstanceProfile"]["Properties"]
        assert profile["Roles"] == [{"Ref": "AppRole"}]

    def test_cfn_lint_finds_nothing(self):
        cfn_lint = Path(sys.executable).parent / "cfn-lint"
        result = subprocess.run(  # noqa: S603 (a fixed tool on a fixed file)
            [str(cfn_lint), str(DEPLOY / "cloudformation.yaml")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("file_name", "extra"), [("role-policy.json", ()), ("operator-policy.json", ("--operator",))]
)
def test_the_example_policies_are_the_commands_output(settings, file_name, extra):
    for name, value in env_example_defaults().items():
        if name.startswith("DYNAMODB_") and name.endswith("_TABLE"):
            setattr(settings, name, value)
    output = io.StringIO()
    call_command(
        "iam_policy",
        *extra,
        "--account-id", EXAMPLE_ACCOUNT,
        "--region", "us-east-1",
        "--bucket", EXAMPLE_BUCKET,
        "--queue-url", EXAMPLE_QUEUE_URL,
        "--ses-identity", EXAMPLE_SES_IDENTITY,
        stdout=output,
    )  # fmt: skip
    committed = json.loads((DEPLOY / "iam" / file_name).read_text())
    assert committed == json.loads(output.getvalue()), f"regenerate deploy/iam/{file_name}"


class TestGunicornConfig:
    def test_workers_follow_the_cpu_count_within_bounds(self, monkeypatch):
        monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
        monkeypatch.delenv("GUNICORN_WORKER_CLASS", raising=False)
        config = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
        from gunicorn.workers.ggevent import GeventWorker

        assert 2 <= config["workers"] <= config["MAX_WORKERS"]
        assert config["timeout"] > config["graceful_timeout"] > 0
        # Requests waiting on Gemini are greenlets: hundreds per worker, not 4 threads.
        assert issubclass(config["worker_class"], GeventWorker)
        assert config["worker_connections"] >= 500

    @pytest.mark.parametrize("deadline", [None, "80"])
    def test_a_stopping_worker_outwaits_the_longest_gemini_call_and_systemd_outwaits_it(
        self, monkeypatch, deadline
    ):
        # A reply Gemini gives at the call's deadline is stored and answered before the
        # worker drops its requests, and the worker before systemd kills it.
        if deadline is None:
            monkeypatch.delenv("GEMINI_CALL_DEADLINE_SECONDS", raising=False)
            longest_call = django_settings.GEMINI_CALL_DEADLINE_SECONDS
        else:
            monkeypatch.setenv("GEMINI_CALL_DEADLINE_SECONDS", deadline)
            longest_call = float(deadline)
        config = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
        stop_seconds = int(systemd_unit("dermalens-web.service")["Service"]["TimeoutStopSec"])

        assert config["graceful_timeout"] >= longest_call + config["ANSWER_STORING_SECONDS"]
        if deadline is None:
            assert stop_seconds >= config["graceful_timeout"] + 10

    def test_the_gemini_deadline_check_waits_as_long_as_deploy_does(self, monkeypatch):
        # ai.W001 (manage.py check --deploy) warns of a deadline these files do not outwait.
        from ai import checks

        monkeypatch.delenv("GEMINI_CALL_DEADLINE_SECONDS", raising=False)
        config = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
        stop_seconds = int(systemd_unit("dermalens-web.service")["Service"]["TimeoutStopSec"])
        assert config["ANSWER_STORING_SECONDS"] == checks.ANSWER_STORING_SECONDS
        assert stop_seconds == checks.WEB_STOP_SECONDS
        assert config["keepalive"] > checks.LOAD_BALANCER_IDLE_SECONDS
        assert config["graceful_timeout"] + checks.WORKER_EXIT_SECONDS <= stop_seconds

    def test_a_host_leaving_the_load_balancer_drains_as_long_as_a_stopping_worker(
        self, monkeypatch, template
    ):
        # Deregistered (a deploy, a scale-in), a host gets no new requests and keeps those
        # in flight: a Gemini call of up to its deadline, then the storing of its answer,
        # as a stopping worker does (graceful_timeout), and no longer than that, where the
        # ALB's default would hold each host 300 s. systemd's stop outlasts both.
        monkeypatch.delenv("GEMINI_CALL_DEADLINE_SECONDS", raising=False)
        monkeypatch.delenv("GUNICORN_BIND", raising=False)
        config = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
        group = template["Resources"]["WebTargetGroup"]
        attributes = {a["Key"]: a["Value"] for a in group["Properties"]["TargetGroupAttributes"]}
        parameter = template["Parameters"]["WebDeregistrationDelaySeconds"]
        assert attributes["deregistration_delay.timeout_seconds"] == {
            "Ref": "WebDeregistrationDelaySeconds"
        }
        delay = parameter["Default"]
        longest_call = load_generator().settings_defaults()["GEMINI_CALL_DEADLINE_SECONDS"]
        assert (
            delay == config["graceful_timeout"] >= longest_call + config["ANSWER_STORING_SECONDS"]
        )
        stop_seconds = int(systemd_unit("dermalens-web.service")["Service"]["TimeoutStopSec"])
        assert stop_seconds > delay
        assert config["bind"].endswith(f":{group['Properties']['Port']}")

    @pytest.mark.parametrize("name", ["gevent", "gthread"])
    def test_either_worker_class_answers_refused_requests_in_the_api_s_error_shape(
        self, monkeypatch, name
    ):
        monkeypatch.setenv("GUNICORN_WORKER_CLASS", name)
        worker_class = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))["worker_class"]
        assert worker_class.handle_error.__qualname__ == "JsonErrors.handle_error"
        assert issubclass(worker_class, load_class(name))

    def test_the_access_log_is_one_json_object_per_request(self):
        from gunicorn.config import Config

        config = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
        gunicorn_config = Config()
        gunicorn_config.set("accesslog", "-")
        logger = config["JsonAccessLogger"](gunicorn_config)
        stream = io.StringIO()
        logger.access_log.handlers = [logging.StreamHandler(stream)]
        response = SimpleNamespace(
            status="202 Accepted", sent=512, headers=[("X-Request-ID", "req-12345678")]
        )
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/v1/scans",
            "QUERY_STRING": "token=secret",
            "REMOTE_ADDR": "10.0.0.5",
            "HTTP_USER_AGENT": 'app "quoted" \\ agent',
        }
        logger.access(response, None, environ, timedelta(milliseconds=42))
        line = json.loads(stream.getvalue())
        assert line["status"] == 202 and line["path"] == "/api/v1/scans"
        assert line["request_id"] == "req-12345678"
        assert line["user_agent"] == 'app "quoted" \\ agent'
        assert line["duration_ms"] == 42
        assert "secret" not in stream.getvalue()


def systemd_unit(name: str) -> configparser.ConfigParser:
    """One of deploy/'s systemd units, its keys as written (systemd's are case-sensitive)."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(DEPLOY / name)
    return parser


@pytest.mark.parametrize(
    ("unit", "command"),
    [
        ("dermalens-web.service", "gunicorn --config deploy/gunicorn.conf.py"),
        ("dermalens-worker.service", "manage.py jobs_worker"),
    ],
)
def test_systemd_units_run_unprivileged_from_the_env_file_and_restart(unit, command):
    parser = systemd_unit(unit)
    service = parser["Service"]
    assert service["User"] == "dermalens" != "root"
    assert service["EnvironmentFile"] == "/etc/dermalens/env"
    assert service["Restart"] == "on-failure"
    assert command in service["ExecStart"]
    assert service["NoNewPrivileges"] == "true"
    assert parser["Install"]["WantedBy"] == "multi-user.target"


def test_jobs_yield_the_cpu_to_the_web_workers_on_a_host_that_runs_both():
    # Per-thread weights (Nice=) let the worker's 32 threads take a quarter of the CPU in
    # a burst of uploads; SCHED_IDLE runs them only on what the web workers leave.
    policies = {}
    for unit in ("dermalens-web.service", "dermalens-worker.service"):
        policies[unit] = systemd_unit(unit)["Service"].get("CPUSchedulingPolicy", "other")
    assert policies == {"dermalens-web.service": "other", "dermalens-worker.service": "idle"}


def test_every_deploy_file_trusts_exactly_the_one_load_balancer(monkeypatch, template):
    monkeypatch.delenv("NUM_PROXIES", raising=False)
    runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    # The server's settings trust no proxy of their own: a server started without the
    # deployment's count (make run: none, so the address the connection came from)
    # never reads a client's address from a header the client wrote.
    assert "NUM_PROXIES" not in os.environ
    for unit in ("dermalens-web.service", "dermalens-worker.service"):
        assert systemd_unit(unit)["Service"]["Environment"] == "NUM_PROXIES=1", unit
    assert template["Outputs"]["NumProxies"]["Value"] == "1"
    assert load_generator().LOAD_BALANCER_PROXIES == 1


def test_only_a_server_under_systemd_opens_a_control_socket(monkeypatch, tmp_path):
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    assert runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))["control_socket_disable"] is True
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(tmp_path))
    under_systemd = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert under_systemd["control_socket"] == str(tmp_path / "gunicorn.ctl")
    assert "control_socket_disable" not in under_systemd


class HealthAnswers(http.server.BaseHTTPRequestHandler):
    """A server whose workers loaded the app: /api/v1/health is a 200."""

    def do_GET(self):
        self.send_response(200 if self.path == "/api/v1/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def wait_until_serving():
    return deploy_module("wait_until_serving")


def test_the_web_unit_starts_only_once_a_worker_answers_its_health_check(monkeypatch, capsys):
    service = systemd_unit("dermalens-web.service")["Service"]
    assert service["ExecStartPost"].endswith("deploy/wait_until_serving.py --seconds 60")
    assert int(service["TimeoutStartSec"]) > 60
    waiting = wait_until_serving()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HealthAnswers)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("GUNICORN_BIND", f"0.0.0.0:{server.server_address[1]}")
        assert waiting.main(["--seconds", "5"]) == 0
    finally:
        server.shutdown()
        server.server_close()
    # Workers that could not load the app: gunicorn halted, nothing listens.
    monkeypatch.setenv("GUNICORN_BIND", f"127.0.0.1:{server.server_address[1]}")
    assert waiting.main(["--seconds", "1"]) == 1
    assert "did not answer" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("bind", "url"),
    [
        ("0.0.0.0:8000", "http://127.0.0.1:8000/api/v1/health"),
        ("10.0.3.7:8080", "http://10.0.3.7:8080/api/v1/health"),
        ("[::]:8000", "http://[::1]:8000/api/v1/health"),
        ("unix:/run/dermalens/web.sock", None),
    ],
)
def test_the_health_check_is_asked_where_the_server_listens(bind, url):
    assert wait_until_serving().health_url(bind) == url
