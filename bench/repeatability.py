"""How much the offline analyser's scores move between near-identical photos of one face.

    .venv/bin/python bench/repeatability.py

Target: across ten variants of the same photo, each metric's standard deviation is at
most 3 points on the 0-100 scale.

Method
------
* The public-domain astronaut portrait (``tests/data/astronaut.jpg``, 512 px) is
  upscaled to 1024 px (Lanczos) and re-encoded at JPEG quality 90: the base photo.
* Ten variants of it, each re-encoded as JPEG: the base itself, brightness +10 % and
  -10 %, rotation +5 and -5 degrees, JPEG quality 70 and 95, a centred 5 % crop, a 10 %
  crop anchored top-left, and a mix (7 % crop, 2 degrees, +5 % brightness, quality 80).
  Crops are not resized back, so the face's size in pixels stays the same while the
  frame shrinks; rotation replicates the border so no black corners are added.
* Each variant is analysed once by ``OfflineProvider`` (area "face"); the analyser is
  deterministic, so repeating a variant would add nothing. For each metric the report
  gives the mean, the sample standard deviation, the range, and how many variants
  scored it (unjudged metrics are None in every variant and have no figures).
* For the time budget, the base is also upscaled to 4000 x 3000 (12 megapixels,
  JPEG quality 90) and analysed five times after one warm-up; the median is reported.

Figures go to ``bench/results/repeatability.json`` (with the machine's facts) and a
short summary to ``bench/results/repeatability.md``. The exit code is 0 whether or not
the target holds; the verdict is printed.
"""

import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "bench" / "results"
JSON_RESULT = RESULTS_DIR / "repeatability.json"
MARKDOWN_RESULT = RESULTS_DIR / "repeatability.md"
SOURCE_PHOTO = ROOT / "tests" / "data" / "astronaut.jpg"

TARGET_STD_POINTS = 3.0
BASE_LONG_SIDE_PX = 1024
BASE_JPEG_QUALITY = 90
LARGE_PHOTO_SIZE_PX = (4000, 3000)
LARGE_PHOTO_RUNS = 5

# Fixed before Django reads the environment, so neither the shell nor .env changes
# what is measured. The offline analyser reads no setting; this only makes the import
# of ``ai.providers`` behave as in the application.
BENCH_ENVIRONMENT = {
    "DJANGO_SETTINGS_MODULE": "dermalens_site.settings",
    "DEBUG": "true",
    "GEMINI_API_KEY": "",
    "LOG_LEVEL": "WARNING",
}

sys.path.insert(0, str(ROOT))
os.environ.update(BENCH_ENVIRONMENT)

import cv2  # noqa: E402
import django  # noqa: E402
import numpy as np  # noqa: E402

django.setup()

from ai.analysis import METRICS  # noqa: E402
from ai.offline import OfflineProvider  # noqa: E402
from ai.providers import SkinProfile  # noqa: E402


def encode(image: np.ndarray, quality: int = BASE_JPEG_QUALITY) -> bytes:
    ok, jpeg = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("OpenCV could not encode a JPEG")
    return jpeg.tobytes()


def brighten(image: np.ndarray, factor: float) -> np.ndarray:
    return np.clip(image.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(
        image, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )


def crop(image: np.ndarray, fraction: float, *, centred: bool) -> np.ndarray:
    """Keep (1 - fraction) of each side: centred, or anchored at the top-left corner."""
    height, width = image.shape[:2]
    keep_h, keep_w = round(height * (1 - fraction)), round(width * (1 - fraction))
    top, left = ((height - keep_h) // 2, (width - keep_w) // 2) if centred else (0, 0)
    return image[top : top + keep_h, left : left + keep_w]


def variants(base: np.ndarray) -> dict[str, bytes]:
    return {
        "base (q90)": encode(base),
        "brightness +10 %": encode(brighten(base, 1.10)),
        "brightness -10 %": encode(brighten(base, 0.90)),
        "rotation +5 deg": encode(rotate(base, 5)),
        "rotation -5 deg": encode(rotate(base, -5)),
        "JPEG quality 70": encode(base, 70),
        "JPEG quality 95": encode(base, 95),
        "crop 5 % centred": encode(crop(base, 0.05, centred=True)),
        "crop 10 % top-left": encode(crop(base, 0.10, centred=False)),
        "mix: crop 7 %, 2 deg, +5 %, q80": encode(
            brighten(rotate(crop(base, 0.07, centred=True), 2), 1.05), 80
        ),
    }


def analyse(jpeg: bytes) -> dict[str, Any]:
    analysis = OfflineProvider().analyze_skin(image_jpeg=jpeg, area="face", profile=SkinProfile())
    return analysis.to_dict()


def spread(values: list[float | None]) -> dict[str, Any]:
    scored = [value for value in values if value is not None]
    if not scored:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None}
    return {
        "n": len(scored),
        "mean": round(statistics.fmean(scored), 2),
        "std": round(statistics.stdev(scored), 2) if len(scored) > 1 else 0.0,
        "min": min(scored),
        "max": max(scored),
    }


def time_large_photo(base: np.ndarray) -> dict[str, Any]:
    large = cv2.resize(base, LARGE_PHOTO_SIZE_PX, interpolation=cv2.INTER_CUBIC)
    jpeg = encode(large)
    analyse(jpeg)  # warm-up: loads the cascades
    seconds = []
    for _ in range(LARGE_PHOTO_RUNS):
        started = time.perf_counter()
        analyse(jpeg)
        seconds.append(time.perf_counter() - started)
    return {
        "size_px": list(LARGE_PHOTO_SIZE_PX),
        "jpeg_bytes": len(jpeg),
        "runs": LARGE_PHOTO_RUNS,
        "median_seconds": round(statistics.median(seconds), 3),
        "max_seconds": round(max(seconds), 3),
    }


def machine_facts() -> dict[str, Any]:
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "nproc": len(affinity) if affinity is not None else os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "opencv_threads": cv2.getNumThreads(),
    }


