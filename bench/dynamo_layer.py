"""What the ``dynamo`` table managers cost on top of the raw boto3 client.

    .venv/bin/python bench/dynamo_layer.py              # or: make bench
    .venv/bin/python bench/dynamo_layer.py --rounds 1000

Target: ``scans_table().query_page(user_id, limit=20)`` (a Page of frozen ``Scan``
dataclasses plus a signed cursor) costs at most 1.10x the raw client Query that
returns the same 20 typed items: a boto3 client as boto3 makes it. The managers' own
client (``dynamo.client``) reads item answers as plain JSON, without botocore's walk
of the service model; it is timed too, so the managers' cost over their own client
shows as well.

Method
------
* The script fixes its own environment (like ``conftest.py``), starts a private
  in-memory DynamoDB Local on a free port, creates the tables (``bench-*`` names) and
  stops DynamoDB Local at the end, whatever happens.
* One user partition is seeded with 40 realistic scans through the manager; about half
  are complete and carry a nested ``analysis`` map (overall score, twelve metrics with
  float scores, bands and confidences, concerns, summary), so the deserialisation
  work per page is that of real data. A 20-item page therefore always has a next
  page, and the manager signs a cursor on every call, as in production.
* Contenders, all with the same endpoint, credentials and botocore config:
    - Query: raw client (as boto3 makes it); the managers' client; table manager;
      boto3 resource ``Table.query``; raw client followed by boto3's
      ``TypeDeserializer`` over each item (numbers as Decimal).
    - GetItem: raw client ``get_item``; the managers' client; ``scans_table().get``.
* Every contender runs once per round, in an order shuffled anew each round (seeded),
  so machine noise, JIT activity in DynamoDB Local and position effects fall on all
  of them alike. Warm-up rounds come first and are discarded. Each call is timed
  with ``time.perf_counter_ns``; the report gives the median and the 90th percentile
  in microseconds, the ratio of each median (and p90) to its raw-client baseline, and
  the median of the per-round paired ratios as a noise-robust cross-check. A bootstrap
  over whole rounds (pairs kept together) gives a 95% interval for each ratio of
  medians; when the manager's interval straddles 1.10 the verdict is flagged as
  inconclusive, because the run cannot tell the difference from noise.
* For context the pure-Python cost of the layer is also timed without any I/O: the
  manager's parse of one captured 20-item response (``scan_from_item``) plus
  ``encode_cursor``, next to ``TypeDeserializer`` over the same items. When the
  target is missed, that work is profiled with cProfile and the top entries printed.

Figures go to ``bench/results/dynamo_layer.json`` (with the machine's facts) and a
short summary to ``bench/results/dynamo_layer.md``. The exit code is 0 whether or not
the target holds; the verdict is printed.
"""

import argparse
import cProfile
import datetime as dt
import hashlib
import io
import json
import os
import platform
import pstats
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
JSON_RESULT = RESULTS_DIR / "dynamo_layer.json"
MARKDOWN_RESULT = RESULTS_DIR / "dynamo_layer.md"

TARGET_RATIO = 1.10
PAGE_SIZE = 20
SEEDED_SCANS = 40
SEED = 20240501

