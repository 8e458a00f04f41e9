"""Analysis evaluation: a labelled set from real photographs, rerun at will.

    .venv/bin/python bench/analysis_eval.py

The photographs ship inside scikit-image (``skimage.data``, installed for the tests):
the sample portrait, a real turned head (the cameraman) and photos of no face, each
non-face photo at JPEG quality 85, 90 and 95, also sent as close-ups of a cheek (with the
back of an eye, a stained tissue section, a workshop and a deep field of galaxies), whole
and in five cuts. Controlled edits of the portrait (painted
blemishes and dark spots, reddening, darkened under-eyes, drawn fine lines, added pore
texture) and ten variants of it (rotation, exposure, JPEG quality, crop) come from
``tests/photos.py``. Edits and variants use the portrait enlarged so the face is about
1,100 px wide, large enough for every measured metric.

It prints and writes (bench/results/analysis_eval.json and .md): faces found, missed and
false; for each edit whether its metric moved the right way and by more than the
metric's own variation; each metric's standard deviation over the ten variants; faces
behind a mask (painted in twelve colours, from over the nose or below it) not scored;
close-ups
of the enlarged portrait's cheek, edited the same way, and the non-face photos taken for
skin as close-ups; and the time per analysis.
"""

import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
NON_FACE_QUALITIES = (85, 90, 95)
# The portrait set in these photos (4000 x 3000), its face this share of the long side.
FAR_AWAY_SCENES = ("rocket", "coffee", "grass")
FAR_AWAY_FRACTIONS = (0.05, 0.065, 0.08, 0.1, 0.15, 0.3)
# Photos of no skin sent as close-ups of a cheek: the non-face photos and these.
NOT_SKIN_CLOSE_UPS = ("retina", "immunohistochemistry")
# ... and scenes: the workshop with a red motorcycle (both views of the stereo pair), the
# Hubble deep field. Each photo of no skin is also cut in five (its quarters and its
# middle, each a quarter of the photo), enlarged to 800 px and sent as a close-up, at
# JPEG quality 90: a close-up is a part of something.
NOT_SKIN_SCENES = ("workshop left", "workshop right", "hubble_deep_field")
CUT_QUALITY = 90
CLOSE_UP_AREA = "left_cheek"


def set_up_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dermalens_site.settings")
    os.environ.setdefault("DEBUG", "true")
    import django

    django.setup()


def analyse(photo: bytes, timings: list[tuple[float, float]], area: str = "face"):
    """The offline analysis; appends (wall seconds, CPU seconds) to ``timings``."""
    from ai.offline import OfflineProvider
    from ai.providers import SkinProfile

    started, cpu = time.perf_counter(), time.process_time()
    analysis = OfflineProvider().analyze_skin(image_jpeg=photo, area=area, profile=SkinProfile())
    timings.append((time.perf_counter() - started, time.process_time() - cpu))
    return analysis


# Where each cut lies: (top, left) as shares of the photo; each is half its height and
# half its width.
CUTS = {
    "top-left cut": (0.0, 0.0),
    "top-right cut": (0.0, 0.5),
    "bottom-left cut": (0.5, 0.0),
    "bottom-right cut": (0.5, 0.5),
    "middle cut": (0.25, 0.25),
}


def not_skin(name: str):
    from tests import photos

    if name.startswith("workshop "):
        return photos.workshop(name.removeprefix("workshop "))
    return photos.non_face(name)


def cuts(picture):
    import numpy as np

    from tests import photos

    height, width = picture.shape[:2]
    return {
        name: photos.long_side(
            np.ascontiguousarray(
                picture[
                    round(top * height) : round(top * height) + height // 2,
                    round(left * width) : round(left * width) + width // 2,
                ]
            ),
            800,
        )
        for name, (top, left) in CUTS.items()
    }


def variants(picture):
    from tests import photos

    return {
        "original": photos.encode(picture),
        "rotated +5": photos.encode(photos.rotated(picture, 5)),
        "rotated -5": photos.encode(photos.rotated(picture, -5)),
        "rotated +2": photos.encode(photos.rotated(picture, 2)),
        "brighter 10%": photos.encode(photos.exposed(picture, 1.1)),
        "darker 10%": photos.encode(photos.exposed(picture, 0.9)),
        "JPEG 85": photos.encode(picture, 85),
        "JPEG 95": photos.encode(picture, 95),
        "cropped 3%": photos.encode(photos.cropped(picture, 0.03)),
        "cropped 6%": photos.encode(photos.cropped(picture, 0.06)),
    }


