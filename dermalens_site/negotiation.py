"""Content negotiation: DRF's, answered at once for the Accept headers most clients send.

A request without an ``Accept`` header, or with ``*/*`` or exactly the first renderer's
media type, gets the first renderer, as DRF's ``DefaultContentNegotiation`` decides
after parsing the header into media types and ranking them against every renderer
(about 50 µs a request in a worker). Anything else (``text/event-stream`` for a chat
reply, a list of types with qualities, a ``?format=``) goes through DRF's negotiation.
"""

from collections.abc import Iterable
from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer

ANY_MEDIA_TYPE = "*/*"


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Any, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderers = list(renderers)
        accept = request.META.get("HTTP_ACCEPT", ANY_MEDIA_TYPE)
        if (
            renderers
            and not format_suffix
            and accept in (ANY_MEDIA_TYPE, renderers[0].media_type)
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
