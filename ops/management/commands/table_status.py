"""One line per table: name, status, item count and size (from DescribeTable).

    python manage.py table_status

Exits non-zero when a table is not ACTIVE (missing, being created, unreachable), so a
deploy script can use it. DynamoDB refreshes item counts and sizes about every six hours.
"""

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
        not_ready = [table.name for table in tables if not table.ready]
        if not_ready:
            raise CommandError(f"not ACTIVE: {', '.join(not_ready)}")
