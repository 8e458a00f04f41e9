"""Site-wide behaviour: production settings, health, API docs and the request log."""

import json
import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from dynamo.tables import ALL_TABLES, USERS
from ops.health import NOT_READY_CACHE_SECONDS
from tests.at_once import at_once
from tests.gevent_process import run_patched

# A load balancer's health check waits a few seconds at most (an ALB's default: 5 s).
READINESS_ANSWER_SECONDS = 4.0
# Fifty probes at once in a process patched as a gevent worker: (status, seconds) each.
READINESS_FLOOD = """
import json
import time

import django
import gevent
from django.test import Client

django.setup()
client = Client()
client.get("/api/v1/health")  # the handler's middleware loaded before the flood


def probe():
    started = time.monotonic()
    status = client.get("/api/v1/health/ready").status_code
    return status, time.monotonic() - started


probes = [gevent.spawn(probe) for _ in range(50)]
gevent.joinall(probes)
print(json.dumps([probe.value for probe in probes]))
"""

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "p" + "r0duct10n-s3cr3t-" * 4,
    "ALLOWED_HOSTS": "api.dermalens.example",
    "SECURE_SSL_REDIRECT": "true",
    "STATIC_FROM_APPS": "false",
    "EMAIL_FROM": "DermaLens <no-reply@dermalens.example>",
    "SITE_URL": "https://api.dermalens.example",
}


