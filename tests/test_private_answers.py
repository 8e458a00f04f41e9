"""No cache keeps an API answer: they hold a person's health data, signed image URLs and
tokens. Only the views that say how they may be kept (an image, a stream) say otherwise."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from scans.tests.conftest import SAMPLE_FACE

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"


@pytest.fixture
def person(register) -> tuple[dict, APIClient]:
    session = register()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session['access']}")
    return session, client


def test_a_sign_in_and_its_tokens_are_never_kept(api_client, person):
    session, _ = person
    signed_in = api_client.post(
        LOGIN, {"email": session["user"]["email"], "password": session["password"]}, format="json"
    )

    assert signed_in.status_code == 200
    assert signed_in["Cache-Control"] == "no-store"
    refreshed = api_client.post(REFRESH, {"refresh": signed_in.json()["refresh"]})
    assert refreshed.status_code == 200, refreshed.content
    assert refreshed["Cache-Control"] == "no-store"


def test_what_a_signed_in_person_reads_is_never_kept(person):
    _, client = person
    photo = SimpleUploadedFile("face.jpg", SAMPLE_FACE.read_bytes(), content_type="image/jpeg")
    scan = client.post("/api/v1/scans", {"image": photo}, format="multipart")
    assert scan.status_code == 201, scan.content

    answers = [
        scan,
        client.get("/api/v1/users/me"),
        client.get("/api/v1/scans"),
        client.get(f"/api/v1/scans/{scan.json()['scan_id']}"),
        client.get("/api/v1/scans/progress"),
        client.post("/api/v1/plans", {}, format="json"),
        client.get("/api/v1/chat/sessions"),
    ]

    assert [answer.status_code for answer in answers] == [201, 200, 200, 200, 200, 201, 200]
    assert {answer["Cache-Control"] for answer in answers} == {"no-store"}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/api/v1/users/me", 401),
        ("get", "/api/v1/no-such-endpoint", 404),
        ("post", LOGIN, 400),
    ],
)
def test_refusals_are_never_kept_either(api_client, method, path, status):
    answer = getattr(api_client, method)(path)

    assert answer.status_code == status
    assert answer["Cache-Control"] == "no-store"


def test_an_image_keeps_its_own_short_private_caching(person):
    _, client = person
    photo = SimpleUploadedFile("face.jpg", SAMPLE_FACE.read_bytes(), content_type="image/jpeg")
    image_url = client.post("/api/v1/scans", {"image": photo}, format="multipart").json()[
        "image_url"
    ]

    image = APIClient().get(image_url)

    assert image.status_code == 200
    assert image["Cache-Control"].startswith("private, max-age=")
