"""Load test: simulated users drive the API through gunicorn against DynamoDB Local.

    .venv/bin/python bench/load.py [--users 20] [--seconds 75] [--workers 4]

Each simulated user registers, logs in, then loops over a weighted mix of uploads, scan
lists and reads, plan creation, check-ins, chat and plan lists until time is up. Every id
the API acknowledges is recorded; afterwards each user's lists are read back with their
own token to check that every acknowledged scan, plan, check-in and message is there
exactly once and that nothing of another user's shows. The AI provider is the offline
one, for scans and chat alike, so the figures measure this code and not a network.
Figures go to bench/results/load.json and load.md.
"""

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SAMPLE = ROOT / "tests" / "data" / "astronaut.jpg"
PAGE_LIMIT = 100
REQUEST_TIMEOUT_SECONDS = 30
# How often each action is picked once a user is logged in.
MIX = {
    "upload_scan": 3,
    "list_scans": 3,
    "read_scan": 3,
    "create_plan": 1,
    "check_in": 2,
    "send_message": 2,
    "list_plans": 1,
}


def server_environment(*, media_root: str) -> dict[str, str]:
    generous = "100000/hour"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dermalens_site.settings",
        "DEBUG": "false",
        "SECRET_KEY": "bench-load-only-" + uuid.uuid4().hex + uuid.uuid4().hex,
        "JWT_SIGNING_KEY": "",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "STATIC_FROM_APPS": "true",
        "LOG_LEVEL": "WARNING",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",  # DynamoDB Local accepts any key
        "DYNAMODB_USERS_TABLE": "bench-load-users",
        "DYNAMODB_SCANS_TABLE": "bench-load-scans",
        "DYNAMODB_PLANS_TABLE": "bench-load-treatment-plans",
        "DYNAMODB_CHAT_TABLE": "bench-load-chat-messages",
        "DYNAMODB_AUDIT_TABLE": "bench-load-audit",
        "S3_BUCKET_NAME": "",
        "ANALYSIS_QUEUE_URL": "",
        "AI_PROVIDER": "offline",
        "GEMINI_API_KEY": "",
        "AI_ANALYSES_PER_DAY": "100000",
        "AI_REPLIES_PER_DAY": "100000",
        "MEDIA_ROOT": media_root,
        "RATE_LIMIT_NAMESPACE": f"bench-load-{uuid.uuid4().hex}",
        "THROTTLE_LOGIN_RATE": generous,
        "THROTTLE_REGISTER_RATE": generous,
        "THROTTLE_TOKEN_RATE": generous,
        "THROTTLE_UPLOAD_RATE": generous,
    }


@dataclass
class Outcome:
    endpoint: str
    status: int
    seconds: float
    expected: bool
    detail: str = ""


@dataclass
class Acknowledged:
    """What the API said it stored for one user."""

    scan_ids: list[str] = field(default_factory=list)
    plan_ids: list[str] = field(default_factory=list)
    check_ins: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    session_ids: list[str] = field(default_factory=list)
    message_ids: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


