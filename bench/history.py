"""What a long-time user's reads cost: progress and the lists, at 300 and 1,000 scans.

    .venv/bin/python bench/history.py

Runs in-process with DRF's APIClient against a private DynamoDB Local (whose consumed
capacity follows item sizes as DynamoDB does). One photo is uploaded and analysed
(the offline analyser, the sample portrait); its stored analysis, with its scores moved
a little from scan to scan, is then written for a scan a day through the data layer
(``tests/seeding.py``), as years of daily scans would leave it. For each request: the
response's bytes, the bytes of DynamoDB's answers, read units, DynamoDB calls, and the
median of REPEATS of its wall-clock and CPU milliseconds (this process's CPU: the wall
clock also holds DynamoDB Local's Java, which shares the machine's cores). Figures go
to bench/results/history.json and history.md.
"""

import datetime as dt
import json
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import cost  # noqa: E402 (the in-process API client and its environment)
import dynamo_layer  # noqa: E402 (the bench environment and DynamoDB Local set-up)

RESULTS_DIR = ROOT / "bench" / "results"
HISTORIES = (300, 1000)
REPEATS = 5
PROGRESS = "/api/v1/scans/progress"


def requests_to_measure() -> dict[str, str]:
    a_year = f"from={day_ago(365)}&to={day_ago(0)}"
    return {
        "GET /scans/progress": PROGRESS,
        "GET /scans/progress?metric=redness": f"{PROGRESS}?metric=redness",
        "GET /scans/progress?from=&to= (a year)": f"{PROGRESS}?{a_year}",
        "GET /scans/progress?limit=1000": f"{PROGRESS}?limit=1000",
        "GET /scans?limit=100": "/api/v1/scans?limit=100",
        "GET /scans?from=&to=&limit=100 (a year)": (f"/api/v1/scans?{a_year}&limit=100"),
    }


def day_ago(days: int) -> str:
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)).isoformat()


def history_user(meter: cost.Meter, scan_count: int) -> str:
    """A new account with ``scan_count`` analysed scans, one a day up to today."""
    from tests.seeding import seed_analysed_scans

    email = f"history-{uuid.uuid4().hex[:12]}@example.com"
    body = {"email": email, "password": "correct-horse-battery-staple", "full_name": "Long User"}
    session = meter.call("register", "post", "/api/v1/auth/register", 201, data=body)
    cost.verify_address(session["user"]["user_id"])
    meter.sign_in(session["access"])
    scan = cost.upload(meter, "upload")
    seed_analysed_scans(session["user"]["user_id"], scan_count - 1, analysis=scan["analysis"])
    return session["user"]["user_id"]


def measure(meter: cost.Meter, path: str) -> dict[str, float]:
    from dynamo.client import get_client
    from dynamo.metrics import measure_dynamodb

    answers: list[int] = []

    def count_answer(http_response: Any, **_: Any) -> None:
        answers.append(len(http_response.content))

    events = get_client().meta.events
    events.register("after-call.dynamodb", count_answer)
    wall, cpu = [], []
    try:
        for _ in range(REPEATS):
            answers.clear()
            started, started_cpu = time.perf_counter(), time.process_time()
            with measure_dynamodb() as usage:
                response = meter.client.get(path)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
    finally:
        events.unregister("after-call.dynamodb", count_answer)
    return {
        "status": response.status_code,
        "bytes": len(response.content),
        "dynamodb_bytes": sum(answers),
        "read_units": round(usage.read_units, 1),
        "calls": usage.calls,
        "median_ms": round(statistics.median(wall), 1),
        "median_cpu_ms": round(statistics.median(cpu), 1),
    }


def markdown(rows: dict[int, dict[str, dict[str, float]]]) -> str:
    lines = [
        "# A long history: response size, read units and time",
        "",
        "One analysed scan a day (the offline analysis of the sample portrait, its scores "
        "moved a little each day); in-process through DRF's APIClient against DynamoDB "
        f"Local; median of {REPEATS} requests. CPU: this process's (the API's) alone.",
        "",
        "| scans | request | status | bytes | DynamoDB bytes | read units | calls | ms | CPU ms |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scan_count, requests in rows.items():
        for name, row in requests.items():
            lines.append(
                f"| {scan_count:,} | {name} | {row['status']} | {row['bytes']:,} "
                f"| {row['dynamodb_bytes']:,} | {row['read_units']} | {row['calls']} "
                f"| {row['median_ms']} | {row['median_cpu_ms']} |"
            )
    return "\n".join([*lines, ""])


def main() -> int:
    local = dynamo_layer.configure(cost.COST_ENVIRONMENT)
    rows: dict[int, dict[str, dict[str, float]]] = {}
    try:
        for scan_count in HISTORIES:
            meter = cost.Meter()
            history_user(meter, scan_count)
            rows[scan_count] = {
                name: measure(meter, path) for name, path in requests_to_measure().items()
            }
    finally:
        local.stop()
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    result = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "histories": {str(count): requests for count, requests in rows.items()},
    }
    (RESULTS_DIR / "history.json").write_text(json.dumps(result, indent=2) + "\n")
    report = markdown(rows)
    (RESULTS_DIR / "history.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
