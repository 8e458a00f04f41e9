"""API responses are rendered by orjson with the values DRF's own renderer gave, and what
an answer was made of is freed once it is sent."""

import gc
import io
import json
from decimal import Decimal

from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.settings import api_settings


def render(data) -> dict:
    [renderer_class] = api_settings.DEFAULT_RENDERER_CLASSES
    return json.loads(renderer_class().render(data, "application/json"))


def test_a_decimal_read_from_dynamodb_stays_a_number():
    assert render({"score": Decimal("64.25"), "count": Decimal("3")}) == {
        "score": 64.25,
        "count": 3.0,
    }


def test_lazy_translations_and_error_details_are_strings():
    rendered = render({"message": gettext_lazy("Not found."), "detail": ErrorDetail("Bad.")})

    assert rendered == {"message": "Not found.", "detail": "Bad."}


def test_non_ascii_text_is_kept_as_it_is():
    [renderer_class] = api_settings.DEFAULT_RENDERER_CLASSES

    assert renderer_class().render({"name": "Zoë ☀"}) == '{"name":"Zoë ☀"}'.encode()


def garbage_of_one_answer(path: str, access: str) -> list:
    """The objects one answer of the WSGI application (as gunicorn calls it) leaves to the
    garbage collector: the cycles that reference counting could not free."""
    path, _, query = path.partition("?")
    environ = RequestFactory()._base_environ(
        PATH_INFO=path,
        QUERY_STRING=query,
        REQUEST_METHOD="GET",
        HTTP_AUTHORIZATION=f"Bearer {access}",
    )
    environ["wsgi.input"] = io.BytesIO(b"")
    application = WSGIHandler()
    started: list[str] = []
    gc.collect()
    gc.disable()
    try:
        answer = application(environ, lambda status, headers, *_: started.append(status))
        body = b"".join(answer)
        answer.close()
        del answer
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
        assert started == ["200 OK"], (started, body[:300])


def test_a_page_of_scans_is_freed_when_its_answer_is_sent(auth_client):
    from dynamo.client import ItemResponseParser
    from dynamo.scans import Scan
    from tests.seeding import seed_scans

    session = auth_client.session_data
    [scan_id, *_] = seed_scans(session["user"]["user_id"], 20)

    for path in ("/api/v1/scans?limit=20", f"/api/v1/scans/{scan_id}"):
        garbage = garbage_of_one_answer(path, session["access"])

        # The scans read, their serialized items, the parsed DynamoDB answer: none of
        # them waits for the collector (DRF's view, request and serializer skeletons do).
        assert not [item for item in garbage if isinstance(item, Scan)], path
        assert not [item for item in garbage if isinstance(item, dict) and "scan_id" in item], path
        assert not [item for item in garbage if isinstance(item, ItemResponseParser)], path
