"""The account page shows whether the email is verified, and staff can send a password
reset link (audited) without ever seeing the link or a password."""

from rest_framework.test import APIClient

from dynamo.audit import audit_table
from dynamo.users import users_table


def email_row(page: str) -> str:
    start = page.index("<dt>Email</dt>")
    return page[start : page.index("</dd>", start)]


class TestAccountPage:
    def test_shows_whether_the_email_is_verified(self, ses_mailbox, staff_client, account):
        user_id, email = account["user"]["user_id"], account["user"]["email"]
        page = staff_client.get(f"/ops/users/{user_id}").content.decode()
        assert "not verified" in email_row(page)
        token = ses_mailbox.last(email, subject="Confirm your email address").token
        assert APIClient().post("/api/v1/auth/email/verify", {"token": token}).status_code == 200
        page = staff_client.get(f"/ops/users/{user_id}").content.decode()
        assert "verified" in email_row(page) and "not verified" not in email_row(page)


class TestSendResetLink:
    def test_sends_the_link_to_the_account_and_records_who_did_it(
        self, ses_mailbox, staff_client, account
    ):
        user_id, email = account["user"]["user_id"], account["user"]["email"]
        response = staff_client.post(f"/ops/users/{user_id}/send-reset-link")
        assert response.status_code == 302
        page = staff_client.get(response["Location"]).content.decode()
        assert "A password reset link is on its way" in page
        assert "sent a password reset link" in page  # the page's history of staff actions

        message = ses_mailbox.last(email, subject="Reset your DermaLens password")
        assert message.token not in page
        [entry] = [
            e
            for e in audit_table().entries_about(user_id, limit=10)
            if e.action == "send_password_reset"
        ]
        assert entry.actor_user_id == staff_client.staff.user_id
        assert email not in str(entry.details)
        # The person, not staff, chooses the new password.
        body = {"token": message.token, "new_password": "chosen-by-the-person-7"}
        response = APIClient().post("/api/v1/auth/password/reset/confirm", body)
        assert response.status_code == 200

    def test_a_disabled_account_gets_no_link(self, ses_mailbox, staff_client, account):
        user_id, email = account["user"]["user_id"], account["user"]["email"]
        users_table().disable(user_id, updated_at="2026-01-01T00:00:00Z")
        response = staff_client.post(f"/ops/users/{user_id}/send-reset-link")
        assert response.status_code == 409
        assert "enable it before sending a reset link" in response.content.decode()
        assert [m for m in ses_mailbox.to(email) if "Reset" in m.subject] == []

    def test_needs_a_signed_in_staff_member(self, ses_mailbox, account):
        from django.test import Client

        user_id, email = account["user"]["user_id"], account["user"]["email"]
        response = Client().post(f"/ops/users/{user_id}/send-reset-link")
        assert response.status_code == 302 and "/ops/login" in response["Location"]
        assert [m for m in ses_mailbox.to(email) if "Reset" in m.subject] == []
