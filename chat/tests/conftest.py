"""Fixtures of the chat tests: signed-in people, sessions, messages.

Django is set up only after this module loads (the root conftest does it in
pytest_configure), so what needs settings is imported inside the fixtures; helpers
that need it live in ``chat.tests.helpers``.
"""

import pytest

SESSIONS = "/api/v1/chat/sessions"


@pytest.fixture
def client_for(register):
    """A signed-in API client for a fresh account (``**extra`` goes to registration)."""

    from rest_framework.test import APIClient

    def make(**extra):
        session = register(**extra)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {session['access']}")
        client.session_data = session
        return client

    return make


@pytest.fixture
def other_client(client_for):
    return client_for()


@pytest.fixture
def start_session(auth_client):
    def start(client=None, **body) -> dict:
        response = (client or auth_client).post(SESSIONS, body, format="json")
        assert response.status_code == 201, response.content
        return response.json()

    return start


@pytest.fixture
def send(auth_client):
    """POST a message to a session; returns the response."""

    def post(session_id: str, content: str, client=None, **headers):
        return (client or auth_client).post(
            f"{SESSIONS}/{session_id}/messages", {"content": content}, format="json", **headers
        )

    return post


@pytest.fixture
def gemini_chat(gemini_settings, fake_gemini, auth_client, start_session, send):
    """Send messages to a fresh session with the Gemini provider; returns the session id."""
    session_id = start_session()["session_id"]

    def chat(content: str, *script, **headers):
        fake_gemini.enqueue(*script)
        return send(session_id, content, **headers)

    chat.session_id = session_id
    return chat
