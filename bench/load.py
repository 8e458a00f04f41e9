"""Load test: Locust's simulated users drive the API through gunicorn against DynamoDB Local,
chat through a fake Gemini server that fails for a while in the middle of the run.

    .venv/bin/python bench/load.py [--users 20] [--seconds 75] [--workers N]
                                   [--outage-at 30] [--outage-seconds 15]

Locust runs headless, as a library, in this process. Each simulated user registers, logs
in, then picks from a weighted mix of uploads, scan lists and reads, plan creation,
check-ins, chat and plan lists, with no think time, until time is up. Scans and plans use
the offline provider; chat replies come from the app's real google-genai client talking
to ``tests/fake_gemini.py`` (``AI_CHAT_PROVIDER=gemini``), served from this process too.

From ``--outage-at`` for ``--outage-seconds`` the fake Gemini answers every call with
503, 500 or 429 in turn. A chat message sent then must get a quick 503
``assistant_unavailable`` in the one error shape, its message kept; the user sends the
same text again next time, which must reuse the kept message, and once Gemini answers
again the replies must come back. Those 503s are reported on a row of their own, not as
errors; any other unexpected status is an error.

Every id the API acknowledges is recorded (a 503 acknowledges the kept message);
afterwards each user's lists are read back with their own token to check that every
acknowledged scan, plan, check-in and message is there exactly once and that nothing of
another user's shows. Figures go to bench/results/load.json and load.md; the exit status
is 1 on any error, lost write or failed outage check.
"""

import argparse
import itertools
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

# Importing locust monkey-patches the standard library for gevent (sockets, ssl, threads,
# subprocess), so it stays above every import that may load ssl (requests, urllib3).
import gevent
import locust
import psutil
import requests
from locust.contrib.fasthttp import ResponseContextManager
from locust.env import Environment
from locust.exception import StopUser
from locust.stats import RequestStats, StatsEntry
from urllib3 import encode_multipart_formdata

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import dynamo_layer  # noqa: E402 (the benchmarks' shared environment)

from tests.fake_gemini import FakeGemini, FakeResponse, ReceivedRequest  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SAMPLE = ROOT / "tests" / "data" / "astronaut.jpg"
PAGE_LIMIT = 100
REQUEST_TIMEOUT_SECONDS = 30
# gunicorn waits for kept-alive connections on SIGTERM: this long, then it is killed.
STOP_SECONDS = 10
# What the fake Gemini answers while it fails, in turn.
OUTAGE_STATUSES = (503, 500, 429)
# A 503 for a chat message slower than this is an error: the app's bounded retries, not
# the client's patience, must decide when it gives up.
UNAVAILABLE_MAX_SECONDS = 10.0
UNAVAILABLE_REASONS = ("provider_unavailable", "rate_limited")
GEMINI_REPLY = (
    "Niacinamide and a retinoid usually sit well together: keep the retinoid for the "
    "evening and add niacinamide in the morning. This is general skin-care guidance, not a "
    "diagnosis."
)
QUESTIONS = (
    "Is niacinamide fine with my retinol?",
    "Why are my cheeks red after washing?",
    "How often should I exfoliate?",
    "Which sunscreen suits oily skin?",
)
CHAT_ENDPOINT = "POST /chat/sessions/{id}/messages"
# The expected 503s while Gemini fails get their own row in Locust's statistics.
UNAVAILABLE_ENDPOINT = f"{CHAT_ENDPOINT} (503, Gemini failing)"


