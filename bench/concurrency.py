"""Concurrency: hundreds of slow Gemini calls in flight, and cheap requests going by them.

    .venv/bin/python bench/concurrency.py [--chat 500] [--plans 200] [--uploads 200]
                                          [--phone-uploads 60] [--gemini-delay-seconds 5]
                                          [--worker-class gevent] [--scenarios ...]
    .venv/bin/python bench/concurrency.py --scenarios logins [--logins 50]

Starts DynamoDB Local and the tables (bench/dynamo_layer.py), the fake Gemini server in a
process of its own (``python -m tests.fake_gemini``: every call answered after
``--gemini-delay-seconds``, as a real Gemini call takes seconds) and gunicorn with the
production settings (deploy/gunicorn.conf.py: workers from the CPU count, gevent; DEBUG
off). Scans, plans and chat all go to Gemini through the app's google-genai client.
The accounts are written straight to DynamoDB with their tokens made in this process
(Argon2 for hundreds of registrations would take minutes of the two cores), each with an
analysed scan, one chat session per message and its own plan pointer, so no two
requests of a burst contend for one item.

Each scenario is one burst, driven by Locust (headless, as a library): two probe users
send ``GET /api/v1/users/me`` and ``GET /api/v1/scans?limit=20`` (20 scans) every
``--probe-interval-ms``; after a second of that, N users each send one request at the
same moment: chat messages (every other one with ``Accept: text/event-stream``, read to
the stored reply's event), plan creations (Gemini drafting) or photo uploads: the 512 px
sample portrait, or (phone uploads) the same enlarged to a phone's 12 megapixels, whose
decoding and re-encoding take the cores hundreds of milliseconds each. A logins burst
(run only when named in ``--scenarios``: it calls no AI) signs in with the right
password, an Argon2 check of about 0.2 s of CPU and 100 MiB each. Uploads go
as in production: the jobs queue is an SQS queue (moto's server, a process of its own)
and ``manage.py jobs_worker`` runs the analyses (Gemini), so an upload is answered 202
once stored; the time until the worker has analysed them all is reported too
(``--uploads-in-request`` analyses them in the request instead, 201). The burst is over
when the last answer is in. Reported per scenario: answers, errors, the time from the
first send to the last answer, the probes' p50/p95/max while the burst was in flight,
and memory: the gunicorn processes' RSS and USS (memory no other process shares),
sampled every 200 ms, idle before the burst and at its peak, and the growth per
request in flight; the web workers' CPU per request, and the host's pace before and
after the run (a fixed piece of work's CPU time: the same code costs more CPU on a
busier host, so the pace says which runs can be compared). Figures go to
bench/results/concurrency.json and concurrency.md (``--output`` names another pair, as
for a run with ``--worker-class gthread``); the exit status is 1 when a scenario missed
its goal (every request answered without error within ``GOAL_SECONDS`` of the first
send, probe p95 under ``PROBE_GOALS_MS``).
"""

# Importing locust monkey-patches the standard library for gevent (sockets, ssl, threads,
# subprocess), so it stays above every import that may load ssl (requests, urllib3).
import locust  # isort: skip

import argparse
import configparser
import dataclasses
import datetime as dt
import functools
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import gevent
import psutil
from gevent.event import Event
from locust.env import Environment
from locust.exception import StopUser
from urllib3 import encode_multipart_formdata

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import dynamo_layer  # noqa: E402 (the benchmarks' shared environment)
import load  # noqa: E402 (the load test's server environment and gunicorn start)

from tests import photos  # noqa: E402
from tests.moto_clients import moto_client  # noqa: E402