def edits(picture):
    from tests import photos

    return {
        "red blemishes": ("acne", photos.with_dots(picture, (200, 60, 60))),
        "dark spots": ("pigmentation", photos.with_dots(picture, (110, 75, 55))),
        "reddened skin": ("redness", photos.redder(picture)),
        "darkened under-eyes": ("dark_circles", photos.with_dark_under_eyes(picture)),
        "drawn fine lines": ("wrinkles", photos.with_fine_lines(picture)),
        "added pore texture": ("pores", photos.with_pores(picture)),
    }


def close_up_edits(picture):
    """The edits a close-up of the cheek is measured through: each with the metric it
    should move (down), or ``one_hue`` for a photo whose colour is a filter's."""
    from tests import photos

    return {
        "red blemishes": ("acne", photos.with_dots(picture, (200, 80, 80))),
        "paler blemishes": ("acne", photos.with_dots(picture, (215, 120, 105))),
        "dark spots": ("pigmentation", photos.with_dots(picture, (110, 75, 55))),
        "reddened skin": ("redness", photos.redder(picture)),
        "darker skin (L* x0.6)": ("acne", photos.skin_toned(picture, 0.6)),
        "dimmed to 0.6": ("acne", photos.exposed(picture, 0.6)),
        "sepia": ("redness", photos.toned(picture, (1.07, 0.74, 0.43))),
    }


