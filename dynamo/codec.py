"""Plain Python values to DynamoDB attribute values and back, without precision loss.

    to_attribute(0.1)            -> {"N": "0.1"}
    from_attribute({"N": "0.1"}) -> Decimal("0.1")

boto3's TypeSerializer refuses floats; here a float is written through its shortest
round-tripping repr, so ``float(from_attribute(to_attribute(x))) == x`` for every
finite float, and a Decimal comes back exactly as it went in. Whole numbers come back
as ``int``. Table managers use these for nested values (maps and lists); top-level
attributes of a known shape are read directly, which is faster.
"""

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]


# DynamoDB numbers: up to 38 significant digits, magnitude 1E-130 to 9.99...E+125.
MAX_DIGITS = 38
MIN_EXPONENT = -130
MAX_EXPONENT = 125


def to_number(value: int | float | Decimal) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("DynamoDB cannot store NaN or infinity.")
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("DynamoDB cannot store NaN or infinity.")
        number = value
    else:
        number = Decimal(value)
    # Counted by hand: Decimal.normalize() would round to the context's 28 digits.
    significant = "".join(map(str, number.as_tuple().digits)).strip("0")
    if number and (
        len(significant) > MAX_DIGITS or not MIN_EXPONENT <= number.adjusted() <= MAX_EXPONENT
    ):
        raise ValueError(f"DynamoDB cannot store the number {value!r} (range or precision).")
    return str(value) if not isinstance(value, float) else str(number)


def from_number(text: str) -> int | Decimal:
    if "." in text or "e" in text or "E" in text:
        return Decimal(text)
    return int(text)


def from_float_number(text: str) -> int | float:
    """For documents written from Python floats (an analysis): JSON takes them as they are."""
    if "." in text or "e" in text or "E" in text:
        return float(text)
    return int(text)


def from_document(attribute: AttributeValue) -> Any:
    """``from_attribute`` for a document written from JSON values (an analysis).

    Numbers come back as int or float, ready for JSON. A list page of scans holds about
    two thousand values in its analyses, and this is the one walk over them on the way
    to the API's answer (bench/overhead.py): so the values of a map, most of a document,
    are read in place (strings, numbers and nulls, then nested maps), without a call each.
    """
    if "M" in attribute:
        return _document_map(attribute["M"])
    if "L" in attribute:
        return [from_document(element) for element in attribute["L"]]
    if "N" in attribute:
        return from_float_number(attribute["N"])
    return from_attribute(attribute)


def _document_map(values: dict[str, AttributeValue]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, element in values.items():
        if "S" in element:
            document[key] = element["S"]
        elif "N" in element:
            text = element["N"]
            fraction = "." in text or "e" in text or "E" in text
            document[key] = float(text) if fraction else int(text)
        elif "NULL" in element:
            document[key] = None
        elif "M" in element:
            document[key] = _document_map(element["M"])
        else:
            document[key] = from_document(element)
    return document


def to_attribute(value: Any) -> AttributeValue:
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is bool:
        return {"BOOL": value}
    if kind in (int, float, Decimal):
        return {"N": to_number(value)}
    if value is None:
        return {"NULL": True}
    if kind in (list, tuple):
        return {"L": [to_attribute(element) for element in value]}
    if isinstance(value, Mapping):
        return {"M": {str(key): to_attribute(element) for key, element in value.items()}}
    if kind in (bytes, bytearray):
        return {"B": bytes(value)}
    if kind in (set, frozenset):
        if value and all(type(element) is str for element in value):
            return {"SS": sorted(value)}
        if value and all(type(element) in (int, float, Decimal) for element in value):
            return {"NS": [to_number(element) for element in value]}
        raise ValueError("A set must be non-empty and hold only strings or only numbers.")
    raise TypeError(f"Cannot store a {kind.__name__} in DynamoDB.")


def from_attribute(attribute: AttributeValue) -> Any:
    ((tag, value),) = attribute.items()
    if tag == "S":
        return value
    if tag == "N":
        return from_number(value)
    if tag == "BOOL":
        return value
    if tag == "NULL":
        return None
    if tag == "M":
        return {key: from_attribute(element) for key, element in value.items()}
    if tag == "L":
        return [from_attribute(element) for element in value]
    if tag == "SS":
        return set(value)
    if tag == "NS":
        return {from_number(element) for element in value}
    if tag == "B":
        return value
    if tag == "BS":
        return set(value)
    raise TypeError(f"Unknown DynamoDB attribute type {tag!r}.")


def to_item(values: Mapping[str, Any]) -> Item:
    """Serialise a flat mapping; ``None`` values are left out rather than stored."""
    return {key: to_attribute(value) for key, value in values.items() if value is not None}


def from_item(item: Item) -> dict[str, Any]:
    return {key: from_attribute(attribute) for key, attribute in item.items()}