RESULTS = ROOT / "bench" / "results"
SAMPLE = ROOT / "tests" / "data" / "astronaut.jpg"
# The goal: every request answered within this long of the first send...
GOAL_SECONDS = 15.0
# ... while the probes' p95 stays under these.
PROBE_GOALS_MS = {"GET /users/me": 50.0, "GET /scans": 100.0}
PROBE_PATHS = {"GET /users/me": "/api/v1/users/me", "GET /scans": "/api/v1/scans?limit=20"}
PROBE_SCANS = 20
# A burst's requests give up after this long (the fake Gemini answers after 5 s).
REQUEST_TIMEOUT_SECONDS = 120.0
MEMORY_SAMPLE_SECONDS = 0.2
WARM_UP_SECONDS = 1.0
# The accounts' one password hash (Argon2 of a throwaway password), made once.
PASSWORD = "concurrency-bench-password"  # noqa: S105 (a throwaway, for bench accounts)
MESSAGE = "Is niacinamide fine with my retinol? ({})"
SCENARIOS = ("chat", "plans", "uploads", "phone_uploads", "logins")
# Run unless --scenarios says otherwise: the AI bursts the goal is about. A login burst
# calls no AI; it shows what Argon2 costs the host (--scenarios logins).
DEFAULT_SCENARIOS = ("chat", "plans", "uploads", "phone_uploads")
# The jobs worker's unit: the benchmark runs the worker at the CPU priority it sets.
WORKER_UNIT = ROOT / "deploy" / "dermalens-worker.service"
SCHEDULING_POLICIES = {"other": os.SCHED_OTHER, "batch": os.SCHED_BATCH, "idle": os.SCHED_IDLE}


@dataclasses.dataclass
class Account:
    user_id: str
    token: str
    email: str
    session_ids: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Call:
    """One request of a burst: what to send, and whether its answer is the right one."""

    method: str
    path: str
    token: str
    expected_status: int
    body: bytes = b""
    content_type: str = "application/json"
    stream: bool = False


@dataclasses.dataclass
class Outcome:
    name: str
    started: float  # time.time()
    seconds: float
    ok: bool
    problem: str | None = None


