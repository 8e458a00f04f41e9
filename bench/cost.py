"""DynamoDB calls, capacity units and cost per request of each main endpoint.

    .venv/bin/python bench/cost.py

Runs in-process with DRF's APIClient against a private DynamoDB Local (whose consumed
capacity follows item sizes as DynamoDB does), a fresh user with realistic data, and
``dynamo.metrics.measure_dynamodb`` around each request. Reports calls, RCU and WCU per
request, the cost per million requests at on-demand prices, and a monthly cost for one
user. Figures go to bench/results/cost.json and cost.md.
"""

import datetime as dt
import json
import platform
import sys
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import dynamo_layer  # noqa: E402 (shares the bench environment and DynamoDB Local set-up)

RESULTS_DIR = ROOT / "bench" / "results"
SAMPLE_FACE = ROOT / "tests" / "data" / "astronaut.jpg"
REPEATS = 3
LIST_SCANS = 20

# Published on-demand prices, us-east-1, as listed on the AWS DynamoDB pricing page,
# checked 2026-11. A read request unit covers one strongly consistent read of up to 4 KB
# (eventually consistent: 0.5); a write request unit one write of up to 1 KB;
# transactional reads and writes cost double.
PRICES_USD = {
    "source": "AWS DynamoDB pricing page, on-demand, us-east-1, checked 2026-11",
    "per_million_read_request_units": 0.125,
    "per_million_write_request_units": 0.625,
}

# One user who scans weekly and chats daily: requests per month by endpoint.
MONTHLY_USAGE = {
    "POST /scans": 4,
    "GET /scans/{id}": 8,
    "GET /scans": 20,
    "GET /scans/progress": 4,
    "GET /scans/{id}/compare": 4,
    "POST /chat/sessions/{id}/messages": 30,
    "GET /chat/sessions/{id}/messages": 30,
    "POST /chat/sessions": 4,
    "POST /auth/login": 15,
    "POST /auth/refresh": 15,
    "GET /users/me": 30,
    "POST /plans": 1,
    "GET /plans/active": 30,
    "POST /plans/{id}/check-ins": 30,
}

# On top of bench/dynamo_layer.py's environment: the API in-process, offline AI, and
# allowances that a few hundred requests from one user cannot exhaust.
COST_ENVIRONMENT = {
    "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
    "AI_PROVIDER": "offline",
    "AI_ANALYSES_PER_DAY": "1000",
    "THROTTLE_LOGIN_RATE": "1000/hour",
    "THROTTLE_REGISTER_RATE": "1000/hour",
    "THROTTLE_TOKEN_RATE": "1000/hour",
    "THROTTLE_UPLOAD_RATE": "1000/hour",
    "THROTTLE_PLAN_RATE": "1000/hour",
}


def cost_per_million(read_units: float, write_units: float) -> float:
    return (
        read_units * PRICES_USD["per_million_read_request_units"]
        + write_units * PRICES_USD["per_million_write_request_units"]
    )


class Meter:
    """Sends requests through one APIClient and records DynamoDB usage per endpoint."""

    def __init__(self) -> None:
        from rest_framework.test import APIClient

        self.client = APIClient()
        self.client.default_format = "json"
        self.samples: dict[str, list[Any]] = {}

    def call(self, endpoint: str, method: str, path: str, expected: int, **kwargs: Any) -> Any:
        from dynamo.metrics import measure_dynamodb

        with measure_dynamodb() as usage:
            response = getattr(self.client, method)(path, **kwargs)
        assert response.status_code == expected, (endpoint, response.status_code, response.content)
        self.samples.setdefault(endpoint, []).append(usage)
        return response.json() if response.content else None

    def sign_in(self, access: str) -> None:
        self.client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")


def upload(meter: Meter, endpoint: str = "POST /scans") -> dict:
    from django.core.files.uploadedfile import SimpleUploadedFile

    image = SimpleUploadedFile("face.jpg", SAMPLE_FACE.read_bytes(), content_type="image/jpeg")
    return meter.call(
        endpoint, "post", "/api/v1/scans", 201, data={"image": image}, format="multipart"
    )


def verify_address(user_id: str) -> None:
    """As the link in the verification email does: the costs are those of the usual,
    verified account (an unverified one adds its address's count of AI work, one
    UpdateItem, to uploads, plans and chat messages)."""
    from ai.analysis import now_iso
    from dynamo.users import users_table

    users = users_table()
    account = users.get(user_id, consistent=True)
    assert account is not None
    users.mark_email_verified(user_id, expected_version=account.version, updated_at=now_iso())


