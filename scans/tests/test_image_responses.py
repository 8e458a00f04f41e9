"""Signed image URLs: no log line holds their token, and no cache outlives them.

The token in a filesystem image URL is the capability to see the photo, so the request
log line, gunicorn's access line and Django's own error lines print the route with
``<token>`` in its place; an image response may be cached privately, and only for what
is left of the URL's life.
"""

import importlib.util
import json
import logging
import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.conf import settings as django_settings
from django.core import signing
from rest_framework.test import APIClient

from dermalens_site.log_paths import LoggablePathsFilter
from scans import storage
from scans.tests.conftest import Clock

IMAGE_ROUTE = "/api/v1/scans/files/<token>"
GUNICORN_CONF = Path(django_settings.BASE_DIR) / "deploy" / "gunicorn.conf.py"


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(signing, "time", clock)
    monkeypatch.setattr(storage, "time", clock)
    return clock


@pytest.fixture
def image_path(upload) -> str:
    """The path of a freshly uploaded scan's signed image URL."""
    response = upload()
    assert response.status_code == 201, response.content
    path = response.json()["image_url"]
    assert path.startswith("/api/v1/scans/files/")
    return path


def token_of(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def max_age_of(response) -> int:
    match = re.fullmatch(r"private, max-age=(\d+)", response["Cache-Control"])
    assert match, response["Cache-Control"]
    return int(match[1])


def every_text_of(record: logging.LogRecord) -> str:
    return record.getMessage() + " " + " ".join(str(v) for v in vars(record).values())


class TestRequestLog:
    @pytest.mark.parametrize("client", ["anonymous", "signed in"])
    def test_an_image_request_is_logged_by_its_route_without_the_token(
        self, image_path, auth_client, caplog, client
    ):
        caplog.set_level(logging.INFO, logger="dermalens.request")
        response = (APIClient() if client == "anonymous" else auth_client).get(image_path)
        assert response.status_code == 200

        (line,) = [r for r in caplog.records if r.name == "dermalens.request"]
        assert (line.method, line.path, line.status) == ("GET", IMAGE_ROUTE, 200)
        assert all(token_of(image_path) not in every_text_of(r) for r in caplog.records)

    @pytest.mark.parametrize(
        "token", ["not-a-token", "eyJrIjoiYSJ9:1tXyZa:forged-signature-forged-signature"]
    )
    def test_a_refused_token_is_not_logged_either(self, caplog, token):
        caplog.set_level(logging.INFO)
        response = APIClient().get(f"/api/v1/scans/files/{token}")
        assert response.status_code == 404

        (line,) = [r for r in caplog.records if r.name == "dermalens.request"]
        assert (line.path, line.status) == (IMAGE_ROUTE, 404)
        assert all(token not in every_text_of(r) for r in caplog.records)

    def test_other_paths_are_logged_as_they_are(self, auth_client, caplog, image_path):
        caplog.set_level(logging.INFO, logger="dermalens.request")
        scans = auth_client.get("/api/v1/scans").json()["items"]
        scan_path = f"/api/v1/scans/{scans[0]['scan_id']}"
        caplog.clear()
        auth_client.get(scan_path)
        (line,) = [r for r in caplog.records if r.name == "dermalens.request"]
        assert line.path == scan_path

    def test_django_s_own_error_lines_go_out_without_the_token(self, image_path):
        # Django logs a 5xx as "<reason>: <path>" on django.request; the log handler's
        # filter is what stands between that line and the log.
        handlers = [
            handler
            for handler in logging.getLogger().handlers
            if any(isinstance(f, LoggablePathsFilter) for f in handler.filters)
        ]
        assert handlers, "the log handler has no LoggablePathsFilter"
        record = logging.getLogger("django.request").makeRecord(
            "django.request",
            logging.ERROR,
            __file__,
            0,
            "%s: %s",
            ("Service Unavailable", image_path),
            None,
        )
        assert handlers[0].filter(record)
        line = handlers[0].format(record)
        assert token_of(image_path) not in line
        assert f"Service Unavailable: {IMAGE_ROUTE}" in line


class TestGunicornAccessLog:
    @pytest.fixture
    def access_logger(self):
        from gunicorn.config import Config

        spec = importlib.util.spec_from_file_location("gunicorn_conf", GUNICORN_CONF)
        conf = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(conf)
        config = Config()
        config.set("accesslog", "-")
        logger = conf.JsonAccessLogger(config)
        lines: list[str] = []

        class Keep(logging.Handler):
            def emit(self, record):
                lines.append(record.getMessage())

        logger.access_log.addHandler(Keep())
        logger.lines = lines
        return logger

    @pytest.mark.parametrize("query", ["", "?download=1"])
    def test_the_access_line_names_the_route_without_the_token(
        self, access_logger, image_path, query
    ):
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": image_path,
            "QUERY_STRING": query.lstrip("?"),
            "RAW_URI": image_path + query,
            "REMOTE_ADDR": "10.0.0.7",
        }
        response = SimpleNamespace(
            status="200 OK", headers=[("X-Request-ID", "req-12345678")], sent=1234
        )
        request = SimpleNamespace(method="GET", path=image_path, query=query.lstrip("?"))

        access_logger.access(response, request, environ, timedelta(milliseconds=12))

        (line,) = access_logger.lines
        assert token_of(image_path) not in line
        entry = json.loads(line)
        assert (entry["path"], entry["status"], entry["request_id"]) == (
            IMAGE_ROUTE,
            200,
            "req-12345678",
        )

    def test_other_paths_keep_their_ids(self, access_logger):
        path = "/api/v1/scans/01JD0000000000000000000000"
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "REMOTE_ADDR": "10.0.0.7"}
        response = SimpleNamespace(status="404 Not Found", headers=[], sent=10)
        access_logger.access(response, SimpleNamespace(), environ, timedelta(milliseconds=3))
        assert json.loads(access_logger.lines[0])["path"] == path


