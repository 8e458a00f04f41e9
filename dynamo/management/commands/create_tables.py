"""Create the DynamoDB tables that are missing; leave existing ones alone.

    python manage.py create_tables            # create, wait until ACTIVE
    python manage.py create_tables --check    # report only; exit 1 on any problem

Works the same against DynamoDB Local and AWS (names come from settings).
"""

import time
from argparse import ArgumentParser
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError

from dynamo.client import get_client
from dynamo.errors import (
    CONNECTION_ERRORS,
    CREDENTIAL_ERRORS,
    Unavailable,
    error_code,
    operator_message,
)
from dynamo.tables import ALL_TABLES, TableDefinition

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TableDescriptionTypeDef


class Command(BaseCommand):
    help = "Create missing DynamoDB tables (idempotent) and wait until they are ACTIVE."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="only report; exit non-zero when a table is missing or differs",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            metavar="SECONDS",
            help="wait up to SECONDS for DynamoDB to answer before starting",
        )

    def handle(self, *args: Any, check: bool, wait: float, **options: Any) -> None:
        try:
            client = get_client()
            self.wait_for_service(client, wait)
        except Unavailable as err:  # no credentials, or AWS_REGION is no region name
            raise CommandError(operator_message(err)) from err
        problems = 0
        for definition in ALL_TABLES:
            description = self.describe(client, definition.name)
            if check:
                problems += self.report(client, definition, description)
            else:
                problems += self.create(client, definition, description)
        if problems:
            raise CommandError(f"{problems} table(s) missing or different from the definitions.")

    def wait_for_service(self, client: "DynamoDBClient", seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                client.list_tables(Limit=1)
                return
            except CONNECTION_ERRORS as err:
                if time.monotonic() >= deadline:
                    raise CommandError(f"DynamoDB does not answer: {err}") from err
                time.sleep(0.5)
            except CREDENTIAL_ERRORS as err:  # waiting would not bring them
                raise Unavailable(cause=err) from err

    @staticmethod
    def describe(client: "DynamoDBClient", name: str) -> "TableDescriptionTypeDef | None":
        try:
            return client.describe_table(TableName=name)["Table"]
        except ClientError as err:
            if error_code(err) == "ResourceNotFoundException":
                return None
            raise

    def report(
        self,
        client: "DynamoDBClient",
        definition: TableDefinition,
        description: "TableDescriptionTypeDef | None",
    ) -> int:
        if description is None:
            self.stdout.write(f"{definition.name}: MISSING")
            return 1
        differences = definition.schema_differences(
            description, self.time_to_live(client, definition)
        )
        status = description["TableStatus"]
        if differences:
            self.stdout.write(f"{definition.name}: {status}, DIFFERS ({'; '.join(differences)})")
            return 1
        self.stdout.write(f"{definition.name}: {status}, schema matches")
        return 0

    def create(
        self,
        client: "DynamoDBClient",
        definition: TableDefinition,
        description: "TableDescriptionTypeDef | None",
    ) -> int:
        """Create the table if it is missing; 1 when the table there differs from its
        definition (left as it is: the app would fail against it), else 0."""
        action = "exists"
        if description is None:
            try:
                client.create_table(**definition.create_request())
                action = "created"
            except ClientError as err:
                # Another process created it between our describe and create.
                if error_code(err) != "ResourceInUseException":
                    raise CommandError(f"{definition.name}: not created: {err}") from err
        try:
            client.get_waiter("table_exists").wait(
                TableName=definition.name, WaiterConfig={"Delay": 2, "MaxAttempts": 150}
            )
            ttl = self.enable_ttl(client, definition)
        except (ClientError, BotoCoreError) as err:
            raise CommandError(f"{definition.name}: {err}") from err
        if action == "exists" and description is not None:
            differences = definition.schema_differences(description, ttl)
            if differences:
                self.stdout.write(f"{definition.name}: exists, DIFFERS ({'; '.join(differences)})")
                return 1
        self.stdout.write(f"{definition.name}: {action}, ACTIVE")
        return 0

    @staticmethod
    def time_to_live(client: "DynamoDBClient", definition: TableDefinition) -> dict[str, Any]:
        description = client.describe_time_to_live(TableName=definition.name)
        return dict(description["TimeToLiveDescription"])

    def enable_ttl(self, client: "DynamoDBClient", definition: TableDefinition) -> dict[str, Any]:
        """Turn the definition's time to live on where it is off; one on another attribute
        is left as it is (and reported: DynamoDB changes it only after turning it off).
        The time to live as it is then (a DescribeTimeToLive ``TimeToLiveDescription``)."""
        status = self.time_to_live(client, definition)
        if not definition.ttl_attribute or status["TimeToLiveStatus"] in ("ENABLED", "ENABLING"):
            return status
        client.update_time_to_live(
            TableName=definition.name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": definition.ttl_attribute},
        )
        return {"TimeToLiveStatus": "ENABLING", "AttributeName": definition.ttl_attribute}
