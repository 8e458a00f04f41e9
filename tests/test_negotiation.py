"""Content negotiation (``dermalens_site.negotiation``): the quick answer to the common
Accept headers is the one DRF's own negotiation gives, and the rest is DRF's."""

import pytest
from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from chat.views import EventStreamRenderer
from dermalens_site.negotiation import ContentNegotiation
from dermalens_site.renderers import APIJSONRenderer

ACCEPT_HEADERS = [
    None,
    "",  # nothing acceptable: a 406
    "*/*",
    "application/json",
    "text/event-stream",
    "application/json; indent=4",
    "application/*",
    "text/event-stream, application/json;q=0.5",
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "text/html",
]
RENDERER_SETS = {
    "json": [APIJSONRenderer()],
    "chat": [APIJSONRenderer(), EventStreamRenderer()],
}


def negotiated(negotiation, accept, renderers, query=""):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/v1/scans{query}", **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except NotAcceptable:
        return "406"
    except Http404:  # a ?format= that no renderer has
        return "404"
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("renderers", RENDERER_SETS.values(), ids=RENDERER_SETS)
@pytest.mark.parametrize("accept", ACCEPT_HEADERS)
@pytest.mark.parametrize("query", ["", "?format=json", "?format=event-stream", "?limit=5"])
def test_the_renderer_chosen_is_drf_s_choice(accept, renderers, query):
    ours = negotiated(ContentNegotiation(), accept, renderers, query)
    assert ours == negotiated(DefaultContentNegotiation(), accept, renderers, query)


def test_a_streamed_reply_is_still_chosen_by_its_accept_header():
    renderers = RENDERER_SETS["chat"]
    assert negotiated(ContentNegotiation(), "text/event-stream", renderers) == (
        "EventStreamRenderer",
        "text/event-stream",
    )
    assert negotiated(ContentNegotiation(), None, renderers) == (
        "APIJSONRenderer",
        "application/json",
    )
