"""Analyse queued scans: consume ANALYSIS_QUEUE_URL until stopped (SIGTERM or Ctrl-C).

    python manage.py analysis_worker                   # run until stopped
    python manage.py analysis_worker --once            # one receive, then exit
    python manage.py analysis_worker --max-messages 5  # exit after five messages

Run as many copies, on as many hosts, as the queue needs: each scan is analysed once
(see ``scans.queue``). On SIGTERM the message in hand is finished before the exit.
"""

import signal
from contextlib import contextmanager

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from scans.queue import AnalysisWorker

MAX_BATCH_SIZE = 10  # SQS returns at most ten messages per receive


class Command(BaseCommand):
    help = "Analyse scans queued in SQS (ANALYSIS_QUEUE_URL) until stopped."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one receive, then exit")
        parser.add_argument(
            "--max-messages", type=int, metavar="N", help="exit after handling N messages"
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=1,
            metavar="N",
            help=f"messages per receive, 1 to {MAX_BATCH_SIZE} (handled one after another)",
        )

    def handle(self, *args, once: bool, max_messages: int | None, batch_size: int, **options):
        if not settings.ANALYSIS_QUEUE_URL:
            raise CommandError(
                "ANALYSIS_QUEUE_URL is not set: analysis runs in the web process and there "
                "is nothing to consume. Set it to the SQS queue's URL."
            )
        if not 1 <= batch_size <= MAX_BATCH_SIZE:
            raise CommandError(f"--batch-size must be 1 to {MAX_BATCH_SIZE}.")
        if max_messages is not None and max_messages < 1:
            raise CommandError("--max-messages must be at least 1.")
        worker = AnalysisWorker(batch_size=batch_size)
        with stop_on_signals(worker):
            handled = worker.run(once=once, max_messages=max_messages)
        if options["verbosity"] > 0:
            self.stdout.write(f"analysis_worker: {handled} message(s) handled")


@contextmanager
def stop_on_signals(worker: AnalysisWorker):
    """SIGTERM (systemd, ECS) and SIGINT stop the loop after the current message."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    for sig in previous:
        signal.signal(sig, lambda signum, frame: worker.stop())
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
