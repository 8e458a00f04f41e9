"""CPU of one Gemini call in our process: building the request, and reading the answer.

    .venv/bin/python bench/ai_calls.py [--calls 200] [--rounds 5]

``GeminiProvider`` calls the fake Gemini server (``python -m tests.fake_gemini``, in a
process of its own, so its work is not counted here) through the real google-genai
client, for the uses a burst is made of: a chat reply with ten earlier turns, a
session's first message, and a plan draft. Each round times ``--calls`` calls of each
use with google-genai as it ships and as the provider runs it (``in`` answered directly
on google-genai's models: ``ai.gemini_client.answer_name_lookups_directly``), in turn,
and reports the CPU time of this process (a plain one, not a gevent worker) per call
(median of the rounds), and how many (name, value) pairs of its models pydantic listed
per call. A photo analysis is left out: measuring the photo (bench/repeatability.py)
costs some 70 ms beside its call's few.
Figures go to bench/results/ai_calls.json and ai_calls.md.
"""

import argparse
import datetime as dt
import functools
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import dynamo_layer  # noqa: E402 (the benchmarks' environment, Gemini settings, host's pace)

RESULTS_DIR = ROOT / "bench" / "results"
WARM_UP_CALLS = 20
HISTORY_TURNS = 10


def uses() -> dict[str, Callable[[Any], object]]:
    from ai.chat import ChatContext, ChatTurn
    from ai.providers import SkinProfile
    from plans.rules import build_plan

    profile = SkinProfile(skin_type="combination", skin_concerns=("acne", "redness"))
    context = ChatContext(skin_type="combination", skin_concerns=("acne", "redness"))
    history = [
        ChatTurn(
            role="user" if number % 2 == 0 else "assistant",
            content=f"Turn {number}: is niacinamide fine with a retinol in the evening?",
        )
        for number in range(HISTORY_TURNS)
    ]
    base_plan = build_plan(analysis=None, profile=profile)
    return {
        f"chat reply, {HISTORY_TURNS} earlier turns": lambda provider: provider.reply(
            context=context, history=history, message="And sunscreen?"
        ),
        "chat reply, a session's first message": lambda provider: provider.reply(
            context=context, history=[], message="Is my skin dry?"
        ),
        "plan draft": lambda provider: provider.draft_plan(
            base_plan=base_plan, analysis=None, profile=profile
        ),
    }


@contextmanager
def as_shipped(shipped: bool) -> Iterator[None]:
    """google-genai's models without the provider's ``__contains__`` for the block."""
    from google.genai import _common as genai_common

    if not shipped:
        yield
        return
    added = genai_common.BaseModel.__dict__["__contains__"]
    del genai_common.BaseModel.__contains__
    try:
        yield
    finally:
        genai_common.BaseModel.__contains__ = added  # type: ignore[operator]


def pairs_listed(call: Callable[[], object]) -> int:
    """How many (name, value) pairs pydantic listed while ``call`` ran."""
    import pydantic

    iterate = pydantic.BaseModel.__iter__
    listed = 0

    def counted(model: pydantic.BaseModel) -> Any:
        nonlocal listed
        pairs = list(iterate(model))
        listed += len(pairs)
        return iter(pairs)

    pydantic.BaseModel.__iter__ = counted  # type: ignore[method-assign]
    try:
        call()
    finally:
        pydantic.BaseModel.__iter__ = iterate  # type: ignore[method-assign]
    return listed


def cpu_ms_per_call(call: Callable[[], object], calls: int) -> float:
    started = time.process_time()
    for _ in range(calls):
        call()
    return (time.process_time() - started) / calls * 1000


