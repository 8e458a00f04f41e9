"""``SkinAnalysis``: what every provider returns for a skin photo, and its validation.

    judged = SkinAnalysis.from_dict(answer, provider="gemini", model=name, source="model")
    analysis = with_measurements(judged, measured=offline_analysis_of_the_same_photo)
    stored = analysis.to_dict()

Scores are 0-100 and one direction only: **higher is healthier** (as in the commercial
skin-analysis APIs), so an acne score of 90 means little acne. A provider that cannot
judge a metric reports ``score: None`` rather than a made-up number. ``confidence``
(0-1) lets a client tell "low confidence" from "failed". No analysis is a diagnosis.

Measured and judged are kept apart. Every metric says its ``source``: ``measured`` by the
offline pixel pipeline (the same photo always gives the same number) or judged by a
``model``. ``with_measurements`` puts a model's analysis together with the pipeline's
measures of the same photo: what the pipeline measured stays measured, the model adds
the rest. A face photo in which the pipeline found no face is ``not_scored`` at all.
"""

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from skincare.concerns import SEVERITIES
from skincare.metrics import MEASURED, METRICS, MODEL, REGIONS, SKIN_TYPES, SOURCES, band_for

QUALITY_REASONS = (
    "too_dark",
    "too_bright",
    "blurry",
    "noisy",
    "compressed",
    "too_small",
    "too_little_skin",
    "no_face",
    "face_turned",
    "face_cropped",
    "eyes_hidden",
    "face_covered",
    "not_a_photo",
    "one_hue",
    "colour_cast",
    "uneven_light",
    "several_faces",
)
# A photo whose light has a colour cast (a lamp, shade, a white balance off): the skin's
# colour in it is the light's as much as the person's, so no provider scores the metrics
# read from that colour (hue, saturation, a* and b*, or L*, which weighs the channels
# unequally). Texture, lines and pores are contrast relative to the local lightness,
# which a cast scales evenly: warm light (R, G, B gains 1.3, 0.9, 0.8) moved texture 2
# points on the sample portrait where it moved redness 79 and eye bags 9.
COLOUR_CAST = "colour_cast"
COLOUR_METRICS = (
    "redness",
    "oiliness",
    "pigmentation",
    "acne",
    "dark_circles",
    "eye_bags",
    "radiance",
)
# A face photo whose light changes from the eyes down (the shadow of a cap's brim, a lamp
# above or below the face): each under-eye is read against the cheek below it, and red
# excesses against the light around them, as if both were in the same light, so no
# provider scores these (a model, shown the same shadow, would read it as dark circles).
UNEVEN_LIGHT = "uneven_light"
UNEVEN_LIGHT_METRICS = ("dark_circles", "eye_bags", "redness")
SUMMARY_MAX_LENGTH = 600
# Analyses stored before the offline pipeline recorded its version were measured by it as
# it was then, under its first name.
LEGACY_MEASURED_BY = "dermalens-offline-heuristic-1"
LIST_MAX_ITEMS = 12
TEXT_MAX_LENGTH = 200
# Photos whose pixels carry more artefact than skin at the scale the measures read it:
# a sensor's grain or a screen's pixel grid (noisy), JPEG's blocks (compressed). Spots,
# texture and pores are then found in the artefacts: flagged, so progress leaves them out.
NOISY = "noisy"
COMPRESSED = "compressed"
# A face photo with this reason is not scored: whatever skin it shows, it is not a face.
NO_FACE = "no_face"
NO_FACE_SUMMARY = (
    "No face was found in this face photo, so nothing was scored. Retake it facing the "
    "camera with your whole face in view, in even daylight, or choose the area the photo "
    "shows. This is general skin-care guidance, not a diagnosis."
)
# A face photo with this reason and nothing measured had too little of the face in it.
FACE_CROPPED = "face_cropped"
# A face photo whose mouth and the skin around it are covered (a mask, a scarf, a hand):
# not scored, since what covers the lower face is not the person's skin.
FACE_COVERED = "face_covered"
# A face that is drawn (flat paint, as a drawing or a photo posterised to a couple of
# colours): not scored, since its "skin" is paint and drawn lines, not skin.
NOT_A_PHOTO = "not_a_photo"
# A face (or a close-up) all in one hue: a black-and-white, sepia or toned filter, or a
# thing that is not skin (a statue, a painted ball, a pumpkin's face). Its colour is the
# filter's or the thing's, and skin is told by its colour: not scored.
ONE_HUE = "one_hue"
# A face photo with more than one face of comparable size: the most certain face is
# analysed, but nothing says it is the user's, so the photo is not acceptable (progress
# and comparisons leave it out).
SEVERAL_FACES = "several_faces"


