"""API responses are rendered by orjson with the values DRF's own renderer gave."""

import json
from decimal import Decimal

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
