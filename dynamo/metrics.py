"""Count DynamoDB calls and sum their consumed capacity while a block of code runs.

    with measure_dynamodb() as usage:
        client.get("/api/v1/scans")
    usage.calls, usage.read_units, usage.write_units

While measuring, botocore hooks on the process's clients (the shared one and the status
checks') ask every operation that accepts it for ``ReturnConsumedCapacity="TOTAL"`` and
read the answer back. Outside the block the hooks are unregistered, so production
requests pay nothing. Meant for benchmarks and tests: calls from several threads are
counted, each under a lock.

With telemetry on, ``publish_dynamodb_metrics`` registers the same kind of hooks for good
and hands every call (table, operation, capacity) and every refused attempt (throttled,
or a DynamoDB 5xx; each retry counts) to the telemetry's recorders.
"""

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from dynamo import client as dynamo_client
from dynamo.client import get_client, get_status_client

# Operations whose request shape accepts ReturnConsumedCapacity.
CAPACITY_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)
WRITE_OPERATIONS = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
)


# Error codes of an attempt refused for throughput (botocore retries them).
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


def capacity_units(operation: str, entry: dict[str, Any]) -> tuple[float, float]:
    """(read units, write units) of one ConsumedCapacity entry."""
    reads = entry.get("ReadCapacityUnits")
    writes = entry.get("WriteCapacityUnits")
    if reads is None and writes is None:
        # "TOTAL" answers carry only CapacityUnits; the operation says which kind.
        total = entry.get("CapacityUnits", 0.0)
        reads, writes = (0.0, total) if operation in WRITE_OPERATIONS else (total, 0.0)
    return float(reads or 0.0), float(writes or 0.0)


def capacity_entries(
    consumed: dict[str, Any] | list[dict[str, Any]] | None,
) -> list[dict[str, Any]]:
    # Transactions and batches report one entry per table, single-item calls one entry.
    return consumed if isinstance(consumed, list) else [consumed] if consumed else []


@dataclass
class DynamoDBUsage:
    """What DynamoDB reported for the calls made inside one ``measure_dynamodb`` block."""

    calls_by_operation: Counter[str] = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0

    @property
    def calls(self) -> int:
        return sum(self.calls_by_operation.values())

    def add_capacity(
        self, operation: str, consumed: dict[str, Any] | list[dict[str, Any]] | None
    ) -> None:
        for entry in capacity_entries(consumed):
            reads, writes = capacity_units(operation, entry)
            self.read_units += reads
            self.write_units += writes


@contextlib.contextmanager
def measure_dynamodb() -> Iterator[DynamoDBUsage]:
    """Record DynamoDB calls and capacity on the process's clients until the block ends."""
    usage = DynamoDBUsage()
    counting = threading.Lock()
    clients = (get_client(), get_status_client())

    def request_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in CAPACITY_OPERATIONS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def record_call(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        with counting:  # the status checks describe their tables from threads at once
            usage.calls_by_operation[model.name] += 1
            usage.add_capacity(model.name, parsed.get("ConsumedCapacity"))

    for client in clients:
        client.meta.events.register("before-parameter-build.dynamodb", request_capacity)
        client.meta.events.register("after-call.dynamodb", record_call)
    try:
        yield usage
    finally:
        for client in clients:
            client.meta.events.unregister("before-parameter-build.dynamodb", request_capacity)
            client.meta.events.unregister("after-call.dynamodb", record_call)


def table_of(params: dict[str, Any]) -> str:
    """The table a request names; a batch or transaction over several tables: the first."""
    if "TableName" in params:
        return str(params["TableName"])
    for table in params.get("RequestItems") or {}:
        return str(table)
    for action in params.get("TransactItems") or []:
        for request in action.values():
            if isinstance(request, dict) and "TableName" in request:
                return str(request["TableName"])
    return "unknown"


class MetricsPublisher:
    """Permanent hooks on the process's clients; see ``publish_dynamodb_metrics``."""

    def __init__(
        self,
        on_call: Callable[..., None],
        on_refusal: Callable[..., None],
    ) -> None:
        self.on_call = on_call
        self.on_refusal = on_refusal

    def attach(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-parameter-build.dynamodb", self.before_call)
        events.register("response-received.dynamodb", self.attempt_answered)
        events.register("after-call.dynamodb", self.after_call)

    def detach(self, client: Any) -> None:
        events = client.meta.events
        events.unregister("before-parameter-build.dynamodb", self.before_call)
        events.unregister("response-received.dynamodb", self.attempt_answered)
        events.unregister("after-call.dynamodb", self.after_call)

    def before_call(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        if model.name in CAPACITY_OPERATIONS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")
        context["dermalens_table"] = table_of(params)

    def attempt_answered(
        self,
        response_dict: dict[str, Any] | None,
        parsed_response: dict[str, Any] | None,
        context: dict[str, Any],
        **kwargs: Any,
    ) -> None:
        if not response_dict:
            return  # a connection error: botocore's own retry and the caller's error
        status = response_dict.get("status_code", 200)
        code = ((parsed_response or {}).get("Error") or {}).get("Code", "")
        operation = kwargs["event_name"].rsplit(".", 1)[-1]
        table = context.get("dermalens_table", "unknown")
        if code in THROTTLING_CODES:
            self.on_refusal(table=table, operation=operation, throttled=True)
        elif status >= 500:
            self.on_refusal(table=table, operation=operation, throttled=False)

    def after_call(
        self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        entries = capacity_entries(parsed.get("ConsumedCapacity"))
        if not entries:
            self.on_call(
                table=context.get("dermalens_table", "unknown"),
                operation=model.name,
                read_units=0.0,
                write_units=0.0,
            )
        for entry in entries:
            reads, writes = capacity_units(model.name, entry)
            self.on_call(
                table=entry.get("TableName") or context.get("dermalens_table", "unknown"),
                operation=model.name,
                read_units=reads,
                write_units=writes,
            )


_publisher: MetricsPublisher | None = None


def publish_dynamodb_metrics(
    *, on_call: Callable[..., None], on_refusal: Callable[..., None]
) -> None:
    """Report every DynamoDB call and refused attempt of the process's clients, for good.

    ``on_call(table=, operation=, read_units=, write_units=)`` once per table a call
    touched; ``on_refusal(table=, operation=, throttled=)`` per refused attempt. The
    client asks for ``ReturnConsumedCapacity="TOTAL"`` (no extra cost, a few bytes more
    per answer). A client made later (after ``reset_client``) gets the hooks too.
    """
    global _publisher
    unpublish_dynamodb_metrics()
    _publisher = MetricsPublisher(on_call, on_refusal)
    dynamo_client.CLIENT_HOOKS.append(_publisher.attach)
    for client in dynamo_client.made_clients():
        _publisher.attach(client)


def unpublish_dynamodb_metrics() -> None:
    global _publisher
    if _publisher is None:
        return
    dynamo_client.CLIENT_HOOKS.remove(_publisher.attach)
    for client in dynamo_client.made_clients():
        _publisher.detach(client)
    _publisher = None