class InvalidAnalysis(ValueError):
    """A provider's answer does not fit the contract (types, ranges, choices)."""


@dataclass(frozen=True)
class MetricScore:
    score: float | None
    confidence: float
    source: str  # SOURCES: "measured" from the pixels, or judged by a "model"
    band: str | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "band", band_for(self.score))


@dataclass(frozen=True)
class Concern:
    name: str
    severity: str
    region: str | None = None


@dataclass(frozen=True)
class ImageQuality:
    acceptable: bool
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class SkinAnalysis:
    overall_score: float | None
    skin_type: str | None
    metrics: dict[str, MetricScore]
    regions: dict[str, dict[str, float | None]]
    concerns: tuple[Concern, ...]
    image_quality: ImageQuality
    summary: str
    red_flags: tuple[str, ...]
    provider: str
    model: str
    heuristic: bool
    analyzed_at: str
    # The version of the offline pipeline whose measures (scores, quality checks) the
    # analysis holds (``ai.offline.ENGINE``); scores of two versions are not compared.
    measured_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["concerns"] = [asdict(c) for c in self.concerns]
        data["red_flags"] = list(self.red_flags)
        data["image_quality"]["reasons"] = list(self.image_quality.reasons)
        return data

    @classmethod
    def from_dict(
        cls,
        data: Any,
        *,
        provider: str | None = None,
        model: str | None = None,
        heuristic: bool | None = None,
        source: str | None = None,
        measured_by: str | None = None,
    ) -> "SkinAnalysis":
        """Validate an untrusted answer (a model's, or a stored one) into an analysis.

        ``source``, when given, is every metric's source whatever the answer says (a
        model cannot call its own numbers measured); otherwise each metric keeps the one
        stored with it, or, stored before sources were, ``legacy_source``.
        ``measured_by``, when given, is the pipeline's version; otherwise a stored
        analysis keeps its own, and a model's answer (``source`` given) has none.
        Raises ``InvalidAnalysis`` naming the first thing that is wrong.
        """
        if not isinstance(data, dict):
            raise InvalidAnalysis("the analysis is not an object")
        heuristic = heuristic if heuristic is not None else bool(data.get("heuristic", False))
        if source is not None and source not in SOURCES:
            raise ValueError(f"source is one of {', '.join(SOURCES)}, not {source!r}")
        metrics_in = _mapping(data.get("metrics"), "metrics")
        metrics = {}
        for name in METRICS:
            entry = metrics_in.get(name)
            if entry is None:
                entry = {"score": None, "confidence": 0.0}
            entry = _mapping(entry, f"metrics.{name}")
            metrics[name] = MetricScore(
                score=_score(entry.get("score"), f"metrics.{name}.score"),
                confidence=_unit(entry.get("confidence", 0.0), f"metrics.{name}.confidence"),
                source=source
                or _choice(
                    entry.get("source", legacy_source(heuristic=heuristic)),
                    SOURCES,
                    f"metrics.{name}.source",
                ),
            )
        unknown = set(metrics_in) - set(METRICS)
        if unknown:
            raise InvalidAnalysis(f"unknown metrics: {', '.join(sorted(unknown))}")
        regions = {}
        for region, scores in _mapping(data.get("regions", {}), "regions").items():
            if region not in REGIONS:
                raise InvalidAnalysis(f"unknown region {region!r}")
            scores = _mapping(scores, f"regions.{region}")
            regions[region] = {
                metric: _score(value, f"regions.{region}.{metric}")
                for metric, value in scores.items()
                if _known_metric(metric, f"regions.{region}")
            }
        concerns = tuple(
            Concern(
                name=_text(c.get("name"), "concerns.name"),
                severity=_choice(c.get("severity"), SEVERITIES, "concerns.severity"),
                region=_choice(c.get("region"), REGIONS, "concerns.region", optional=True),
            )
            for c in (
                _mapping(c, "concerns[]") for c in _list(data.get("concerns", []), "concerns")
            )
        )
        quality_in = _mapping(data.get("image_quality", {"acceptable": True}), "image_quality")
        quality = ImageQuality(
            acceptable=_bool(quality_in.get("acceptable", True), "image_quality.acceptable"),
            reasons=tuple(
                _choice(r, QUALITY_REASONS, "image_quality.reasons")
                for r in _list(quality_in.get("reasons", []), "image_quality.reasons")
            ),
        )
        if measured_by is None and source is None and data.get("measured_by") is not None:
            # A stored analysis's own (a model's answer has no say in it).
            measured_by = _text(data["measured_by"], "measured_by")
        summary = data.get("summary", "")
        if not isinstance(summary, str) or len(summary) > SUMMARY_MAX_LENGTH:
            raise InvalidAnalysis("summary must be text of at most 600 characters")
        return cls(
            overall_score=_score(data.get("overall_score"), "overall_score"),
            skin_type=_choice(data.get("skin_type"), SKIN_TYPES, "skin_type", optional=True),
            metrics=metrics,
            regions=regions,
            concerns=concerns,
            image_quality=quality,
            summary=summary.strip(),
            red_flags=tuple(
                _text(flag, "red_flags") for flag in _list(data.get("red_flags", []), "red_flags")
            ),
            provider=provider or _text(data.get("provider"), "provider"),
            model=model or _text(data.get("model"), "model"),
            heuristic=heuristic,
            analyzed_at=data.get("analyzed_at") or now_iso(),
            measured_by=measured_by,
        )


