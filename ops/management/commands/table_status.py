"""One line per table: name, status, item count and size (from DescribeTable).

    python manage.py table_status

Exits non-zero when a table is not ACTIVE (missing, being created, unreachable), so a
deploy script can use it. DynamoDB refreshes item counts and sizes about every six hours.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dynamo.status import describe_tables


class Command(BaseCommand):
    help = "Show each DynamoDB table's status, item count and size."

    def handle(self, *args, **options):
        tables = describe_tables()
        width = max(len(table.name) for table in tables)
        for table in tables:
            line = f"{table.name:<{width}}  {table.status:<11}"
            if table.item_count is not None:
                line += f"  items: {table.item_count}  size: {table.size_bytes} bytes"
            self.stdout.write(line.rstrip())
        not_ready = [table for table in tables if not table.ready]
        if not_ready:
            names = ", ".join(table.name for table in not_ready)
            raise CommandError(f"not ACTIVE: {names}. {what_to_check(not_ready)}")


# What an operator checks for each status a table that is not ACTIVE can have.
WHAT_TO_CHECK = {
    "UNREACHABLE": (
        "DynamoDB did not answer: check AWS_DYNAMODB_ENDPOINT, or AWS_REGION ({region}) and "
        "that the instance has its role (its credentials)."
    ),
    "REFUSED": (
        "DynamoDB refused to describe them: check the role's dynamodb:DescribeTable right "
        "(the log says which error)."
    ),
    "MISSING": "Run `python manage.py create_tables`, or check the DYNAMODB_*_TABLE names.",
}
# DynamoDB's statuses of a table on its way to ACTIVE (or away from it).
CHANGING = ("CREATING", "UPDATING", "DELETING")


def what_to_check(not_ready: list) -> str:
    statuses = dict.fromkeys(table.status for table in not_ready)  # in the tables' order
    advice = []
    for status in statuses:
        if status in WHAT_TO_CHECK:
            advice.append(WHAT_TO_CHECK[status].format(region=settings.AWS_REGION))
        elif status in CHANGING:
            advice.append(f"{status.capitalize()}: run this again shortly.")
        else:  # ARCHIVED, INACCESSIBLE_ENCRYPTION_CREDENTIALS, ...
            advice.append(f"{status}: see the table in the DynamoDB console.")
    return " ".join(advice)