def main() -> None:
    set_up_django()
    from ai.analysis import METRICS
    from ai.offline.landmarks import load_models
    from tests import photos

    load_models()
    timings: dict[str, list[tuple[float, float]]] = {
        "small": [],
        "large": [],
        "non_face": [],
        "close_up": [],
    }

    # Faces found, missed and false.
    portrait_variants = variants(photos.astronaut())
    large = photos.large_portrait()
    large_variants = variants(large)
    found = {"portrait (512 px)": 0, "portrait (2400 px)": 0}
    small_results = {}
    for name, photo in portrait_variants.items():
        analysis = analyse(photo, timings["small"])
        small_results[name] = analysis
        found["portrait (512 px)"] += "no_face" not in analysis.image_quality.reasons
    large_results = {}
    for name, photo in large_variants.items():
        analysis = analyse(photo, timings["large"])
        large_results[name] = analysis
        found["portrait (2400 px)"] += "no_face" not in analysis.image_quality.reasons
    false_faces = []
    for name in photos.NON_FACE_NAMES:
        for quality in NON_FACE_QUALITIES:
            photo = photos.encode(photos.non_face(name), quality)
            analysis = analyse(photo, timings["non_face"])
            if "no_face" not in analysis.image_quality.reasons:
                false_faces.append(f"{name} q{quality}")
    cameraman = analyse(photos.encode(photos.non_face("camera")), [])
    # The portrait set in other photos, smaller in the frame (taken from further away).
    far_away = {}
    for scene in FAR_AWAY_SCENES:
        for fraction in FAR_AWAY_FRACTIONS:
            analysis = analyse(photos.encode(photos.in_a_scene(fraction, scene)), [])
            far_away[f"{scene} {fraction:.1%}"] = "no_face" not in analysis.image_quality.reasons

    # Faces behind a mask: not scored (face_covered, or no face found at all).
    masked_portraits = (
        ("astronaut, from the nose's tip", photos.astronaut(), None, 0.7),
        ("astronaut, from below the nose", photos.astronaut(), None, 0.75),
        ("Grace Hopper", photos.grace_hopper(), photos.GRACE_HOPPER_FACE, 0.58),
        ("large portrait", large, None, 0.7),
    )
    masks_scored, masks_face_covered, masks_no_face = [], 0, 0
    for portrait, picture, face, top in masked_portraits:
        for colour_name, colour in photos.MASK_COLOURS.items():
            masked = photos.with_a_mask(picture, colour, top=top, face=face)
            analysis = analyse(photos.encode(masked), [])
            reasons = analysis.image_quality.reasons
            masks_face_covered += "face_covered" in reasons
            masks_no_face += "no_face" in reasons
            if analysis.overall_score is not None:
                masks_scored.append(f"{portrait} {colour_name}")
    uncovered_flagged = [
        f"{size} {name}"
        for size, results in (("512 px", small_results), ("2400 px", large_results))
        for name, analysis in results.items()
        if "face_covered" in analysis.image_quality.reasons
    ]

    # Each metric's own variation over the ten variants of the large portrait.
    spread = {}
    for metric in METRICS:
        scores = [a.metrics[metric].score for a in large_results.values()]
        if all(score is not None for score in scores):
            spread[metric] = statistics.pstdev(scores)
    small_spread = {}
    for metric in METRICS:
        scores = [a.metrics[metric].score for a in small_results.values()]
        if all(score is not None for score in scores):
            small_spread[metric] = statistics.pstdev(scores)

    # Each edit against the unedited large portrait.
    base = large_results["original"]
    edit_rows = []
    for edit, (metric, picture) in edits(large).items():
        edited = analyse(photos.encode(picture), timings["large"])
        before, after = base.metrics[metric].score, edited.metrics[metric].score
        delta = None if before is None or after is None else after - before
        own = spread.get(metric)
        edit_rows.append(
            {
                "edit": edit,
                "metric": metric,
                "before": before,
                "after": after,
                "change": None if delta is None else round(delta, 1),
                "metric_std": None if own is None else round(own, 2),
                "right_way": delta is not None and delta < 0,
                "beyond_own_variation": delta is not None and own is not None and -delta > own,
            }
        )

    # Close-ups: the large portrait's cheek filling the frame, edited; photos of no skin.
    close_up_base = analyse(
        photos.encode(photos.cheek_close_up(large)), timings["close_up"], CLOSE_UP_AREA
    )
    close_up_rows = []
    for edit, (metric, picture) in close_up_edits(large).items():
        edited = analyse(photos.encode(photos.cheek_close_up(picture)), [], CLOSE_UP_AREA)
        before, after = close_up_base.metrics[metric].score, edited.metrics[metric].score
        close_up_rows.append(
            {
                "edit": edit,
                "metric": metric,
                "before": before,
                "after": after,
                "reasons": list(edited.image_quality.reasons),
            }
        )
    skin_taken = []
    not_skin_names = (*photos.NON_FACE_NAMES, *NOT_SKIN_CLOSE_UPS, *NOT_SKIN_SCENES)
    for name in not_skin_names:
        picture = not_skin(name)
        for quality in NON_FACE_QUALITIES:
            photo = photos.encode(picture, quality)
            analysis = analyse(photo, timings["close_up"], CLOSE_UP_AREA)
            if "too_little_skin" not in analysis.image_quality.reasons:
                skin_taken.append(f"{name} q{quality}")
        for cut_name, cut in cuts(picture).items():
            analysis = analyse(photos.encode(cut, CUT_QUALITY), timings["close_up"], CLOSE_UP_AREA)
            if "too_little_skin" not in analysis.image_quality.reasons:
                skin_taken.append(f"{name} {cut_name}")

    measured = [m for m in METRICS if base.metrics[m].score is not None]
    result = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "faces": {
            "portrait_variants_found": found,
            "portrait_variants_each": len(portrait_variants),
            "non_face_photos": len(photos.NON_FACE_NAMES) * len(NON_FACE_QUALITIES),
            "false_faces": false_faces,
            "cameraman_reasons": list(cameraman.image_quality.reasons),
            "far_away_found": far_away,
        },
        "masks": {
            "photos": len(masked_portraits) * len(photos.MASK_COLOURS),
            "face_covered": masks_face_covered,
            "no_face": masks_no_face,
            "scored": masks_scored,
            "uncovered_variants_flagged": uncovered_flagged,
        },
        "metrics_scored_on_large_face": measured,
        "edits": edit_rows,
        "close_ups": {
            "reasons": list(close_up_base.image_quality.reasons),
            "edits": close_up_rows,
            "not_skin_photos": len(not_skin_names) * (len(NON_FACE_QUALITIES) + len(CUTS)),
            "taken_for_skin": skin_taken,
        },
        "std_over_ten_variants_large": {k: round(v, 2) for k, v in spread.items()},
        "std_over_ten_variants_512": {k: round(v, 2) for k, v in small_spread.items()},
        "median_ms_per_analysis": {
            key: round(statistics.median(wall for wall, _ in values) * 1000, 1)
            for key, values in timings.items()
        },
        "median_cpu_ms_per_analysis": {
            key: round(statistics.median(cpu for _, cpu in values) * 1000, 1)
            for key, values in timings.items()
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "analysis_eval.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = render(result)
    (RESULTS / "analysis_eval.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def render(result: dict) -> list[str]:
    faces, masks = result["faces"], result["masks"]
    lines = [
        "# Analysis evaluation",
        "",
        f"{result['date']}, {result['machine']['cpus']} CPUs, Python "
        f"{result['machine']['python']}. Photos from scikit-image's sample data.",
        "",
        "| faces | result |",
        "|---|---|",
    ]
    for name, count in faces["portrait_variants_found"].items():
        lines.append(
            f"| {name}: found in variants | {count} of {faces['portrait_variants_each']} |"
        )
    lines += [
        f"| non-face photos scored as a face (false faces) | {len(faces['false_faces'])} of "
        f"{faces['non_face_photos']} {', '.join(faces['false_faces'])} |",
        f"| cameraman (a real, turned head) | {', '.join(faces['cameraman_reasons']) or 'ok'} |",
        f"| portrait set in another photo, face 5-30 % of the long side: found | "
        f"{sum(faces['far_away_found'].values())} of {len(faces['far_away_found'])}"
        f"{_missed(faces['far_away_found'])} |",
        f"| faces behind a mask (12 colours, 4 portraits): scored | {len(masks['scored'])} "
        f"of {masks['photos']} ({masks['face_covered']} face_covered, {masks['no_face']} no "
        f"face found){_listed(masks['scored'])} |",
        f"| portrait variants taken for covered | {len(masks['uncovered_variants_flagged'])} "
        f"of {2 * faces['portrait_variants_each']}{_listed(masks['uncovered_variants_flagged'])} |",
        "",
        f"Metrics scored on the large face: {len(result['metrics_scored_on_large_face'])} of 12 "
        f"({', '.join(result['metrics_scored_on_large_face'])}).",
        "",
        "| edit | metric | before | after | change | metric's std | right way | beyond std |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in result["edits"]:
        lines.append(
            f"| {row['edit']} | {row['metric']} | {row['before']} | {row['after']} | "
            f"{row['change']} | {row['metric_std']} | {'yes' if row['right_way'] else 'NO'} | "
            f"{'yes' if row['beyond_own_variation'] else 'NO'} |"
        )
    large, small = result["std_over_ten_variants_large"], result["std_over_ten_variants_512"]
    lines += [
        "",
        "Standard deviation of each score over ten variants of one photo (rotation ±5° and "
        "+2°, exposure ±10 %, JPEG 85 and 95, crops of 3 and 6 %):",
        "",
        "| metric | face 1,100 px | face 92 px |",
        "|---|---|---|",
    ]
    for metric in sorted(set(large) | set(small)):
        lines.append(f"| {metric} | {large.get(metric, '-')} | {small.get(metric, '-')} |")
    close_ups = result["close_ups"]
    lines += [
        "",
        "Close-ups of the large portrait's cheek filling the frame (area `left_cheek`; "
        f"reasons as taken: {', '.join(close_ups['reasons']) or 'none'}), edited:",
        "",
        "| edit | metric | clean | edited | photo's reasons |",
        "|---|---|---|---|---|",
    ]
    for row in close_ups["edits"]:
        lines.append(
            f"| {row['edit']} | {row['metric']} | {row['before']} | {row['after']} | "
            f"{', '.join(row['reasons']) or '-'} |"
        )
    lines += [
        "",
        f"Photos of no skin taken for skin as close-ups: {len(close_ups['taken_for_skin'])} of "
        f"{close_ups['not_skin_photos']} {', '.join(close_ups['taken_for_skin'])}",
    ]
    wall, cpu = result["median_ms_per_analysis"], result["median_cpu_ms_per_analysis"]
    lines += [
        "",
        "| median per analysis | wall | CPU |",
        "|---|---|---|",
        f"| 512 px portrait (face 92 px) | {wall['small']} ms | {cpu['small']} ms |",
        f"| 2400 px portrait (face 1,100 px: lines and pores too) | {wall['large']} ms | "
        f"{cpu['large']} ms |",
        f"| photos of no face | {wall['non_face']} ms | {cpu['non_face']} ms |",
        f"| close-ups (a cheek; photos of no skin) | {wall['close_up']} ms | "
        f"{cpu['close_up']} ms |",
    ]
    return lines


def _missed(found: dict[str, bool]) -> str:
    missed = [name for name, seen in found.items() if not seen]
    return f" (missed: {', '.join(missed)})" if missed else ""


def _listed(names: list[str]) -> str:
    return f": {', '.join(names)}" if names else ""


if __name__ == "__main__":
    main()
