"""A worker checks an access token's signature and claims once and keeps the checked
token until it expires (``accounts.authentication``); the account behind it is still
checked on every request."""

import time

import pytest
from django.core.cache.backends import locmem
from rest_framework.test import APIClient
from rest_framework_simplejwt.backends import TokenBackend

from accounts.authentication import VERIFIED_TOKENS_ALIAS
from dynamo import process_cache
from scans.tests.conftest import Clock

ME = "/api/v1/users/me"
NEW_PASSWORD = "another-horse-battery-staple"


@pytest.fixture
def decodes(monkeypatch):
    """The tokens whose signature and claims were checked, in order."""
    checked = []
    real_decode = TokenBackend.decode

    def counted(backend, token, verify=True):
        checked.append(token)
        return real_decode(backend, token, verify=verify)

    monkeypatch.setattr(TokenBackend, "decode", counted)
    process_cache.process_cache(VERIFIED_TOKENS_ALIAS).clear()
    return checked


def signed_in(session):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {session['access']}")
    return client


def test_a_token_is_checked_once_then_kept(register, decodes):
    client = signed_in(register())
    assert [client.get(ME).status_code for _ in range(5)] == [200] * 5
    assert len(decodes) == 1


def test_a_kept_token_is_not_kept_past_its_expiry(register, decodes, monkeypatch):
    session = register()
    client = signed_in(session)
    assert client.get(ME).status_code == 200
    clock = Clock()
    monkeypatch.setattr(locmem, "time", clock)
    clock.now = time.time() + 60 * 60 * 24  # a day on: past any access token's life
    # The worker's copy is gone; the token is checked again (and, in real time, valid).
    assert client.get(ME).status_code == 200
    assert len(decodes) == 2


def test_a_kept_token_of_a_changed_password_is_refused(register, decodes):
    session = register()
    client = signed_in(session)
    assert client.get(ME).status_code == 200
    changed = client.post(
        "/api/v1/auth/password",
        {"current_password": session["password"], "new_password": NEW_PASSWORD},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    refused = client.get(ME)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_revoked"
    assert signed_in(changed.json()).get(ME).status_code == 200


def test_an_altered_token_is_refused_though_the_real_one_is_kept(register, decodes):
    session = register()
    assert signed_in(session).get(ME).status_code == 200
    header, payload, signature = session["access"].split(".")
    altered = f"{header}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    refused = signed_in({"access": altered}).get(ME)
    assert refused.status_code == 401