def server_environment(*, media_root: str, gemini_base_url: str) -> dict[str, str]:
    """The benchmarks' environment (bench/dynamo_layer.py), with what a load run adds:
    a fresh secret, its own rate-limit counters and allowances no load reaches, chat on
    the fake Gemini server, scans and plans offline."""
    generous = "100000/hour"
    return {
        **os.environ,
        **dynamo_layer.BENCH_ENVIRONMENT,
        "SECRET_KEY": "bench-load-only-" + uuid.uuid4().hex + uuid.uuid4().hex,
        "ALLOWED_HOSTS": "127.0.0.1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",  # DynamoDB Local accepts any key
        "DYNAMODB_USERS_TABLE": "bench-load-users",
        "DYNAMODB_SCANS_TABLE": "bench-load-scans",
        "DYNAMODB_PLANS_TABLE": "bench-load-treatment-plans",
        "DYNAMODB_CHAT_TABLE": "bench-load-chat-messages",
        "DYNAMODB_AUDIT_TABLE": "bench-load-audit",
        "AI_PROVIDER": "offline",
        "AI_CHAT_PROVIDER": "gemini",
        **dynamo_layer.GEMINI_SETTINGS,
        "GEMINI_BASE_URL": gemini_base_url,
        "AI_ANALYSES_PER_DAY": "100000",
        "AI_REPLIES_PER_DAY": "100000",
        "MEDIA_ROOT": media_root,
        "RATE_LIMIT_NAMESPACE": f"bench-load-{uuid.uuid4().hex}",
        "THROTTLE_LOGIN_RATE": generous,
        "THROTTLE_REGISTER_RATE": generous,
        "THROTTLE_TOKEN_RATE": generous,
        "THROTTLE_UPLOAD_RATE": generous,
        "THROTTLE_PLAN_RATE": generous,
        "THROTTLE_AI_UNVERIFIED_RATE": generous,
    }


class GeminiScript:
    """The fake Gemini's responder: a chat reply, or while failing 503, 500 and 429 in turn.

    The failing window is kept in wall-clock seconds (``time.time()``, as Locust times
    requests), so a request can be checked for overlapping it.
    """

    def __init__(self) -> None:
        self.failing = False
        self.failing_from: float | None = None
        self.failing_until: float | None = None
        self.answered: Counter[int] = Counter()
        self._statuses = itertools.cycle(OUTAGE_STATUSES)

    def __call__(self, request: ReceivedRequest) -> FakeResponse:
        if self.failing:
            response = FakeResponse.status(next(self._statuses))
        else:
            response = FakeResponse.text_answer(GEMINI_REPLY)
        self.answered[response.status_code] += 1
        return response

    def start_failing(self) -> None:
        self.failing_from = time.time()
        self.failing = True

    def stop_failing(self) -> None:
        self.failing = False
        self.failing_until = time.time()

    def failed_during(self, started: float, ended: float) -> bool:
        """Whether Gemini failed at any moment between ``started`` and ``ended``."""
        if self.failing_from is None:
            return False
        return started <= (self.failing_until or float("inf")) and ended >= self.failing_from

    def recovered_before(self, started: float) -> bool:
        return self.failing_until is not None and started > self.failing_until


@dataclass
class Ledger:
    """One user's account and what the API said it stored for them."""

    email: str
    password: str
    token: str = ""
    scan_ids: list[str] = field(default_factory=list)
    plan_ids: list[str] = field(default_factory=list)
    check_ins: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    session_ids: list[str] = field(default_factory=list)
    # Per session, in order and once each (a retried message is acknowledged again).
    message_ids: dict[str, dict[str, None]] = field(default_factory=lambda: defaultdict(dict))
    # The messages a 503 acknowledged: kept without a reply at the time.
    kept_message_ids: set[str] = field(default_factory=set)

    def acknowledge_message(self, session_id: str, message_id: str) -> None:
        self.message_ids[session_id][message_id] = None

    def expected(self) -> dict[str, list[str]]:
        return {
            "scans": self.scan_ids,
            "plans": self.plan_ids,
            "chat_sessions": self.session_ids,
            "check_ins": [
                f"{plan_id}/{day}" for plan_id, days in self.check_ins.items() for day in days
            ],
            "messages": [m for ids in self.message_ids.values() for m in ids],
        }


