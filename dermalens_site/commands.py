"""The base of the ``manage.py`` commands that read or write an account's data.

    class Command(DataCommand):
        def handle(self, *args, email, **options): ...

When DynamoDB does not answer (unreachable, throttled past the retries) or cannot be
called (no AWS credentials, an AWS_REGION that is no region name), such a command ends
with one line saying so, as ``create_tables`` and ``table_status`` do, rather than a
traceback of a hundred lines an operator has to read from the bottom.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from dynamo.errors import Unavailable, operator_message


class DataCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> str | None:
        try:
            return super().execute(*args, **options)
        except Unavailable as err:
            raise CommandError(operator_message(err)) from err
