"""Wait until the web server answers its health check, or fail: the web unit's ExecStartPost.

    python deploy/wait_until_serving.py [--seconds 60]

gunicorn tells systemd it is ready as its master starts, before any worker has loaded the
app. A worker that cannot load it (a wrong setting stops it) halts the server a moment
later, when `systemctl start` has already reported success, and systemd restarts it every
RestartSec for ever. Run after the start, this asks the server's own address
(GUNICORN_BIND, as deploy/gunicorn.conf.py reads it) for /api/v1/health until a worker
answers 200, and exits 1 otherwise, so that the start itself fails and says so; the
reason is in the journal, in gunicorn's lines before it. Standard library only.
"""

import argparse
import os
import sys
import time
import urllib.error
import urllib.request

DEFAULT_BIND = "0.0.0.0:8000"  # deploy/gunicorn.conf.py's
HEALTH_PATH = "/api/v1/health"
# Between two asks, and the most one ask may take.
PAUSE_SECONDS = 0.5
ASK_TIMEOUT_SECONDS = 2.0


def health_url(bind: str) -> str | None:
    """The health check's URL at ``bind`` (host:port), an address the server listens on
    (its own loopback for a wildcard); None for a Unix socket."""
    if bind.startswith("unix:"):
        return None
    host, _, port = bind.rpartition(":")
    host = host.strip("[]")
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{HEALTH_PATH}"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=ASK_TIMEOUT_SECONDS) as answer:  # noqa: S310
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to wait")
    seconds = parser.parse_args(argv).seconds
    url = health_url(os.environ.get("GUNICORN_BIND") or DEFAULT_BIND)
    if url is None:
        print("The server listens on a Unix socket: not checked.", file=sys.stderr)
        return 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answers(url):
            return 0
        time.sleep(PAUSE_SECONDS)
    print(
        f"The web server did not answer {url} within {seconds:g} s: its workers could not "
        "load the app (the journal's lines before this say why).",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
