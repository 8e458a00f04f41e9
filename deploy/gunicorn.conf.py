"""Gunicorn settings for DermaLens in production (systemd: deploy/dermalens-web.service).

    gunicorn --config deploy/gunicorn.conf.py dermalens_site.wsgi

Each value can be overridden from the environment (/etc/dermalens/env): WEB_CONCURRENCY,
GUNICORN_THREADS, GUNICORN_TIMEOUT_SECONDS, GUNICORN_BIND, FORWARDED_ALLOW_IPS, and the
app's NUM_PROXIES (1 here: the load balancer).
The access log is one JSON object per line on stdout (journald), built with json.dumps
so a quote in a header cannot break the line; query strings are left out and a signed
image token in the path is replaced by its name (``dermalens_site.log_paths``).
"""

import json
import multiprocessing
import os
import sys
import time

from gunicorn import glogging

# The application's directory: gunicorn puts it on the path only when it loads the app.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dermalens_site.log_paths import loggable_path

MAX_WORKERS = 12  # memory: each worker holds OpenCV and up to ~130 MiB per upload


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# (2 x cores) + 1 processes, capped; threads overlap the waits on DynamoDB, S3 and Gemini.
workers = _int("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, MAX_WORKERS))
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread"
# An upload analysed in-process waits for Gemini (30 s x 3 attempts at worst); with
# ANALYSIS_QUEUE_URL set requests are short, and 60 s would do.
timeout = _int("GUNICORN_TIMEOUT_SECONDS", 120)
graceful_timeout = 30  # finish requests in flight on SIGTERM before exiting
keepalive = 75  # longer than the load balancer's 60 s idle timeout, so it closes first
# Recycle workers now and then (with jitter, so not all at once) to bound memory growth.
max_requests = 2000
max_requests_jitter = 200
# Only the load balancer sets X-Forwarded-*; it reaches the instance from inside the VPC.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
# The web servers sit behind one Application Load Balancer, which appends the client's
# address to X-Forwarded-For: the app reads the client from there (NUM_PROXIES, which
# it requires in production). /etc/dermalens/env may say otherwise (another proxy: 2).
LOAD_BALANCER_PROXIES = 1
os.environ.setdefault("NUM_PROXIES", str(LOAD_BALANCER_PROXIES))
proxy_allow_ips = forwarded_allow_ips
limit_request_line = 4094
limit_request_fields = 100
preload_app = False  # each worker opens its own boto3 connections after the fork
# systemd's RuntimeDirectory= (/run/dermalens) holds the control socket (gunicornc);
# the service user has no home directory to put it in.
if os.environ.get("RUNTIME_DIRECTORY"):
    control_socket = os.path.join(os.environ["RUNTIME_DIRECTORY"], "gunicorn.ctl")
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


class JsonAccessLogger(glogging.Logger):
    """Gunicorn's logger, with each access line a JSON object (request id included)."""

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "logger": "gunicorn.access",
            "remote_addr": environ.get("REMOTE_ADDR"),
            "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
            "method": environ.get("REQUEST_METHOD"),
            "path": loggable_path(environ.get("PATH_INFO") or ""),
            "status": int(status),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 2),
            "request_id": next(
                (value for name, value in resp.headers if name.lower() == "x-request-id"), None
            ),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        try:
            self.access_log.info(json.dumps(line))
        except Exception:
            self.exception("access log line failed")


logger_class = JsonAccessLogger
