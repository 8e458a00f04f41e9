"""``SkinAnalysis``: what every provider returns for a skin photo, and its validation.

    analysis = SkinAnalysis.from_dict(answer, provider="gemini", model="gemini-2.5-flash")
    stored = analysis.to_dict()

Scores are 0-100 and one direction only: **higher is healthier** (as in the commercial
skin-analysis APIs), so an acne score of 90 means little acne. A provider that cannot
judge a metric reports ``score: None`` rather than a made-up number. ``confidence``
(0-1) lets a client tell "low confidence" from "failed". No analysis is a diagnosis.
"""

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

METRICS = (
    "acne",
    "redness",
    "oiliness",
    "hydration",
    "pigmentation",
    "wrinkles",
    "pores",
    "texture",
    "radiance",
    "firmness",
    "dark_circles",
    "eye_bags",
)
REGIONS = (
    "forehead",
    "nose",
    "left_cheek",
    "right_cheek",
    "chin",
    # Placed by face landmarks: the offline analyser scores them when it finds the face.
    "left_under_eye",
    "right_under_eye",
    "left_crows_feet",
    "right_crows_feet",
    "left_nasolabial",
    "right_nasolabial",
)
SKIN_TYPES = ("normal", "dry", "oily", "combination", "sensitive")
SEVERITIES = ("mild", "moderate", "severe")
QUALITY_REASONS = (
    "too_dark",
    "too_bright",
    "blurry",
    "too_small",
    "too_little_skin",
    "no_face",
    "face_turned",
    "eyes_hidden",
)
# (lower bound, band): a score above the bound gets the band; 30 or less is "bad".
BANDS = ((90, "excellent"), (80, "great"), (70, "good"), (50, "average"), (30, "poor"))
SUMMARY_MAX_LENGTH = 600
LIST_MAX_ITEMS = 12
TEXT_MAX_LENGTH = 200


class InvalidAnalysis(ValueError):
    """A provider's answer does not fit the contract (types, ranges, choices)."""


def band_for(score: float | None) -> str | None:
    if score is None:
        return None
    for bound, name in BANDS:
        if score > bound:
            return name
    return "bad"


@dataclass(frozen=True)
class MetricScore:
    score: float | None
    confidence: float
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
    ) -> "SkinAnalysis":
        """Validate an untrusted answer (a model's, or a stored one) into an analysis.

        Raises ``InvalidAnalysis`` naming the first thing that is wrong.
        """
        if not isinstance(data, dict):
            raise InvalidAnalysis("the analysis is not an object")
        metrics_in = _mapping(data.get("metrics"), "metrics")
        metrics = {}
        for name in METRICS:
            entry = metrics_in.get(name)
            if entry is None:
                metrics[name] = MetricScore(score=None, confidence=0.0)
                continue
            entry = _mapping(entry, f"metrics.{name}")
            metrics[name] = MetricScore(
                score=_score(entry.get("score"), f"metrics.{name}.score"),
                confidence=_unit(entry.get("confidence", 0.0), f"metrics.{name}.confidence"),
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
            heuristic=heuristic if heuristic is not None else bool(data.get("heuristic", False)),
            analyzed_at=data.get("analyzed_at") or now_iso(),
        )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _mapping(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidAnalysis(f"{where} must be an object")
    return value


def _list(value: Any, where: str) -> list:
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


def _choice(value: Any, choices: tuple[str, ...], where: str, *, optional: bool = False):
    if value is None and optional:
        return None
    if value not in choices:
        raise InvalidAnalysis(f"{where} must be one of {', '.join(choices)}")
    return value


def _known_metric(metric: str, where: str) -> bool:
    if metric not in METRICS:
        raise InvalidAnalysis(f"{where}: unknown metric {metric!r}")
    return True
