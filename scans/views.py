"""Scan endpoints: upload, history, one scan, analyse again, overlays, progress, compare."""

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import renderers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from accounts.throttles import AccountRateThrottle, UnverifiedAIThrottle
from dermalens_site.errors import error_body, page_not_found
from dermalens_site.photo_turns import OnePhotoAtATimeMixin
from dermalens_site.renderers import APIJSONRenderer
from dermalens_site.serializers import (
    ERROR_RESPONSES,
    ErrorSerializer,
    idempotency_key,
    idempotency_key_parameter,
    page_body,
    refuse_fields,
    validated,
)
from scans import selectors, services, storage
from scans.serializers import (
    CompareQuerySerializer,
    ComparisonSerializer,
    OverlayQuerySerializer,
    ProgressQuerySerializer,
    ProgressSerializer,
    ScanDetailSerializer,
    ScanListQuerySerializer,
    ScanPageSerializer,
    ScanSerializer,
    ScanUploadSerializer,
)

ERRORS = ERROR_RESPONSES
# The errors of an action that also renders an image: JSON alone (the schema would list
# every renderer's type for them otherwise).
JSON_ERRORS = {(code, APIJSONRenderer.media_type): shape for code, shape in ERRORS.items()}
ULID_PATTERN = "[0-9A-HJKMNP-TV-Z]{26}"


class UploadThrottle(AccountRateThrottle):
    """Uploads per account, counted in DynamoDB: one allowance across workers and hosts."""

    scope = "uploads"


class AnalyseAgainThrottle(AccountRateThrottle):
    """Analyses asked for again per account. A failure Gemini caused (an invalid answer,
    a timeout) is given back to the day's allowance, so without this a photo that fails
    every time could be sent to Gemini again and again, each call billed."""

    scope = "analyses_again"


class PNGRenderer(renderers.BaseRenderer):
    """Lets a client ask for ``image/png`` (an overlay): the view answers with the PNG
    itself, and an error is JSON whatever was asked for (``dermalens_site.errors``).
    DRF's negotiation offers only the types of the action's renderers; a type that none
    renders is a 406."""

    media_type = "image/png"
    format = "png"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        return bytes(data)


