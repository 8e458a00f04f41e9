"""Plan endpoints: create, list, active, one plan, status changes, delete, check-ins."""

from dataclasses import asdict

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.authentication import read_in_this_request
from accounts.throttles import AccountRateThrottle, PlanThrottle, UnverifiedAIThrottle
from dermalens_site.serializers import (
    ERROR_RESPONSES,
    ErrorSerializer,
    PageQuerySerializer,
    idempotency_key,
    idempotency_key_parameter,
    page_body,
    refuse_fields,
    validated,
)
from dynamo.plans import Plan
from plans import selectors, services
from plans.serializers import (
    CheckInCreateSerializer,
    CheckInListQuerySerializer,
    CheckInPageSerializer,
    CheckInSerializer,
    PlanCreateSerializer,
    PlanDetailSerializer,
    PlanPageSerializer,
    PlanSerializer,
    PlanUpdateSerializer,
)

ERRORS = ERROR_RESPONSES
ULID_PATTERN = "[0-9A-HJKMNP-TV-Z]{26}"


class CheckInThrottle(AccountRateThrottle):
    """Check-ins written per account: each is a transaction that also moves the plan's
    adherence counts. A person checks in once a day, corrects it, or fills in a missed
    week; a loop of writes from a script is refused long before it costs anything."""

    scope = "check_ins"


def plan_detail(plan: Plan, *, adherence: selectors.Adherence | None = None) -> dict:
    """The plan with its adherence (read from its check-ins unless given)."""
    if adherence is None:
        adherence = selectors.plan_adherence(plan=plan)
    return PlanDetailSerializer({**plan_fields(plan), "adherence": asdict(adherence)}).data


def plan_fields(plan: Plan) -> dict:
    """The plan as stored, with the weeks and days it has been followed as of today."""
    return {
        **asdict(plan),
        "current_week": plan.current_week(),
        "days_followed": plan.days_followed(),
        "days_paused": plan.days_paused(),
    }


