"""Analyse stored scans again after the offline pipeline's version changed.

    python manage.py remeasure_scans [--user USER_ID] [--dry-run] [--concurrency N]

Progress compares only scores measured by one version of the pipeline
(``ai.offline.ENGINE``, recorded as each analysis's ``measured_by``), so after an upgrade
a person's chart starts its change again from their first scan of the new version. This
command analyses again, from its stored photo, every completed scan measured by another
version (of one account, or of every account), with the provider as configured: the
offline pipeline, or Gemini with the pipeline's measures, which is one Gemini call per
scan (``--dry-run`` counts them first, changing nothing). It is not counted on anyone's
daily allowance. A scan whose photo is missing, whose analysis fails, or that changes
meanwhile keeps what it has; running the command again retries it. A run writes one
audit entry (its version and counts; its account with ``--user``). Without ``--user``
it reads the whole scans table (a Scan), a page at a time. ``--concurrency`` analyses
that many scans at once: under Gemini each waits seconds on the model, and a few at once
keep it busy within the project's rate limits.
"""

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ai.offline import ENGINE
from dermalens_site.commands import build_ai_providers
from dynamo.scans import Scan, scans_table
from dynamo.users import users_table
from ops.services import record_command_action
from scans.services import remeasure_scan

OUTCOMES = ("remeasured", "image_missing", "failed", "scan_changed", "account_gone")
MAX_CONCURRENCY = 32
PROGRESS_EVERY = 100


def measure_again(scan: Scan) -> str:
    """One scan's outcome (``OUTCOMES``). An account's scans come together, so its user
    is read once for them (the process's copy, as authentication keeps it)."""
    account = users_table().get_recent(scan.user_id, max_age=settings.AUTH_USER_CACHE_SECONDS)
    if account is None or account.erasure_started_at is not None:
        return "account_gone"
    return remeasure_scan(user=account, scan=scan)


class Command(BaseCommand):
    help = "Analyse again the completed scans measured by another version of the pipeline."

    def add_arguments(self, parser):
        parser.add_argument("--user", dest="user_id", help="Only this account's scans.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count the scans; change nothing."
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=1,
            help=f"Scans analysed at once, 1 to {MAX_CONCURRENCY} (default 1).",
        )

    def handle(
        self,
        *args,
        user_id: str | None = None,
        dry_run: bool = False,
        concurrency: int = 1,
        **options,
    ):
        if not 1 <= concurrency <= MAX_CONCURRENCY:
            raise CommandError(f"--concurrency is 1 to {MAX_CONCURRENCY}, not {concurrency}")
        if user_id is not None and users_table().get(user_id) is None:
            # Said, rather than "0 scans": a mistyped id would read as an account measured.
            raise CommandError(f"No account has the id {user_id!r}.")
        scans = scans_table().measured_otherwise(ENGINE, user_id=user_id)
        if not dry_run:
            build_ai_providers("analysis")
        if dry_run:
            count = sum(1 for _ in scans)
            self.stdout.write(f"{count} scans measured otherwise than {ENGINE} (nothing changed)")
            return
        outcomes: Counter[str] = Counter()
        for outcome in self.outcomes(scans, concurrency):
            outcomes[outcome] += 1
            if outcomes.total() % PROGRESS_EVERY == 0:
                self.stdout.write(f"... {outcomes.total()} scans")
        counts = ", ".join(f"{name} {outcomes[name]}" for name in OUTCOMES)
        self.stdout.write(f"{ENGINE}: {counts}")
        # One entry for the run (of one account, or of all), as other commands write.
        record_command_action(
            action="remeasure_scans",
            target_user_id=user_id,
            engine=ENGINE,
            **{name: outcomes[name] for name in OUTCOMES},
        )

    @staticmethod
    def outcomes(scans: Iterator[Scan], concurrency: int) -> Iterator[str]:
        """Each scan's outcome as it comes, ``concurrency`` scans analysed at a time; the
        table is read as far ahead as the scans in hand, no further."""
        if concurrency == 1:
            yield from map(measure_again, scans)
            return
        with ThreadPoolExecutor(concurrency, thread_name_prefix="remeasure") as pool:
            in_hand: set[Future[str]] = set()
            for scan in scans:
                if len(in_hand) == concurrency:
                    done, in_hand = wait(in_hand, return_when=FIRST_COMPLETED)
                    yield from (future.result() for future in done)
                in_hand.add(pool.submit(measure_again, scan))
            for future in in_hand:
                yield future.result()
