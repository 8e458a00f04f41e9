"""Photos for the scan tests, made here (plus the shipped public-domain face)."""

import io
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image

SAMPLE_FACE = Path(__file__).resolve().parents[2] / "tests" / "data" / "astronaut.jpg"


def face_photo() -> Image.Image:
    return Image.open(SAMPLE_FACE).convert("RGB")


def encode(image: Image.Image, format: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def truncated(image_format: str) -> bytes:
    """The sample portrait in ``image_format``, cut after half its bytes."""
    data = encode(face_photo(), image_format)
    return data[: len(data) // 2]


def photo_with_gps(orientation: int = 6) -> bytes:
    """A phone-like JPEG: GPS position, camera make, and a rotate-90 orientation tag."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (51.0, 30.0, 12.0),
        ExifTags.GPS.GPSLongitudeRef: "W",
        ExifTags.GPS.GPSLongitude: (0.0, 7.0, 39.0),
    }
    picture = face_photo().resize((640, 512))
    return encode(picture, exif=exif, comment=b"taken at home")


def upload_file(data: bytes, name: str = "photo.jpg", content_type: str = "image/jpeg"):
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def face_jpeg() -> bytes:
    return SAMPLE_FACE.read_bytes()


@pytest.fixture
def upload(auth_client, face_jpeg):
    """Upload a photo as the signed-in user; returns the response."""

    def send(data: bytes | None = None, client=None, **fields):
        body = {"image": upload_file(data if data is not None else face_jpeg), **fields}
        return (client or auth_client).post("/api/v1/scans", body, format="multipart")

    return send


class Clock:
    """Stands in for the ``time`` module of the modules a test patches (signing, the
    image view, the URL cache), so a test moves time on by setting ``now``."""

    def __init__(self):
        self.now = time.time()

    def time(self):
        return self.now


@pytest.fixture
def dynamodb_calls():
    """The operations sent meanwhile on the scans and users tables, in order: the data,
    not the request's rate-limit counter or the ops dashboard's daily counters."""
    from dynamo.client import get_client
    from dynamo.scans import scans_table
    from dynamo.users import users_table

    sent: list[str] = []
    tables = {scans_table().name, users_table().name}

    def count(params, model, **kwargs):
        touched = {params.get("TableName")} | {
            action.get("TableName")
            for item in params.get("TransactItems", [])
            for action in item.values()
        }
        key = params.get("Key", {}).get("user_id", {}).get("S", "")
        if touched & tables and not key.startswith("rate#"):
            sent.append(model.name)

    events = get_client().meta.events
    events.register("provide-client-params.dynamodb", count)
    yield sent
    events.unregister("provide-client-params.dynamodb", count)
