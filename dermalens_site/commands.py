"""The base of the ``manage.py`` commands that read or write an account's data.

    class Command(DataCommand):
        def handle(self, *args, email, **options): ...

When DynamoDB does not answer (unreachable, throttled past the retries) or cannot be
called (no AWS credentials, an AWS_REGION that is no region name), such a command ends
with one line saying so, as ``create_tables`` and ``table_status`` do, rather than a
traceback of a hundred lines an operator has to read from the bottom.
"""

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from dynamo.errors import Unavailable, operator_message


class DataCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except Unavailable as err:
            raise CommandError(operator_message(err)) from err


def build_ai_providers(*uses: str) -> None:
    """Build the AI providers of ``uses`` ("analysis", "chat") as a web worker does when
    it starts, or end the command with the setting that is wrong. Built at the first
    scan instead, a wrong AI_PROVIDER or GEMINI_* setting failed every scan the command
    (or the jobs worker) worked on, each stored as "provider_unavailable", which reads
    as Gemini being down."""
    from ai.providers import get_provider  # the AI packages load only for the commands

    for use in uses:
        try:
            get_provider(use)
        except ImproperlyConfigured as err:
            raise CommandError(f"The AI provider for {use} cannot be made: {err}") from err
