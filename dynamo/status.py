"""The state of every table, from DescribeTable: for readiness checks and ops pages.

    describe_tables()   # one TableStatus per table, in DYNAMODB_STATUS_TIMEOUT_SECONDS x 2

The answer comes within a bounded time whatever DynamoDB does, since a load balancer's
health check waits a few seconds at most: the tables are described at once (a thread
each, which is a greenlet in a gevent worker) through the status client, one attempt
with DYNAMODB_STATUS_TIMEOUT_SECONDS to connect and as long to answer
(``dynamo.client.get_status_client``). A table whose description has not come when
both could have passed is UNREACHABLE; its call ends on its own by those timeouts.
Described one after another with the shared client's retries, a DynamoDB that took
connections and never answered held a readiness check for two minutes.
"""

import logging
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from dynamo.client import get_status_client
from dynamo.errors import Unavailable, error_code
from dynamo.tables import ALL_TABLES

if TYPE_CHECKING:  # type stubs are a development tool, not a runtime need
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TableStatus:
    name: str
    # ACTIVE, CREATING, ... as DynamoDB says; MISSING, UNREACHABLE (no answer in time) or
    # REFUSED (DynamoDB refused to describe it: access denied, throttled; the log says which).
    status: str
    item_count: int | None = None
    size_bytes: int | None = None

    @property
    def ready(self) -> bool:
        return self.status == "ACTIVE"


def describe_tables() -> list[TableStatus]:
    names = [definition.name for definition in ALL_TABLES]
    try:
        client = get_status_client()
    except Unavailable:  # AWS_REGION is no region name: no table can be described
        return [TableStatus(name, "UNREACHABLE") for name in names]
    pool = ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="describe-table")
    described = [pool.submit(describe_table, client, name) for name in names]
    pool.shutdown(wait=False)  # a call still out at the deadline ends by its timeouts
    wait(described, timeout=2 * settings.DYNAMODB_STATUS_TIMEOUT_SECONDS)
    return [
        status.result() if status.done() else TableStatus(name, "UNREACHABLE")
        for name, status in zip(names, described, strict=True)
    ]


def describe_table(client: "DynamoDBClient", name: str) -> TableStatus:
    try:
        table = client.describe_table(TableName=name)["Table"]
    except ClientError as err:
        code = error_code(err)
        if code == "ResourceNotFoundException":
            return TableStatus(name, "MISSING")
        logger.warning("DescribeTable refused", extra={"table": name, "error": code})
        return TableStatus(name, "REFUSED")
    except BotoCoreError:
        return TableStatus(name, "UNREACHABLE")
    return TableStatus(
        name, table["TableStatus"], table.get("ItemCount"), table.get("TableSizeBytes")
    )