# Fixed before Django reads the environment, so neither the shell nor .env changes
# what is measured, and the tables never collide with a developer's.
BENCH_ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "dermalens_site.settings",
    "DEBUG": "false",
    "SECRET_KEY": "dermalens-bench-only-" + "b3nch-" * 10,
    "ALLOWED_HOSTS": "localhost,127.0.0.1",
    "SECURE_SSL_REDIRECT": "false",
    "STATIC_FROM_APPS": "true",
    "AWS_REGION": "us-east-1",
    "AWS_DYNAMODB_ENDPOINT": "",  # set once DynamoDB Local is up
    "DYNAMODB_USERS_TABLE": "bench-users",
    "DYNAMODB_SCANS_TABLE": "bench-scans",
    "DYNAMODB_PLANS_TABLE": "bench-treatment-plans",
    "DYNAMODB_CHAT_TABLE": "bench-chat-messages",
    "DYNAMODB_AUDIT_TABLE": "bench-audit",
    "DYNAMODB_READ_TIMEOUT_SECONDS": "5",
    "NUM_PROXIES": "0",
    "S3_BUCKET_NAME": "",
    "GEMINI_API_KEY": "",
    "ANALYSIS_QUEUE_URL": "",
    "JWT_SIGNING_KEY": "",
    "LOG_LEVEL": "WARNING",
    # Inherited by the Java process: DynamoDB Local sends no usage telemetry.
    "DDB_LOCAL_TELEMETRY": "0",
}
# Gemini against the fake server: short retries, so that an outage costs a chat message
# well under a second.
GEMINI_SETTINGS = {
    "GEMINI_API_KEY": "bench-load-fake-key",
    "GEMINI_MODEL": "gemini-2.5-flash",
    "GEMINI_TIMEOUT_SECONDS": "5",
    "GEMINI_MAX_ATTEMPTS": "2",
    "GEMINI_RETRY_INITIAL_DELAY_SECONDS": "0.05",
    "GEMINI_RETRY_MAX_DELAY_SECONDS": "0.2",
}

if TYPE_CHECKING:
    from dynamo.codec import Item
    from dynamo.local import DynamoDBLocal
    from dynamo.scans import Scan


# --- seeding ------------------------------------------------------------------------

METRICS = (
    "hydration",
    "oiliness",
    "redness",
    "texture",
    "pores",
    "wrinkles",
    "fine_lines",
    "pigmentation",
    "dark_circles",
    "acne",
    "elasticity",
    "uniformity",
)
AREAS = ("face", "forehead", "cheeks", "chin", "nose", "neck")
CONCERNS = ("acne", "hyperpigmentation", "dehydration", "rosacea", "enlarged pores", "fine lines")
REGIONS = ("forehead", "left cheek", "right cheek", "chin", "nose", "jawline")


def band(score: float) -> str:
    if score >= 80:
        return "excellent"
    if score >= 65:
        return "good"
    if score >= 45:
        return "fair"
    return "poor"


def make_analysis(rng: random.Random) -> dict[str, Any]:
    metrics = {}
    for name in METRICS:
        score = round(rng.uniform(30, 95) * 2) / 2  # e.g. 72.5
        metrics[name] = {
            "score": score,
            "band": band(score),
            "confidence": round(rng.uniform(0.6, 0.99), 2),
        }
    overall = round(statistics.fmean(m["score"] for m in metrics.values()), 1)
    concerns = [
        {
            "name": name,
            "severity": rng.choice(("mild", "moderate", "marked")),
            "regions": rng.sample(REGIONS, k=rng.randint(1, 3)),
            "confidence": round(rng.uniform(0.5, 0.95), 2),
        }
        for name in rng.sample(CONCERNS, k=rng.randint(1, 3))
    ]
    worst = min(metrics, key=lambda name: metrics[name]["score"]).replace("_", " ")
    return {
        "overall_score": overall,
        "overall_band": band(overall),
        "skin_type": rng.choice(("dry", "oily", "combination", "normal", "sensitive")),
        "metrics": metrics,
        "concerns": concerns,
        "summary": (
            f"Overall skin health is {band(overall)} ({overall}/100). The weakest area is "
            f"{worst}; a gentle routine with daily SPF and a barrier-supporting "
            "moisturiser is suggested. Re-scan in two weeks under the same lighting."
        ),
        "model": "gemini-2.5-flash",
        "model_version": "2025-06",
    }


