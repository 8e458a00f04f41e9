"""A scan's directly built representation is what DRF's fields make of it, value for value."""

import json

import pytest
from rest_framework import serializers

from dynamo.scans import scans_table
from scans import storage
from scans.serializers import ScanDetailSerializer, ScanSerializer
from tests.fake_gemini import FakeResponse, valid_analysis_answer


def field_by_field(serializer_class, scan) -> dict:
    """What the serializer's declared fields make of ``scan`` (DRF's generic path)."""
    return serializers.Serializer.to_representation(serializer_class(), scan)


def as_json(data: dict) -> dict:
    """``data`` as a client reads it, each signed URL as the key it signs (the signature
    holds the second it was made, which may differ between two representations)."""
    body = json.loads(json.dumps(data, default=float))
    for name in ("thumbnail_url", "image_url"):
        if body.get(name):
            body[name] = storage.key_from_token(body[name].rsplit("/", 1)[-1])
            assert body[name] is not None, "an invalid signed URL"
    return body


def stored_scan(user_id: str, scan_id: str):
    return scans_table().get(user_id, scan_id, consistent=True)


@pytest.mark.parametrize("serializer_class", [ScanSerializer, ScanDetailSerializer])
def test_an_offline_analysis_reads_the_same_both_ways(serializer_class, auth_client, upload):
    created = upload(notes="after the peel").json()
    assert created["status"] == "complete"
    scan = stored_scan(auth_client.session_data["user"]["user_id"], created["scan_id"])

    direct = serializer_class(scan).data

    assert as_json(direct) == as_json(field_by_field(serializer_class, scan))
    assert list(direct) == list(field_by_field(serializer_class, scan))


def test_a_gemini_analysis_reads_the_same_both_ways(
    gemini_settings, fake_gemini, auth_client, upload
):
    fake_gemini.enqueue(FakeResponse.json_answer(valid_analysis_answer()))
    created = upload().json()
    assert created["analysis"]["provider"] == "gemini"
    scan = stored_scan(auth_client.session_data["user"]["user_id"], created["scan_id"])

    assert as_json(ScanSerializer(scan).data) == as_json(field_by_field(ScanSerializer, scan))


def test_a_failed_scan_reads_the_same_both_ways(gemini_settings, fake_gemini, auth_client, upload):
    fake_gemini.enqueue(*[FakeResponse.malformed()] * 3)
    created = upload().json()
    assert created["status"] == "failed"
    scan = stored_scan(auth_client.session_data["user"]["user_id"], created["scan_id"])

    direct = ScanSerializer(scan).data

    assert direct["analysis"] is None
    assert as_json(direct) == as_json(field_by_field(ScanSerializer, scan))