class ScanViewSet(OnePhotoAtATimeMixin, viewsets.ViewSet):
    # Run in a photo work slot of the worker (dermalens_site.middleware.AIWorkSlotMiddleware),
    # one of an account's at a time (dermalens_site.photo_turns).
    photo_actions = frozenset({"create", "analyze"})
    lookup_field = "scan_id"
    lookup_value_regex = ULID_PATTERN

    def get_parsers(self):
        # Uploads are multipart; everything else here takes no body, but reads a JSON one
        # as every endpoint does, to refuse its fields (``refuse_fields``): an empty
        # object sent with the JSON type is no error.
        # A request's parsers are made before DRF names its action (the schema's after);
        # OPTIONS (DRF's "metadata") describes the collection by what its POST, the
        # upload, parses.
        action = getattr(self, "action", None)
        if action in (None, "metadata"):
            method = (self.request.method or "").lower()
            action = self.action_map.get("post" if method == "options" else method)
        if action == "create":
            return [MultiPartParser()]
        return super().get_parsers()

    def get_throttles(self):
        if self.action == "create":
            return [UploadThrottle(), UnverifiedAIThrottle()]
        if self.action == "analyze":
            return [AnalyseAgainThrottle(), UnverifiedAIThrottle()]
        return super().get_throttles()

    @extend_schema(
        parameters=[ScanListQuerySerializer],
        responses={200: ScanPageSerializer, **ERRORS},
        description="Your scans, newest first. `from`/`to` filter by scan date (one Query).",
    )
    def list(self, request):
        params = validated(ScanListQuerySerializer, request.query_params)
        page = selectors.list_scans(
            user_id=request.user.user_id,
            limit=params["limit"],
            cursor=params.get("cursor"),
            date_from=params.get("from"),
            date_to=params.get("to"),
        )
        return Response(page_body(page, ScanSerializer))

    @extend_schema(
        request={"multipart/form-data": ScanUploadSerializer},
        parameters=[
            idempotency_key_parameter(
                "A retried upload with the same key returns the first scan (the same photo, "
                "area and notes; anything else with the key is a 422)."
            )
        ],
        responses={
            201: ScanDetailSerializer,
            202: OpenApiResponse(
                ScanDetailSerializer,
                description="Stored and queued for analysis (when analysis runs in workers): "
                "`pending` until it is done; read the scan again to see the result.",
            ),
            200: OpenApiResponse(ScanDetailSerializer, description="A replayed upload."),
            408: OpenApiResponse(
                ErrorSerializer,
                description="`request_timeout`: the photo came too slowly (under 16 KiB/s "
                "on average after its first 10 s); nothing was stored.",
            ),
            413: ErrorSerializer,
            415: ErrorSerializer,
            409: OpenApiResponse(
                ErrorSerializer,
                description="`idempotency_key_scan_deleted`: the upload first sent with the "
                "Idempotency-Key was deleted since.",
            ),
            422: OpenApiResponse(
                ErrorSerializer,
                description="`idempotency_key_reused`: the Idempotency-Key came with another "
                "upload (another photo, area or notes).",
            ),
            429: ErrorSerializer,
            **ERRORS,
        },
        description=(
            "Upload a photo. It is stored before analysis starts, so an analysis failure "
            "never loses it: the scan is `complete`, or `failed` with a reason and can be "
            "analysed again. Where analysis runs in background workers the answer is 202 "
            "with the scan `pending`."
        ),
    )
    def create(self, request):
        serializer = ScanUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        scan, created = services.upload_scan(
            user=request.user,
            image=serializer.validated_data["image"],
            area=serializer.validated_data["area"],
            notes=serializer.validated_data.get("notes"),
            idempotency_key=idempotency_key(request),
        )
        code: int = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        if created and services.analysis_queued(scan):
            code = status.HTTP_202_ACCEPTED
        return Response(ScanDetailSerializer(scan).data, status=code)

    @extend_schema(responses={200: ScanDetailSerializer, **ERRORS})
    def retrieve(self, request, scan_id: str):
        scan = selectors.get_scan(user_id=request.user.user_id, scan_id=scan_id)
        if scan is None:
            raise services.ScanNotFound()
        return Response(ScanDetailSerializer(scan).data)

    @extend_schema(responses={204: None, **ERRORS})
    def destroy(self, request, scan_id: str):
        refuse_fields(request.data)
        services.delete_scan(user_id=request.user.user_id, scan_id=scan_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=None,
        responses={
            200: ScanDetailSerializer,
            202: OpenApiResponse(
                ScanDetailSerializer,
                description="Queued for analysis (when analysis runs in workers): `pending` "
                "until it is done.",
            ),
            409: ErrorSerializer,
            429: ErrorSerializer,
            **ERRORS,
        },
        description="Analyse a stored scan again (after a failure or past the daily quota).",
    )
    @action(detail=True, methods=["post"])
    def analyze(self, request, scan_id: str):
        refuse_fields(request.data)
        scan = services.analyze_scan(user=request.user, scan_id=scan_id)
        queued = services.analysis_queued(scan)
        code = status.HTTP_202_ACCEPTED if queued else status.HTTP_200_OK
        return Response(ScanDetailSerializer(scan).data, status=code)

    @extend_schema(
        parameters=[OverlayQuerySerializer],
        responses={(200, PNGRenderer.media_type): OpenApiTypes.BINARY, **JSON_ERRORS},
        description="A PNG of the scan with the metric's map drawn over it.",
    )
    # JSON first: a request without Accept (or with */*) takes the negotiation's quick way.
    @action(detail=True, methods=["get"], renderer_classes=[APIJSONRenderer, PNGRenderer])
    def overlay(self, request, scan_id: str):
        params = validated(OverlayQuerySerializer, request.query_params)
        png = services.overlay_for_scan(
            user_id=request.user.user_id, scan_id=scan_id, metric=params["metric"]
        )
        return HttpResponse(png, content_type="image/png")

    @extend_schema(
        parameters=[ProgressQuerySerializer],
        responses={200: ProgressSerializer, **ERRORS},
        description=(
            "Per metric, scores over a page of your completed scans (the newest `limit`, "
            f"{settings.PROGRESS_PAGE_SIZE_DEFAULT} unless given; `next_cursor` leads to "
            "the ones before), oldest first, and the change first to latest on the page, "
            "measured between photos that passed the quality checks, of one area (the "
            "latest's). `metric` keeps one metric's series."
        ),
    )
    @action(detail=False, methods=["get"])
    def progress(self, request):
        params = validated(ProgressQuerySerializer, request.query_params)
        progress = selectors.scan_progress(
            user_id=request.user.user_id,
            limit=params["limit"],
            cursor=params.get("cursor"),
            area=params.get("area"),
            date_from=params.get("from"),
            date_to=params.get("to"),
            metric=params.get("metric"),
        )
        return Response(ProgressSerializer(progress).data)

    @extend_schema(
        parameters=[CompareQuerySerializer],
        responses={200: ComparisonSerializer, **ERRORS},
        description=(
            "Per-metric deltas between this scan and `with` (score - other_score); none "
            "when the two cannot be compared (`incomparable_because`)."
        ),
    )
    @action(detail=True, methods=["get"])
    def compare(self, request, scan_id: str):
        params = validated(CompareQuerySerializer, request.query_params)
        comparison = selectors.compare_scans(
            user_id=request.user.user_id, scan_id=scan_id, other_id=params["with"]
        )
        if comparison is None:
            raise services.ScanNotFound()
        return Response(ComparisonSerializer(comparison).data)


# It only reads: Django's CSRF check (a 403 page for a POST) has nothing to protect.
@csrf_exempt
def scan_image_file(request: HttpRequest, token: str) -> HttpResponseBase:
    """A stored image behind a signed, expiring URL (local filesystem storage only).

    The token is the capability, as an S3 presigned URL would be: it names one file and
    expires after IMAGE_URL_SECONDS. Anything else is a 404, never a hint. No cache
    keeps the image longer than the URL works, and no shared cache keeps it at all.
    GET and HEAD only; another method is a 405 in the API's error shape.
    """
    if request.method not in ("GET", "HEAD"):
        refused = JsonResponse(
            error_body("method_not_allowed", f'Method "{request.method}" not allowed.'),
            status=405,
        )
        refused["Allow"] = "GET, HEAD"
        return refused
    image = storage.signed_image(token)
    data = storage.read_scan_file(image.key) if image else None
    if image is None or data is None:
        # In the API's error shape whatever DEBUG says (Django's debug page lists routes).
        return page_not_found(request, Http404())
    content_type = "image/png" if image.key.endswith(".png") else "image/jpeg"
    if request.method == "HEAD":
        # What a GET would answer, without the bytes (a server would drop them, and log it).
        response: HttpResponseBase = HttpResponse(content_type=content_type)
        response["Content-Length"] = str(len(data))
    else:
        response = FileResponse(iter([data]), content_type=content_type)
    response["Cache-Control"] = f"private, max-age={image.seconds_left}"
    return response