class PlanViewSet(viewsets.ViewSet):
    # Run in a work slot of the worker (dermalens_site.middleware.AIWorkSlotMiddleware).
    ai_actions = frozenset({"create"})
    lookup_field = "plan_id"
    lookup_value_regex = ULID_PATTERN

    def get_throttles(self):
        if self.action == "create":
            return [PlanThrottle(), UnverifiedAIThrottle()]
        if self.action == "add_check_in":
            return [CheckInThrottle()]
        return super().get_throttles()

    @extend_schema(parameters=[PageQuerySerializer], responses={200: PlanPageSerializer, **ERRORS})
    def list(self, request):
        params = validated(PageQuerySerializer, request.query_params)
        page = selectors.list_plans(
            user_id=request.user.user_id, limit=params["limit"], cursor=params.get("cursor")
        )
        return Response(page_body(page, PlanSerializer, as_data=plan_fields))

    @extend_schema(
        request=PlanCreateSerializer,
        parameters=[
            idempotency_key_parameter(
                "A retry with the same key (and the same `scan_id`) gets the plan made the "
                "first time (200), not a second plan, drafting nothing; while the first is "
                "still being drafted, a 409 `idempotency_key_in_flight` with Retry-After; "
                "with another `scan_id`, a 422 `idempotency_key_reused`. After a failed "
                "attempt the key drafts again."
            )
        ],
        responses={
            201: PlanDetailSerializer,
            200: OpenApiResponse(
                PlanDetailSerializer,
                description="A replay: the plan made by the first request with the key.",
            ),
            409: OpenApiResponse(
                ErrorSerializer,
                description="`scan_not_analysed`: the scan has no analysis to build from; "
                "`idempotency_key_in_flight` (with Retry-After): the plan requested with this "
                "Idempotency-Key is still being drafted; `idempotency_key_plan_deleted`: "
                "its plan was deleted since.",
            ),
            422: OpenApiResponse(
                ErrorSerializer,
                description="`idempotency_key_reused`: the Idempotency-Key came with another "
                "`scan_id`.",
            ),
            429: ErrorSerializer,
            **ERRORS,
        },
        description=(
            "Build a plan from a scan's analysis (default: your latest analysed scan) and "
            "your profile, and make it the active one; the previous active plan is archived."
        ),
    )
    def create(self, request):
        params = validated(PlanCreateSerializer, request.data)
        plan, created = services.create_plan_once(
            user=request.user,
            scan_id=params.get("scan_id"),
            user_read_now=read_in_this_request(request),
            idempotency_key=idempotency_key(request),
        )
        if not created:
            return Response(plan_detail(plan))  # a replay: the plan as it stands
        # A plan made just now has no check-ins: nothing to read.
        body = plan_detail(plan, adherence=selectors.adherence_of([], since=plan.followed_since()))
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: PlanDetailSerializer, **ERRORS})
    @action(detail=False, methods=["get"])
    def active(self, request):
        plan = selectors.get_active_plan(user_id=request.user.user_id)
        if plan is None:
            raise services.PlanNotFound("You have no active plan.")
        return Response(plan_detail(plan))

    @extend_schema(responses={200: PlanDetailSerializer, **ERRORS})
    def retrieve(self, request, plan_id: str):
        plan = selectors.get_plan(user_id=request.user.user_id, plan_id=plan_id)
        if plan is None:
            raise services.PlanNotFound()
        return Response(plan_detail(plan))

    @extend_schema(
        request=PlanUpdateSerializer,
        responses={200: PlanDetailSerializer, 409: ErrorSerializer, **ERRORS},
        description="Activate, pause or complete a plan, at the version you last read.",
    )
    def partial_update(self, request, plan_id: str):
        params = validated(PlanUpdateSerializer, request.data)
        plan = services.change_plan_status(
            user_id=request.user.user_id,
            plan_id=plan_id,
            status=params["status"],
            version=params["version"],
        )
        return Response(plan_detail(plan))

    @extend_schema(responses={204: None, **ERRORS})
    def destroy(self, request, plan_id: str):
        refuse_fields(request.data)
        services.delete_plan(user_id=request.user.user_id, plan_id=plan_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        methods=["GET"],
        parameters=[CheckInListQuerySerializer],
        responses={200: CheckInPageSerializer, **ERRORS},
        description="The plan's check-ins, newest day first; `from`/`to` keep those days.",
    )
    @action(detail=True, methods=["get"], url_path="check-ins")
    def check_ins(self, request, plan_id: str):
        if selectors.get_plan(user_id=request.user.user_id, plan_id=plan_id) is None:
            raise services.PlanNotFound()
        params = validated(CheckInListQuerySerializer, request.query_params)
        page = selectors.list_check_ins(
            user_id=request.user.user_id,
            plan_id=plan_id,
            limit=params["limit"],
            cursor=params.get("cursor"),
            date_from=params.get("from"),
            date_to=params.get("to"),
        )
        return Response(page_body(page, CheckInSerializer, as_data=asdict))

    @extend_schema(
        request=CheckInCreateSerializer,
        responses={201: CheckInSerializer, 429: ErrorSerializer, **ERRORS},
        description=(
            "Record a day's routines; a second check-in that day replaces the first. The "
            "date may be from the day before the plan began to a day ahead of UTC; for a "
            "plan not active, to the day after it stopped. At most "
            "`THROTTLE_CHECK_IN_RATE` check-ins are written per account (429 past it)."
        ),
    )
    @check_ins.mapping.post
    def add_check_in(self, request, plan_id: str):
        params = validated(CheckInCreateSerializer, request.data)
        entry = services.check_in(
            user_id=request.user.user_id,
            plan_id=plan_id,
            day=params["date"],
            am_done=params["am_done"],
            pm_done=params["pm_done"],
            irritation=params["irritation"],
            notes=params.get("notes"),
        )
        return Response(CheckInSerializer(asdict(entry)).data, status=status.HTTP_201_CREATED)
