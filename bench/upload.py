"""Upload benchmark: one 12-megapixel phone photo through the whole upload path.

    .venv/bin/python bench/upload.py [--rounds 5]

Stages, timed separately for each round: decoding and validation with Pillow, the clean
re-encode (at most 4096 px, no metadata), the thumbnail, and the offline analysis; wall
time and the process's CPU time (on a shared machine the CPU time is the steadier
figure). Peak memory is the resident-set high-water mark of a fresh child process that
handles one photo, minus the same process's mark after its start-up (imports and the
face models loaded, as a worker has them), so it counts what one upload adds; the
start-up figure is reported beside it. Figures go to bench/results/upload.json and
upload.md.
"""

import argparse
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SAMPLE = ROOT / "tests" / "data" / "astronaut.jpg"
PHOTO_SIZE_PX = (4000, 3000)  # 12 megapixels, a common phone camera


def set_up_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dermalens_site.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()


def phone_photo() -> bytes:
    from PIL import Image

    picture = Image.open(SAMPLE).convert("RGB").resize(PHOTO_SIZE_PX, Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


def run_once(photo: bytes) -> dict[str, float]:
    from ai.offline import OfflineProvider
    from ai.providers import SkinProfile
    from scans import images

    timings: dict[str, float] = {}
    stored = b""

    def decode() -> None:
        nonlocal picture
        picture = images.decode(photo)

    def reencode() -> None:
        nonlocal stored
        stored = images.stored_jpeg(picture)

    picture = None
    stages = {
        "decode_validate": decode,
        "reencode": reencode,
        "thumbnail": lambda: images.thumbnail_jpeg(picture),
        "offline_analysis": lambda: OfflineProvider().analyze_skin(
            image_jpeg=stored, area="face", profile=SkinProfile()
        ),
    }
    for stage, run in stages.items():
        started, cpu = time.perf_counter(), time.process_time()
        run()
        timings[f"{stage}_s"] = time.perf_counter() - started
        timings[f"{stage}_cpu_s"] = time.process_time() - cpu
    timings["total_s"] = sum(timings[f"{stage}_s"] for stage in stages)
    timings["total_cpu_s"] = sum(timings[f"{stage}_cpu_s"] for stage in stages)
    return timings


def child_peak_memory() -> None:
    """Child mode: print how much one upload raised this process's peak RSS (MiB)."""
    set_up_django()
    from ai.offline import OfflineProvider  # noqa: F401 (imports counted in the baseline)
    from ai.offline.landmarks import load_models
    from scans import images  # noqa: F401

    load_models()

    photo = Path(sys.argv[2]).read_bytes()
    before = peak_rss_kib()
    run_once(photo)
    after = peak_rss_kib()
    print(json.dumps({"baseline_mib": before / 1024, "added_mib": (after - before) / 1024}))


def peak_rss_kib() -> int:
    # VmHWM belongs to this process image; getrusage's ru_maxrss would carry the
    # parent's peak across fork and exec on Linux.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    set_up_django()
    photo = phone_photo()
    run_once(photo)  # warm-up: cascades loaded, code paths compiled
    rounds = [run_once(photo) for _ in range(args.rounds)]
    medians = {stage: statistics.median(r[stage] for r in rounds) for stage in rounds[0]}

    photo_path = RESULTS / "upload-photo.tmp"
    RESULTS.mkdir(parents=True, exist_ok=True)
    photo_path.write_bytes(photo)
    try:
        child = subprocess.run(  # noqa: S603 (this script, by path)
            [sys.executable, __file__, "--child", str(photo_path)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
    finally:
        photo_path.unlink()
    memory = json.loads(child.stdout.strip().splitlines()[-1])

    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "photo": {"pixels": PHOTO_SIZE_PX, "jpeg_bytes": len(photo)},
        "rounds": args.rounds,
        "median_seconds": {k: round(v, 4) for k, v in medians.items()},
        "peak_memory_added_mib": round(memory["added_mib"], 1),
        "process_baseline_mib": round(memory["baseline_mib"], 1),
    }
    (RESULTS / "upload.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Upload benchmark",
        "",
        f"One {PHOTO_SIZE_PX[0]} x {PHOTO_SIZE_PX[1]} JPEG ({len(photo) / 1e6:.1f} MB), "
        f"median of {args.rounds} rounds, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {result['date']}.",
        "",
        "| stage | median wall | median CPU |",
        "|---|---|---|",
        *(
            f"| {stage.removesuffix('_s')} | {seconds * 1000:.0f} ms | "
            f"{medians[stage.removesuffix('_s') + '_cpu_s'] * 1000:.0f} ms |"
            for stage, seconds in medians.items()
            if not stage.endswith("_cpu_s")
        ),
        "",
        f"Peak memory added by one upload: {memory['added_mib']:.0f} MiB "
        f"(worker after start-up, imports and face models loaded: "
        f"{memory['baseline_mib']:.0f} MiB).",
        "",
    ]
    (RESULTS / "upload.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child_peak_memory()
    else:
        main()