def make_scans(user_id: str, count: int, rng: random.Random) -> "list[Scan]":
    from ulid import ULID

    from dynamo.scans import Scan

    start = dt.datetime(2025, 1, 6, 8, 30, tzinfo=dt.UTC)
    scans = []
    for position in range(count):
        moment = start + dt.timedelta(days=3 * position, minutes=rng.randint(0, 600))
        scan_id = str(ULID.from_datetime(moment))
        stamp = moment.isoformat().replace("+00:00", "Z")
        status = "complete" if position % 2 == 0 else rng.choice(("pending", "failed"))
        key = f"scans/{user_id}/{scan_id}"
        scans.append(
            Scan(
                user_id=user_id,
                scan_id=scan_id,
                status=status,
                area=rng.choice(AREAS),
                scanned_at=stamp,
                created_at=stamp,
                updated_at=stamp,
                image_key=f"{key}/original.jpg",
                thumbnail_key=f"{key}/thumb.jpg" if status == "complete" else None,
                notes="Morning, before moisturiser." if rng.random() < 0.4 else None,
                analysis=make_analysis(rng) if status == "complete" else None,
                failure_reason="The face was not in focus." if status == "failed" else None,
                version=2 if status == "complete" else 1,
            )
        )
    return scans


# --- measurement ----------------------------------------------------------------------


@dataclass
class Contender:
    name: str
    group: str  # "query" or "get"
    run: Callable[[int], object]  # the round number picks the key where it matters
    baseline: bool = False
    samples: list[int] = field(default_factory=list)  # nanoseconds


def percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def run_rounds(contenders: list[Contender], *, rounds: int, warmup: int, seed: int) -> None:
    rng = random.Random(seed)
    order = list(contenders)
    clock = time.perf_counter_ns
    for number in range(warmup + rounds):
        rng.shuffle(order)
        for contender in order:
            started = clock()
            contender.run(number)
            elapsed = clock() - started
            if number >= warmup:
                contender.samples.append(elapsed)


def bootstrap_ratio(
    mine: list[float], base: list[float], *, resamples: int, seed: int
) -> tuple[float, float]:
    """95% interval of median(mine) / median(base), resampling whole rounds (pairs)."""
    rng = random.Random(seed)
    positions = range(len(mine))
    ratios = []
    for _ in range(resamples):
        chosen = rng.choices(positions, k=len(mine))
        ratios.append(
            statistics.median([mine[i] for i in chosen])
            / statistics.median([base[i] for i in chosen])
        )
    return percentile(ratios, 0.025), percentile(ratios, 0.975)


def summarise(contenders: list[Contender], *, resamples: int = 1000) -> list[dict[str, Any]]:
    baselines = {c.group: c for c in contenders if c.baseline}
    rows = []
    for contender in contenders:
        micros = [ns / 1000 for ns in contender.samples]
        base = baselines[contender.group]
        base_micros = [ns / 1000 for ns in base.samples]
        paired = [mine / theirs for mine, theirs in zip(micros, base_micros, strict=True)]
        median = statistics.median(micros)
        p90 = percentile(micros, 0.9)
        low, high = (
            (1.0, 1.0)
            if contender is base
            else bootstrap_ratio(micros, base_micros, resamples=resamples, seed=SEED)
        )
        rows.append(
            {
                "name": contender.name,
                "group": contender.group,
                "baseline": base.name,
                "samples": len(micros),
                "median_us": round(median, 1),
                "p90_us": round(p90, 1),
                "mean_us": round(statistics.fmean(micros), 1),
                "min_us": round(min(micros), 1),
                "ratio_median": round(median / statistics.median(base_micros), 4),
                "ratio_p90": round(p90 / percentile(base_micros, 0.9), 4),
                "paired_ratio_median": round(statistics.median(paired), 4),
                "ratio_median_ci95": [round(low, 4), round(high, 4)],
            }
        )
    return rows