def legacy_source(*, heuristic: bool) -> str:
    """The source of a metric stored before metrics said theirs.

    A heuristic analysis was the offline pipeline's own measure; any other was a model's.
    """
    return MEASURED if heuristic else MODEL


def measured_by(stored: Mapping[str, Any] | None) -> str | None:
    """The version of the offline pipeline that measured a stored analysis: as recorded,
    or, stored before versions were, ``LEGACY_MEASURED_BY``; None without an analysis."""
    if not stored:
        return None
    return stored.get("measured_by") or LEGACY_MEASURED_BY


def readable(stored: dict[str, Any] | None) -> dict[str, Any] | None:
    """A stored analysis as the API shows it: every metric with its ``source``, and the
    analysis with its ``measured_by``.

    Analyses stored before those were recorded get ``legacy_source`` and
    ``LEGACY_MEASURED_BY``; the stored item is left as it is. Others are returned
    untouched (no copy on the hot path).
    """
    if not stored:
        return stored
    metrics = stored.get("metrics") or {}
    if stored.get("measured_by") and all("source" in entry for entry in metrics.values()):
        return stored
    source = legacy_source(heuristic=bool(stored.get("heuristic", False)))
    return {
        **stored,
        "measured_by": measured_by(stored),
        "metrics": {
            name: entry if "source" in entry else {**entry, "source": source}
            for name, entry in metrics.items()
        },
    }


def measured_metrics(measured: SkinAnalysis) -> tuple[str, ...]:
    """The metrics the pipeline actually measured in this photo (a score, not ``None``).

    Read from the result, not from a list: what the pipeline can measure grows with it,
    and one photo may hide what another shows (no eyes found, no dark-circle measure).
    """
    return tuple(name for name in METRICS if measured.metrics[name].score is not None)


def withheld_for(reasons: Iterable[str]) -> tuple[str, ...]:
    """The metrics no provider scores in a photo with these quality ``reasons``: under a
    colour cast, those read from the skin's colour (a model, shown the same cast, would
    guess them); in light that changes from the eyes down, those read across that change."""
    reasons = set(reasons)
    withheld: tuple[str, ...] = COLOUR_METRICS if COLOUR_CAST in reasons else ()
    if UNEVEN_LIGHT in reasons:
        withheld += tuple(name for name in UNEVEN_LIGHT_METRICS if name not in withheld)
    return withheld


def withheld_metrics(measured: SkinAnalysis) -> tuple[str, ...]:
    """``withheld_for`` the photo's quality reasons."""
    return withheld_for(measured.image_quality.reasons)


def metrics_to_judge(measured: SkinAnalysis) -> list[str]:
    """The metrics a model is asked for: neither measured nor withheld in this photo."""
    kept = (*measured_metrics(measured), *withheld_metrics(measured))
    return [name for name in METRICS if name not in kept]


def found_no_face(measured: SkinAnalysis) -> bool:
    """Whether the pipeline looked for a face (a face photo) and found none."""
    return NO_FACE in measured.image_quality.reasons


def face_too_cut_to_score(measured: SkinAnalysis) -> bool:
    """Whether the face is so far outside the photo that the pipeline scored nothing: the
    model would score whatever part of a face is left as if it were the face."""
    return FACE_CROPPED in measured.image_quality.reasons and not measured_metrics(measured)


def face_covered(measured: SkinAnalysis) -> bool:
    """Whether the lower face is covered: the model would score the mask as skin."""
    return FACE_COVERED in measured.image_quality.reasons