@dataclass(frozen=True)
class Unanswered:
    """A message kept by a 503: the user sends the same text again next time."""

    session_id: str
    content: str
    message_id: str


@dataclass
class LoadRun:
    """What the simulated users share: the upload body, the fake Gemini, their ledgers."""

    upload_body: bytes
    upload_content_type: str
    gemini: GeminiScript
    ledgers: list[Ledger] = field(default_factory=list)
    seeds: Iterator[int] = field(default_factory=itertools.count)
    unavailable_reasons: Counter[str] = field(default_factory=Counter)
    retries_answered: int = 0
    replies_after_recovery: int = 0
    started_at: float = 0.0  # time.time() when the users started

    def seconds_in(self, moment: float | None) -> float | None:
        """``moment`` (a ``time.time()``) as seconds into the run."""
        return None if moment is None else round(moment - self.started_at, 1)


class Patient(locust.FastHttpUser):
    """A person using the app: registers, logs in, then acts by the task weights."""

    wait_time = locust.constant(0)  # saturation: no think time
    network_timeout = connection_timeout = REQUEST_TIMEOUT_SECONDS
    load: ClassVar[LoadRun]  # set by drive_load(); User.run is locust's own

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        seed = next(self.load.seeds)
        self.random = random.Random(seed)
        # Words, not hex: a random hex password can look "too similar" to the hex email.
        self.ledger = Ledger(
            email=f"load-{uuid.uuid4().hex}@example.com",
            password=f"glowing-spruce-lantern-{seed}",
        )
        self.unanswered: Unanswered | None = None
        self.load.ledgers.append(self.ledger)

    def on_start(self) -> None:
        account = {"email": self.ledger.email, "password": self.ledger.password}
        registered = self.call(
            "POST /auth/register",
            "POST",
            "/api/v1/auth/register",
            ok=201,
            json={**account, "full_name": "Load Test"},
        )
        if registered is None:
            raise StopUser()
        login = self.call("POST /auth/login", "POST", "/api/v1/auth/login", ok=200, json=account)
        if login is None:
            raise StopUser()
        self.ledger.token = login["access"]

    def request(self, endpoint: str, method: str, path: str, **kwargs) -> ResponseContextManager:
        headers = kwargs.pop("headers", {})
        if self.ledger.token:
            headers["Authorization"] = f"Bearer {self.ledger.token}"
        return self.client.request(
            method, path, name=endpoint, headers=headers, catch_response=True, **kwargs
        )

    def call(self, endpoint: str, method: str, path: str, *, ok: int, **kwargs) -> dict | None:
        """The JSON body of an answer with status ``ok``; anything else is an error."""
        with self.request(endpoint, method, path, **kwargs) as response:
            body = json_body(response) if response.status_code == ok else None
            if body is None:
                response.failure(describe(response))
            return body

    @locust.task(3)
    def upload_scan(self) -> None:
        scan = self.call(
            "POST /scans",
            "POST",
            "/api/v1/scans",
            ok=201,
            data=self.load.upload_body,
            headers={
                "Content-Type": self.load.upload_content_type,
                "Idempotency-Key": uuid.uuid4().hex,
            },
        )
        if scan is not None:
            self.ledger.scan_ids.append(scan["scan_id"])

    @locust.task(3)
    def list_scans(self) -> None:
        self.call("GET /scans", "GET", "/api/v1/scans?limit=20", ok=200)

    @locust.task(3)
    def read_scan(self) -> None:
        if self.ledger.scan_ids:
            scan_id = self.random.choice(self.ledger.scan_ids)
            self.call("GET /scans/{id}", "GET", f"/api/v1/scans/{scan_id}", ok=200)

    @locust.task(1)
    def create_plan(self) -> None:
        if not self.ledger.scan_ids:
            return
        plan = self.call("POST /plans", "POST", "/api/v1/plans", ok=201, json={})
        if plan is not None:
            self.ledger.plan_ids.append(plan["plan_id"])

    @locust.task(2)
    def check_in(self) -> None:
        if not self.ledger.plan_ids:
            return
        # Only the newest plan is active; creating one archives the one before.
        plan_id = self.ledger.plan_ids[-1]
        day = (datetime.now(UTC).date() - timedelta(days=self.random.randrange(7))).isoformat()
        body = {"date": day, "am_done": True, "pm_done": self.random.random() < 0.5}
        body["irritation"] = self.random.randrange(3)
        entry = self.call(
            "POST /plans/{id}/check-ins",
            "POST",
            f"/api/v1/plans/{plan_id}/check-ins",
            ok=201,
            json=body,
        )
        if entry is not None:
            self.ledger.check_ins[plan_id].add(entry["date"])

    @locust.task(1)
    def list_plans(self) -> None:
        self.call("GET /plans", "GET", "/api/v1/plans?limit=20", ok=200)

    @locust.task(2)
    def send_message(self) -> None:
        if not self.ledger.session_ids:
            session = self.call(
                "POST /chat/sessions", "POST", "/api/v1/chat/sessions", ok=201, json={}
            )
            if session is None:
                return
            self.ledger.session_ids.append(session["session_id"])
        if self.unanswered is not None:
            session_id, content = self.unanswered.session_id, self.unanswered.content
        else:
            session_id, content = self.ledger.session_ids[-1], self.random.choice(QUESTIONS)
        path = f"/api/v1/chat/sessions/{session_id}/messages"
        with self.request(CHAT_ENDPOINT, "POST", path, json={"content": content}) as response:
            problem = self.take_reply(response, session_id, content)
            if problem:
                response.failure(problem)

    def take_reply(
        self, response: ResponseContextManager, session_id: str, content: str
    ) -> str | None:
        """Record what a chat answer acknowledged; what is wrong with it, or None."""
        started = response.request_meta["start_time"]
        seconds = response.request_meta["response_time"] / 1000
        gemini = self.load.gemini
        body = json_body(response)
        sent_again, self.unanswered = self.unanswered, None
        if response.status_code == 201 and body is not None:
            message_id = body["message"]["message_id"]
            self.ledger.acknowledge_message(session_id, message_id)
            self.ledger.acknowledge_message(session_id, body["reply"]["message_id"])
            if sent_again and message_id != sent_again.message_id:
                return "a message sent again after a 503 was stored twice"
            if body["reply"]["content"] != GEMINI_REPLY:
                return "the reply did not come from Gemini"
            if sent_again:
                self.load.retries_answered += 1
            if gemini.recovered_before(started):
                self.load.replies_after_recovery += 1
            return None
        if response.status_code == 503 and gemini.failed_during(started, started + seconds):
            problem = unavailable_problem(response, body)
            if problem:
                return problem
            details = body["error"]["details"]
            self.ledger.acknowledge_message(session_id, details["message_id"])
            self.ledger.kept_message_ids.add(details["message_id"])
            self.unanswered = Unanswered(session_id, content, details["message_id"])
            if sent_again and details["message_id"] != sent_again.message_id:
                return "a message sent again after a 503 was stored twice"
            if seconds > UNAVAILABLE_MAX_SECONDS:
                return f"the 503 took {seconds:.1f} s"
            self.load.unavailable_reasons[details["reason"]] += 1
            # Reported under its own name, so Locust counts it on a row of its own.
            response.request_meta["name"] = UNAVAILABLE_ENDPOINT
            response.success()
            return None
        return describe(response)


