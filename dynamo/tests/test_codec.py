import math
from decimal import Decimal

import pytest
from django.conf import settings

from dynamo.client import get_client
from dynamo.codec import from_attribute, from_item, to_attribute, to_item
from dynamo.scans import scans_table
from dynamo.tests.factories import a_scan, new_id, new_user_id


def store_and_read(value):
    """Write ``value`` as one attribute of a real item and read it back."""
    key = {"user_id": new_id(), "plan_id": new_id()}
    client = get_client()
    table = settings.DYNAMODB_PLANS_TABLE
    client.put_item(TableName=table, Item=to_item({**key, "value": value}))
    item = client.get_item(TableName=table, Key=to_item(key), ConsistentRead=True)["Item"]
    return from_item(item)["value"]


@pytest.mark.parametrize(
    "number",
    [
        0.1,
        0.1 + 0.2,
        1e-7,
        123456.789,
        -273.15,
        2 / 3,
        123.0,
        1e20,
        1.2345678901234567e-120,  # near DynamoDB's smallest magnitude (1E-130)
        9.87654321012345e125,  # near its largest (just under 1E+126)
        -9.87654321012345e125,
    ],
)
def test_a_float_survives_dynamodb_without_losing_precision(number):
    assert float(store_and_read(number)) == number


def test_negative_zero_comes_back_as_zero():
    # DynamoDB keeps no sign on zero; the value is still equal to the float stored.
    assert store_and_read(-0.0) == 0


@pytest.mark.parametrize(
    "number",
    [
        Decimal("0.123456789012345678901234567"),
        Decimal("12345678901234567890.123456789012345678"),  # 38 digits, DynamoDB's limit
        Decimal("-0.000000000000000000000000000000000001"),
        Decimal("1E-130"),
    ],
)
def test_a_decimal_comes_back_exactly(number):
    assert store_and_read(number) == number


@pytest.mark.parametrize("number", [0, 7, -42, 2**63, 10**37])
def test_an_int_comes_back_as_the_same_int(number):
    back = store_and_read(number)
    assert type(back) is int
    assert back == number


def test_booleans_stay_booleans_rather_than_numbers():
    assert store_and_read(True) is True
    assert store_and_read(False) is False


def test_nested_maps_and_lists_come_back_with_their_values():
    value = {
        "scores": [1, Decimal("0.5"), {"acne": Decimal("0.125"), "note": None, "seen": True}],
        "labels": {"a", "b"},
        "counts": {1, 2, 3},
        "empty_map": {},
        "empty_list": [],
        "pair": ("x", 2),
    }
    assert store_and_read(value) == {**value, "pair": ["x", 2]}


def test_floats_inside_a_scan_analysis_survive_the_scans_table():
    analysis = {"acne": {"score": 0.1, "areas": [0.30000000000000004, 1e-7]}, "count": 3}
    scan = a_scan(new_user_id(), analysis=analysis)
    scans_table().create(scan)

    stored = scans_table().get(scan.user_id, scan.scan_id).analysis

    # Floats come back as floats (JSON takes them without a conversion each), exactly.
    assert stored["acne"]["score"] == 0.1
    assert type(stored["acne"]["score"]) is float
    assert stored["acne"]["areas"] == [0.30000000000000004, 1e-7]
    assert stored["count"] == 3
    assert type(stored["count"]) is int


def test_a_scan_analysis_comes_back_as_the_json_document_it_was_stored_as():
    analysis = {
        "overall_score": 71.5,
        "skin_type": "combination",
        "metrics": {"acne": {"score": 64.25, "band": "good", "confidence": 0.8}},
        "regions": {"forehead": {"acne": 70, "redness": None}, "chin": {}},
        "concerns": [{"name": "Blackheads", "severity": "mild", "region": None}],
        "image_quality": {"acceptable": True, "reasons": []},
        "red_flags": ["a changing mole", "bleeding"],
        "heuristic": False,
        "nested_lists": [[1, 2.5], ["x", {"deep": [True, None]}]],
    }
    scan = a_scan(new_user_id(), analysis=analysis)
    scans_table().create(scan)

    stored = scans_table().get(scan.user_id, scan.scan_id).analysis

    assert stored == analysis
    assert type(stored["regions"]["forehead"]["acne"]) is int
    assert type(stored["nested_lists"][0][1]) is float


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        math.inf,
        -math.inf,
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        [1, math.nan],
        {"deep": {"deeper": math.inf}},
        {1.0, math.nan},
    ],
)
def test_nan_and_infinity_are_refused(value):
    with pytest.raises(ValueError, match="NaN or infinity"):
        to_attribute(value)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (set(), ValueError),
        ({"a", 1}, ValueError),
        (object(), TypeError),
        (1 + 2j, TypeError),
    ],
)
def test_values_dynamodb_cannot_hold_are_refused(value, error):
    with pytest.raises(error):
        to_attribute(value)


@pytest.mark.parametrize(
    "number", [1e200, 5e-324, Decimal("1.1111111111111111111111111111111111111111")]
)
def test_a_number_dynamodb_cannot_store_is_refused_by_the_codec(number):
    with pytest.raises(ValueError):
        to_attribute(number)


def test_to_item_leaves_out_none_values_but_keeps_falsy_ones():
    item = to_item({"name": "a", "gone": None, "zero": 0, "no": False, "blank": ""})
    assert item == {
        "name": {"S": "a"},
        "zero": {"N": "0"},
        "no": {"BOOL": False},
        "blank": {"S": ""},
    }


def test_a_none_inside_a_map_is_kept_as_null():
    assert from_attribute(to_attribute({"gone": None})) == {"gone": None}
