"""Code run in a process of its own, patched as a gevent web worker is."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PATCHED = "from gevent import monkey\n\nmonkey.patch_all()\n"


def run_patched(script: str, **environment: str) -> Any:
    """Run ``script`` after ``monkey.patch_all()`` with the suite's settings and
    ``environment`` added; what it printed last, read as JSON."""
    return run_patched_with_errors(script, **environment)[0]


def run_patched_with_gemini(script: str, answer: Any, **environment: str) -> Any:
    """``run_patched`` with the Gemini provider, against a fake Gemini server that
    gives every request ``answer`` (a ``tests.fake_gemini.FakeResponse``)."""
    from tests.fake_gemini import FakeGemini

    with FakeGemini(responder=lambda request: answer, keep_requests=False) as server:
        return run_patched(
            script,
            AI_PROVIDER="gemini",
            GEMINI_API_KEY="test-key",
            GEMINI_BASE_URL=server.base_url,
            **environment,
        )


def run_patched_with_errors(script: str, **environment: str) -> tuple[Any, str]:
    """``run_patched``, and what the process (and its children, until they closed it)
    wrote to standard error."""
    finished = subprocess.run(  # noqa: S603 (our own script)
        [sys.executable, "-c", PATCHED + script],
        cwd=ROOT,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    return json.loads(finished.stdout.strip().splitlines()[-1]), finished.stderr