def json_body(response: ResponseContextManager) -> dict | None:
    try:
        body = response.json()
    except (TypeError, ValueError):  # no body, or not JSON
        return None
    return body if isinstance(body, dict) else None


def describe(response: ResponseContextManager) -> str:
    if response.status_code == 0:
        return f"no answer: {response.error!r}"[:200]
    return f"{response.status_code}: {response.text or ''}"[:200]


def unavailable_problem(response: ResponseContextManager, body: dict | None) -> str | None:
    """What is wrong with a 503 for a chat message while Gemini fails, or None."""
    error = (body or {}).get("error")
    if not isinstance(error, dict) or set(error) != {"code", "message", "details"}:
        return f"a 503 not in the error shape: {describe(response)}"
    if error["code"] != "assistant_unavailable":
        return f"a 503 {error['code']}, not assistant_unavailable"
    details = error["details"]
    if details.get("reason") not in UNAVAILABLE_REASONS or not details.get("message_id"):
        return f"a 503 without a reason or the kept message's id: {details}"
    if not response.headers.get("Retry-After"):
        return "a 503 without Retry-After"
    return None


def drive_load(
    run: LoadRun, *, base: str, users: int, seconds: float, outage_at: float, outage_seconds: float
) -> tuple[Environment, dict[str, Counter[str]], float]:
    """Run Locust for ``seconds``; its environment, statuses per endpoint, the time taken."""
    Patient.load = run
    # Users finish the task in hand when time is up, so no acknowledged write is cut off.
    environment = Environment(
        user_classes=[Patient], host=base, stop_timeout=2 * REQUEST_TIMEOUT_SECONDS
    )
    statuses: dict[str, Counter[str]] = defaultdict(Counter)

    def count_status(name: str, response: Any, **_: Any) -> None:
        statuses[name][str(getattr(response, "status_code", 0))] += 1

    environment.events.request.add_listener(count_status)
    runner = environment.create_local_runner()
    if outage_seconds:
        gevent.spawn_later(outage_at, run.gemini.start_failing)
        gevent.spawn_later(outage_at + outage_seconds, run.gemini.stop_failing)
    started = time.monotonic()
    run.started_at = time.time()
    runner.start(users, spawn_rate=users)
    gevent.spawn_later(seconds, runner.quit)
    runner.greenlet.join()
    return environment, statuses, time.monotonic() - started


