"""The account pages that emailed links open, through Django's test client with CSRF
checks on, as a browser that keeps no cookie sends their forms."""

from django.test import Client
from rest_framework.test import APIClient

from accounts.links import password_reset_token, verification_token
from dynamo.users import users_table

RESET_PAGE = "/account/reset-password"
VERIFY_PAGE = "/account/verify-email"
NEW_PASSWORD = "a-new-passphrase-without-cookies"


def cookieless_browser() -> Client:
    """A browser that keeps no cookie (cookies blocked, a mail app's viewer)."""
    return Client(enforce_csrf_checks=True)


class TestWithoutCookies:
    def test_the_reset_form_sets_the_password_in_a_browser_that_keeps_no_cookie(self, register):
        session = register()
        user = users_table().get(session["user"]["user_id"])
        token = password_reset_token(user)
        browser = cookieless_browser()
        opened = browser.get(RESET_PAGE, {"token": token})
        assert opened.status_code == 200
        assert "Set-Cookie" not in opened.headers
        form = {"token": token, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
        sent = cookieless_browser().post(RESET_PAGE, form)
        assert sent.status_code == 200, sent.content
        assert "Your password is changed" in sent.content.decode()
        login = {"email": user.email, "password": NEW_PASSWORD}
        assert APIClient().post("/api/v1/auth/login", login).status_code == 200

    def test_the_verify_form_confirms_the_address_in_a_browser_that_keeps_no_cookie(self, register):
        session = register()
        user = users_table().get(session["user"]["user_id"])
        sent = cookieless_browser().post(VERIFY_PAGE, {"token": verification_token(user)})
        assert sent.status_code == 200, sent.content
        assert users_table().get(user.user_id).email_verified

    def test_a_form_without_a_valid_token_changes_nothing(self, register):
        form = {"token": "x", "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
        refused = cookieless_browser().post(RESET_PAGE, form)
        assert refused.status_code == 400
        assert "This link is invalid, expired or already used" in refused.content.decode()

    def test_the_ops_pages_keep_their_csrf_protection(self):
        refused = cookieless_browser().post("/ops/login", {"email": "a@example.com"})
        assert refused.status_code == 403
