"""Account email reuses one SES client per process (``dermalens_site/ses.py``).

Django makes an email backend for every message; django-ses alone then made a boto3
session and SES client for each (about 0.15 s of CPU, and with the IAM role a fresh
fetch of credentials), which in a gevent web worker held every other request.
"""

import uuid

import django_ses
from django.core.mail import get_connection

from accounts.mail import render_account_email, wait_for_account_email
from accounts.tests.test_recovery import ask_for_reset, reset_link_token


def test_several_account_emails_are_sent_through_one_ses_client(ses_mailbox, register, monkeypatch):
    made = []
    make_client = django_ses.SESBackend.open

    def counted(backend):
        made.append(backend)
        return make_client(backend)

    monkeypatch.setattr(django_ses.SESBackend, "open", counted)
    emails = [register()["user"]["email"] for _ in range(3)]
    for email in emails:
        assert ask_for_reset(email).status_code == 202
    wait_for_account_email()

    assert all(reset_link_token(ses_mailbox, email) for email in emails)
    assert len(made) == 1
    first, second = get_connection(), get_connection()
    first.open()
    second.open()
    assert first.connection is second.connection


def test_mail_to_an_internationalised_domain_leaves_for_its_ascii_form(ses_mailbox, register):
    # SES takes a domain in Punycode only; the account keeps the address as it reads.
    local = f"user-{uuid.uuid4().hex[:12]}"
    account = register(email=f"{local}@bücher.example")
    assert account["user"]["email"] == f"{local}@bücher.example"
    assert ask_for_reset(f"{local}@BÜCHER.example").status_code == 202
    assert reset_link_token(ses_mailbox, f"{local}@xn--bcher-kva.example")
    # What django-ses hands SES as the destinations, beside the message's To header.
    message = render_account_email(kind="verify_email", to=account["user"]["email"], context={})
    assert message.recipients() == [f"{local}@xn--bcher-kva.example"]


def test_a_name_stored_with_line_breaks_opens_a_message_on_one_line():
    # Names are one line since the API refuses line breaks in them; one stored before
    # must not write lines of its own into the message.
    name = "Ana\n\nYour account is locked: sign in at https://example.net\n"
    message = render_account_email(
        kind="password_changed", to="ana@example.com", context={"full_name": name}
    )
    assert message.body.splitlines()[0] == (
        "Hello Ana Your account is locked: sign in at https://example.net,"
    )
