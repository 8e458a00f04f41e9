"""GET /api/v1/users/me/export: one zip of everything held about the caller, streamed."""

import io
import json
import os
import tracemalloc
import zipfile
from datetime import UTC, datetime

import pytest
from django.core.files.base import ContentFile
from PIL import Image

from privacy import services
from privacy.tests.helpers import EXPORT, fail_analysis, open_zip, upload_scan
from scans import storage

DOCUMENT = "dermalens-export.json"


def download(account):
    response = account.client.get(EXPORT)
    assert response.status_code == 200, response.content
    assert response.streaming
    return open_zip(b"".join(response.streaming_content))


def document_of(archive) -> dict:
    return json.loads(archive.read(DOCUMENT))


class TestExportApi:
    def test_the_export_is_a_streamed_zip_attachment_named_by_the_date(self, new_account):
        response = new_account().client.get(EXPORT)
        assert response.status_code == 200
        assert response.streaming
        assert response["Content-Type"] == "application/zip"
        day = datetime.now(UTC).date().isoformat()
        assert response["Content-Disposition"] == (
            f'attachment; filename="dermalens-export-{day}.zip"'
        )
        assert response["Cache-Control"] == "no-store"
        assert open_zip(b"".join(response.streaming_content)).namelist() == [DOCUMENT]

    def test_exports_are_limited_per_account(self, new_account, throttle_rates):
        throttle_rates(export="2/hour")
        account, other = new_account(), new_account()
        assert [download(account).namelist() for _ in range(2)] == [[DOCUMENT]] * 2
        refused = account.client.get(EXPORT)
        assert refused.status_code == 429
        assert refused["Content-Type"].startswith("application/json")
        error = refused.json()["error"]
        assert error["code"] == "throttled"
        assert error["details"]["retry_after_seconds"] == int(refused["Retry-After"])
        assert download(other).namelist() == [DOCUMENT]

    def test_the_document_holds_the_profile_but_never_the_password_hash(self, new_account):
        account = new_account()
        document = document_of(download(account))
        assert set(document) == {
            "exported_at",
            "profile",
            "scans",
            "failed_analyses",
            "plans",
            "check_ins",
            "chat",
        }
        profile = document["profile"]
        assert profile["user_id"] == account.user_id
        assert profile["email"] == account.email
        assert profile["full_name"] == "Test User"
        assert "password_hash" not in profile
        assert "argon2" not in json.dumps(document)

    def test_the_document_holds_scans_with_analyses_plans_check_ins_and_chat(self, full_account):
        account = full_account(chat=("Is retinol safe for me?", "Start twice a week."))
        document = document_of(download(account))
        [scan] = document["scans"]
        assert scan["scan_id"] == account.scan_ids[0]
        assert scan["status"] == "complete"
        assert scan["analysis"]["metrics"]["redness"]["score"] is not None
        [plan] = document["plans"]
        assert plan["plan_id"] == account.plan_ids[0]
        assert plan["status"] == "active"
        assert plan["content"]
        [check_in] = document["check_ins"]
        assert check_in["plan_id"] == account.plan_ids[0]
        assert check_in["date"] == account.check_in_dates[0]
        assert (check_in["am_done"], check_in["pm_done"], check_in["irritation"]) == (
            True,
            False,
            1,
        )
        [session] = document["chat"]["sessions"]
        assert session["session_id"] == account.session_ids[0]
        assert session["title"] == "Dry patches"
        messages = document["chat"]["messages"]
        assert [m["message_id"] for m in messages] == account.message_ids
        assert [m["content"] for m in messages] == [
            "Is retinol safe for me?",
            "Start twice a week.",
        ]

    def test_the_document_holds_the_failed_analyses_of_the_account(self, full_account):
        account = full_account()
        fail_analysis(account, account.scan_ids[0], "timeout")
        other = full_account()
        fail_analysis(other, other.scan_ids[0], "rate_limited")
        document = document_of(download(account))
        [failure] = document["failed_analyses"]
        assert failure["scan_id"] == account.scan_ids[0]
        assert failure["reason"] == "timeout"
        [scan] = document["scans"]
        assert failure["failed_at"] == scan["updated_at"]

    def test_the_images_and_thumbnails_are_in_the_archive_as_valid_jpegs(self, new_account):
        account = new_account()
        upload_scan(account)
        upload_scan(account)
        archive = download(account)
        scans = document_of(archive)["scans"]
        for scan_id in account.scan_ids:
            image = archive.read(f"images/{scan_id}/image.jpg")
            thumbnail = archive.read(f"images/{scan_id}/thumbnail.jpg")
            assert image == storage.read_scan_file(storage.image_key(account.user_id, scan_id))
            for data in (image, thumbnail):
                with Image.open(io.BytesIO(data)) as picture:
                    assert picture.format == "JPEG"
                    picture.verify()
            [scan] = [s for s in scans if s["scan_id"] == scan_id]
            assert scan["files"] == [
                f"images/{scan_id}/image.jpg",
                f"images/{scan_id}/thumbnail.jpg",
            ]

    def test_photos_are_stored_as_they_are_and_the_document_is_deflated(self, new_account):
        account = new_account()
        upload_scan(account)
        archive = download(account)
        kinds = {info.filename: info.compress_type for info in archive.infolist()}
        [scan_id] = account.scan_ids
        # JPEGs are compressed already: deflating them again only costs CPU.
        assert kinds[f"images/{scan_id}/image.jpg"] == zipfile.ZIP_STORED
        assert kinds[f"images/{scan_id}/thumbnail.jpg"] == zipfile.ZIP_STORED
        assert kinds[DOCUMENT] == zipfile.ZIP_DEFLATED
        assert archive.testzip() is None  # every entry's checksum holds

    def test_nothing_of_another_user_is_in_the_export(self, full_account):
        mine, theirs = full_account(), full_account(chat=("their secret question",))
        archive = download(mine)
        everything = b"".join(archive.read(name) for name in archive.namelist())
        assert theirs.user_id.encode() not in everything
        assert theirs.email.encode() not in everything
        assert b"their secret question" not in everything
        assert not any(
            scan_id in name for name in archive.namelist() for scan_id in theirs.scan_ids
        )

    def test_the_export_needs_a_signed_in_caller(self, api_client):
        response = api_client.get(EXPORT)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"

    def test_a_client_that_accepts_only_zip_gets_the_zip(self, new_account):
        response = new_account().client.get(EXPORT, HTTP_ACCEPT="application/zip")
        assert response.status_code == 200
        assert open_zip(b"".join(response.streaming_content)).namelist() == [DOCUMENT]

    def test_on_s3_the_export_reads_the_images_from_the_bucket(self, new_account, s3_storage):
        account = new_account()
        scan_id = upload_scan(account)["scan_id"]
        key = storage.image_key(account.user_id, scan_id)
        stored = s3_storage.get_object(Bucket=s3_storage.bucket, Key=key)["Body"].read()
        assert download(account).read(f"images/{scan_id}/image.jpg") == stored


class TestExportService:
    def test_a_missing_account_is_not_found_before_any_byte_is_produced(self):
        with pytest.raises(services.AccountNotFound):
            services.export_account(user_id="01JNOSUCHUSER0000000000000")

    def test_memory_stays_flat_however_large_the_stored_files_are(self, new_account):
        account = new_account()
        file_bytes = 4 * 1024 * 1024
        for name in ("a", "b", "c"):
            storage.scan_storage().save(
                f"{account.user_id}/{name}/image.jpg", ContentFile(os.urandom(file_bytes))
            )
        # A first run loads what is loaded once per process (botocore models, zlib).
        for _ in services.export_account(user_id=account.user_id):
            pass
        tracemalloc.start()
        try:
            produced = sum(len(chunk) for chunk in services.export_account(user_id=account.user_id))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert produced > 3 * file_bytes
        assert peak < file_bytes / 4, f"peak {peak} bytes"
