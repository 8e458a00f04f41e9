"""Serializers that requests share (``dermalens_site.serializers.shared_instance``): the
query strings and bodies that ``validated`` checks, and the items ``page_body`` shows,
come out as from a serializer of their own, however many requests use one at once."""

import datetime as dt
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.http import QueryDict
from rest_framework import serializers

from chat.serializers import MessageCreateSerializer
from dermalens_site.serializers import PageQuerySerializer, validated
from plans.serializers import PlanUpdateSerializer
from scans.serializers import ScanListQuerySerializer


def own_serializer_answer(serializer_class, data):
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return "valid", dict(serializer.validated_data)
    return "invalid", serializer.errors


def shared_answer(serializer_class, data):
    try:
        return "valid", dict(validated(serializer_class, data))
    except serializers.ValidationError as err:
        return "invalid", err.detail


def query_strings(count, seed):
    rng = random.Random(seed)
    day = dt.date(2026, 1, 1)
    for _ in range(count):
        parts = [f"limit={rng.choice([1, 7, 20, 50, 101, 0, 'x'])}"]
        if rng.random() < 0.5:
            start = day + dt.timedelta(days=rng.randrange(300))
            end = start + dt.timedelta(days=rng.randrange(-5, 60))
            parts += [f"from={start}", f"to={end}"]
        if rng.random() < 0.1:
            parts.append("colour=red")
        yield QueryDict("&".join(parts))


def test_query_strings_checked_at_once_each_get_their_own_answer():
    checks = list(query_strings(400, seed=7))
    expected = [own_serializer_answer(ScanListQuerySerializer, query) for query in checks]
    assert {kind for kind, _ in expected} == {"valid", "invalid"}
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda q: shared_answer(ScanListQuerySerializer, q), checks))
    assert answers == expected


@pytest.mark.parametrize(
    ("serializer_class", "data"),
    [
        (MessageCreateSerializer, None),  # a JSON body of null
        (MessageCreateSerializer, []),
        (MessageCreateSerializer, {"content": ""}),
        (MessageCreateSerializer, {"content": 42, "role": "system"}),
        (MessageCreateSerializer, {"content": "  hello  "}),
        (PlanUpdateSerializer, {"status": "paused", "version": 0}),
        (PlanUpdateSerializer, {"status": "paused", "version": 3}),
        (PageQuerySerializer, QueryDict("limit=5&limit=6")),
        (PageQuerySerializer, QueryDict("")),
    ],
)
def test_an_answer_is_what_a_serializer_of_its_own_gives(serializer_class, data):
    assert shared_answer(serializer_class, data) == own_serializer_answer(serializer_class, data)