def time_offline(
    items: "list[Item]", last_key: "Item", user_id: str, *, rounds: int, batch: int = 20
) -> dict[str, dict[str, float]]:
    """Pure-Python cost of turning one captured response into what each layer returns."""
    from boto3.dynamodb.types import TypeDeserializer

    from dynamo.cursors import encode_cursor
    from dynamo.scans import scan_from_item

    deserializer = TypeDeserializer()

    def parse() -> object:
        return [scan_from_item(item) for item in items]

    def cursor() -> object:
        return encode_cursor(user_id=user_id, scope="scans", last_key=last_key)

    def type_deserializer() -> object:
        return [{k: deserializer.deserialize(v) for k, v in item.items()} for item in items]

    tasks: dict[str, Callable[[], object]] = {
        "scan_from_item x20": parse,
        "encode_cursor": cursor,
        "TypeDeserializer x20": type_deserializer,
    }
    samples: dict[str, list[float]] = {name: [] for name in tasks}
    rng = random.Random(SEED)
    order = list(tasks)
    for number in range(rounds + 20):
        rng.shuffle(order)
        for name in order:
            task = tasks[name]
            started = time.perf_counter_ns()
            for _ in range(batch):
                task()
            if number >= 20:
                samples[name].append((time.perf_counter_ns() - started) / 1000 / batch)
    figures = {
        name: {"median_us": round(statistics.median(v), 2), "p90_us": round(percentile(v, 0.9), 2)}
        for name, v in samples.items()
    }
    layer = figures["scan_from_item x20"]["median_us"] + figures["encode_cursor"]["median_us"]
    figures["manager layer total"] = {"median_us": round(layer, 2)}
    return figures


def profile_layer(items: "list[Item]", last_key: "Item", user_id: str, calls: int = 3000) -> str:
    """cProfile of the manager's per-page Python work; the top entries as text."""
    from dynamo.cursors import encode_cursor
    from dynamo.scans import scan_from_item

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        [scan_from_item(item) for item in items]
        encode_cursor(user_id=user_id, scope="scans", last_key=last_key)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(15)
    return out.getvalue()


# --- environment and reporting ------------------------------------------------------------


def dynamodb_local_version() -> str | None:
    from django.core.exceptions import ImproperlyConfigured

    from dynamo.local import find_distribution

    try:
        readme = (find_distribution() / "README.txt").read_text(errors="replace")
    except (OSError, ImproperlyConfigured):
        return None
    found = re.search(r"^\s*(\d{4}-\d{2}-\d{2}) \(([\d.]+)\)", readme, re.MULTILINE)
    return f"{found.group(2)} ({found.group(1)})" if found else None


def cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def reference_cpu_ms(repeats: int = 10) -> float:
    """CPU milliseconds of a fixed piece of Python work (JSON, hashing, sorting), the
    best of ``repeats``: the host's pace. On shared cores the same code costs up to a
    third more CPU from one hour to the next, which moves every figure measured."""
    document = [{"id": n, "name": f"item-{n}", "scores": [n * 0.5, n / 3]} for n in range(2000)]
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        for _ in range(5):
            text = json.dumps(document)
            hashlib.sha256(text.encode()).hexdigest()
            sorted(json.loads(text), key=lambda item: item["name"])
        best = min(best, time.process_time() - started)
    return round(best * 1000, 1)


def load_average() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine_facts(rounds: int, warmup: int, load_before: list[float] | None) -> dict[str, Any]:
    import boto3
    import botocore
    import django

    from dynamo.local import java_major_version

    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor() or None,
        "cpu_model": cpu_model(),
        "nproc": len(affinity) if affinity is not None else os.cpu_count(),
        "cpu_count": os.cpu_count(),
        # 1, 5 and 15-minute load: other work on the machine makes the figures noisy.
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "django": django.get_version(),
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "java_major": java_major_version(),
        "dynamodb_local": dynamodb_local_version(),
        "rounds": rounds,
        "warmup_rounds": warmup,
        "seeded_scans": SEEDED_SCANS,
        "page_size": PAGE_SIZE,
        "shuffle_seed": SEED,
    }


