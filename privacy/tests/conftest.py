"""Fixtures of the privacy tests: signed-in accounts, empty or with data in every domain.

Django is set up only after this module loads (the root conftest does it in
pytest_configure), so the helpers that need it are imported inside the fixtures.
"""

import pytest


@pytest.fixture
def new_account(register):
    """A signed-in account with no data yet."""

    from privacy.tests.helpers import sign_in

    def make():
        return sign_in(register())

    return make


@pytest.fixture
def full_account(new_account):
    """A signed-in account with data in every domain: scan, plan, check-in, chat, and
    the Idempotency-Keys of a message and a plan."""

    from privacy.tests.helpers import (
        check_in,
        claim_request_keys,
        create_plan,
        upload_scan,
        write_chat,
    )

    def make(chat: tuple[str, ...] = ("My cheeks are dry.", "Try a richer moisturiser.")):
        account = new_account()
        upload_scan(account)
        plan = create_plan(account)
        check_in(account, plan["plan_id"])
        write_chat(account, chat)
        claim_request_keys(account)
        return account

    return make