def exercise(meter: Meter) -> None:
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    password = "correct-horse-battery-staple"  # noqa: S105 (a throwaway bench account)
    credentials = {"email": email, "password": password}
    body = {**credentials, "full_name": "Bench User"}
    session = meter.call("POST /auth/register", "post", "/api/v1/auth/register", 201, data=body)
    verify_address(session["user"]["user_id"])
    for _ in range(REPEATS):
        session = meter.call(
            "POST /auth/login", "post", "/api/v1/auth/login", 200, data=credentials
        )
        session = meter.call(
            "POST /auth/refresh",
            "post",
            "/api/v1/auth/refresh",
            200,
            data={"refresh": session["refresh"]},
        )
    meter.sign_in(session["access"])
    for _ in range(REPEATS):
        meter.call("GET /users/me", "get", "/api/v1/users/me", 200)
        meter.call(
            "PATCH /users/me", "patch", "/api/v1/users/me", 200, data={"full_name": "Bench U"}
        )
    scans = [upload(meter) for _ in range(LIST_SCANS + 2)]
    for _ in range(REPEATS):
        meter.call("GET /scans", "get", f"/api/v1/scans?limit={LIST_SCANS}", 200)
        meter.call("GET /scans/{id}", "get", f"/api/v1/scans/{scans[0]['scan_id']}", 200)
        meter.call("GET /scans/progress", "get", "/api/v1/scans/progress", 200)
        meter.call(
            "GET /scans/{id}/compare",
            "get",
            f"/api/v1/scans/{scans[0]['scan_id']}/compare?with={scans[1]['scan_id']}",
            200,
        )
    plan = meter.call("POST /plans", "post", "/api/v1/plans", 201, data={})
    meter.call("GET /plans/active", "get", "/api/v1/plans/active", 200)
    meter.call("GET /plans/active", "get", "/api/v1/plans/active", 200)
    check_in = {
        "date": dt.date.today().isoformat(),
        "am_done": True,
        "pm_done": False,
        "irritation": 1,
    }
    meter.call(
        "POST /plans/{id}/check-ins",
        "post",
        f"/api/v1/plans/{plan['plan_id']}/check-ins",
        201,
        data=check_in,
    )
    for _ in range(REPEATS):
        chat = meter.call("POST /chat/sessions", "post", "/api/v1/chat/sessions", 201, data={})
        messages = f"/api/v1/chat/sessions/{chat['session_id']}/messages"
        for content in ("My cheeks feel dry in the morning.", "Should I change my cleanser?"):
            meter.call(
                "POST /chat/sessions/{id}/messages",
                "post",
                messages,
                201,
                data={"content": content},
            )
        meter.call("GET /chat/sessions/{id}/messages", "get", messages, 200)


def summarise(samples: dict[str, list[Any]]) -> dict[str, dict[str, float]]:
    rows = {}
    for endpoint, usages in samples.items():
        count = len(usages)
        reads = sum(u.read_units for u in usages) / count
        writes = sum(u.write_units for u in usages) / count
        operations: dict[str, float] = {}
        for usage in usages:
            for name, calls in usage.calls_by_operation.items():
                operations[name] = operations.get(name, 0) + calls / count
        rows[endpoint] = {
            "requests_measured": count,
            "calls_per_request": sum(u.calls for u in usages) / count,
            "operations_per_request": operations,
            "read_units_per_request": round(reads, 3),
            "write_units_per_request": round(writes, 3),
            "usd_per_million_requests": round(cost_per_million(reads, writes), 4),
        }
    return rows


def monthly_cost(rows: dict[str, dict[str, float]]) -> float:
    return sum(
        requests * rows[endpoint]["usd_per_million_requests"] / 1_000_000
        for endpoint, requests in MONTHLY_USAGE.items()
        if endpoint in rows
    )


def markdown(rows: dict[str, dict[str, float]], monthly_usd: float) -> str:
    lines = [
        "# DynamoDB cost per request",
        "",
        f"Prices: ${PRICES_USD['per_million_read_request_units']} per million read request "
        f"units, ${PRICES_USD['per_million_write_request_units']} per million write request "
        f"units ({PRICES_USD['source']}). Capacity as reported by DynamoDB Local with "
        "`ReturnConsumedCapacity=TOTAL`; the S3 and Gemini costs of an upload are not counted.",
        "",
        "| Endpoint | Calls | RCU | WCU | USD per million requests |",
        "|---|---:|---:|---:|---:|",
    ]
    for endpoint, row in rows.items():
        lines.append(
            f"| {endpoint} | {row['calls_per_request']:.1f} | {row['read_units_per_request']} "
            f"| {row['write_units_per_request']} | {row['usd_per_million_requests']:.3f} |"
        )
    usage = ", ".join(f"{count} x {endpoint}" for endpoint, count in MONTHLY_USAGE.items())
    lines += [
        "",
        f"Monthly DynamoDB request cost of one user who scans weekly and chats daily "
        f"({usage}): **${monthly_usd:.6f}**, about ${monthly_usd * 1_000_000:,.0f} for a "
        "million such users (storage not included).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    local = dynamo_layer.configure(COST_ENVIRONMENT)
    try:
        meter = Meter()
        exercise(meter)
    finally:
        local.stop()
    rows = summarise(meter.samples)
    monthly_usd = monthly_cost(rows)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    result = {
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform()},
        "prices_usd": PRICES_USD,
        "monthly_usage": MONTHLY_USAGE,
        "endpoints": rows,
        "monthly_usd_per_user": monthly_usd,
    }
    (RESULTS_DIR / "cost.json").write_text(json.dumps(result, indent=2) + "\n")
    report = markdown(rows, monthly_usd)
    (RESULTS_DIR / "cost.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
