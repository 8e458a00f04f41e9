"""An overlay is a PNG, and a client may say so: ``Accept: image/png`` (or ``image/*``)
gets it, as ``*/*`` and ``application/json`` did, and the errors stay JSON in the API's
error shape whatever was asked for."""

import pytest

from tests.openapi import openapi_operation

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def scan_id(upload):
    return upload().json()["scan_id"]


@pytest.mark.parametrize(
    "accept",
    [
        "image/png",
        "image/*",
        "*/*",
        "application/json",
        "image/png, application/json;q=0.5",
        "image/webp,image/png,image/*;q=0.8,*/*;q=0.5",
        None,
    ],
)
def test_the_overlay_is_a_png_for_the_accept_a_client_sends(auth_client, scan_id, accept):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    response = auth_client.get(f"/api/v1/scans/{scan_id}/overlay", {"metric": "redness"}, **headers)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response.content.startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/scans/{scan_id}/overlay?metric=sparkle", 400, "invalid"),
        ("/api/v1/scans/01JB0000000000000000000000/overlay?metric=redness", 404, "not_found"),
    ],
)
def test_an_overlay_s_errors_are_json_when_a_png_was_asked_for(
    auth_client, scan_id, path, status, code
):
    response = auth_client.get(path.format(scan_id=scan_id), HTTP_ACCEPT="image/png")

    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == code


def test_a_type_that_is_neither_png_nor_json_is_still_not_acceptable(auth_client, scan_id):
    response = auth_client.get(
        f"/api/v1/scans/{scan_id}/overlay", {"metric": "redness"}, HTTP_ACCEPT="text/html"
    )

    assert response.status_code == 406
    assert response.json()["error"]["code"] == "not_acceptable"


def test_the_schema_says_the_overlay_is_a_png_and_its_errors_json():
    operation = openapi_operation("/api/v1/scans/{scan_id}/overlay", "get")

    assert list(operation["responses"]["200"]["content"]) == ["image/png"]
    for status in ("400", "401", "404"):
        assert list(operation["responses"][status]["content"]) == ["application/json"]
