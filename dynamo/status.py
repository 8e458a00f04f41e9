"""The state of every table, from DescribeTable: for readiness checks and ops pages."""

import logging
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from dynamo.client import get_client
from dynamo.errors import error_code
from dynamo.tables import ALL_TABLES

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TableStatus:
    name: str
    # ACTIVE, CREATING, ... as DynamoDB says; MISSING, UNREACHABLE (no answer) or REFUSED
    # (DynamoDB refused to describe it: access denied, throttled; the log says which).
    status: str
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
            code = error_code(err)
            if code == "ResourceNotFoundException":
                statuses.append(TableStatus(definition.name, "MISSING"))
            else:
                logger.warning(
                    "DescribeTable refused", extra={"table": definition.name, "error": code}
                )
                statuses.append(TableStatus(definition.name, "REFUSED"))
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
