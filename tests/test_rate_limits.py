"""Rate limits hold across worker processes, not per worker."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from dynamo.local import free_port

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4
# A day-long window: the attempts cannot straddle a window boundary and reset the count.
LOGIN_LIMIT = 10


@pytest.fixture
def gunicorn_server():
    port = free_port()
    env = {
        **os.environ,
        "RATE_LIMIT_NAMESPACE": f"gunicorn-{uuid.uuid4().hex}",
        "THROTTLE_LOGIN_RATE": f"{LOGIN_LIMIT}/day",
        "LOG_LEVEL": "ERROR",
    }
    server = subprocess.Popen(  # noqa: S603 (our own server)
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "dermalens_site.wsgi",
            "--workers",
            str(WORKERS),
            "--bind",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/api/v1/health", timeout=2):  # noqa: S310
                break
        except OSError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail("gunicorn did not start")
    yield base
    server.terminate()
    server.wait(timeout=20)


def attempt_login(base: str) -> int:
    # Another email each time: the per-address limit is under test, not the per-account one.
    email = f"nobody-{uuid.uuid4().hex[:12]}@example.com"
    body = json.dumps({"email": email, "password": "a-wrong-guess-123"}).encode()
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{base}/api/v1/auth/login",
        data=body,
        headers={"Content-Type": "application/json", "Connection": "close"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def test_four_gunicorn_workers_share_one_login_allowance(gunicorn_server):
    # Each attempt opens a new connection, so the attempts spread over the workers; with
    # per-process counting four workers would allow four times the limit.
    statuses = [attempt_login(gunicorn_server) for _ in range(LOGIN_LIMIT + 6)]
    assert statuses.count(401) == LOGIN_LIMIT, statuses
    assert statuses.count(429) == 6, statuses