class SimulatedUser(threading.Thread):
    def __init__(self, *, base: str, photo: bytes, deadline: float, seed: int) -> None:
        super().__init__(daemon=True)
        self.base = base
        self.photo = photo
        self.deadline = deadline
        self.random = random.Random(seed)
        self.http = requests.Session()
        self.email = f"load-{uuid.uuid4().hex}@example.com"
        # Words, not hex: a random hex password can look "too similar" to the hex email.
        self.password = f"glowing-spruce-lantern-{seed}"
        self.outcomes: list[Outcome] = []
        self.acknowledged = Acknowledged()
        self.token = ""

    def call(self, endpoint: str, method: str, path: str, *, ok: tuple[int, ...], **kwargs):
        headers = kwargs.pop("headers", {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        started = time.perf_counter()
        try:
            response = self.http.request(
                method,
                self.base + path,
                headers=headers,
                timeout=REQUEST_TIMEOUT_SECONDS,
                **kwargs,
            )
            status, detail = response.status_code, response.text[:200]
        except requests.RequestException as err:
            response, status, detail = None, 0, repr(err)[:200]
        elapsed = time.perf_counter() - started
        expected = status in ok
        self.outcomes.append(
            Outcome(endpoint, status, elapsed, expected, "" if expected else detail)
        )
        return response if status in ok else None

    def run(self) -> None:
        account = {"email": self.email, "password": self.password, "full_name": "Load Test"}
        if self.call("register", "POST", "/api/v1/auth/register", ok=(201,), json=account) is None:
            return
        credentials = {"email": self.email, "password": self.password}
        login = self.call("login", "POST", "/api/v1/auth/login", ok=(200,), json=credentials)
        if login is None:
            return
        self.token = login.json()["access"]
        actions = list(MIX)
        weights = list(MIX.values())
        while time.monotonic() < self.deadline:
            getattr(self, self.random.choices(actions, weights)[0])()

    def upload_scan(self) -> None:
        response = self.call(
            "POST /scans",
            "POST",
            "/api/v1/scans",
            ok=(201,),
            files={"image": ("face.jpg", self.photo, "image/jpeg")},
            data={"area": "face"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        if response is not None:
            self.acknowledged.scan_ids.append(response.json()["scan_id"])

    def list_scans(self) -> None:
        self.call("GET /scans", "GET", "/api/v1/scans?limit=20", ok=(200,))

    def read_scan(self) -> None:
        if self.acknowledged.scan_ids:
            scan_id = self.random.choice(self.acknowledged.scan_ids)
            self.call("GET /scans/{id}", "GET", f"/api/v1/scans/{scan_id}", ok=(200,))

    def create_plan(self) -> None:
        if not self.acknowledged.scan_ids:
            return
        response = self.call("POST /plans", "POST", "/api/v1/plans", ok=(201,), json={})
        if response is not None:
            self.acknowledged.plan_ids.append(response.json()["plan_id"])

    def check_in(self) -> None:
        if not self.acknowledged.plan_ids:
            return
        # Only the newest plan is active; creating one archives the one before.
        plan_id = self.acknowledged.plan_ids[-1]
        day = (datetime.now(UTC).date() - timedelta(days=self.random.randrange(7))).isoformat()
        body = {"date": day, "am_done": True, "pm_done": self.random.random() < 0.5}
        body["irritation"] = self.random.randrange(3)
        response = self.call(
            "POST /plans/{id}/check-ins",
            "POST",
            f"/api/v1/plans/{plan_id}/check-ins",
            ok=(201,),
            json=body,
        )
        if response is not None:
            self.acknowledged.check_ins[plan_id].add(response.json()["date"])

    def send_message(self) -> None:
        if not self.acknowledged.session_ids:
            response = self.call(
                "POST /chat/sessions", "POST", "/api/v1/chat/sessions", ok=(201,), json={}
            )
            if response is None:
                return
            self.acknowledged.session_ids.append(response.json()["session_id"])
        session_id = self.acknowledged.session_ids[-1]
        response = self.call(
            "POST /chat/sessions/{id}/messages",
            "POST",
            f"/api/v1/chat/sessions/{session_id}/messages",
            ok=(201,),
            json={"content": "Is niacinamide fine with my retinol?"},
        )
        if response is not None:
            exchange = response.json()
            self.acknowledged.message_ids[session_id] += [
                exchange["message"]["message_id"],
                exchange["reply"]["message_id"],
            ]

    def list_plans(self) -> None:
        self.call("GET /plans", "GET", "/api/v1/plans?limit=20", ok=(200,))

    def read_all(self, path: str, key: str) -> list[str]:
        """Every id of a paginated list, following the cursors."""
        found: list[str] = []
        params: dict[str, str | int] = {"limit": PAGE_LIMIT}
        while True:
            response = self.http.get(
                self.base + path,
                params=params,
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=REQUEST_TIMEOUT_SECONDS,
            )
            response.raise_for_status()
            page = response.json()
            found += [item[key] for item in page["items"]]
            if not page["next_cursor"]:
                return found
            params["cursor"] = page["next_cursor"]

    def stored(self) -> dict[str, list[str]]:
        """What the API shows this user now, one list of ids per kind."""
        acknowledged = self.acknowledged
        if not self.token:  # never got in, so nothing was acknowledged either
            return {kind: [] for kind in self.expected()}
        stored = {
            "scans": self.read_all("/api/v1/scans", "scan_id"),
            "plans": self.read_all("/api/v1/plans", "plan_id"),
            "chat_sessions": self.read_all("/api/v1/chat/sessions", "session_id"),
            "check_ins": [],
            "messages": [],
        }
        for plan_id in acknowledged.check_ins:
            path = f"/api/v1/plans/{plan_id}/check-ins"
            stored["check_ins"] += [f"{plan_id}/{day}" for day in self.read_all(path, "date")]
        for session_id in acknowledged.session_ids:
            path = f"/api/v1/chat/sessions/{session_id}/messages"
            stored["messages"] += self.read_all(path, "message_id")
        return stored

    def expected(self) -> dict[str, list[str]]:
        acknowledged = self.acknowledged
        return {
            "scans": acknowledged.scan_ids,
            "plans": acknowledged.plan_ids,
            "chat_sessions": acknowledged.session_ids,
            "check_ins": [
                f"{plan_id}/{day}"
                for plan_id, days in acknowledged.check_ins.items()
                for day in days
            ],
            "messages": [m for ids in acknowledged.message_ids.values() for m in ids],
        }


def check_integrity(users: list[SimulatedUser]) -> dict:
    """Acknowledged ids present exactly once; nothing a user did not write shows up."""
    owner = {}
    for user in users:
        for ids in user.expected().values():
            owner.update(dict.fromkeys(ids, user.email))
    lost, duplicated, foreign, unexpected = [], [], [], []
    acknowledged_counts: Counter[str] = Counter()
    for user in users:
        expected, stored = user.expected(), user.stored()
        for kind, ids in expected.items():
            acknowledged_counts[kind] += len(ids)
            counts = Counter(stored[kind])
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
        "acknowledged": dict(acknowledged_counts),
        "lost": lost,
        "duplicated": duplicated,
        "foreign": foreign,
        "unacknowledged": unexpected,
        "ok": not (lost or duplicated or foreign or unexpected),
    }


def percentile(sorted_values: list[float], share: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(share * len(sorted_values)) - 1))
    return sorted_values[index]


def summarise(outcomes: list[Outcome], seconds: float) -> list[dict]:
    by_endpoint: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_endpoint[outcome.endpoint].append(outcome)
    rows = []
    for endpoint, group in [*sorted(by_endpoint.items()), ("all", outcomes)]:
        latencies = sorted(o.seconds * 1000 for o in group)
        rows.append(
            {
                "endpoint": endpoint,
                "requests": len(group),
                "rps": round(len(group) / seconds, 2),
                "p50_ms": round(percentile(latencies, 0.50), 1),
                "p95_ms": round(percentile(latencies, 0.95), 1),
                "p99_ms": round(percentile(latencies, 0.99), 1),
                "errors": sum(not o.expected for o in group),
                "statuses": dict(Counter(str(o.status) for o in group)),
            }
        )
    return rows


def start_gunicorn(env: dict[str, str], workers: int, log: Path) -> tuple[subprocess.Popen, str]:
    from dynamo.local import free_port

    port = free_port()
    server = subprocess.Popen(  # noqa: S603 (our own server)
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "dermalens_site.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        env=env,
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


def small_photo() -> bytes:
    return SAMPLE.read_bytes()


def write_results(result: dict) -> str:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "load.json").write_text(json.dumps(result, indent=2) + "\n")
    integrity = result["integrity"]
    machine = result["machine"]
    lines = [
        "# Load test",
        "",
        f"{result['users']} simulated users for {result['seconds']} s through gunicorn "
        f"({result['workers']} workers) against DynamoDB Local, offline AI provider; "
        f"{machine['cpus']} CPUs ({machine['processor']}), Python {machine['python']}, "
        f"{result['date']}. The load generator runs on the same machine.",
        "",
        "| endpoint | requests | rps | p50 | p95 | p99 | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {r['endpoint']} | {r['requests']} | {r['rps']} | {r['p50_ms']:.0f} ms "
            f"| {r['p95_ms']:.0f} ms | {r['p99_ms']:.0f} ms | {r['errors']} |"
            for r in result["endpoints"]
        ),
        "",
        f"Error rate: {result['error_rate']:.2%}.",
        "",
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=int, default=75)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    scratch = Path(tempfile.mkdtemp(prefix="dermalens-load-"))
    env = server_environment(media_root=str(scratch / "media"))
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
        server, base = start_gunicorn(env, args.workers, scratch / "gunicorn.log")
        photo = small_photo()
        started = time.monotonic()
        users = [
            SimulatedUser(base=base, photo=photo, deadline=started + args.seconds, seed=n)
            for n in range(args.users)
        ]
        for user in users:
            user.start()
        for user in users:
            user.join(timeout=args.seconds + 2 * REQUEST_TIMEOUT_SECONDS)
        elapsed = time.monotonic() - started
        outcomes = [o for user in users for o in user.outcomes]
        integrity = check_integrity(users)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        dynamodb.stop()
        shutil.rmtree(scratch / "media", ignore_errors=True)

    rows = summarise(outcomes, elapsed)
    errors = sum(not o.expected for o in outcomes)
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "system": platform.platform(),
        },
        "users": args.users,
        "seconds": round(elapsed, 1),
        "workers": args.workers,
        "photo_bytes": len(photo),
        "ai_provider": "offline",
        "requests": len(outcomes),
        "errors": errors,
        "error_rate": errors / len(outcomes) if outcomes else 1.0,
        "endpoints": rows,
        "error_samples": [
            f"{o.endpoint} {o.status}: {o.detail}" for o in outcomes if not o.expected
        ][:20],
        "integrity": integrity,
        "passed": errors == 0 and integrity["ok"] and bool(outcomes),
    }
    print(write_results(result))
    if result["passed"]:
        shutil.rmtree(scratch, ignore_errors=True)
    else:
        print(f"Server log: {scratch / 'gunicorn.log'}")
    raise SystemExit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
