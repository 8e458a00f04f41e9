"""Analyse stored scans again after the offline pipeline's version changed.

    python manage.py remeasure_scans [--user USER_ID] [--dry-run]

Progress compares only scores measured by one version of the pipeline
(``ai.offline.ENGINE``, recorded as each analysis's ``measured_by``), so after an upgrade
a person's chart starts its change again from their first scan of the new version. This
command analyses again, from its stored photo, every completed scan measured by another
version (of one account, or of every account), with the provider as configured: the
offline pipeline, or Gemini with the pipeline's measures, which is one Gemini call per
scan (``--dry-run`` counts them first, changing nothing). It is not counted on anyone's
daily allowance. A scan whose photo is missing, whose analysis fails, or that changes
meanwhile keeps what it has; running the command again retries it. Without ``--user``
it reads the whole scans table (a Scan), a page at a time.
"""

from collections import Counter

from django.core.management.base import BaseCommand

from ai.offline import ENGINE
from dynamo.scans import scans_table
from dynamo.users import User, users_table
from scans.services import remeasure_scan

OUTCOMES = ("remeasured", "image_missing", "failed", "scan_changed", "account_gone")


class Command(BaseCommand):
    help = "Analyse again the completed scans measured by another version of the pipeline."

    def add_arguments(self, parser):
        parser.add_argument("--user", dest="user_id", help="Only this account's scans.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the scans; change nothing."
        )

    def handle(self, *args, user_id: str | None = None, dry_run: bool = False, **options):
        outcomes: Counter[str] = Counter()
        # A Scan reads an account's scans together (one partition), so one account at a
        # time is enough to keep.
        account_id: str | None = None
        account: User | None = None
        for scan in scans_table().measured_otherwise(ENGINE, user_id=user_id):
            if dry_run:
                outcomes["to analyse again"] += 1
                continue
            if scan.user_id != account_id:
                account_id, account = scan.user_id, users_table().get(scan.user_id)
            if account is None or account.erasure_started_at is not None:
                outcomes["account_gone"] += 1
                continue
            outcomes[remeasure_scan(user=account, scan=scan)] += 1
            if sum(outcomes.values()) % 100 == 0:
                self.stdout.write(f"... {sum(outcomes.values())} scans")
        if dry_run:
            self.stdout.write(
                f"{outcomes['to analyse again']} scans measured otherwise than {ENGINE} "
                "(nothing changed)"
            )
            return
        counts = ", ".join(f"{name} {outcomes[name]}" for name in OUTCOMES)
        self.stdout.write(f"{ENGINE}: {counts}")
