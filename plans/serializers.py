"""Request and response shapes of the plan and check-in endpoints."""

from django.conf import settings
from rest_framework import serializers

from dermalens_site.serializers import (
    MAX_VERSION,
    PageQuerySerializer,
    StrictSerializer,
    page_serializer,
)
from plans.services import PLAN_STATUSES, SETTABLE_STATUSES
from scans.serializers import validate_date_range

ULID_REGEX = r"^[0-9A-HJKMNP-TV-Z]{26}$"


class PlanCreateSerializer(StrictSerializer):
    scan_id = serializers.RegexField(
        ULID_REGEX,
        required=False,
        help_text="The scan to build from; default: your latest analysed scan.",
    )


class PlanUpdateSerializer(StrictSerializer):
    status = serializers.ChoiceField(SETTABLE_STATUSES)
    version = serializers.IntegerField(
        min_value=1,
        max_value=MAX_VERSION,
        help_text="The plan's version as you read it; a stale one is a 409.",
    )


class StepSerializer(serializers.Serializer):
    order = serializers.IntegerField()
    category = serializers.CharField(help_text="cleanser, treatment, moisturiser, sunscreen, ...")
    name = serializers.CharField()
    actives = serializers.ListField(child=serializers.CharField())
    how = serializers.CharField(help_text="How to apply.")
    frequency = serializers.CharField(help_text="daily, every_other_day, 2_3_times_week, weekly")
    start_week = serializers.IntegerField(help_text="New actives come in one at a time.")


class GoalSerializer(serializers.Serializer):
    metric = serializers.CharField()
    baseline = serializers.FloatField(
        allow_null=True,
        help_text="The score it starts from: the plan's scan's (scan_id). Measure the way "
        "since with GET /scans/{id}/compare?with=<scan_id>, which says when the two were "
        "measured by different versions of the pipeline (measured_differently).",
    )


class AdherenceSerializer(serializers.Serializer):
    check_ins = serializers.IntegerField()
    routines_done = serializers.IntegerField()
    routines_planned = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True, help_text="Share of AM and PM routines done.")
    irritation_rising = serializers.BooleanField()
    latest_irritation = serializers.IntegerField(allow_null=True)


class PlanSerializer(serializers.Serializer):
    plan_id = serializers.CharField()
    status = serializers.ChoiceField(PLAN_STATUSES)
    title = serializers.CharField()
    scan_id = serializers.CharField(allow_null=True)
    duration_weeks = serializers.IntegerField(source="content.duration_weeks")
    goals = GoalSerializer(many=True, source="content.goals")
    am = StepSerializer(many=True, source="content.am")
    pm = StepSerializer(many=True, source="content.pm")
    cautions = serializers.ListField(child=serializers.CharField(), source="content.cautions")
    see_dermatologist = serializers.ListField(
        child=serializers.CharField(), source="content.see_dermatologist"
    )
    provider = serializers.CharField(source="content.provider")
    safety_corrections = serializers.ListField(
        child=serializers.CharField(),
        source="content.safety_corrections",
        help_text="What the safety check changed in the provider's draft.",
    )
    drafting_note = serializers.CharField(
        source="content.drafting_note",
        default=None,
        allow_null=True,
        help_text=(
            "Why the rules drafted this plan alone: `assistant_unavailable` (the assistant "
            "gave no usable answer; create the plan again later for a personalised one), "
            "`assistant_draft_rejected` (its draft broke a safety rule) or "
            "`assistant_quota_reached` (the assistant has drafted today's allowance of your "
            "plans; tomorrow (UTC) it drafts again); null otherwise."
        ),
    )
    current_week = serializers.IntegerField(
        help_text="The week of the plan you are in (1: its first seven days followed). Days "
        "it was paused or set aside for another plan are not counted; a plan that is not "
        "active stays in the week it stopped in."
    )
    days_followed = serializers.IntegerField(
        help_text="Days the plan has been followed, the day it began being 1 (compare "
        "`adherence.check_ins`)."
    )
    days_paused = serializers.IntegerField(
        help_text="Days since it began that the plan was not the active one, to today."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField()


class PlanDetailSerializer(PlanSerializer):
    adherence = AdherenceSerializer()


PlanPageSerializer = page_serializer(PlanSerializer, "PlanPage")


class CheckInCreateSerializer(StrictSerializer):
    date = serializers.DateField()
    am_done = serializers.BooleanField()
    pm_done = serializers.BooleanField()
    irritation = serializers.IntegerField(min_value=0, max_value=5, help_text="0 none - 5 severe")
    notes = serializers.CharField(
        required=False, allow_blank=True, max_length=settings.CHECK_IN_NOTES_MAX_LENGTH
    )

    def validate_date(self, value):
        from plans.services import latest_check_in_day

        if value > latest_check_in_day():
            raise serializers.ValidationError("A check-in cannot be dated in the future.")
        return value


class CheckInListQuerySerializer(PageQuerySerializer):
    locals()["from"] = serializers.DateField(
        required=False, help_text="First day (the check-ins' own dates)."
    )
    locals()["to"] = serializers.DateField(required=False, help_text="Last day.")

    def validate(self, attrs):
        return validate_date_range(attrs)


class CheckInSerializer(serializers.Serializer):
    date = serializers.DateField()
    am_done = serializers.BooleanField()
    pm_done = serializers.BooleanField()
    irritation = serializers.IntegerField()
    notes = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


CheckInPageSerializer = page_serializer(CheckInSerializer, "CheckInPage")
