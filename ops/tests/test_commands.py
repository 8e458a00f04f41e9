"""The ops commands: create_staff_user and table_status."""

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from conftest import STRONG_PASSWORD
from dynamo.audit import audit_table
from dynamo.status import TableStatus
from dynamo.tables import ALL_TABLES
from dynamo.users import users_table
from ops.management.commands.table_status import what_to_check
from ops.tests.conftest import sign_in

ROOT = Path(__file__).resolve().parents[2]
# What the operator types for an account made staff.
STAFF_PASSWORD = "staff-chosen-Passw0rd-2026"


# boto3's credential chain finds nothing: no keys, no profile, no instance role.
WITHOUT_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_PROFILE": None,
    "AWS_DYNAMODB_ENDPOINT": None,
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def manage(
    *args: str, stdin: str = "", environment: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess:
    """Run manage.py; ``environment`` sets variables (None: unsets them)."""
    env = dict(os.environ)
    for name, value in (environment or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(  # noqa: S603 (our own manage.py)
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def stored_user(email: str):
    users = users_table()
    user_id = users.find_user_id(email)
    return users.get(user_id) if user_id else None


class TestCreateStaffUser:
    def test_creates_a_staff_account_with_the_password_from_stdin(self, unique_email):
        email = unique_email()
        result = manage("create_staff_user", "--email", email, stdin=STRONG_PASSWORD + "\n")
        assert result.returncode == 0, result.stderr
        assert f"Created staff account {email}" in result.stdout
        user = stored_user(email)
        assert user.is_staff and user.is_active
        assert sign_in(Client(), email).status_code == 302

    def test_there_is_no_password_argument(self, unique_email):
        email = unique_email()
        result = manage("create_staff_user", "--email", email, "--password", STRONG_PASSWORD)
        assert result.returncode != 0
        assert "unrecognized arguments" in result.stderr
        assert stored_user(email) is None

    @pytest.mark.parametrize(
        ("password", "message"),
        [("", "No password given"), ("password", "too common"), ("short1", "too short")],
    )
    def test_refuses_a_missing_or_weak_password(self, unique_email, password, message):
        email = unique_email()
        with pytest.raises(CommandError, match=message):
            call_command("create_staff_user", "--email", email, stdin=io.StringIO(password + "\n"))
        assert stored_user(email) is None

    @pytest.mark.parametrize("email", ["not-an-email", "ops@", "two@at@example.com", " "])
    def test_refuses_an_address_that_is_not_an_email(self, email):
        # Before the password is asked for, and nothing is stored.
        with pytest.raises(CommandError, match="valid email"):
            call_command("create_staff_user", "--email", email, stdin=io.StringIO())
        assert stored_user(email.strip().lower()) is None

    def test_makes_an_existing_account_staff_with_the_password_given(self, register):
        account = verified(register())
        email = account["user"]["email"]
        out = io.StringIO()
        given = io.StringIO(STAFF_PASSWORD + "\n")
        call_command("create_staff_user", "--email", email.upper(), stdin=given, stdout=out)
        assert f"Made staff {email}" in out.getvalue()
        assert "earlier sessions have ended" in out.getvalue()
        assert stored_user(email).is_staff
        assert sign_in(Client(), email, STAFF_PASSWORD).status_code == 302
        assert sign_in(Client(), email, account["password"]).status_code == 401

    def test_a_weak_password_leaves_an_existing_account_as_it_was(self, register):
        account = verified(register())
        email = account["user"]["email"]
        before = stored_user(email)
        with pytest.raises(CommandError, match="too short"):
            call_command("create_staff_user", "--email", email, stdin=io.StringIO("abc\n"))
        after = stored_user(email)
        assert (after.is_staff, after.password_hash) == (False, before.password_hash)

    def test_is_recorded_in_the_audit_trail(self, create_staff, register):
        staff = create_staff()
        account = verified(register())
        make_staff(account["user"]["email"])
        [created] = audit_table().entries_about(staff.user_id, limit=5)
        assert (created.action, created.actor_user_id) == ("create_staff", "manage.py")
        [promoted] = audit_table().entries_about(account["user"]["user_id"], limit=5)
        assert promoted.action == "promote_staff"

    def test_whoever_registered_a_new_hires_address_first_is_shut_out_when_it_is_made_staff(
        self, register, unique_email, ses_mailbox
    ):
        # A stranger registers the new hire's address with a password of their own; the
        # new hire verifies the address by the welcome email's link. Made staff with the
        # stranger's password, the stranger would sign in to the ops pages with it.
        email = unique_email()
        stranger = verified(register(email=email, password="chosen-by-a-stranger-31"))
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Bearer {stranger['access']}")
        assert api.get("/api/v1/users/me").status_code == 200

        assert f"Made staff {email}" in make_staff(email)

        assert sign_in(Client(), email, "chosen-by-a-stranger-31").status_code == 401
        assert sign_in(Client(), email, STAFF_PASSWORD).status_code == 302
        users_table().forget(stranger["user"]["user_id"])  # this process's copy of the user
        assert api.get("/api/v1/users/me").status_code == 401
        refreshed = APIClient().post(
            "/api/v1/auth/refresh", {"refresh": stranger["refresh"]}, format="json"
        )
        assert refreshed.status_code == 401
        # The address's owner is told that its password changed.
        assert ses_mailbox.last(email, subject="password was changed")

    def test_running_it_again_changes_nothing(self, staff):
        out = io.StringIO()
        call_command("create_staff_user", "--email", staff.email, stdin=io.StringIO(), stdout=out)
        assert "is staff already" in out.getvalue()
        assert len(audit_table().entries_about(staff.user_id, limit=5)) == 1


class TestTableStatus:
    def test_prints_one_line_per_table(self):
        out = io.StringIO()
        call_command("table_status", stdout=out)
        lines = out.getvalue().splitlines()
        assert len(lines) == len(ALL_TABLES)
        for definition, line in zip(ALL_TABLES, lines, strict=True):
            assert line.startswith(definition.name)
            assert "ACTIVE" in line
            assert re.search(r"  items: \d+  size: \d+ bytes$", line), line

    def test_a_missing_table_is_reported_and_fails(self, settings):
        settings.DYNAMODB_AUDIT_TABLE = "test-audit-missing"
        out = io.StringIO()
        with pytest.raises(CommandError, match=r"not ACTIVE: test-audit-missing\. Run `python"):
            call_command("table_status", stdout=out)
        lines = out.getvalue().splitlines()
        assert any(re.fullmatch(r"test-audit-missing +MISSING", line) for line in lines)

    @pytest.mark.parametrize(
        ("status", "said"),
        [
            ("REFUSED", "dynamodb:DescribeTable right"),
            ("CREATING", "Creating: run this again shortly."),
            ("ARCHIVED", "ARCHIVED: see the table in the DynamoDB console."),
        ],
    )
    def test_each_status_that_is_not_active_says_what_to_check(self, status, said):
        not_ready = [TableStatus("test-audit", status), TableStatus("test-jobs", status)]
        assert what_to_check(not_ready).count(said) == 1


class TestRemoveStaff:
    def test_ends_the_ops_sign_in_at_once_and_is_recorded(self, staff_client):
        staff = staff_client.staff
        assert staff_client.get("/ops/").status_code == 200
        out = io.StringIO()
        call_command("remove_staff", "--email", staff.email.upper(), stdout=out)
        assert "is no longer staff" in out.getvalue()
        assert staff_client.get("/ops/").status_code == 302
        assert not users_table().get(staff.user_id).is_staff
        [removed] = audit_table().entries_about(staff.user_id, limit=1)
        assert (removed.action, removed.actor_user_id) == ("remove_staff", "manage.py")
        # The account itself stays: it signs in to the API as before.
        login = {"email": staff.email, "password": STRONG_PASSWORD}
        assert APIClient().post("/api/v1/auth/login", login, format="json").status_code == 200

    def test_an_account_that_is_not_staff_is_left_as_it_is(self, register):
        account = register()
        out = io.StringIO()
        call_command("remove_staff", "--email", account["user"]["email"], stdout=out)
        assert "is not staff" in out.getvalue()

    def test_an_unknown_email_is_an_error(self, unique_email):
        with pytest.raises(CommandError, match="No account has the email"):
            call_command("remove_staff", "--email", unique_email(), stdout=io.StringIO())


class TestStaffStates:
    def test_an_account_being_erased_is_not_made_staff(self, register):
        account = register()
        users_table().start_erasure(account["user"]["user_id"], started_at="2026-11-28T03:00:00Z")
        with pytest.raises(CommandError, match="being erased"):
            make_staff(account["user"]["email"])
        assert not users_table().get(account["user"]["user_id"]).is_staff

    def test_a_disabled_staff_account_is_said_to_be_disabled(self, staff):
        users_table().disable(staff.user_id, updated_at="2026-11-28T03:00:00Z")
        said = make_staff(staff.email)
        assert "is staff already" in said and "disabled" in said


def verified(account: dict) -> dict:
    """``account`` (a ``register`` fixture's answer) with its address verified."""
    user = users_table().get(account["user"]["user_id"])
    users_table().mark_email_verified(
        user.user_id, expected_version=user.version, updated_at="2026-11-28T03:00:00.000Z"
    )
    return account


def make_staff(email: str) -> str:
    """``create_staff_user`` for an existing account, with STAFF_PASSWORD: what it said."""
    out = io.StringIO()
    given = io.StringIO(STAFF_PASSWORD + "\n")
    call_command("create_staff_user", "--email", email, stdin=given, stdout=out)
    return out.getvalue()


class TestWithoutAWSAccess:
    """A host without credentials, or with a region name that is none, gets one line from
    each command naming what to check, not a traceback."""

    @pytest.mark.parametrize(
        "arguments",
        [("remove_staff", "--email", "ops@example.com"), ("create_tables",)],
        ids=lambda arguments: arguments[0],
    )
    def test_without_credentials_a_command_says_what_to_check_in_one_line(self, arguments):
        result = manage(*arguments, environment=WITHOUT_CREDENTIALS)
        assert result.returncode == 1
        assert_one_line(result.stderr, "Unable to locate credentials", "the instance's role")

    @pytest.mark.parametrize(
        "arguments",
        [("remove_staff", "--email", "ops@example.com"), ("create_tables",), ("table_status",)],
        ids=lambda arguments: arguments[0],
    )
    def test_a_region_that_is_no_region_name_is_one_line_naming_it(self, arguments):
        result = manage(*arguments, environment={**WITHOUT_CREDENTIALS, "AWS_REGION": "us east"})
        assert result.returncode == 1
        if arguments[0] == "table_status":  # a line per table, then what is not ACTIVE
            assert_one_line(result.stderr, "not ACTIVE", "AWS_REGION (us east)", "its role")
            assert "UNREACHABLE" in result.stdout
        else:
            assert_one_line(result.stderr, "'us east'", "the region")


def assert_one_line(stderr: str, *phrases: str) -> None:
    assert "Traceback" not in stderr
    [line] = [line for line in stderr.splitlines() if line.strip()]
    for phrase in phrases:
        assert phrase in line