def read_all(http: requests.Session, base: str, token: str, path: str, key: str) -> list[str]:
    """Every id of a paginated list, following the cursors."""
    found: list[str] = []
    params: dict[str, str | int] = {"limit": PAGE_LIMIT}
    while True:
        response = http.get(
            base + path,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        page = response.json()
        found += [item[key] for item in page["items"]]
        if not page["next_cursor"]:
            return found
        params["cursor"] = page["next_cursor"]


def stored(ledger: Ledger, base: str) -> dict[str, list[str]]:
    """What the API shows this user now, one list of ids per kind."""
    if not ledger.token:  # never got in, so nothing was acknowledged either
        return {kind: [] for kind in ledger.expected()}
    with requests.Session() as http:

        def ids(path: str, key: str) -> list[str]:
            return read_all(http, base, ledger.token, path, key)

        found = {
            "scans": ids("/api/v1/scans", "scan_id"),
            "plans": ids("/api/v1/plans", "plan_id"),
            "chat_sessions": ids("/api/v1/chat/sessions", "session_id"),
            "check_ins": [],
            "messages": [],
        }
        for plan_id in ledger.check_ins:
            days = ids(f"/api/v1/plans/{plan_id}/check-ins", "date")
            found["check_ins"] += [f"{plan_id}/{day}" for day in days]
        for session_id in ledger.session_ids:
            found["messages"] += ids(f"/api/v1/chat/sessions/{session_id}/messages", "message_id")
    return found


def check_integrity(ledgers: list[Ledger], base: str) -> dict:
    """Acknowledged ids present exactly once; nothing a user did not write shows up."""
    owner = {}
    for ledger in ledgers:
        for ids in ledger.expected().values():
            owner.update(dict.fromkeys(ids, ledger.email))
    lost, duplicated, foreign, unexpected = [], [], [], []
    acknowledged: Counter[str] = Counter()
    kept_found = 0
    for ledger in ledgers:
        expected, found = ledger.expected(), stored(ledger, base)
        kept_found += len(ledger.kept_message_ids & set(found["messages"]))
        for kind, ids in expected.items():
            acknowledged[kind] += len(ids)
            counts = Counter(found[kind])
            lost += [f"{kind}:{i}" for i in ids if counts[i] == 0]
            duplicated += [f"{kind}:{i}" for i, n in counts.items() if n > 1]
            for stored_id in counts:
                if stored_id in ids:
                    continue
                if stored_id in owner:
                    foreign.append(f"{kind}:{stored_id}")
                else:
                    unexpected.append(f"{kind}:{stored_id}")
    return {
        "acknowledged": dict(acknowledged),
        "kept_by_503": sum(len(ledger.kept_message_ids) for ledger in ledgers),
        "kept_by_503_found": kept_found,
        "lost": lost,
        "duplicated": duplicated,
        "foreign": foreign,
        "unacknowledged": unexpected,
        "ok": not (lost or duplicated or foreign or unexpected),
    }


def endpoint_row(name: str, entry: StatsEntry, statuses: Counter[str]) -> dict:
    return {
        "endpoint": name,
        "requests": entry.num_requests,
        "rps": round(entry.total_rps, 2),
        "p50_ms": entry.get_response_time_percentile(0.50),
        "p95_ms": entry.get_response_time_percentile(0.95),
        "p99_ms": entry.get_response_time_percentile(0.99),
        "max_ms": round(entry.max_response_time or 0),
        "errors": entry.num_failures,
        "statuses": dict(sorted(statuses.items())),
    }


def endpoint_rows(stats: RequestStats, statuses: dict[str, Counter[str]]) -> list[dict]:
    """Locust's figures per endpoint, then for all requests together."""
    rows = [
        endpoint_row(entry.name, entry, statuses[entry.name])
        for entry in sorted(stats.entries.values(), key=lambda entry: entry.name)
    ]
    everything = sum(statuses.values(), Counter())
    return [*rows, endpoint_row("all", stats.total, everything)]


def start_gunicorn(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    """gunicorn as deployed (deploy/gunicorn.conf.py: gevent workers, their work slots,
    keep-alive, timeouts) on a free port; ``WEB_CONCURRENCY`` in ``env`` sets the
    workers, as in production."""
    from dynamo.local import free_port

    port = free_port()
    server = subprocess.Popen(  # noqa: S603 (our own server)
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--config",
            str(ROOT / "deploy" / "gunicorn.conf.py"),
            "dermalens_site.wsgi",
        ],
        cwd=ROOT,
        env={**env, "GUNICORN_BIND": f"127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/api/v1/health", timeout=2).raise_for_status()
            return server, base
        except requests.RequestException:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"gunicorn did not start within 60 s; its log: {log}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM; gunicorn waits for kept-alive connections, so not for ever."""
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def outage_summary(run: LoadRun, rows: list[dict], integrity: dict, *, planned: bool) -> dict:
    """How the API behaved while Gemini failed, and whether it held the bar."""
    gemini = run.gemini
    unavailable = next((r for r in rows if r["endpoint"] == UNAVAILABLE_ENDPOINT), None)
    chat = next((r for r in rows if r["endpoint"] == CHAT_ENDPOINT), {"statuses": {}})
    summary = {
        "planned": planned,
        "from_s": run.seconds_in(gemini.failing_from),
        "until_s": run.seconds_in(gemini.failing_until),
        "gemini_answers": {str(status): n for status, n in sorted(gemini.answered.items())},
        "unavailable_replies": unavailable["requests"] if unavailable else 0,
        "unavailable_p50_ms": unavailable["p50_ms"] if unavailable else None,
        "unavailable_p95_ms": unavailable["p95_ms"] if unavailable else None,
        "unavailable_max_ms": unavailable["max_ms"] if unavailable else None,
        "chat_server_errors": sum(
            n
            for status, n in chat["statuses"].items()
            if status.startswith("5") and status != "503"
        ),
        "reasons": dict(run.unavailable_reasons),
        "kept_messages": integrity["kept_by_503"],
        "kept_messages_found": integrity["kept_by_503_found"],
        "retries_answered": run.retries_answered,
        "replies_after_recovery": run.replies_after_recovery,
    }
    summary["ok"] = not planned or (
        summary["unavailable_replies"] > 0
        and summary["chat_server_errors"] == 0
        and summary["kept_messages_found"] == summary["kept_messages"]
        and summary["replies_after_recovery"] > 0
    )
    return summary


def write_results(result: dict) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(result, indent=2) + "\n")
    integrity, outage, machine = result["integrity"], result["outage"], result["machine"]
    if outage["planned"]:
        statuses = ", ".join(str(status) for status in OUTAGE_STATUSES)
        outage_line = (
            f"that failed every call ({statuses} in turn) from {outage['from_s']} s to "
            f"{outage['until_s']} s"
        )
    else:
        outage_line = "that never failed"
    lines = [
        "# Load test",
        "",
        f"{result['users']} simulated users (Locust {result['locust']}, headless, no think "
        f"time) for {result['seconds']} s through gunicorn ({result['workers']} workers) "
        "against DynamoDB Local. Scans and plans by the offline provider; chat by the "
        f"google-genai client against a local fake Gemini server {outage_line}. "
        f"{machine['cpus']} CPUs ({machine['processor']}), Python {machine['python']}, "
        f"{result['date']}. Locust and the fake Gemini server run on the same machine.",
        "",
        "| endpoint | requests | rps | p50 | p95 | p99 | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['endpoint']} | {r['requests']} | {r['rps']} | {r['p50_ms']:.0f} ms "
            f"| {r['p95_ms']:.0f} ms | {r['p99_ms']:.0f} ms | {r['errors']} |"
            for r in result["endpoints"]
        ),
        "",
        "Locust keeps response times to two significant digits (10 ms steps from 100 ms, "
        "100 ms steps from 1 s).",
        "",
        f"Errors: {result['errors']} of {result['requests']} requests "
        f"({result['error_rate']:.2%}); the {outage['unavailable_replies']} expected 503s "
        "while Gemini failed are not errors.",
        "",
    ]
    if outage["planned"]:
        reasons = ", ".join(f"{reason} {n}" for reason, n in sorted(outage["reasons"].items()))
        answers = ", ".join(f"{n} x {status}" for status, n in outage["gemini_answers"].items())
        lines += [
            "Gemini failing: "
            + ("ok" if outage["ok"] else "FAILED")
            + f". {outage['unavailable_replies']} sends of a chat message while it failed "
            "got a 503 `assistant_unavailable` in the one error shape with Retry-After (p50 "
            f"{outage['unavailable_p50_ms']} ms, max {outage['unavailable_max_ms']} ms; "
            f"{reasons}); {outage['chat_server_errors']} chat sends of the run got another 5xx; "
            f"{outage['kept_messages_found']} of the "
            f"{outage['kept_messages']} messages they kept were read back, "
            f"{outage['retries_answered']} of them sent again later and answered without "
            f"being stored twice; {outage['replies_after_recovery']} replies came after Gemini "
            f"recovered. The fake Gemini answered {answers}.",
            "",
        ]
    lines += [
        "Integrity: "
        + ("ok" if integrity["ok"] else "FAILED")
        + " (acknowledged: "
        + ", ".join(f"{n} {kind}" for kind, n in sorted(integrity["acknowledged"].items()))
        + f"; lost {len(integrity['lost'])}, duplicated {len(integrity['duplicated'])}, "
        f"another user's {len(integrity['foreign'])}, "
        f"unacknowledged {len(integrity['unacknowledged'])}).",
        "",
    ]
    text = "\n".join(lines)
    (RESULTS / "load.md").write_text(text)
    return text


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=75)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="gunicorn workers (default: as deployed, deploy/gunicorn.conf.py)",
    )
    parser.add_argument(
        "--outage-at", type=float, default=30, help="seconds into the run when Gemini fails"
    )
    parser.add_argument(
        "--outage-seconds", type=float, default=15, help="how long Gemini fails (0: never)"
    )
    args = parser.parse_args()
    if args.outage_seconds and args.outage_at + args.outage_seconds > args.seconds - 10:
        parser.error("the Gemini outage must end at least 10 s before the run does")
    return args


