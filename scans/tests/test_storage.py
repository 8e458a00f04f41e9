"""Image URLs: reused for a third of their life, and always working when handed out."""

import pytest
from django.core import signing
from django.core.cache.backends import locmem

from dynamo.tests.factories import new_id
from scans import storage
from scans.tests.conftest import Clock


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(signing, "time", clock)
    monkeypatch.setattr(locmem, "time", clock)
    return clock


def test_an_image_url_is_handed_out_again_for_a_third_of_its_life(clock, settings):
    key = storage.thumbnail_key(new_id(), new_id())
    first = storage.image_url(key)

    clock.now += settings.IMAGE_URL_SECONDS // 3 - 1
    assert storage.image_url(key) == first

    clock.now += 2
    second = storage.image_url(key)
    assert second != first
    assert storage.image_url(key) == second


def test_a_reused_url_still_has_two_thirds_of_its_life(clock, settings):
    key = storage.thumbnail_key(new_id(), new_id())
    storage.image_url(key)
    clock.now += settings.IMAGE_URL_SECONDS // 3 - 1
    token = storage.image_url(key).rstrip("/").rsplit("/", 1)[-1]

    clock.now += settings.IMAGE_URL_SECONDS * 2 // 3
    assert storage.key_from_token(token) == key

    clock.now += settings.IMAGE_URL_SECONDS // 3
    assert storage.key_from_token(token) is None


def test_each_file_gets_its_own_url(clock):
    user_id, scan_id = new_id(), new_id()
    image = storage.image_url(storage.image_key(user_id, scan_id))
    thumbnail = storage.image_url(storage.thumbnail_key(user_id, scan_id))

    assert image != thumbnail
    assert storage.key_from_token(thumbnail.rstrip("/").rsplit("/", 1)[-1]) == (
        storage.thumbnail_key(user_id, scan_id)
    )
