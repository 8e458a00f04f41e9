"""Request and response shapes of the scan endpoints, ``SkinAnalysis`` among them."""

from typing import Any

from django.conf import settings
from rest_framework import serializers

from ai.analysis import QUALITY_REASONS, readable
from ai.offline import OVERLAY_METRICS
from ai.providers import FAILURE_REASONS
from dermalens_site.serializers import (
    PageQuerySerializer,
    QueryIntegerField,
    StrictSerializer,
    page_serializer,
)
from dynamo.scans import Scan
from scans import storage
from scans.selectors import INCOMPARABLE_REASONS
from scans.services import AREAS, QUOTA_REASON, SCAN_STATUSES
from skincare.concerns import SEVERITIES
from skincare.metrics import BAND_NAMES, METRICS, REGIONS, SKIN_TYPES, SOURCES


class ScanUploadSerializer(StrictSerializer):
    image = serializers.FileField(
        help_text="JPEG, PNG, WebP or HEIC; at most 10 MB and 40 megapixels, "
        "at least 480 px on the short side.",
        # An empty file is the image checks' own 400 ``empty_image``, as documented.
        allow_empty_file=True,
    )
    area = serializers.ChoiceField(AREAS, default="face")
    notes = serializers.CharField(
        required=False, allow_blank=True, max_length=settings.SCAN_NOTES_MAX_LENGTH
    )


def validate_date_range(attrs):
    """``from`` may not come after ``to`` (DynamoDB refuses such a BETWEEN)."""
    if attrs.get("from") and attrs.get("to") and attrs["from"] > attrs["to"]:
        raise serializers.ValidationError({"to": ["Must not be before 'from'."]})
    return attrs


class ScanListQuerySerializer(PageQuerySerializer):
    locals()["from"] = serializers.DateField(required=False, help_text="First day (UTC).")
    locals()["to"] = serializers.DateField(required=False, help_text="Last day (UTC).")

    def validate(self, attrs):
        return validate_date_range(attrs)


class ProgressQuerySerializer(PageQuerySerializer):
    limit = QueryIntegerField(
        min_value=1,
        max_value=settings.PROGRESS_PAGE_SIZE_MAX,
        default=settings.PROGRESS_PAGE_SIZE_DEFAULT,
        help_text="Completed scans on the page (the newest, or those before `cursor`).",
    )
    area = serializers.ChoiceField(AREAS, required=False)
    metric = serializers.ChoiceField(
        METRICS,
        required=False,
        help_text="Only this metric's series: a year of daily scans is 13 series of 365 points.",
    )
    locals()["from"] = serializers.DateField(required=False)
    locals()["to"] = serializers.DateField(required=False)

    def validate(self, attrs):
        return validate_date_range(attrs)


class CompareQuerySerializer(StrictSerializer):
    locals()["with"] = serializers.RegexField(r"^[0-9A-HJKMNP-TV-Z]{26}$")


class OverlayQuerySerializer(StrictSerializer):
    metric = serializers.ChoiceField(OVERLAY_METRICS)


class MetricScoreSerializer(serializers.Serializer):
    score = serializers.FloatField(
        allow_null=True,
        min_value=0,
        max_value=100,
        help_text="0-100, higher is healthier; null when the provider cannot judge it.",
    )
    band = serializers.ChoiceField(BAND_NAMES, allow_null=True)
    confidence = serializers.FloatField(min_value=0, max_value=1)
    # A declared field named like Field.source: the serializer metaclass moves it
    # into _declared_fields, which the stubs cannot see.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        SOURCES,
        help_text="Where the score came from: 'measured' from the photo's pixels by DermaLens' "
        "own pipeline (the same photo always gives the same score, whichever AI provider is "
        "configured), or judged by a 'model' (Gemini), which may vary between photos.",
    )


class ConcernSerializer(serializers.Serializer):
    name = serializers.CharField()
    severity = serializers.ChoiceField(SEVERITIES)
    region = serializers.ChoiceField(REGIONS, allow_null=True)