def markdown(report: dict[str, Any]) -> str:
    facts, timing = report["machine"], report["large_photo"]
    lines = [
        "# Offline analyser repeatability",
        "",
        f"Run {facts['date']} on {facts['nproc']} CPUs ({facts['platform']}), "
        f"Python {facts['python']}, OpenCV {facts['opencv']}, NumPy {facts['numpy']}.",
        "",
        f"Ten variants of the astronaut portrait upscaled to {BASE_LONG_SIDE_PX} px "
        "(brightness ±10 %, rotation ±5°, JPEG quality 70/95, 5-10 % crops, one mix); "
        f"target: standard deviation ≤ {TARGET_STD_POINTS:g} points per metric.",
        "",
        f"**Verdict: {report['verdict']}**",
        "",
        "| metric | scored | mean | std dev | min | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, figures in report["metrics"].items():
        if figures["n"] == 0:
            lines.append(f"| {name} | 0/10 | not judged offline | | | |")
            continue
        lines.append(
            f"| {name} | {figures['n']}/10 | {figures['mean']:.1f} | {figures['std']:.2f} "
            f"| {figures['min']:.1f} | {figures['max']:.1f} |"
        )
    overall = report["overall_score"]
    lines += [
        f"| overall | {overall['n']}/10 | {overall['mean']:.1f} | {overall['std']:.2f} "
        f"| {overall['min']:.1f} | {overall['max']:.1f} |",
        "",
        f"Analysing a {timing['size_px'][0]} x {timing['size_px'][1]} JPEG (12 MP): median "
        f"{timing['median_seconds']:.2f} s over {timing['runs']} runs "
        f"(max {timing['max_seconds']:.2f} s).",
        "",
        "Produced by `bench/repeatability.py`; per-variant scores in `repeatability.json`.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    source = cv2.imread(str(SOURCE_PHOTO), cv2.IMREAD_COLOR)
    if source is None:
        raise SystemExit(f"cannot read {SOURCE_PHOTO}")
    factor = BASE_LONG_SIDE_PX / max(source.shape[:2])
    base = cv2.resize(source, None, fx=factor, fy=factor, interpolation=cv2.INTER_LANCZOS4)

    runs = {name: analyse(jpeg) for name, jpeg in variants(base).items()}
    metrics = {
        name: spread([run["metrics"][name]["score"] for run in runs.values()]) for name in METRICS
    }
    misses = [name for name, f in metrics.items() if f["n"] and f["std"] > TARGET_STD_POINTS]
    verdict = (
        f"MET: every judged metric within {TARGET_STD_POINTS:g} points"
        if not misses
        else f"MISSED for {', '.join(misses)}"
    )
    report = {
        "benchmark": "offline analyser repeatability",
        "machine": machine_facts(),
        "target_std_points": TARGET_STD_POINTS,
        "verdict": verdict,
        "metrics": metrics,
        "overall_score": spread([run["overall_score"] for run in runs.values()]),
        "variants": {
            name: {
                "overall_score": run["overall_score"],
                "scores": {m: run["metrics"][m]["score"] for m in METRICS},
                "image_quality": run["image_quality"],
                "regions_found": sorted(run["regions"]),
            }
            for name, run in runs.items()
        },
        "large_photo": time_large_photo(base),
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    JSON_RESULT.write_text(json.dumps(report, indent=2) + "\n")
    MARKDOWN_RESULT.write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
