"""Upload benchmark: one 12-megapixel phone photo through the whole upload path.

    .venv/bin/python bench/upload.py [--rounds 5]

Stages, timed separately for each round: decoding and validation with Pillow, the clean
re-encode (at most 4096 px, no metadata), the thumbnail, and the offline analysis. Peak
memory is the resident-set high-water mark of a fresh child process that handles one
photo, minus the same process's mark after its imports, so it counts what one upload
adds. Figures go to bench/results/upload.json and upload.md.
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
    started = time.perf_counter()
    picture = images.decode(photo)
    timings["decode_validate_s"] = time.perf_counter() - started
    started = time.perf_counter()
    stored = images.encode_jpeg(picture, quality=90)
    timings["reencode_s"] = time.perf_counter() - started
    started = time.perf_counter()
    images.encode_jpeg(images.thumbnail_of(picture), quality=80)
    timings["thumbnail_s"] = time.perf_counter() - started
    started = time.perf_counter()
    OfflineProvider().analyze_skin(image_jpeg=stored, area="face", profile=SkinProfile())
    timings["offline_analysis_s"] = time.perf_counter() - started
    timings["total_s"] = sum(timings.values())
    return timings


def child_peak_memory() -> None:
    """Child mode: print how much one upload raised this process's peak RSS (MiB)."""
    set_up_django()
    from ai.offline import OfflineProvider  # noqa: F401 (imports counted in the baseline)
    from scans import images  # noqa: F401

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
        "| stage | median |",
        "|---|---|",
        *(
            f"| {stage.removesuffix('_s')} | {seconds * 1000:.0f} ms |"
            for stage, seconds in medians.items()
        ),
        "",
        f"Peak memory added by one upload: {memory['added_mib']:.0f} MiB "
        f"(process after imports: {memory['baseline_mib']:.0f} MiB).",
        "",
    ]
    (RESULTS / "upload.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child_peak_memory()
    else:
        main()