class ImageQualitySerializer(serializers.Serializer):
    acceptable = serializers.BooleanField()
    reasons = serializers.ListField(
        child=serializers.ChoiceField(QUALITY_REASONS),
        help_text=(
            "Why the photo is not ideal: too_dark, too_bright (washed out, or more than "
            "half of the face's skin clipped white: its colour is lost), blurry, noisy (grain of a "
            "dim room, or a screen's pixel grid photographed), compressed (JPEG's 8x8 "
            "blocks show: a heavily compressed or forwarded photo), too_small (under "
            "480 px on its short side); too_little_skin (too little skin to judge, or a "
            "close-up that does not show skin: fur, stone, a wall); no_face (a face scan "
            "in which no face was found: nothing is scored); face_turned (the head is "
            "turned or tilted past 20-25 degrees: scores are given with less confidence, "
            "lines and pores not at all); face_cropped (part of the face is outside the "
            "photo: the regions it cuts are not scored, and nothing is when over a tenth "
            "of the face is missing); eyes_hidden (closed or covered: dark circles and "
            "eye bags are not scored); face_covered (a mask, a scarf or a hand over the "
            "mouth and the skin around it: nothing is scored); not_a_photo (a drawn "
            "face, flat paint: nothing is scored); one_hue (the face, or a close-up, is "
            "all in one hue: a black-and-white, sepia or toned filter, or something that "
            "is not skin, such as a statue: nothing is scored; retake it in daylight, "
            "without a filter); colour_cast (the whites "
            "of the eyes show a warm, cool, green or magenta light; redness, oiliness, "
            "pigmentation, acne, dark circles, "
            "eye bags and radiance are not scored); uneven_light (the light changes "
            "from the eyes down: a cap's brim, a lamp above or below; dark circles, eye "
            "bags and redness are not scored); several_faces (more than one "
            "face, the others at least a third of the analysed one's width: the face the "
            "detector is surest of is scored, and the photo is left out of progress and "
            "comparisons, since it may not be the user's)."
        ),
    )


class SkinAnalysisSerializer(serializers.Serializer):
    overall_score = serializers.FloatField(
        allow_null=True,
        help_text="0-100, higher is healthier: the mean of the measured metric scores (a "
        "model's overall judgement only when no metric was measured).",
    )
    skin_type = serializers.ChoiceField(SKIN_TYPES, allow_null=True)
    metrics = serializers.DictField(
        child=MetricScoreSerializer(),
        help_text=(
            f"One entry per metric: {', '.join(METRICS)}. The offline analyser measures "
            "wrinkles (line density and depth in the forehead, crow's-feet, under-eye and "
            "nasolabial regions) and pores (pits on the nose and cheeks) only when the face "
            "is at least 1,000 px wide, eye_bags from the shading under the lower lids, "
            "radiance from the skin's evenness and shine (not how light it is); it leaves "
            "hydration and firmness null. The summary says why a metric is null."
        ),
    )
    regions = serializers.DictField(
        child=serializers.DictField(child=serializers.FloatField(allow_null=True)),
        help_text=(
            f"Per region ({', '.join(REGIONS)}), metric scores where judged. Offline, "
            "regions are polygons of 468 face landmarks without eyes, brows, lips, nostrils "
            "or hair; left and right are the person's own. The five main regions carry "
            "redness, oiliness, pigmentation, texture and acne (nose and cheeks also pores, "
            "forehead wrinkles); under-eyes dark_circles, eye_bags and wrinkles; crow's feet "
            "and nasolabial folds wrinkles."
        ),
    )
    concerns = ConcernSerializer(many=True)
    image_quality = ImageQualitySerializer()
    summary = serializers.CharField()
    red_flags = serializers.ListField(
        child=serializers.CharField(), help_text="Signs that call for a dermatologist."
    )
    provider = serializers.CharField()
    model = serializers.CharField()
    heuristic = serializers.BooleanField()
    analyzed_at = serializers.DateTimeField()
    measured_by = serializers.CharField(
        help_text="The version of the pipeline that measured the photo (its scores and "
        "quality checks; under Gemini too). Scores of two versions are not compared: "
        "progress and comparisons count only scans measured like the latest."
    )

    def to_representation(self, instance: dict[str, Any]) -> dict[str, Any]:
        return super().to_representation(readable(instance))


