"""manage.py export_user and erase_user, for staff."""

import fcntl
import io
import json
import os
import signal

import pytest
from django.core.management import CommandError, call_command

from dynamo.audit import audit_table
from dynamo.base import Table
from dynamo.users import users_table
from privacy.tests.helpers import (
    email_claim,
    erase,
    interrupt_before_the_user_item,
    items_of,
    local_files_of,
    log_in,
    open_zip,
)


def run(*args, stdin: str | None = None, monkeypatch=None) -> str:
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


class TestExportUser:
    def test_export_user_writes_the_accounts_zip_to_the_output_file(self, full_account, tmp_path):
        account = full_account()
        output = tmp_path / "export.zip"
        said = run("export_user", "--email", account.email.upper(), "--output", str(output))
        assert str(output) in said
        archive = open_zip(output.read_bytes())
        document = json.loads(archive.read("dermalens-export.json"))
        assert document["profile"]["user_id"] == account.user_id
        assert [s["scan_id"] for s in document["scans"]] == account.scan_ids
        assert f"images/{account.scan_ids[0]}/image.jpg" in archive.namelist()
        assert list(tmp_path.iterdir()) == [output]
        [exported] = audit_table().entries_about(account.user_id, limit=5)
        assert (exported.action, exported.actor_user_id) == ("export_account", "manage.py")
        assert exported.details == {"bytes": output.stat().st_size}

    def test_export_user_never_overwrites_a_file(self, new_account, tmp_path):
        account = new_account()
        output = tmp_path / "export.zip"
        output.write_bytes(b"keep me")
        with pytest.raises(CommandError, match="exists already"):
            run("export_user", "--email", account.email, "--output", str(output))
        assert output.read_bytes() == b"keep me"

    def test_export_user_to_a_place_it_cannot_write_fails_cleanly(self, new_account, tmp_path):
        account = new_account()
        missing = tmp_path / "no-such-folder" / "export.zip"
        with pytest.raises(CommandError, match="Cannot write"):
            run("export_user", "--email", account.email, "--output", str(missing))
        assert list(tmp_path.iterdir()) == []

    def test_export_user_leaves_an_export_in_progress_alone(self, new_account, tmp_path):
        # Another export to the same file is running: it holds its partial file.
        account = new_account()
        output = tmp_path / "export.zip"
        partial = tmp_path / "export.zip.partial"
        with partial.open("wb") as running:
            fcntl.flock(running, fcntl.LOCK_EX | fcntl.LOCK_NB)
            running.write(b"another export, half written")
            running.flush()
            with pytest.raises(CommandError, match="Another export is writing"):
                run("export_user", "--email", account.email, "--output", str(output))
        assert partial.read_bytes() == b"another export, half written"
        assert not output.exists()

    def test_export_user_writes_over_what_a_killed_export_left(self, new_account, tmp_path):
        account = new_account()
        output = tmp_path / "export.zip"
        leftover = b"half an archive, its export killed" * 10_000
        (tmp_path / "export.zip.partial").write_bytes(leftover)
        run("export_user", "--email", account.email, "--output", str(output))
        document = json.loads(open_zip(output.read_bytes()).read("dermalens-export.json"))
        assert document["profile"]["user_id"] == account.user_id
        assert list(tmp_path.iterdir()) == [output]

    def test_export_user_of_an_unknown_email_fails(self, tmp_path):
        with pytest.raises(CommandError, match="No account"):
            run(
                "export_user", "--email", "nobody-here@example.com", "--output", str(tmp_path / "x")
            )


def stop_at_the_first_batch_delete(monkeypatch, stop: str) -> None:
    """Stop the erasure at its first BatchWriteItem: Ctrl-C, or SIGTERM to this process."""
    original = Table.call_client

    def call_client(self, operation, **request):
        if operation == "batch_write_item":
            if stop == "ctrl-c":
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGTERM)
        return original(self, operation, **request)

    monkeypatch.setattr(Table, "call_client", call_client)


