"""The state of every table, from DescribeTable: for readiness checks and ops pages."""

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from dynamo.client import get_client
from dynamo.errors import error_code
from dynamo.tables import ALL_TABLES


@dataclass(frozen=True, slots=True)
class TableStatus:
    name: str
    status: str  # ACTIVE, CREATING, ..., MISSING or UNREACHABLE
    item_count: int | None = None
    size_bytes: int | None = None

    @property
    def ready(self) -> bool:
        return self.status == "ACTIVE"


def describe_tables() -> list[TableStatus]:
    statuses = []
    client = get_client()
    for definition in ALL_TABLES:
        try:
            table = client.describe_table(TableName=definition.name)["Table"]
        except ClientError as err:
            if error_code(err) != "ResourceNotFoundException":
                raise
            statuses.append(TableStatus(definition.name, "MISSING"))
            continue
        except BotoCoreError:
            statuses.append(TableStatus(definition.name, "UNREACHABLE"))
            continue
        statuses.append(
            TableStatus(
                definition.name,
                table["TableStatus"],
                table.get("ItemCount"),
                table.get("TableSizeBytes"),
            )
        )
    return statuses