def format_table(rows: list[dict[str, Any]]) -> str:
    header = f"{'contender':<40} {'median µs':>10} {'p90 µs':>10} {'x raw':>7} {'x raw p90':>9}"
    lines = [header, "-" * len(header)]
    group = None
    for row in rows:
        if group is not None and row["group"] != group:
            lines.append("")
        group = row["group"]
        lines.append(
            f"{row['name']:<40} {row['median_us']:>10.1f} {row['p90_us']:>10.1f} "
            f"{row['ratio_median']:>7.3f} {row['ratio_p90']:>9.3f}"
        )
    return "\n".join(lines)


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def markdown(result: dict[str, Any]) -> str:
    facts = result["machine"]
    verdict = result["target"]
    lines = [
        "# dynamo layer benchmark",
        "",
        f"Run {facts['date']} on {facts['cpu_model'] or facts['processor'] or 'unknown CPU'} "
        f"({facts['nproc']} CPUs), Python {facts['python']}, boto3 {facts['boto3']}, "
        f"DynamoDB Local {facts['dynamodb_local'] or 'unknown'} (Java {facts['java_major']}), "
        f"in memory on localhost. {facts['rounds']} interleaved rounds after "
        f"{facts['warmup_rounds']} warm-up rounds; {facts['seeded_scans']} scans in one "
        f"partition, half with a nested analysis; pages of {facts['page_size']}. "
        f"Load average before/after: {facts['load_average_before']} / "
        f"{facts['load_average_after']}.",
        "",
        f"**Target** (manager Query ≤ {TARGET_RATIO:.2f}x raw client, ratio of medians): "
        f"**{'MET' if verdict['met'] else 'MISSED'}** at {verdict['ratio']:.3f}x "
        f"(bootstrap 95% interval {verdict['ratio_ci95'][0]:.3f}-{verdict['ratio_ci95'][1]:.3f}x"
        f"{'' if verdict['conclusive'] else ', straddling the limit: inconclusive'}; "
        f"paired per-round ratio {verdict['paired_ratio']:.3f}x; "
        f"overhead {verdict['overhead_median_us']:+.0f} µs at the median). Over the "
        f"managers' own client's Query: {verdict['ratio_to_managers_client']:.3f}x.",
        "",
        "| contender | median µs | p90 µs | x raw (median) | x raw (p90) |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in result["figures"]:
        lines.append(
            f"| {row['name']} | {row['median_us']:.1f} | {row['p90_us']:.1f} "
            f"| {row['ratio_median']:.3f} | {row['ratio_p90']:.3f} |"
        )
    lines += [
        "",
        "Pure-Python cost per 20-item page, no I/O (median µs):",
        "",
    ]
    for name, figure in result["offline"].items():
        lines.append(f"- {name}: {figure['median_us']:.1f}")
    lines += [
        "",
        "Produced by `bench/dynamo_layer.py` (`make bench`); raw figures in `dynamo_layer.json`.",
        "",
    ]
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------


def start_fake_gemini(delay_seconds: float = 0.0) -> tuple["subprocess.Popen[str]", str]:
    """``tests/fake_gemini.py`` in a process of its own (its work is not the benchmark's),
    answering after ``delay_seconds``; the server and its base URL."""
    server = subprocess.Popen(  # noqa: S603 (our own test server)
        [sys.executable, "-m", "tests.fake_gemini", "--delay-seconds", str(delay_seconds)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    return server, server.stdout.readline().strip()


def configure(
    extra_environment: dict[str, str] | None = None, *, fully_compiled: bool = False
) -> "DynamoDBLocal":
    """Environment (BENCH_ENVIRONMENT, then ``extra_environment``), Django, a private
    DynamoDB Local and the tables; returns the server."""
    os.environ.update({**BENCH_ENVIRONMENT, **(extra_environment or {})})
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from dynamo.client import reset_client
    from dynamo.local import DynamoDBLocal, free_port

    local = DynamoDBLocal(port=free_port(), fully_compiled=fully_compiled).start()
    try:
        os.environ["AWS_DYNAMODB_ENDPOINT"] = local.endpoint
        settings.AWS_DYNAMODB_ENDPOINT = local.endpoint
        reset_client()
        call_command("create_tables", verbosity=0, stdout=io.StringIO())
    except BaseException:
        local.stop()
        raise
    return local


def stock_client() -> Any:
    """A DynamoDB client as boto3 makes it (botocore parses every answer in full), with
    the managers' endpoint, credentials and botocore config."""
    import boto3

    from dynamo.client import client_arguments, client_config

    return boto3.session.Session().client("dynamodb", config=client_config(), **client_arguments())


def build_contenders(user_id: str, scan_ids: list[str]) -> list[Contender]:
    import boto3
    from boto3.dynamodb.conditions import Key
    from boto3.dynamodb.types import TypeDeserializer

    from dynamo.client import client_arguments, client_config, get_client
    from dynamo.scans import scans_table

    client = stock_client()
    shared_client = get_client()
    manager = scans_table()
    table_name = manager.name
    resource_table = (
        boto3.session.Session()
        .resource("dynamodb", config=client_config(), **client_arguments())
        .Table(table_name)
    )
    deserializer = TypeDeserializer()
    values = {":u": {"S": user_id}}

    def raw_query(_: int, on: Any = client) -> object:
        return on.query(
            TableName=table_name,
            KeyConditionExpression="user_id = :u",
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
            Limit=PAGE_SIZE,
        )["Items"]

    def shared_client_query(number: int) -> object:
        return raw_query(number, on=shared_client)

    def manager_query(_: int) -> object:
        return manager.query_page(user_id, limit=PAGE_SIZE)

    def resource_query(_: int) -> object:
        return resource_table.query(
            KeyConditionExpression=Key("user_id").eq(user_id),
            ScanIndexForward=False,
            Limit=PAGE_SIZE,
        )["Items"]

    def client_deserializer_query(number: int) -> object:
        items = raw_query(number)
        return [{k: deserializer.deserialize(v) for k, v in item.items()} for item in items]

    def raw_get(number: int, on: Any = client) -> object:
        scan_id = scan_ids[number % len(scan_ids)]
        return on.get_item(
            TableName=table_name,
            Key={"user_id": {"S": user_id}, "scan_id": {"S": scan_id}},
        )["Item"]

    def shared_client_get(number: int) -> object:
        return raw_get(number, on=shared_client)

    def manager_get(number: int) -> object:
        return manager.get(user_id, scan_ids[number % len(scan_ids)])

    return [
        Contender("Query: raw client", "query", raw_query, baseline=True),
        Contender("Query: the managers' client", "query", shared_client_query),
        Contender("Query: scans_table().query_page", "query", manager_query),
        Contender("Query: boto3 resource Table.query", "query", resource_query),
        Contender("Query: client + TypeDeserializer", "query", client_deserializer_query),
        Contender("GetItem: raw client", "get", raw_get, baseline=True),
        Contender("GetItem: the managers' client", "get", shared_client_get),
        Contender("GetItem: scans_table().get", "get", manager_get),
    ]


def benchmark(rounds: int, warmup: int, offline_rounds: int, force_profile: bool) -> None:
    from ulid import ULID

    from ai.analysis import now_iso
    from dynamo.client import get_client
    from dynamo.scans import scans_table
    from dynamo.users import User, users_table

    rng = random.Random(SEED)
    user_id = str(ULID())
    # Scans are stored only for an open account (the erasure guard), so there is one.
    stamp = now_iso()
    users_table().create(
        User(
            user_id=user_id,
            email=f"layer-{user_id.lower()}@example.com",
            full_name="Bench Person",
            password_hash="!",  # noqa: S106 (an unusable password: nobody signs in)
            created_at=stamp,
            updated_at=stamp,
        )
    )
    scans = make_scans(user_id, SEEDED_SCANS, rng)
    for scan in scans:
        scans_table().create(scan)
    scan_ids = [scan.scan_id for scan in scans]

    # Check the contenders agree before timing them.
    page = scans_table().query_page(user_id, limit=PAGE_SIZE)
    expected = sorted(scan_ids, reverse=True)[:PAGE_SIZE]
    assert [scan.scan_id for scan in page.items] == expected
    assert page.next_cursor is not None
    with_analysis = sum(scan.analysis is not None for scan in page.items)

    contenders = build_contenders(user_id, scan_ids)
    load_before = load_average()
    if load_before and load_before[0] > 0.5 * (os.cpu_count() or 1):
        print(
            f"Warning: load average {load_before[0]:.1f} on {os.cpu_count()} CPUs; other work "
            "is running, so the figures will be noisy.",
            flush=True,
        )
    print(
        f"Timing {len(contenders)} contenders: {warmup} warm-up + {rounds} rounds, "
        f"interleaved in shuffled order ({with_analysis}/{PAGE_SIZE} items on the page "
        "carry an analysis) ...",
        flush=True,
    )
    started = time.monotonic()
    run_rounds(contenders, rounds=rounds, warmup=warmup, seed=SEED)
    seconds = time.monotonic() - started
    rows = summarise(contenders)

    response = get_client().query(
        TableName=scans_table().name,
        KeyConditionExpression="user_id = :u",
        ExpressionAttributeValues={":u": {"S": user_id}},
        ScanIndexForward=False,
        Limit=PAGE_SIZE,
    )
    items, last_key = response["Items"], response["LastEvaluatedKey"]
    offline = time_offline(items, last_key, user_id, rounds=offline_rounds)

    manager_row = next(r for r in rows if r["name"] == "Query: scans_table().query_page")
    raw_row = next(r for r in rows if r["name"] == "Query: raw client")
    shared_row = next(r for r in rows if r["name"] == "Query: the managers' client")
    met = manager_row["ratio_median"] <= TARGET_RATIO
    low, high = manager_row["ratio_median_ci95"]
    verdict = {
        "limit": TARGET_RATIO,
        "ratio": manager_row["ratio_median"],
        "ratio_ci95": [low, high],
        # The interval straddles the limit: this run cannot tell, whatever the point says.
        "conclusive": not low <= TARGET_RATIO <= high,
        "paired_ratio": manager_row["paired_ratio_median"],
        "overhead_median_us": round(manager_row["median_us"] - raw_row["median_us"], 1),
        # What the manager adds to its own client's call (decoding, the cursor).
        "ratio_to_managers_client": manager_row["median_us"] / shared_row["median_us"],
        "met": met,
    }

    print()
    print(format_table(rows))
    print()
    print("Pure-Python work per 20-item page, no I/O (median µs):")
    for name, figure in offline.items():
        print(f"  {name:<24} {figure['median_us']:>8.1f}")
    print()
    print(
        f"Timed section: {seconds:.1f} s. Manager Query overhead over raw client: "
        f"{verdict['overhead_median_us']:+.1f} µs at the median "
        f"(paired per-round ratio {verdict['paired_ratio']:.3f}x)."
    )
    status = "HELD" if met else "MISSED"
    print(
        f"TARGET {status}: scans_table().query_page = {verdict['ratio']:.3f}x the raw client "
        f"Query (limit {TARGET_RATIO:.2f}x; 95% interval {low:.3f}-{high:.3f}x"
        f"{'' if verdict['conclusive'] else ', which straddles the limit: inconclusive'})."
    )

    profile = None
    if not met or force_profile:
        profile = profile_layer(items, last_key, user_id)
        print()
        print("cProfile of scan_from_item x20 + encode_cursor, 3000 pages (by tottime):")
        print(profile)

    result = {
        "benchmark": "dynamo_layer",
        "machine": machine_facts(rounds, warmup, load_before),
        "target": verdict,
        "figures": rows,
        "offline": offline,
        "timed_seconds": round(seconds, 1),
        "profile": profile,
    }
    write_atomically(JSON_RESULT, json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    write_atomically(MARKDOWN_RESULT, markdown(result))
    print(f"Wrote {JSON_RESULT.relative_to(ROOT)} and {MARKDOWN_RESULT.relative_to(ROOT)}.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=400, help="timed rounds (default 400)")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up rounds (default 100)")
    parser.add_argument(
        "--offline-rounds", type=int, default=200, help="rounds of the no-I/O timing"
    )
    parser.add_argument(
        "--profile", action="store_true", help="profile the layer even when the target holds"
    )
    args = parser.parse_args(argv)
    if args.rounds < 10 or args.warmup < 0 or args.offline_rounds < 10:
        parser.error("--rounds and --offline-rounds need at least 10; --warmup at least 0")

    started = time.monotonic()
    # Per-call overhead against a steadily fast DynamoDB Local (fully compiled), as in
    # bench/overhead.py: a slower server would make any layer look cheaper.
    local = configure(fully_compiled=True)
    try:
        benchmark(args.rounds, args.warmup, args.offline_rounds, args.profile)
    finally:
        local.stop()
    print(f"Done in {time.monotonic() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
