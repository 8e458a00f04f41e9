"""Gunicorn settings for DermaLens in production (systemd: deploy/dermalens-web.service).

    gunicorn --config deploy/gunicorn.conf.py dermalens_site.wsgi

Workers are gevent's: a request is a greenlet, and one waiting on Gemini, DynamoDB or S3
holds a few hundred KiB of memory, not a thread, so a worker keeps hundreds of slow AI
calls in flight while cheap requests go by them (bench/concurrency.py measures it). The
worker monkey-patches the standard library before the app is imported. CPU work (the
offline analysis, password hashing) goes to real threads (``dermalens_site.concurrency``),
so it holds no other request for longer than it runs; the work on an uploaded photo
(decoding, re-encoding, overlays) goes to the worker's photo processes, at a lower
priority (``dermalens_site.photo_processes``), started with the worker
(``post_worker_init``).

Each value can be overridden from the environment (/etc/dermalens/env): WEB_CONCURRENCY,
GUNICORN_WORKER_CONNECTIONS, GUNICORN_TIMEOUT_SECONDS, GUNICORN_BIND,
FORWARDED_ALLOW_IPS, and the app's GEMINI_CALL_DEADLINE_SECONDS (the graceful timeout
follows it); NUM_PROXIES is the deployment's (the systemd units set 1: the load balancer);
GUNICORN_WORKER_CLASS=gthread (with GUNICORN_THREADS) brings back the
thread-per-request model, for comparison only.
At most 64 KiB of an answered request's unread body is read, within 10 s, before the
connection closes (``dermalens_site.body_drain``).
The access log is one JSON object per line on stdout (journald), built with json.dumps
so a quote in a header cannot break the line; query strings are left out and a signed
image token in the path is replaced by its name (``dermalens_site.log_paths``).
"""

import importlib.util
import json
import math
import multiprocessing
import os
import time
from pathlib import Path
from types import ModuleType

from gunicorn import glogging


def _load_site_module(name: str) -> ModuleType:
    """``dermalens_site/<name>.py``, loaded from its file: importing it as part of its
    package would run ``dermalens_site/__init__`` (Celery, boto3, ssl) in the master,
    before a gevent worker patches ssl, which then breaks every TLS connection."""
    path = Path(__file__).resolve().parent.parent / "dermalens_site" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"dermalens_{name}", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


loggable_path = _load_site_module("log_paths").loggable_path

MAX_WORKERS = 12  # memory: each worker holds OpenCV and its share of the uploads in flight


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# One process per core: greenlets overlap the waits on DynamoDB, S3 and Gemini, so more
# processes would add memory (each loads OpenCV) and no concurrency; CPU work runs in
# real threads, which the cores share.
workers = _int("WEB_CONCURRENCY", min(max(2, multiprocessing.cpu_count()), MAX_WORKERS))
# A request gunicorn refuses itself (a request line or headers past the limits below, a
# malformed request) is answered in the API's error shape, not with gunicorn's HTML page.
# A stopping worker closes its idle kept-alive connections at once, rather than waiting
# out graceful_timeout for the load balancer to close them (dermalens_site/worker_stop.py).
# At most 64 KiB of an answered request's unread body is read, within 10 s; past either,
# the connection closes (dermalens_site/body_drain.py).
worker_class = _load_site_module("body_drain").draining_bodies_briefly(
    _load_site_module("worker_stop").closing_idle_connections(
        _load_site_module("server_errors").with_json_errors(
            os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
        )
    )
)
# Requests in flight per worker; past it, connections wait in the listen backlog.
worker_connections = _int("GUNICORN_WORKER_CONNECTIONS", 1000)
backlog = 2048
# The workers accept from the master's one listening socket, whose backlog holds new
# connections while a worker restarts (max_requests, below). A socket per worker
# (SO_REUSEPORT) would share a burst's connections evenly, where the shared socket gave
# one of two workers 55 % of them (bench/concurrency.py's chat burst, four runs); but
# then a restarting worker's connections are refused or reset: about 1,500-2,300 refused
# and 100 reset in 30 s of recycling workers, with or without net.ipv4.tcp_migrate_req,
# none with the shared socket (tests/test_serving.py checks it).
reuse_port = False
threads = _int("GUNICORN_THREADS", 4)  # gthread only
# A gevent worker that has not run its event loop for this long is stuck and replaced
# (a slow request does not count: it waits cooperatively). With gthread, a request may
# take this long: an upload analysed in-process waits for Gemini (30 s x 3 attempts).
timeout = _int("GUNICORN_TIMEOUT_SECONDS", 120)
# A worker told to stop (SIGTERM on a deploy, or at max_requests below) takes no new
# connection and finishes the requests in flight for up to this long, then drops them.
# A Gemini call may take GEMINI_CALL_DEADLINE_SECONDS (the app's setting, 50 s), after
# which the request stores the answer: with 30 s, a reply Gemini gave at 40 s was paid
# for and counted against the person's day, then lost with its connection, unanswered
# and unstored (tests/test_serving.py). systemd waits longer still (TimeoutStopSec), and
# the load balancer drains a host that leaves its target group for as long
# (deregistration delay: deploy/make_cloudformation.py reads ANSWER_STORING_SECONDS).
ANSWER_STORING_SECONDS = 10
graceful_timeout = (
    math.ceil(float(os.environ.get("GEMINI_CALL_DEADLINE_SECONDS") or 50)) + ANSWER_STORING_SECONDS
)
keepalive = 75  # longer than the load balancer's 60 s idle timeout, so it closes first
# Recycle workers now and then (with jitter, so not all at once) to bound memory growth.
max_requests = 2000
max_requests_jitter = 200
# Only the load balancer sets X-Forwarded-*; it reaches the instance from inside the VPC.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")
# How many proxies append to X-Forwarded-For (NUM_PROXIES) is the deployment's to say
# (the systemd units: the one load balancer), never this file's: a server started
# without it, `make run` included, takes each client's address from its connection, not
# from a header any client can write (which would step around every per-address limit).
proxy_allow_ips = forwarded_allow_ips
limit_request_line = 4094
limit_request_fields = 100
preload_app = False  # each worker opens its own boto3 connections after the fork
# systemd's RuntimeDirectory= (/run/dermalens) holds the control socket (gunicornc);
# the service user has no home directory to put it in.
if os.environ.get("RUNTIME_DIRECTORY"):
    control_socket = os.path.join(os.environ["RUNTIME_DIRECTORY"], "gunicorn.ctl")
else:
    # Elsewhere (make run, the tests' and benchmarks' servers) every server on the host
    # would share ~/.gunicorn/gunicorn.ctl, and one stopping removed another's socket.
    control_socket_disable = True
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").strip().lower()


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


def post_worker_init(worker) -> None:
    """Start the worker's photo processes now, so that the first upload does not wait
    for one to load (gevent workers only; elsewhere photos are worked on in-process)."""
    from dermalens_site.concurrency import cooperative
    from dermalens_site.photo_processes import photo_processes

    if cooperative():
        photo_processes().start()
