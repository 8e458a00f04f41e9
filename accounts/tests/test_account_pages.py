"""The account pages that emailed links open, through Django's test client with CSRF
checks on, as a browser that keeps no cookie sends their forms."""

import pytest
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


NEW_LINK = "/account/reset-password/new-link"


class TestNewLinkOnThePage:
    def test_a_used_or_expired_link_offers_a_form_that_emails_a_new_one(
        self, ses_mailbox, register
    ):
        email = register()["user"]["email"]
        opened = cookieless_browser().get(RESET_PAGE, {"token": "an-old-used-token"})
        assert opened.status_code == 400
        assert f'action="{NEW_LINK}"' in opened.content.decode()
        asked = cookieless_browser().post(NEW_LINK, {"email": email.upper()})
        assert asked.status_code == 202, asked.content
        assert "a link to reset its password is on its way" in asked.content.decode()
        token = ses_mailbox.last(email, subject="Reset your DermaLens password").token
        form = {"token": token, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
        assert cookieless_browser().post(RESET_PAGE, form).status_code == 200

    def test_an_address_nobody_has_gets_the_same_answer(self, ses_mailbox, register, unique_email):
        known, nobody = register()["user"]["email"], unique_email()
        answers = [cookieless_browser().post(NEW_LINK, {"email": e}) for e in (known, nobody)]
        assert [answer.status_code for answer in answers] == [202, 202]
        assert answers[0].content == answers[1].content
        assert ses_mailbox.to(nobody) == []

    def test_the_page_and_the_api_share_the_email_addresss_limit(self, register):
        email = register()["user"]["email"]
        api = APIClient(REMOTE_ADDR="10.40.0.1")
        for _ in range(5):
            assert api.post("/api/v1/auth/password/reset", {"email": email}).status_code == 202
        refused = Client(REMOTE_ADDR="10.40.0.2").post(NEW_LINK, {"email": email})
        assert refused.status_code == 429
        assert 0 < int(refused["Retry-After"]) <= 3600
        assert "already asked for this email address in the last hour" in refused.content.decode()

    def test_the_page_brakes_a_flood_from_one_client_address(self, throttle_rates, unique_email):
        throttle_rates(password_reset="3/hour")
        browser = Client(REMOTE_ADDR="10.40.1.1")
        answers = [browser.post(NEW_LINK, {"email": unique_email()}) for _ in range(4)]
        assert [answer.status_code for answer in answers] == [202, 202, 202, 429]
        assert "from your network" in answers[3].content.decode()

    def test_a_malformed_address_is_a_400_with_the_form(self):
        refused = cookieless_browser().post(NEW_LINK, {"email": "not an address"})
        assert refused.status_code == 400
        assert "Enter a valid email address." in refused.content.decode()

    def test_a_form_another_site_sends_asks_for_no_link(self, ses_mailbox, register):
        email = register()["user"]["email"]
        refused = cookieless_browser().post(
            NEW_LINK, {"email": email}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert refused.status_code == 403
        asked = cookieless_browser().post(
            NEW_LINK, {"email": email}, headers={"Sec-Fetch-Site": "same-origin"}
        )
        assert asked.status_code == 202, asked.content
        resets = [m for m in ses_mailbox.to(email) if "Reset" in m.subject]
        assert len(resets) == 1

    @pytest.mark.parametrize(
        ("origin", "status"),
        [("https://evil.example", 403), ("http://testserver", 202), ("null", 202), (None, 202)],
    )
    def test_a_browser_that_says_no_fetch_site_is_judged_by_the_forms_origin(
        self, unique_email, origin, status
    ):
        # Safari before 16.4 sends Origin but no Sec-Fetch-Site; a mail app's viewer
        # sends neither, or "null".
        headers = {} if origin is None else {"Origin": origin}
        answer = cookieless_browser().post(NEW_LINK, {"email": unique_email()}, headers=headers)
        assert answer.status_code == status, answer.content

    def test_the_new_link_address_opened_again_shows_the_form(self):
        answer = cookieless_browser().get(NEW_LINK)
        assert answer.status_code == 302
        assert answer["Location"] == RESET_PAGE