class TestCaching:
    def test_a_fresh_image_is_cached_privately_for_the_url_s_whole_life(
        self, clock, image_path, settings
    ):
        response = APIClient().get(image_path)
        assert response.status_code == 200
        assert settings.IMAGE_URL_SECONDS - 1 <= max_age_of(response) <= settings.IMAGE_URL_SECONDS

    @pytest.mark.parametrize("elapsed_seconds", [1, 300, 600, 899])
    def test_an_older_url_is_cached_no_longer_than_it_still_works(
        self, clock, image_path, settings, elapsed_seconds
    ):
        clock.now += elapsed_seconds
        response = APIClient().get(image_path)
        assert response.status_code == 200
        left = settings.IMAGE_URL_SECONDS - elapsed_seconds
        assert left - 1 <= max_age_of(response) <= left

    def test_an_expired_url_shows_nothing(self, clock, image_path, settings):
        clock.now += settings.IMAGE_URL_SECONDS + 1
        response = APIClient().get(image_path)
        assert response.status_code == 404
        assert "max-age" not in response.get("Cache-Control", "")


class TestMethods:
    def test_head_answers_as_get_without_the_image(self, image_path):
        get = APIClient().get(image_path)
        head = APIClient().head(image_path)
        assert head.status_code == 200
        assert head["Content-Type"] == "image/jpeg"
        assert not head.streaming and head.content == b""
        assert int(head["Content-Length"]) == len(b"".join(get.streaming_content))
        assert head["Cache-Control"].startswith("private, max-age=")

    @pytest.mark.parametrize("method", ["get", "head"])
    def test_a_wrong_token_is_a_json_404_with_debug_on_too(self, image_path, settings, method):
        settings.DEBUG = True  # as in make run: Django's own page would list every route
        wrong = image_path[:-4] + ("AAAA" if not image_path.endswith("AAAA") else "BBBB")
        response = getattr(APIClient(), method)(wrong)
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        if method == "get":
            assert response.json()["error"]["code"] == "not_found"

    @pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
    def test_another_method_is_a_405_in_the_api_s_error_shape(self, image_path, method):
        # Django's CSRF check would answer a POST with its HTML page first.
        client = APIClient(enforce_csrf_checks=True)
        response = getattr(client, method)(image_path)
        assert response.status_code == 405
        assert response["Allow"] == "GET, HEAD"
        assert response.json()["error"]["code"] == "method_not_allowed"
