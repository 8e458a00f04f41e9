"""Create a staff account, or make an existing account staff.

    python manage.py create_staff_user --email ops@example.com           # asks twice
    printf '%s\\n' "$PASSWORD" | python manage.py create_staff_user --email ops@example.com

The password is never an argument (arguments show in `ps` and in shell history): it
is asked for at a terminal, or read as the first line of standard input otherwise. It
must pass Django's password validators, and the email registration's checks. An
existing account is made staff with the password given here too, and every session
of it ends: anyone can register a new hire's address first with a password of their
own, and the owner's verifying the address changes neither that password nor the
sessions signed in with it. Its owner is told by email that the password changed.
"""

import getpass
import sys
from typing import TextIO, cast

from django.contrib.auth.hashers import make_password
from django.core.management.base import CommandError
from rest_framework import serializers

from accounts.serializers import RegisterSerializer
from accounts.services import (
    EmailAlreadyRegistered,
    check_new_password,
    normalize_email,
    notify_password_changed,
    now_iso,
    register_user,
)
from dermalens_site.commands import DataCommand
from dynamo.errors import VersionConflict
from dynamo.users import users_table
from ops.services import record_command_action


class Command(DataCommand):
    help = "Create a staff account (password from a prompt or stdin) or make an account staff."
    stealth_options = ("stdin",)
    stdin: TextIO  # set by handle

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="the staff member's email")
        parser.add_argument(
            "--full-name", default="", help="name for a new account (default: the email)"
        )

    def handle(self, *args, email: str, full_name: str, **options):
        self.stdin = cast(TextIO, options.get("stdin", sys.stdin))  # tests pass their own
        email = normalize_email(valid_email(email))
        users = users_table()
        user_id = users.find_user_id(email)
        action = "promote_staff"
        if user_id is None:
            password = self.read_password()
            try:
                user, _ = register_user(
                    email=email, password=password, full_name=full_name or email
                )
            except serializers.ValidationError as err:
                raise CommandError(" ".join(_messages(err.detail))) from err
            except EmailAlreadyRegistered as err:
                raise CommandError("That email was registered meanwhile; run again.") from err
            user_id = user.user_id
            action = "create_staff"
        else:
            existing = users.get(user_id)
            if existing is None:
                raise CommandError(f"{email} is registered but its account item is missing.")
            if existing.erasure_started_at is not None:
                raise CommandError(f"{email} is being erased; it cannot be made staff.")
            if existing.is_staff:
                disabled = "" if existing.is_active else ", but disabled: enable it to sign in"
                self.stdout.write(f"{email} is staff already ({user_id}){disabled}.")
                return
            password = self.read_password()
            try:
                check_new_password(password, user=existing)
            except serializers.ValidationError as err:
                raise CommandError(" ".join(_messages(err.detail))) from err
            try:
                changed = users.set_password(
                    user_id,
                    password_hash=make_password(password),
                    updated_at=now_iso(),
                    expected_version=existing.version,
                )
            except VersionConflict as err:
                raise CommandError(f"{email} changed meanwhile; run again.") from err
            notify_password_changed(user=changed, by_reset=False)
        users.set_staff(user_id, is_staff=True, updated_at=now_iso())
        record_command_action(
            action=action,
            target_user_id=user_id,
        )
        if action == "create_staff":
            self.stdout.write(f"Created staff account {email} ({user_id}).")
        else:
            self.stdout.write(
                f"Made staff {email} ({user_id}), with the password given; its earlier "
                "sessions have ended."
            )

    def read_password(self) -> str:
        if self.stdin.isatty():
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords do not match.")
        else:
            password = self.stdin.readline().rstrip("\r\n")
        if not password:
            raise CommandError(
                "No password given: type it at the prompt, or pipe it on standard input."
            )
        return password


def valid_email(email: str) -> str:
    """``email`` as registration would take it (its field's checks), or CommandError."""
    try:
        return RegisterSerializer().fields["email"].run_validation(email)
    except serializers.ValidationError as err:
        reasons = " ".join(_messages(err.detail))
        raise CommandError(f"{email!r} is not a valid email address: {reasons}") from err


def _messages(detail) -> list[str]:
    if isinstance(detail, dict):
        return [message for value in detail.values() for message in _messages(value)]
    if isinstance(detail, list):
        return [message for value in detail for message in _messages(value)]
    return [str(detail)]