def manage(*args: str, **environment: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **environment}
    return subprocess.run(  # noqa: S603 (our own manage.py)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def setting_as_started(expression: str, **environment: str) -> str:
    """``settings.<expression>`` as a process started with ``environment`` reads it."""
    result = manage(
        "shell",
        "-c",
        f"from django.conf import settings; print(settings.{expression})",
        **environment,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


class TestProductionSettings:
    def test_check_deploy_reports_no_warnings(self):
        result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "no issues" in result.stdout

    @pytest.mark.parametrize(
        ("setting", "said"),
        [
            ({"AI_PROVIDER": "gemni"}, "AI_PROVIDER must be one of gemini, offline"),
            ({"AI_CHAT_PROVIDER": "gemini"}, "AI_CHAT_PROVIDER=gemini needs GEMINI_API_KEY"),
            (
                {"AI_PROVIDER": "gemini", "GEMINI_API_KEY": "k", "GEMINI_THINKING_CHAT": "lots"},
                "GEMINI_THINKING_CHAT must be a thinking level",
            ),
            (
                {"AI_PROVIDER": "gemini", "GEMINI_API_KEY": "k", "GEMINI_THINKING_CHAT": "2048"},
                "GEMINI_THINKING_CHAT is a thinking budget of 2048 tokens: it must be below 2048",
            ),
        ],
    )
    def test_check_deploy_fails_on_an_ai_setting_the_workers_would_stop_on(self, setting, said):
        result = manage("check", "--deploy", **{**PRODUCTION, **setting})
        assert result.returncode != 0
        assert "ai.E001" in result.stderr
        assert said in result.stderr

    @pytest.mark.parametrize("secret", ["", "change-me", "short-secret"])
    def test_production_refuses_to_start_without_a_real_secret_key(self, secret):
        result = manage("check", **{**PRODUCTION, "SECRET_KEY": secret})
        assert result.returncode != 0
        assert "SECRET_KEY is missing or insecure" in result.stderr

    def test_production_refuses_a_jwt_signing_key_anyone_could_guess(self):
        result = manage("check", **{**PRODUCTION, "JWT_SIGNING_KEY": "secret"})
        assert result.returncode != 0
        assert "JWT_SIGNING_KEY is missing or insecure" in result.stderr

    @pytest.mark.parametrize(
        "key",
        ["change-me-" + "x" * 50, "dermalens-development-only-secret-key-never-use-in-production"],
    )
    def test_a_signing_key_from_an_example_or_the_placeholder_is_refused(self, monkeypatch, key):
        from dermalens_site import settings as site_settings

        monkeypatch.setattr(site_settings, "DEBUG", False)
        monkeypatch.setenv("JWT_SIGNING_KEY", key)
        with pytest.raises(ImproperlyConfigured, match="JWT_SIGNING_KEY is missing or insecure"):
            site_settings._secret_key("JWT_SIGNING_KEY", "unused")

    def test_a_random_signing_key_or_none_is_taken(self, monkeypatch):
        from dermalens_site import settings as site_settings

        monkeypatch.setattr(site_settings, "DEBUG", False)
        random_key = "j" + "w7-s1gn1ng-k3y-" * 4
        monkeypatch.setenv("JWT_SIGNING_KEY", random_key)
        assert site_settings._secret_key("JWT_SIGNING_KEY", "unused") == random_key
        monkeypatch.setenv("JWT_SIGNING_KEY", "")  # SECRET_KEY's, checked as it was read
        secret_key = "s" + "3cr3t-k3y-" * 6
        assert site_settings._secret_key("JWT_SIGNING_KEY", secret_key) == secret_key

    @pytest.mark.parametrize("proxies", ["", "-1", "one"])
    def test_production_refuses_to_start_without_a_trusted_proxy_count(self, proxies):
        result = manage("check", **{**PRODUCTION, "NUM_PROXIES": proxies})
        assert result.returncode != 0
        assert "NUM_PROXIES must be a whole number, and is required" in result.stderr

    @pytest.mark.parametrize("proxies", ["0", "1", "2"])
    def test_any_count_of_trusted_proxies_is_an_answer_zero_included(self, proxies):
        result = manage("check", **{**PRODUCTION, "NUM_PROXIES": proxies})
        assert result.returncode == 0, result.stderr

    @pytest.mark.parametrize(
        ("setting", "said"),
        [
            ({"PHOTO_PROCESS_NICENESS": "-1"}, "PHOTO_PROCESS_NICENESS must be a whole number"),
            (
                {"PHOTO_PROCESS_NICENESS": "20"},
                "PHOTO_PROCESS_NICENESS must be a whole number, from 0 to 19",
            ),
            (
                {"PHOTO_WORK_TIMEOUT_SECONDS": "0"},
                "PHOTO_WORK_TIMEOUT_SECONDS must be a number, above 0",
            ),
            (
                {"DYNAMODB_MAX_ATTEMPTS": "0"},
                "DYNAMODB_MAX_ATTEMPTS must be a whole number, 1 or more",
            ),
            (
                {"PASSWORD_REQUESTS_PER_WORKER": "8", "PASSWORD_REQUESTS_RESERVED_PER_WORKER": "8"},
                "PASSWORD_REQUESTS_RESERVED_PER_WORKER must be a whole number, from 0 to 7",
            ),
            ({"GEMINI_TIMEOUT_SECONDS": "30s"}, "GEMINI_TIMEOUT_SECONDS must be a number"),
            ({"DYNAMODB_USERS_TABLE": "bad table!"}, "DYNAMODB_USERS_TABLE must be a DynamoDB"),
            ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL must be one of DEBUG, INFO, WARNING"),
            ({"GEMINI_BASE_URL": "127.0.0.1:43473"}, "GEMINI_BASE_URL must be an http:// or"),
            ({"GEMINI_BASE_URL": "http://127.0.0.1:port"}, "GEMINI_BASE_URL must be an http"),
            ({"SITE_URL": "api.dermalens.example"}, "SITE_URL must be an http:// or https://"),
            ({"PASSWORD_RESET_URL": "app.example/reset"}, "PASSWORD_RESET_URL must be an http"),
            ({"EMAIL_VERIFY_URL": "https://"}, "EMAIL_VERIFY_URL must be an http:// or"),
            ({"AWS_DYNAMODB_ENDPOINT": "localhost:8001"}, "AWS_DYNAMODB_ENDPOINT must be an"),
            ({"AWS_S3_ENDPOINT": "127.0.0.1:9000"}, "AWS_S3_ENDPOINT must be an http://"),
            ({"AWS_SQS_ENDPOINT": "localhost:9324"}, "AWS_SQS_ENDPOINT must be an http://"),
            ({"AWS_SES_ENDPOINT": "ftp://localhost"}, "AWS_SES_ENDPOINT must be an http://"),
        ],
    )
    def test_settings_out_of_range_or_unreadable_stop_the_start(self, setting, said):
        result = manage("check", **{**PRODUCTION, **setting})
        assert result.returncode != 0
        assert said in result.stderr

    @pytest.mark.parametrize(
        ("key", "place"),
        [
            ("\u201cAIzaSyD-pasted-from-a-document\u201d", "character 1 of its 32"),
            ("AIzaSyD-cut in-two", "character 12 of its 18"),
            ("'AIzaSyD-quoted'", "character 1 of its 16"),
        ],
    )
    def test_an_api_key_that_no_provider_would_take_stops_the_start_without_showing_it(
        self, key, place
    ):
        # Gemini refused every call made with it, reported as Gemini being unavailable.
        result = manage("check", **{**PRODUCTION, "GEMINI_API_KEY": key})
        assert result.returncode != 0
        assert "GEMINI_API_KEY must be the key as issued" in result.stderr
        assert place in result.stderr
        assert "AIzaSyD" not in result.stdout + result.stderr

    def test_an_api_key_with_spaces_around_it_is_read_without_them(self):
        key = setting_as_started(
            "GEMINI_API_KEY", **{**PRODUCTION, "GEMINI_API_KEY": " AIza-k3y\t"}
        )
        assert key == "AIza-k3y"

    @pytest.mark.parametrize("level", ["debug", "Warning", " ERROR "])
    def test_the_log_level_is_read_in_any_case_as_gunicorn_reads_it(self, level):
        root = setting_as_started("LOGGING['root']['level']", **{**PRODUCTION, "LOG_LEVEL": level})
        assert root == level.strip().upper()

    def test_a_url_refused_is_shown_without_what_may_be_a_user_and_password(self):
        url = "proxy-user:s3cret-pass@proxy.example:3128"  # no scheme
        result = manage("check", **{**PRODUCTION, "GEMINI_BASE_URL": url})
        assert result.returncode != 0
        assert "GEMINI_BASE_URL must be an http:// or https:// URL" in result.stderr
        assert "...@proxy.example:3128" in result.stderr
        assert "s3cret-pass" not in result.stderr

    @pytest.mark.parametrize("url", ["http://127.0.0.1:43473", "https://proxy.example/gemini/"])
    def test_a_url_with_its_scheme_and_host_is_taken(self, url):
        assert (
            setting_as_started("GEMINI_BASE_URL", **{**PRODUCTION, "GEMINI_BASE_URL": url}) == url
        )

    def test_check_deploy_warns_of_a_gemini_deadline_past_what_the_web_tier_waits(self):
        result = manage("check", "--deploy", **{**PRODUCTION, "GEMINI_CALL_DEADLINE_SECONDS": "60"})
        assert "ai.W001" in result.stderr
        assert "GEMINI_CALL_DEADLINE_SECONDS is 60" in result.stderr

    @pytest.mark.parametrize("deadline", [50.5, 60, 90])
    def test_a_gemini_deadline_past_what_the_web_tier_waits_is_warned_of(self, settings, deadline):
        # An answer at the deadline, stored within 10 s, comes after the load balancer's
        # 60 s idle timeout, and the graceful timeout (deadline + 10) nears or passes
        # systemd's TimeoutStopSec (75), which would kill the worker storing it.
        from ai.checks import check_gemini_deadline

        settings.GEMINI_CALL_DEADLINE_SECONDS = deadline
        [warning] = check_gemini_deadline(None)
        assert warning.id == "ai.W001"
        assert f"GEMINI_CALL_DEADLINE_SECONDS is {deadline:g}" in warning.msg
        assert "idle timeout" in warning.msg
        assert "WebDeregistrationDelaySeconds" in warning.hint

    @pytest.mark.parametrize("deadline", [30, 49.5, 50])
    def test_a_gemini_deadline_the_web_tier_outwaits_is_taken(self, settings, deadline):
        from ai.checks import check_gemini_deadline

        settings.GEMINI_CALL_DEADLINE_SECONDS = deadline
        assert check_gemini_deadline(None) == []

    @pytest.mark.parametrize(
        ("text", "kind", "read"),
        [
            ("", int, 7),
            (" 12 ", int, 12),
            ("0", int, 0),
            ("1.5", float, 1.5),
            ("2", float, 2.0),
            (".5", float, 0.5),
            ("5.", float, 5.0),
        ],
    )
    def test_a_number_setting_is_read_as_written_or_its_default(
        self, monkeypatch, text, kind, read
    ):
        from dermalens_site import settings as site_settings

        monkeypatch.setenv("AI_ANALYSES_PER_DAY", text)
        assert site_settings._number("AI_ANALYSES_PER_DAY", 7, kind) == read

    @pytest.mark.parametrize(
        ("text", "kind", "bounds", "said"),
        [
            ("0", int, {"lowest": 1}, "must be a whole number, 1 or more (it is '0')"),
            ("21", int, {"highest": 20}, "must be a whole number, from 0 to 20 (it is '21')"),
            ("0", float, {"above_zero": True}, "must be a number, above 0 (it is '0')"),
            ("0.0", float, {"above_zero": True}, "must be a number, above 0 (it is '0.0')"),
        ],
    )
    def test_a_number_setting_outside_what_it_can_be_is_refused_by_name(
        self, monkeypatch, text, kind, bounds, said
    ):
        from dermalens_site import settings as site_settings

        monkeypatch.setenv("AI_ANALYSES_PER_DAY", text)
        with pytest.raises(ImproperlyConfigured, match=re.escape(f"AI_ANALYSES_PER_DAY {said}")):
            site_settings._number("AI_ANALYSES_PER_DAY", 7, kind, **bounds)

    @pytest.mark.parametrize(
        ("text", "kind", "bounds", "read"),
        [
            ("1", int, {"lowest": 1}, 1),
            ("20", int, {"highest": 20}, 20),
            ("0.001", float, {"above_zero": True}, 0.001),
        ],
    )
    def test_a_number_setting_at_its_bounds_is_read(self, monkeypatch, text, kind, bounds, read):
        from dermalens_site import settings as site_settings

        monkeypatch.setenv("AI_ANALYSES_PER_DAY", text)
        assert site_settings._number("AI_ANALYSES_PER_DAY", 7, kind, **bounds) == read

    @pytest.mark.parametrize(
        ("text", "kind"),
        [
            ("30s", float),
            ("1,5", float),
            ("-5", int),
            ("abc", int),
            ("2.5", int),
            ("nan", float),
            ("1_000", int),
            ("\u0663", int),  # an Arabic-Indic 3, which int() reads
            ("1" + "0" * 400, int),
        ],
    )
    def test_a_number_setting_written_otherwise_is_refused_by_name(self, monkeypatch, text, kind):
        from dermalens_site import settings as site_settings

        monkeypatch.setenv("AI_ANALYSES_PER_DAY", text)
        with pytest.raises(ImproperlyConfigured, match="AI_ANALYSES_PER_DAY must be"):
            site_settings._number("AI_ANALYSES_PER_DAY", 7, kind)

    def test_a_throttle_rate_that_cannot_be_read_stops_the_start_and_is_named(self):
        result = manage("check", **{**PRODUCTION, "THROTTLE_LOGIN_RATE": "300 per minute"})
        assert result.returncode != 0
        assert "THROTTLE_LOGIN_RATE must be a count per second, minute, hour or day" in (
            result.stderr
        )

    @pytest.mark.parametrize(
        "rate", ["300 per minute", "20/week", "10/month", "0/hour", "-5/min", "1.5/hour", "h"]
    )
    def test_a_rate_drf_would_fail_on_or_misread_is_refused(self, monkeypatch, rate):
        from dermalens_site import settings as site_settings

        monkeypatch.setenv("THROTTLE_UPLOAD_RATE", rate)
        with pytest.raises(ImproperlyConfigured, match="THROTTLE_UPLOAD_RATE must be"):
            site_settings._rate_setting("THROTTLE_UPLOAD_RATE", "60/hour")

    @pytest.mark.parametrize(
        "rate, read",
        [(" 20/Minute ", "20/minute"), ("5/s", "5/s"), ("60/days", "60/days"), ("", "60/hour")],
    )
    def test_a_rate_is_read_as_written_around_it(self, monkeypatch, rate, read):
        from dermalens_site import settings as site_settings

        monkeypatch.setenv("THROTTLE_UPLOAD_RATE", rate)
        assert site_settings._rate_setting("THROTTLE_UPLOAD_RATE", "60/hour") == read
        throttle = type("Throttle", (SimpleRateThrottle,), {"rate": read})()  # as DRF reads it
        assert throttle.num_requests == int(read.split("/")[0])

    def test_hosts_listed_with_spaces_after_the_commas_are_each_allowed(self):
        hosts = "localhost, api.dermalens.example ,"
        allowed = setting_as_started("ALLOWED_HOSTS", **{**PRODUCTION, "ALLOWED_HOSTS": hosts})
        assert allowed == "['localhost', 'api.dermalens.example']"

    def test_an_empty_gemini_model_line_is_the_default_model(self):
        # google-genai refused every call made with an empty name ("model is required").
        model = setting_as_started("GEMINI_MODEL", **{**PRODUCTION, "GEMINI_MODEL": " "})
        assert model == "gemini-3.5-flash"

    def test_development_needs_no_trusted_proxy_count_and_trusts_none(self):
        # `make run` sets none: each client's address is the connection's, not a header's.
        proxies = setting_as_started("REST_FRAMEWORK['NUM_PROXIES']", DEBUG="true", NUM_PROXIES="")
        assert proxies == "0"

    def test_development_may_use_the_placeholder_key(self):
        result = manage("check", DEBUG="true", SECRET_KEY="")
        assert result.returncode == 0, result.stderr

    def test_there_is_no_sql_database_and_no_model_of_ours(self):
        from django.apps import apps
        from django.db import connections

        engines = {connections[alias].settings_dict["ENGINE"] for alias in connections}
        assert engines == {"django.db.backends.dummy"}
        ours = {"accounts", "scans", "plans", "chat", "ops", "ai", "dynamo"}
        assert [m for m in apps.get_models() if m._meta.app_label in ours] == []


class TestHealth:
    @pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/health/ready"])
    @pytest.mark.parametrize("host", ["10.0.1.23:8000", "10.0.1.23", "172.31.4.9", "[fd00::5]"])
    def test_the_load_balancers_check_by_the_instances_address_is_answered(
        self, settings, path, host
    ):
        # An ALB's health check sends the target's private address as its Host.
        settings.ALLOWED_HOSTS = ["api.dermalens.example"]
        response = APIClient().get(path, HTTP_HOST=host)
        assert response.status_code == 200, response.content

    @pytest.mark.parametrize(
        ("path", "host"),
        [
            ("/api/v1/users/me", "10.0.1.23:8000"),  # an address reaches health checks only
            ("/api/v1/health", "8.8.8.8"),  # a public address is no load balancer's
            ("/api/v1/health", "evil.example"),
        ],
    )
    def test_any_other_host_is_refused_as_before(self, settings, path, host):
        settings.ALLOWED_HOSTS = ["api.dermalens.example"]
        response = APIClient().get(path, HTTP_HOST=host)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "bad_request"

    def test_health_answers_without_a_token(self):
        response = APIClient().get("/api/v1/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    def test_ready_when_every_table_is_active(self):
        response = APIClient().get("/api/v1/health/ready")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ready"
        assert set(body["tables"].values()) == {"ACTIVE"}
        assert len(body["tables"]) == len(ALL_TABLES)

    def test_not_ready_names_the_missing_table(self, settings):
        settings.DYNAMODB_USERS_TABLE = "missing-users-table"
        response = APIClient().get("/api/v1/health/ready")
        assert response.status_code == 503
        assert response.json()["tables"][USERS.name] == "MISSING"
        assert response["Retry-After"]

    def test_a_table_dynamodb_refuses_to_describe_is_not_ready_not_a_server_error(self, settings):
        # A name DynamoDB will not take stands for any refusal (access denied, throttled).
        settings.DYNAMODB_USERS_TABLE = "no spaces allowed"
        response = APIClient().get("/api/v1/health/ready")
        assert response.status_code == 503, response.content
        assert response.json()["tables"]["no spaces allowed"] == "REFUSED"
        assert response["Retry-After"]

    def test_not_ready_within_seconds_when_dynamodb_takes_connections_but_never_answers(
        self, silent_dynamodb
    ):
        started = time.monotonic()
        response = APIClient().get("/api/v1/health/ready")
        assert time.monotonic() - started < READINESS_ANSWER_SECONDS
        assert response.status_code == 503, response.content
        assert set(response.json()["tables"].values()) == {"UNREACHABLE"}
        assert response["Retry-After"]

    def test_a_flood_of_probes_in_a_gevent_worker_is_answered_in_seconds_by_one_describe_round(
        self, silent_dynamodb
    ):
        answers = run_patched(READINESS_FLOOD, AWS_DYNAMODB_ENDPOINT=silent_dynamodb.endpoint)
        assert {status for status, _ in answers} == {503}
        assert max(seconds for _, seconds in answers) < READINESS_ANSWER_SECONDS
        # One round of DescribeTable for the flood, not one per probe.
        assert silent_dynamodb.connections == len(ALL_TABLES)

    def test_a_flood_of_probes_while_not_ready_describes_the_tables_once_a_moment(self, settings):
        from dynamo.metrics import measure_dynamodb

        users_table_name = settings.DYNAMODB_USERS_TABLE
        settings.DYNAMODB_USERS_TABLE = "missing-users-table"
        with measure_dynamodb() as measured:
            answers = at_once(lambda: APIClient().get("/api/v1/health/ready"), threads=10)
            answers += [APIClient().get("/api/v1/health/ready") for _ in range(10)]
        assert {answer.status_code for answer in answers} == {503}
        assert measured.calls == len(ALL_TABLES)
        # The not-ready answer is kept only a moment: a recovery shows soon after.
        time.sleep(NOT_READY_CACHE_SECONDS)
        settings.DYNAMODB_USERS_TABLE = users_table_name
        assert APIClient().get("/api/v1/health/ready").status_code == 200

    def test_a_worker_describes_the_tables_at_most_once_in_its_cache_window(self):
        from dynamo.metrics import measure_dynamodb

        with measure_dynamodb() as measured:
            answers = [APIClient().get("/api/v1/health/ready") for _ in range(20)]
        assert {answer.status_code for answer in answers} == {200}
        assert measured.calls == len(ALL_TABLES)


class TestDocs:
    def test_schema_declares_bearer_auth_and_the_account_paths(self):
        response = APIClient().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        assert response.status_code == 200
        schema = json.loads(response.content)
        schemes = schema["components"]["securitySchemes"]
        assert any(s.get("scheme") == "bearer" for s in schemes.values())
        for path in (
            "/api/v1/auth/register",
            "/api/v1/auth/login",
            "/api/v1/auth/refresh",
            "/api/v1/auth/logout",
            "/api/v1/auth/password",
            "/api/v1/users/me",
            "/api/v1/health",
            "/api/v1/health/ready",
        ):
            assert path in schema["paths"], path
        assert "security" not in schema["paths"]["/api/v1/auth/login"]["post"] or schema["paths"][
            "/api/v1/auth/login"
        ]["post"]["security"] in ([], [{}])

    @pytest.mark.parametrize("page", ["/api/v1/docs", "/api/v1/redoc"])
    def test_docs_pages_load_all_their_assets_from_this_server(self, page):
        client = APIClient()
        response = client.get(page)
        assert response.status_code == 200
        html = response.content.decode()
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css|png))"', html)
        assert assets, "the page references no scripts"
        for asset in assets:
            assert asset.startswith("/static/"), f"{asset} would need the internet"
            assert client.get(asset).status_code == 200, asset

    def test_every_setting_read_from_the_environment_is_documented(self):
        """An operator finds each setting in the README's tables and in .env.example."""
        source = (ROOT / "dermalens_site" / "settings.py").read_text()
        readers = (
            r"env\.\w+|_int|_float|_rate_setting|_table_name|_secret_key|_url|_api_key|_choice"
        )
        reads = rf'(?:{readers})\(\s*"([A-Z][A-Z0-9_]*)"'
        names = set(re.findall(reads, source))
        assert len(names) > 50, "the settings' environment reads were not found"
        readme = (ROOT / "README.md").read_text()
        example = (ROOT / ".env.example").read_text()
        undocumented = sorted(name for name in names if f"`{name}`" not in readme)
        assert undocumented == [], "settings missing from the README"
        missing = sorted(n for n in names if not re.search(rf"^(# )?{n}=", example, re.M))
        assert missing == [], "settings missing from .env.example"

    def test_every_error_code_the_api_answers_with_is_documented(self):
        from django.urls import get_resolver

        from dermalens_site.errors import ApplicationError
        from scans.images import InvalidImage

        get_resolver().url_patterns  # noqa: B018 (imports every view and what it raises)

        def subclasses(cls: type) -> list[type]:
            return [c for sub in cls.__subclasses__() for c in (sub, *subclasses(sub))]

        # The ops pages show their refusals as text on the page, not as codes, and
        # InvalidImage is only ever raised as one of its kinds.
        codes = {
            error.default_code
            for error in subclasses(ApplicationError)
            if error.__module__.split(".")[0] not in ("ops", "tests")
            and ".tests" not in error.__module__
            and error is not InvalidImage
        }
        assert len(codes) > 20, "the API's errors were not found"
        readme = (ROOT / "README.md").read_text()
        assert sorted(code for code in codes if f"`{code}`" not in readme) == []

    @pytest.mark.parametrize(
        "path", ["/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/scans", "/api/v1/plans"]
    )
    def test_options_describe_an_endpoint_without_the_code_s_own_notes(self, auth_client, path):
        answer = auth_client.options(path)
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert body["renders"] == ["application/json"]
        uploads = path == "/api/v1/scans"  # what the collection's POST takes
        assert body["parses"] == (["multipart/form-data"] if uploads else ["application/json"])
        assert "description" not in body  # the docstring, which named internal functions
        assert "services." not in answer.content.decode()


class TestRequestLog:
    def test_one_json_line_per_request_without_secrets(self, register):
        session = register()
        handler_output = []

        class Capture(logging.Handler):
            def emit(self, record):
                handler_output.append(self.format(record))

        from pythonjsonlogger.json import JsonFormatter

        capture = Capture()
        capture.setFormatter(JsonFormatter("%(message)s"))
        logger = logging.getLogger("dermalens.request")
        logger.addHandler(capture)
        logger.setLevel(logging.INFO)
        try:
            APIClient().post(
                # Not hex: the request id (32 hex digits) must not contain it by chance.
                "/api/v1/auth/login?token=query-secret-xyz",
                {"email": session["user"]["email"], "password": session["password"]},
                format="json",
            )
        finally:
            logger.removeHandler(capture)
        assert len(handler_output) == 1, handler_output
        line = json.loads(handler_output[0])
        assert line["method"] == "POST"
        assert line["path"] == "/api/v1/auth/login"
        assert line["status"] == 200, line
        assert line["duration_ms"] > 0
        assert len(line["request_id"]) == 32
        assert session["password"] not in handler_output[0]
        assert "query-secret-xyz" not in handler_output[0]
        assert session["refresh"] not in handler_output[0]