def measure(provider: Any, *, calls: int, rounds: int) -> list[dict[str, Any]]:
    rows = []
    for name, use in uses().items():
        call = functools.partial(use, provider)
        samples: dict[bool, list[float]] = {True: [], False: []}
        for shipped in (True, False):
            with as_shipped(shipped):
                for _ in range(WARM_UP_CALLS):
                    call()
        for _ in range(rounds):
            for shipped in (True, False):
                with as_shipped(shipped):
                    samples[shipped].append(cpu_ms_per_call(call, calls))
        with as_shipped(True):
            listed_shipped = pairs_listed(call)
        listed_now = pairs_listed(call)
        shipped_ms = statistics.median(samples[True])
        now_ms = statistics.median(samples[False])
        rows.append(
            {
                "use": name,
                "shipped_cpu_ms": round(shipped_ms, 2),
                "now_cpu_ms": round(now_ms, 2),
                "saved_cpu_ms": round(shipped_ms - now_ms, 2),
                "shipped_pairs_listed": listed_shipped,
                "now_pairs_listed": listed_now,
                "rounds_cpu_ms": {"shipped": samples[True], "now": samples[False]},
            }
        )
        print(
            f"{name}: {shipped_ms:.2f} ms as shipped, {now_ms:.2f} ms now "
            f"({listed_shipped} and {listed_now} pairs listed)",
            flush=True,
        )
    return rows


def markdown(report: dict[str, Any]) -> str:
    machine = report["machine"]
    lines = [
        "# CPU of a Gemini call in our process",
        "",
        f"Measured {machine['date']} on {machine['cpu']} ({machine['cpus']} CPUs), "
        f"Python {machine['python']}, google-genai {report['google_genai']}, against the "
        f"fake Gemini server in a process of its own; {report['calls']} calls of each use a "
        f"round, {report['rounds']} rounds, the two versions in turn; the host's pace "
        f"{report['pace_ms_before']} ms before, {report['pace_ms_after']} ms after.",
        "",
        "| use | CPU per call, google-genai as shipped | CPU per call, now | saved "
        "| model pairs listed per call, as shipped / now |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in report["uses"]:
        lines.append(
            f"| {row['use']} | {row['shipped_cpu_ms']:.2f} ms | {row['now_cpu_ms']:.2f} ms "
            f"| {row['saved_cpu_ms']:.2f} ms "
            f"| {row['shipped_pairs_listed']:,} / {row['now_pairs_listed']:,} |"
        )
    lines += [
        "",
        "CPU per call is this process's CPU time (building the request with google-genai, "
        "httpx sending it and reading the answer, google-genai's typed answer, the "
        "provider's checks), median of the rounds. As shipped, google-genai reads each "
        "field of a request with `name in model`, which pydantic answers by listing "
        "every (name, value) pair of the model; now google-genai's models answer it "
        "directly (`ai.gemini_client.answer_name_lookups_directly`), and the requests "
        "are the same (ai/tests/test_gemini_requests.py).",
        "",
    ]
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls of each use a round")
    parser.add_argument("--rounds", type=int, default=5)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    server, base_url = dynamo_layer.start_fake_gemini()
    try:
        os.environ.update(
            {
                **dynamo_layer.BENCH_ENVIRONMENT,
                **dynamo_layer.GEMINI_SETTINGS,
                "GEMINI_BASE_URL": base_url,
                "LOG_LEVEL": "ERROR",
            }
        )
        import django

        django.setup()
        from google import genai

        from ai.gemini import GeminiProvider

        pace_before = dynamo_layer.reference_cpu_ms()
        rows = measure(GeminiProvider(), calls=args.calls, rounds=args.rounds)
        pace_after = dynamo_layer.reference_cpu_ms()
    finally:
        server.terminate()
        server.wait()
    report = {
        "benchmark": "CPU of a Gemini call in our process",
        "machine": {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "cpu": dynamo_layer.cpu_model() or platform.processor(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "google_genai": genai.__version__,
        "calls": args.calls,
        "rounds": args.rounds,
        "pace_ms_before": round(pace_before, 1),
        "pace_ms_after": round(pace_after, 1),
        "uses": rows,
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "ai_calls.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS_DIR / "ai_calls.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