class ScanSerializer(serializers.Serializer):
    """A scan as the API shows it; the fields document it, ``to_representation`` builds it.

    Field by field, DRF spends about 0.4 ms on one scan (most of it in the nested
    analysis), 8 ms on a list page of 20: more than the DynamoDB Query behind it. Every
    value is already in its output form, so the representation is assembled directly:
    the analysis as ``SkinAnalysis.to_dict`` wrote it (validated before it was stored;
    ``readable`` adds the metric sources an older one lacks),
    timestamps as the ISO strings they are stored as. A test holds the two ways equal.
    """

    scan_id = serializers.CharField()
    status = serializers.ChoiceField(SCAN_STATUSES)
    failure_reason = serializers.ChoiceField(
        (*FAILURE_REASONS, QUOTA_REASON),
        allow_null=True,
        help_text="Why the scan is failed, or pending past the daily analysis quota.",
    )
    area = serializers.ChoiceField(AREAS)
    notes = serializers.CharField(allow_null=True)
    scanned_at = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    analysis = SkinAnalysisSerializer(allow_null=True)
    thumbnail_url = serializers.SerializerMethodField()
    version = serializers.IntegerField()

    def to_representation(self, instance: Scan) -> dict[str, Any]:
        return {
            "scan_id": instance.scan_id,
            "status": instance.status,
            "failure_reason": instance.failure_reason,
            "area": instance.area,
            "notes": instance.notes,
            "scanned_at": instance.scanned_at,
            "created_at": instance.created_at,
            "updated_at": instance.updated_at,
            "analysis": readable(instance.analysis),
            "thumbnail_url": self.get_thumbnail_url(instance),
            "version": instance.version,
        }

    def get_thumbnail_url(self, scan: Scan) -> str | None:
        return storage.image_url(scan.thumbnail_key) if scan.thumbnail_key else None


class ScanDetailSerializer(ScanSerializer):
    image_url = serializers.SerializerMethodField(
        help_text=f"Valid for {settings.IMAGE_URL_SECONDS // 60} minutes."
    )

    def to_representation(self, instance: Scan) -> dict[str, Any]:
        return {**super().to_representation(instance), "image_url": self.get_image_url(instance)}

    def get_image_url(self, scan: Scan) -> str:
        return storage.image_url(scan.image_key)


ScanPageSerializer = page_serializer(ScanSerializer, "ScanPage")


class ProgressPointSerializer(serializers.Serializer):
    scan_id = serializers.CharField()
    scanned_at = serializers.DateTimeField()
    score = serializers.FloatField()
    # A declared field named like Field.source: the serializer metaclass moves it
    # into _declared_fields, which the stubs cannot see.
    source = serializers.ChoiceField(  # type: ignore[assignment]
        SOURCES, help_text="'measured' from the photo's pixels or judged by a 'model'."
    )
    area = serializers.ChoiceField(AREAS)
    acceptable = serializers.BooleanField(
        help_text="The photo passed the quality checks (light, focus, the face in view). "
        "A point that did not is shown, but not counted in first, latest and change."
    )
    measured_by = serializers.CharField(
        help_text="The version of the pipeline that measured it (the analysis's). A point "
        "of another version than the latest acceptable one is shown, not counted."
    )


class MetricProgressSerializer(serializers.Serializer):
    metric = serializers.ChoiceField(METRICS)
    points = ProgressPointSerializer(many=True)
    first = serializers.FloatField(
        allow_null=True,
        help_text="The first acceptable point's score, of the area of the latest acceptable one.",
    )
    latest = serializers.FloatField(
        allow_null=True, help_text="The latest acceptable point's score."
    )
    change = serializers.FloatField(
        allow_null=True,
        help_text="latest - first; + is better. Null with fewer than two such points.",
    )
    area = serializers.ChoiceField(
        AREAS, allow_null=True, help_text="The area first, latest and change are measured on."
    )


class ProgressSerializer(serializers.Serializer):
    scans = serializers.IntegerField(help_text="Completed scans on this page.")
    metrics = MetricProgressSerializer(many=True)
    next_cursor = serializers.CharField(
        allow_null=True,
        help_text="Pass as ?cursor= (with the same from/to) for the scans before these; "
        "null at the first.",
    )


class MetricDeltaSerializer(serializers.Serializer):
    score = serializers.FloatField(allow_null=True)
    other_score = serializers.FloatField(allow_null=True)
    delta = serializers.FloatField(allow_null=True, help_text="score - other_score.")


class ComparisonSerializer(serializers.Serializer):
    scan = ScanSerializer()
    other = ScanSerializer()
    comparable = serializers.BooleanField(
        help_text="False when the deltas would mislead: then every delta is null."
    )
    incomparable_because = serializers.ListField(
        child=serializers.ChoiceField(INCOMPARABLE_REASONS),
        help_text="'different_areas': a close-up and a whole face, say; 'photo_quality': a "
        "photo that failed the quality checks (its analysis's image_quality); "
        "'measured_differently': scans measured by two versions of the pipeline "
        "(their analyses' measured_by).",
    )
    metrics = serializers.DictField(child=MetricDeltaSerializer())