class TestEraseUser:
    def test_erase_user_answered_no_aborts_and_erases_nothing(self, full_account, monkeypatch):
        account = full_account()
        before = len(items_of(account.user_id))
        with pytest.raises(CommandError, match="Aborted"):
            run("erase_user", "--email", account.email, stdin="no\n", monkeypatch=monkeypatch)
        assert len(items_of(account.user_id)) == before
        assert log_in(account).status_code == 200

    def test_erase_user_with_no_answer_at_all_aborts(self, full_account, monkeypatch):
        account = full_account()
        with pytest.raises(CommandError, match="Aborted"):
            run("erase_user", "--email", account.email, stdin="", monkeypatch=monkeypatch)
        assert log_in(account).status_code == 200

    def test_erase_user_answered_yes_erases_the_account(self, full_account, monkeypatch):
        account = full_account()
        said = run("erase_user", "--email", account.email, stdin="yes\n", monkeypatch=monkeypatch)
        assert account.user_id in said
        assert items_of(account.user_id) == []

    def test_erase_user_with_yes_erases_without_asking(self, full_account, monkeypatch):
        account = full_account()
        monkeypatch.setattr("builtins.input", fail_if_asked)
        run("erase_user", "--email", account.email, "--yes")
        assert items_of(account.user_id) == []
        assert email_claim(account.email) is None
        assert local_files_of(account.user_id) == []
        assert log_in(account).status_code == 401
        erased, started = audit_table().entries_about(account.user_id, limit=5)
        assert (erased.action, erased.actor_user_id) == ("erase_account", "manage.py")
        assert (started.action, started.actor_user_id) == ("erase_account_started", "manage.py")

    @pytest.mark.parametrize("stop", ["ctrl-c", "sigterm"])
    def test_erase_user_stopped_midway_says_so_in_one_line_and_in_the_audit_trail(
        self, full_account, monkeypatch, stop
    ):
        account = full_account()
        handler = signal.getsignal(signal.SIGTERM)
        stop_at_the_first_batch_delete(monkeypatch, stop)
        with pytest.raises(CommandError, match=r"Interrupted.*Run the same command again"):
            run("erase_user", "--email", account.email, "--yes")
        assert log_in(account).status_code == 401  # closed at once
        assert items_of(account.user_id) != []  # partly erased
        failed, started = audit_table().entries_about(account.user_id, limit=5)
        assert (started.action, failed.action) == ("erase_account_started", "erase_account_failed")
        assert failed.details == {"error": "interrupted"}
        assert signal.getsignal(signal.SIGTERM) == handler  # as it was
        monkeypatch.undo()
        run("erase_user", "--email", account.email, "--yes")
        assert items_of(account.user_id) == []
        assert audit_table().entries_about(account.user_id, limit=5)[0].action == "erase_account"

    def test_erase_user_that_fails_is_recorded_as_failed(self, full_account, monkeypatch):
        account = full_account()
        interrupt_before_the_user_item(monkeypatch, account.user_id)
        with pytest.raises(CommandError):
            run("erase_user", "--email", account.email, "--yes")
        failed, started = audit_table().entries_about(account.user_id, limit=5)
        assert (started.action, failed.action) == ("erase_account_started", "erase_account_failed")
        assert failed.details == {"error": "Unavailable"}

    def test_erase_user_finishes_an_erasure_interrupted_after_the_email_claim(
        self, full_account, monkeypatch
    ):
        account = full_account()
        interrupt_before_the_user_item(monkeypatch, account.user_id)
        assert erase(account).status_code == 503
        assert email_claim(account.email) is None  # found now only through the email-index
        monkeypatch.undo()
        assert users_table().get(account.user_id) is not None
        run("erase_user", "--email", account.email, "--yes")
        assert items_of(account.user_id) == []

    def test_erase_user_of_an_unknown_email_fails(self):
        with pytest.raises(CommandError, match="No account"):
            run("erase_user", "--email", "nobody-here@example.com", "--yes")


def fail_if_asked(prompt=""):
    raise AssertionError("--yes must not ask")
