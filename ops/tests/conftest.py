"""Fixtures of the ops tests: staff accounts made by the real command, signed-in clients."""

import io

import pytest
from django.core.management import call_command
from django.test import Client

from conftest import STRONG_PASSWORD
from dynamo.users import User, users_table


@pytest.fixture
def create_staff(unique_email):
    """Create a staff account with ``create_staff_user`` (password on stdin)."""

    def create(email: str | None = None, password: str = STRONG_PASSWORD) -> User:
        email = email or unique_email()
        call_command(
            "create_staff_user",
            "--email",
            email,
            stdin=io.StringIO(password + "\n"),
            stdout=io.StringIO(),
        )
        users = users_table()
        return users.get(users.find_user_id(email))

    return create


@pytest.fixture
def staff(create_staff) -> User:
    return create_staff()


def sign_in(client: Client, email: str, password: str = STRONG_PASSWORD):
    return client.post("/ops/login", {"email": email, "password": password})


@pytest.fixture
def staff_client(staff) -> Client:
    """A browser-like client signed in to the ops pages as ``staff``."""
    client = Client()
    response = sign_in(client, staff.email)
    assert response.status_code == 302, response.content
    client.staff = staff
    return client


@pytest.fixture
def account(register) -> dict:
    """A regular account registered through the API: its body, tokens and password."""
    return register()