def not_a_photo(measured: SkinAnalysis) -> bool:
    """Whether the face is drawn or cartoon-filtered: the model would score the paint."""
    return NOT_A_PHOTO in measured.image_quality.reasons


def in_one_hue(measured: SkinAnalysis) -> bool:
    """Whether the photo is in one hue: the model would score a filter's colour, or a
    statue's."""
    return ONE_HUE in measured.image_quality.reasons


def not_scored(
    measured: SkinAnalysis, *, provider: str, model: str, summary: str = NO_FACE_SUMMARY
) -> SkinAnalysis:
    """The analysis of a face photo without a (whole enough) face: its image quality, and
    no score."""
    return SkinAnalysis(
        overall_score=None,
        skin_type=None,
        metrics={
            name: MetricScore(score=None, confidence=0.0, source=MEASURED) for name in METRICS
        },
        regions={},
        concerns=(),
        image_quality=ImageQuality(acceptable=False, reasons=measured.image_quality.reasons),
        summary=summary,
        red_flags=(),
        provider=provider,
        model=model,
        heuristic=False,
        analyzed_at=now_iso(),
        measured_by=measured.measured_by,
    )


def with_measurements(judged: SkinAnalysis, *, measured: SkinAnalysis) -> SkinAnalysis:
    """A model's analysis of a photo with the pipeline's measures of it put first.

    Every metric the pipeline measured keeps the pipeline's score, confidence and region
    scores (``source: measured``), whatever the model said; the model's scores fill only
    the metrics the pipeline could not measure (``source: model``). The overall score is
    the mean of the measured scores, so it too is the same for the same photo (the
    model's only when nothing was measured). Metrics withheld for the photo
    (``withheld_metrics``) stay unscored whatever the model said. The image quality is
    the pipeline's; skin
    type (the model's, else the pipeline's), concerns, summary and red flags are the
    model's words.
    """
    by_pipeline = measured_metrics(measured)
    # The pipeline's answer for what it measured, and its None for what nobody may score.
    kept = (*by_pipeline, *withheld_metrics(measured))
    metrics = {
        name: measured.metrics[name] if name in kept else judged.metrics[name] for name in METRICS
    }
    regions: dict[str, dict[str, float | None]] = {}
    for region in REGIONS:
        scores = {
            metric: score
            for metric, score in judged.regions.get(region, {}).items()
            if metric not in kept
        }
        scores.update(
            (metric, score)
            for metric, score in measured.regions.get(region, {}).items()
            if metric in by_pipeline
        )
        if scores:
            regions[region] = scores
    # measured_metrics names only the metrics with a score, so none of these is None.
    measured_scores = [cast(float, measured.metrics[name].score) for name in by_pipeline]
    overall = (
        round(sum(measured_scores) / len(measured_scores), 1)
        if measured_scores
        else judged.overall_score
    )
    return SkinAnalysis(
        overall_score=overall,
        skin_type=judged.skin_type or measured.skin_type,
        metrics=metrics,
        regions=regions,
        concerns=judged.concerns,
        image_quality=measured.image_quality,
        summary=judged.summary,
        red_flags=judged.red_flags,
        provider=judged.provider,
        model=judged.model,
        heuristic=judged.heuristic,
        analyzed_at=judged.analyzed_at,
        measured_by=measured.measured_by,
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidAnalysis(f"{where} must be an object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or len(value) > LIST_MAX_ITEMS:
        raise InvalidAnalysis(f"{where} must be a list of at most {LIST_MAX_ITEMS} items")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidAnalysis(f"{where} must be a number")
    if value != value:  # NaN
        raise InvalidAnalysis(f"{where} must be a number")
    return float(value)


def _score(value: Any, where: str) -> float | None:
    if value is None:
        return None
    number = _number(value, where)
    if not 0 <= number <= 100:
        raise InvalidAnalysis(f"{where} must be between 0 and 100")
    return round(number, 1)


def _unit(value: Any, where: str) -> float:
    number = _number(value, where)
    if not 0 <= number <= 1:
        raise InvalidAnalysis(f"{where} must be between 0 and 1")
    return round(number, 2)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidAnalysis(f"{where} must be true or false")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > TEXT_MAX_LENGTH:
        raise InvalidAnalysis(f"{where} must be non-empty text of at most 200 characters")
    return value.strip()


def _choice(value: Any, choices: tuple[str, ...], where: str, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if value not in choices:
        raise InvalidAnalysis(f"{where} must be one of {', '.join(choices)}")
    return value


def _known_metric(metric: str, where: str) -> bool:
    if metric not in METRICS:
        raise InvalidAnalysis(f"{where}: unknown metric {metric!r}")
    return True