@dataclasses.dataclass
class Burst:
    """What the Locust users of one scenario share."""

    base: str
    calls: list[Call]
    probe_token: str
    go: Event = dataclasses.field(default_factory=Event)
    outcomes: list[Outcome] = dataclasses.field(default_factory=list)
    probes: list[Outcome] = dataclasses.field(default_factory=list)
    claimed: int = 0  # senders that hold their call and wait for ``go``
    done: Event = dataclasses.field(default_factory=Event)

    def record(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        if len(self.outcomes) == len(self.calls):
            self.done.set()


def timed(name: str, send: Callable[[], str | None]) -> Outcome:
    started, clock = time.time(), time.perf_counter()
    try:
        problem = send()
    except Exception as err:  # the answer never came: a timeout, a reset connection
        problem = f"no answer: {err!r}"[:200]
    return Outcome(name, started, time.perf_counter() - clock, problem is None, problem)


class Sender(locust.FastHttpUser):
    """Sends one request of the burst when told to, then stops."""

    network_timeout = connection_timeout = REQUEST_TIMEOUT_SECONDS
    burst: ClassVar[Burst]

    @locust.task
    def send(self) -> None:
        call = self.burst.calls[self.burst.claimed]
        self.burst.claimed += 1
        self.burst.go.wait()
        self.burst.record(timed(call.path, lambda: self.exchange(call)))
        raise StopUser()

    def exchange(self, call: Call) -> str | None:
        headers = {"Authorization": f"Bearer {call.token}", "Content-Type": call.content_type}
        if call.stream:
            headers["Accept"] = "text/event-stream"
        with self.client.request(
            call.method, call.path, data=call.body, headers=headers, catch_response=True
        ) as response:
            text = response.text or ""
            if response.status_code != call.expected_status:
                problem = f"{response.status_code}: {text[:200]}"
            elif call.stream and "event: reply" not in text:
                problem = f"the stream ended without the stored reply: {text[-200:]}"
            else:
                problem = None
            if problem:
                response.failure(problem)
            return problem


class Probe(locust.FastHttpUser):
    """A person reading their profile or their scans while the burst is in flight."""

    abstract = True
    fixed_count = 1
    network_timeout = connection_timeout = REQUEST_TIMEOUT_SECONDS
    name: ClassVar[str]
    interval_seconds: ClassVar[float]
    burst: ClassVar[Burst]

    def wait_time(self) -> float:
        return self.interval_seconds

    @locust.task
    def probe(self) -> None:
        headers = {"Authorization": f"Bearer {self.burst.probe_token}"}

        def read() -> str | None:
            with self.client.get(
                PROBE_PATHS[self.name], headers=headers, name=self.name, catch_response=True
            ) as response:
                if response.status_code != 200:
                    response.failure(f"{response.status_code}")
                    return f"{response.status_code}: {(response.text or '')[:200]}"
                return None

        self.burst.probes.append(timed(self.name, read))


class ProfileProbe(Probe):
    name = "GET /users/me"


class ScansProbe(Probe):
    name = "GET /scans"


class MemorySampler:
    """The gunicorn processes' memory, every MEMORY_SAMPLE_SECONDS, with the burst's
    requests in flight at that moment."""

    def __init__(self, master_pid: int, burst: Burst) -> None:
        self.master = psutil.Process(master_pid)
        self.burst = burst
        self.samples: list[dict[str, Any]] = []
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> "MemorySampler":
        self._greenlet = gevent.spawn(self._run)
        return self

    def processes(self) -> list[psutil.Process]:
        return [self.master, *self.master.children(recursive=True)]

    def measure(self) -> dict[str, Any]:
        rss = uss = 0
        cpu_seconds = 0.0
        try:
            processes = self.processes()
        except psutil.NoSuchProcess:  # gunicorn stopped
            processes = []
        for process in processes:
            try:
                info = process.memory_full_info()
                times = process.cpu_times()
            except psutil.NoSuchProcess:  # a worker replaced meanwhile
                continue
            rss, uss = rss + info.rss, uss + info.uss
            cpu_seconds += times.user + times.system
        answered = len(self.burst.outcomes)
        started = len(self.burst.calls) - answered if self.burst.go.is_set() else 0
        return {
            "processes": len(processes),
            "rss": rss,
            "uss": uss,
            "cpu_seconds": cpu_seconds,
            "in_flight": started,
        }

    def _run(self) -> None:
        while True:
            self.samples.append(self.measure())
            gevent.sleep(MEMORY_SAMPLE_SECONDS)

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()


def mib(count: float) -> float:
    return round(count / 2**20, 1)


def percentile(values: list[float], fraction: float) -> float | None:
    return dynamo_layer.percentile(values, fraction) if values else None


def run_burst(burst: Burst, *, master_pid: int, probe_interval_seconds: float) -> dict:
    """Probes, then the burst; the figures of one scenario."""
    Sender.burst = Probe.burst = burst
    Probe.interval_seconds = probe_interval_seconds
    environment = Environment(user_classes=[Sender, ProfileProbe, ScansProbe], host=burst.base)
    runner = environment.create_local_runner()
    idle = MemorySampler(master_pid, burst).measure()
    runner.start(2, spawn_rate=2)
    gevent.sleep(WARM_UP_SECONDS)
    sampler = MemorySampler(master_pid, burst).start()
    users = 2 + len(burst.calls)
    runner.start(users, spawn_rate=users)
    deadline = time.monotonic() + 30
    while burst.claimed < len(burst.calls) and time.monotonic() < deadline:
        gevent.sleep(0.01)  # every sender is spawned and waiting
    burst.go.set()
    burst.done.wait(timeout=REQUEST_TIMEOUT_SECONDS + 10)
    sampler.stop()
    runner.quit()
    finished = sampler.measure()
    figures = summarise(burst, idle=idle, samples=sampler.samples)
    # The workers' CPU time for the burst (and the probes meanwhile), per request.
    cpu_seconds = finished["cpu_seconds"] - sampler.samples[0]["cpu_seconds"]
    figures["server_cpu_ms_per_request"] = round(cpu_seconds / len(burst.calls) * 1000, 1)
    return figures


def summarise(burst: Burst, *, idle: dict, samples: list[dict]) -> dict:
    outcomes = burst.outcomes
    first = min((o.started for o in outcomes), default=0.0)
    last = max((o.started + o.seconds for o in outcomes), default=0.0)
    probes = {}
    for name in PROBE_PATHS:
        during = [
            p for p in burst.probes if p.name == name and first <= p.started + p.seconds <= last
        ]
        times = [p.seconds * 1000 for p in during]
        probes[name] = {
            "count": len(times),
            "errors": sum(not p.ok for p in during),
            "p50_ms": round(percentile(times, 0.5) or 0, 1),
            "p95_ms": round(percentile(times, 0.95) or 0, 1),
            "max_ms": round(max(times, default=0), 1),
            "goal_ms": PROBE_GOALS_MS[name],
        }
    peak = max(samples, key=lambda sample: sample["uss"], default=idle)
    busiest = max(samples, key=lambda sample: sample["in_flight"], default=idle)
    growth = peak["uss"] - idle["uss"]
    errors = [" ".join((o.problem or "").split()) for o in outcomes if not o.ok]
    answered = sum(o.ok for o in outcomes)
    seconds = round(last - first, 2)
    result = {
        "requests": len(burst.calls),
        "answered": answered,
        "errors": len(errors) + len(burst.calls) - len(outcomes),
        "error_samples": errors[:5],
        "seconds_to_last_answer": seconds,
        "answer_p50_s": round(percentile([o.seconds for o in outcomes], 0.5) or 0, 2),
        "probes": probes,
        "memory": {
            "processes": idle["processes"],
            "idle_rss_mib": mib(idle["rss"]),
            "idle_uss_mib": mib(idle["uss"]),
            "peak_rss_mib": mib(peak["rss"]),
            "peak_uss_mib": mib(peak["uss"]),
            "peak_in_flight": busiest["in_flight"],
            "kib_per_request_in_flight": (
                round(growth / busiest["in_flight"] / 1024) if busiest["in_flight"] else None
            ),
        },
    }
    result["goal_met"] = (
        result["errors"] == 0
        and answered == len(burst.calls)
        and seconds <= GOAL_SECONDS
        and all(p["p95_ms"] < p["goal_ms"] and p["errors"] == 0 for p in probes.values())
    )
    return result


# --- the server and its data ------------------------------------------------------------


def start_jobs_queue() -> tuple[subprocess.Popen, str, str]:
    """moto's server (SQS) in a process of its own and the jobs queue on it: the server,
    its endpoint and the queue's URL (before Django is set up: no app import here)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603 (moto's own server)
        [str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            url = moto_client("sqs", endpoint).create_queue(
                QueueName="bench-concurrency-jobs", Attributes={"VisibilityTimeout": "300"}
            )["QueueUrl"]
            return server, endpoint, url
        except Exception:
            if time.monotonic() > deadline:
                server.kill()
                raise
            time.sleep(0.2)


def unit_cpu_priority(unit: Path) -> Callable[[], None]:
    """What a systemd unit's CPUSchedulingPolicy= and Nice= do, for a child process to
    do to itself before it starts (``preexec_fn``); its threads inherit it."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str
    parser.read(unit)
    service = parser["Service"]
    policy = SCHEDULING_POLICIES[service.get("CPUSchedulingPolicy", "other")]
    niceness = int(service.get("Nice", "0"))

    def apply() -> None:
        os.sched_setscheduler(0, policy, os.sched_param(0))
        os.nice(niceness)

    return apply


def start_jobs_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    """``manage.py jobs_worker`` as deployed (its threads pool, and the unit's lower CPU
    priority: deploy/dermalens-worker.service's CPUSchedulingPolicy=), on the bench's
    queue."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "jobs_worker"],
        preexec_fn=unit_cpu_priority(WORKER_UNIT),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )


def seconds_until_queue_is_empty(endpoint: str, url: str, *, limit: float) -> float | None:
    """How long until no job is waiting or in hand (None past ``limit`` seconds)."""
    client, started = moto_client("sqs", endpoint), time.monotonic()
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    while time.monotonic() - started < limit:
        counts = client.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        if all(counts[name] == "0" for name in names):
            return time.monotonic() - started
        gevent.sleep(0.5)
    return None


def server_environment(
    *, media_root: str, gemini_base_url: str, worker_class: str, workers: int | None
) -> dict[str, str]:
    env = load.server_environment(media_root=media_root, gemini_base_url=gemini_base_url)
    env.update(
        {
            "AI_PROVIDER": "gemini",
            "AI_CHAT_PROVIDER": "",
            "GEMINI_TIMEOUT_SECONDS": "30",  # the production default: a call takes seconds
            "ACCESS_TOKEN_MINUTES": "240",  # tokens made once for every scenario
            "DYNAMODB_USERS_TABLE": "bench-concurrency-users",
            "DYNAMODB_SCANS_TABLE": "bench-concurrency-scans",
            "DYNAMODB_PLANS_TABLE": "bench-concurrency-treatment-plans",
            "DYNAMODB_CHAT_TABLE": "bench-concurrency-chat-messages",
            "DYNAMODB_AUDIT_TABLE": "bench-concurrency-audit",
            "GUNICORN_WORKER_CLASS": worker_class,
            "LOG_LEVEL": "WARNING",
        }
    )
    if workers:
        env["WEB_CONCURRENCY"] = str(workers)
    else:
        env.pop("WEB_CONCURRENCY", None)
    return env


def seed_accounts(count: int, *, sessions_each: int, scans_each: int) -> list[Account]:
    """Accounts written straight to DynamoDB, each with analysed scans and chat sessions."""
    from django.contrib.auth.hashers import make_password
    from ulid import ULID

    from accounts.tokens import issue_tokens
    from ai.analysis import SkinAnalysis, now_iso
    from chat.services import start_session
    from dynamo.scans import scans_table
    from dynamo.users import User, users_table
    from tests.fake_gemini import valid_analysis_answer

    password_hash = make_password(PASSWORD)
    analysis = SkinAnalysis.from_dict(
        valid_analysis_answer(), provider="gemini", model="gemini-2.5-flash"
    ).to_dict()
    rng = random.Random(dynamo_layer.SEED)
    accounts = []
    for number in range(count):
        stamp = now_iso()
        user = User(
            user_id=str(ULID()),
            email=f"concurrency-{number}-{uuid.uuid4().hex[:8]}@example.com",
            full_name="Bench Person",
            password_hash=password_hash,
            created_at=stamp,
            updated_at=stamp,
            skin_type="combination",
        )
        users_table().create(user)
        for scan in dynamo_layer.make_scans(user.user_id, scans_each, rng):
            # dynamo_layer's analyses predate fields the API now serves: use a real one.
            if scan.analysis is not None:
                scan = dataclasses.replace(scan, analysis=analysis)
            scans_table().create(scan)
        account = Account(user.user_id, issue_tokens(user).access, user.email)
        for _ in range(sessions_each):
            account.session_ids.append(start_session(user_id=user.user_id, title=None).session_id)
        accounts.append(account)
    return accounts


def chat_calls(accounts: list[Account], count: int) -> list[Call]:
    """One message per session; every other one asks for the reply as a stream."""
    sessions = [(a, s) for a in accounts for s in a.session_ids]
    calls = []
    for number in range(count):
        account, session_id = sessions[number % len(sessions)]
        stream = number % 2 == 1
        calls.append(
            Call(
                "POST",
                f"/api/v1/chat/sessions/{session_id}/messages",
                account.token,
                expected_status=200 if stream else 201,
                body=json.dumps({"content": MESSAGE.format(uuid.uuid4().hex[:8])}).encode(),
                stream=stream,
            )
        )
    return calls


def plan_calls(accounts: list[Account], count: int) -> list[Call]:
    """One plan per account (a second one at once would race it for the active pointer)."""
    return [Call("POST", "/api/v1/plans", a.token, 201, body=b"{}") for a in accounts[:count]]


def login_calls(accounts: list[Account], count: int) -> list[Call]:
    """``count`` sign-ins with the right password: an Argon2 check each."""
    signing_in = (accounts[n % len(accounts)] for n in range(count))
    return [
        Call(
            "POST",
            "/api/v1/auth/login",
            a.token,
            200,
            body=json.dumps({"email": a.email, "password": PASSWORD}).encode(),
        )
        for a in signing_in
    ]


def upload_calls(
    accounts: list[Account], count: int, *, queued: bool, photo: bytes | None = None
) -> list[Call]:
    """``count`` uploads of ``photo`` (the 512 px sample portrait by default)."""
    photo = SAMPLE.read_bytes() if photo is None else photo
    body, content_type = encode_multipart_formdata(
        {"image": ("face.jpg", photo, "image/jpeg"), "area": "face"}
    )
    status = 202 if queued else 201  # stored and queued, or analysed in the request
    return [
        Call("POST", "/api/v1/scans", accounts[n % len(accounts)].token, status, body, content_type)
        for n in range(count)
    ]


# --- the report -------------------------------------------------------------------------


def markdown(result: dict) -> str:
    machine = result["machine"]
    lines = [
        "# Concurrency: slow Gemini calls and cheap requests",
        "",
        f"gunicorn as deployed (deploy/gunicorn.conf.py, {result['worker_class']} workers, "
        f"{result['workers']} processes) against DynamoDB Local and a fake Gemini server "
        f"(its own process) answering every call after {result['gemini_delay_seconds']} s; "
        f"Locust {result['locust']} drives each burst, all at once, while two probes send "
        f"GET /users/me and GET /scans (20 scans) every {result['probe_interval_ms']} ms. "
        f"{machine['cpus']} CPUs ({machine['cpu']}), Python {machine['python']}, "
        f"{result['date']}; load average before {machine['load_before']}, after "
        f"{machine['load_after']} (other work shares these cores: figures are pessimistic); "
        f"the host's pace {machine['reference_cpu_ms_before']} ms before the run, "
        f"{machine['reference_cpu_ms_after']} ms after.",
        "",
        "| scenario | requests | answered | errors | last answer | /users/me p50 / p95 / max "
        "| /scans p50 / p95 / max | goal | web CPU per request |",
        "|---|---:|---:|---:|---:|---|---|---|---:|",
    ]
    for name, row in result["scenarios"].items():
        me, scans = row["probes"]["GET /users/me"], row["probes"]["GET /scans"]
        lines.append(
            f"| {name} | {row['requests']} | {row['answered']} | {row['errors']} "
            f"| {row['seconds_to_last_answer']} s "
            f"| {me['p50_ms']} / {me['p95_ms']} / {me['max_ms']} ms "
            f"| {scans['p50_ms']} / {scans['p95_ms']} / {scans['max_ms']} ms "
            f"| {'met' if row['goal_met'] else 'missed'} "
            f"| {row['server_cpu_ms_per_request']} ms |"
        )
    lines += [
        "",
        "| scenario | processes | idle RSS / USS | peak RSS / USS | peak in flight "
        "| growth per request in flight |",
        "|---|---:|---|---|---:|---:|",
    ]
    for name, row in result["scenarios"].items():
        memory = row["memory"]
        lines.append(
            f"| {name} | {memory['processes']} "
            f"| {memory['idle_rss_mib']} / {memory['idle_uss_mib']} MiB "
            f"| {memory['peak_rss_mib']} / {memory['peak_uss_mib']} MiB "
            f"| {memory['peak_in_flight']} | {memory['kib_per_request_in_flight']} KiB |"
        )
    lines += [
        "",
        "Goal: every request answered without error within "
        f"{GOAL_SECONDS:.0f} s of the first send, and the probes' p95 under "
        + ", ".join(f"{ms:.0f} ms ({name})" for name, ms in PROBE_GOALS_MS.items())
        + " while the burst is in flight. Memory is the gunicorn master and workers: RSS, "
        "and USS (pages no other process shares; the workers share the libraries' pages); "
        "growth is the peak USS less the idle USS, over the requests in flight then.",
        "",
        "Web CPU per request is the gunicorn processes' CPU time over the burst (the probes' "
        "included) by its requests. The host's pace is the CPU time of a fixed piece of "
        "Python work (bench/dynamo_layer.py's reference_cpu_ms), with nothing else of the "
        "benchmark running: on these shared cores the same code's CPU per request moved by "
        "a third within a few hours, and every figure with it.",
        "",
    ]
    for name in ("uploads", "phone_uploads"):
        uploads = result["scenarios"].get(name, {})
        if "all_analysed_after_s" in uploads:
            lines += [
                f"{name.replace('_', ' ').capitalize()} were {result['uploads']} (202 once "
                f"stored): the worker had analysed all {uploads['requests']} "
                f"{uploads['all_analysed_after_s']} s after the first send.",
                "",
            ]
    for name, row in result["scenarios"].items():
        if row["error_samples"]:
            lines += [f"Errors in {name}: " + "; ".join(row["error_samples"]), ""]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chat", type=int, default=500, help="messages in the chat burst")
    parser.add_argument("--plans", type=int, default=200, help="plans in the plans burst")
    parser.add_argument("--uploads", type=int, default=200, help="photos in the uploads burst")
    parser.add_argument(
        "--phone-uploads",
        type=int,
        default=60,
        help="12-megapixel photos in the phone uploads burst",
    )
    parser.add_argument("--logins", type=int, default=50, help="sign-ins in the logins burst")
    parser.add_argument("--gemini-delay-seconds", type=float, default=5.0)
    parser.add_argument("--probe-interval-ms", type=int, default=50)
    parser.add_argument("--worker-class", default="gevent", choices=("gevent", "gthread"))
    parser.add_argument("--workers", type=int, help="default: deploy/gunicorn.conf.py's")
    parser.add_argument(
        "--scenarios",
        default=",".join(DEFAULT_SCENARIOS),
        help=f"comma-separated, of: {', '.join(SCENARIOS)}",
    )
    parser.add_argument("--output", default="concurrency", help="results file name, no suffix")
    parser.add_argument(
        "--uploads-in-request",
        action="store_true",
        help="no jobs queue: uploads are analysed in the request (201), as under make run",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    scenarios = [name for name in args.scenarios.split(",") if name]
    if unknown := set(scenarios) - set(SCENARIOS):
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    scratch = Path(tempfile.mkdtemp(prefix="dermalens-concurrency-"))
    load_before = dynamo_layer.load_average()
    pace_before = dynamo_layer.reference_cpu_ms()
    gemini, gemini_url = dynamo_layer.start_fake_gemini(args.gemini_delay_seconds)
    env = server_environment(
        media_root=str(scratch / "media"),
        gemini_base_url=gemini_url,
        worker_class=args.worker_class,
        workers=args.workers,
    )
    queue = None if args.uploads_in_request else start_jobs_queue()
    if queue is not None:
        env.update({"ANALYSIS_QUEUE_URL": queue[2], "AWS_SQS_ENDPOINT": queue[1]})
    local = dynamo_layer.configure(env)
    env["AWS_DYNAMODB_ENDPOINT"] = local.endpoint
    server = worker = None
    results: dict[str, dict] = {}
    try:
        server, base = load.start_gunicorn(env, scratch / "gunicorn.log")
        if queue is not None:
            worker = start_jobs_worker(env, scratch / "jobs_worker.log")
        print(f"gunicorn on {base}; seeding accounts", flush=True)
        workers = len(psutil.Process(server.pid).children())
        needed = max(args.plans, args.uploads, 1)
        sessions_each = -(-args.chat // needed)
        (probe,) = seed_accounts(1, sessions_each=0, scans_each=PROBE_SCANS)
        accounts = seed_accounts(needed, sessions_each=sessions_each, scans_each=1)
        print(f"{len(accounts)} accounts seeded", flush=True)
        makers = {
            "chat": chat_calls,
            "plans": plan_calls,
            "uploads": functools.partial(upload_calls, queued=queue is not None),
            # The 12-megapixel photo is made only when its burst is run.
            "phone_uploads": lambda accounts, count: upload_calls(
                accounts, count, queued=queue is not None, photo=photos.phone_jpeg()
            ),
            "logins": login_calls,
        }
        sizes = {
            "chat": args.chat,
            "plans": args.plans,
            "uploads": args.uploads,
            "phone_uploads": args.phone_uploads,
            "logins": args.logins,
        }
        for name in scenarios:
            burst = Burst(base, makers[name](accounts, sizes[name]), probe.token)
            results[name] = run_burst(
                burst, master_pid=server.pid, probe_interval_seconds=args.probe_interval_ms / 1000
            )
            if name.endswith("uploads") and queue is not None:
                waited = seconds_until_queue_is_empty(queue[1], queue[2], limit=600)
                after = results[name]["seconds_to_last_answer"]
                results[name]["all_analysed_after_s"] = (
                    None if waited is None else round(after + waited, 1)
                )
            print(f"{name}: {json.dumps(results[name])}", flush=True)
            gevent.sleep(2)  # let the last replies' writes settle between scenarios
    finally:
        for process in (worker, server, gemini, queue[0] if queue else None):
            if process is not None:
                load.stop(process)
        local.stop()
    result = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": dynamo_layer.cpu_model() or platform.machine(),
            "python": platform.python_version(),
            "load_before": load_before,
            "load_after": dynamo_layer.load_average(),
            "reference_cpu_ms_before": pace_before,
            "reference_cpu_ms_after": dynamo_layer.reference_cpu_ms(),
        },
        "locust": locust.__version__,
        "worker_class": args.worker_class,
        "workers": workers,
        "gemini_delay_seconds": args.gemini_delay_seconds,
        "probe_interval_ms": args.probe_interval_ms,
        "uploads": "analysed in the request" if queue is None else "queued for jobs_worker",
        "scenarios": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.output}.json").write_text(json.dumps(result, indent=2) + "\n")
    text = markdown(result)
    (RESULTS / f"{args.output}.md").write_text(text)
    print(text)
    passed = all(row["goal_met"] for row in results.values())
    # The uploaded photos (some 20 MB a run) are never needed afterwards; the logs are
    # kept when a goal was missed.
    shutil.rmtree(scratch / "media", ignore_errors=True)
    if passed:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        print(f"Server log: {scratch / 'gunicorn.log'}")
    raise SystemExit(0 if passed else 1)


if __name__ == "__main__":
    main()