def main() -> None:
    args = parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="dermalens-load-"))
    gemini = GeminiScript()
    fake_gemini = FakeGemini(responder=gemini).start()
    env = server_environment(
        media_root=str(scratch / "media"), gemini_base_url=fake_gemini.base_url
    )
    # dynamo.local reads Django settings, so they come from the same environment.
    os.environ.update(env)
    from dynamo.local import DynamoDBLocal, free_port

    dynamodb = DynamoDBLocal(port=free_port()).start()
    env["AWS_DYNAMODB_ENDPOINT"] = dynamodb.endpoint
    server = None
    try:
        subprocess.run(
            [sys.executable, "manage.py", "create_tables"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if args.workers:
            env["WEB_CONCURRENCY"] = str(args.workers)
        else:
            env.pop("WEB_CONCURRENCY", None)
        server, base = start_gunicorn(env, scratch / "gunicorn.log")
        workers = len(psutil.Process(server.pid).children())
        upload_body, upload_content_type = encode_multipart_formdata(
            {"image": ("face.jpg", SAMPLE.read_bytes(), "image/jpeg"), "area": "face"}
        )
        run = LoadRun(upload_body, upload_content_type, gemini)
        environment, statuses, elapsed = drive_load(
            run,
            base=base,
            users=args.users,
            seconds=args.seconds,
            outage_at=args.outage_at,
            outage_seconds=args.outage_seconds,
        )
        integrity = check_integrity(run.ledgers, base)
    finally:
        if server is not None:
            stop(server)
        dynamodb.stop()
        fake_gemini.stop()
        shutil.rmtree(scratch / "media", ignore_errors=True)

    stats, runner = environment.stats, environment.runner
    rows = endpoint_rows(stats, statuses)
    outage = outage_summary(run, rows, integrity, planned=bool(args.outage_seconds))
    task_crashes = sum(crash["count"] for crash in runner.exceptions.values())
    errors = stats.total.num_failures + task_crashes
    requests_made = stats.total.num_requests
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "locust": locust.__version__,
        "users": args.users,
        "seconds": round(elapsed, 1),
        "workers": workers,
        "photo_bytes": SAMPLE.stat().st_size,
        "ai_provider": "offline",
        "ai_chat_provider": "gemini (fake server)",
        "gemini_settings": {
            k: v for k, v in dynamo_layer.GEMINI_SETTINGS.items() if k != "GEMINI_API_KEY"
        },
        "requests": requests_made,
        "errors": errors,
        "error_rate": errors / requests_made if requests_made else 1.0,
        "load_generator_cpu_warning": runner.cpu_warning_emitted,
        "endpoints": rows,
        "error_samples": [
            f"{error.method} {error.name} x{error.occurrences}: {error.error}"
            for error in stats.errors.values()
        ][:20],
        "task_crashes": [crash["traceback"] for crash in runner.exceptions.values()][:5],
        "outage": outage,
        "integrity": integrity,
        "passed": errors == 0 and integrity["ok"] and outage["ok"] and requests_made > 0,
    }
    print(write_results(result))
    if result["passed"]:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        print(f"Server log: {scratch / 'gunicorn.log'}")
    raise SystemExit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
