"""Count DynamoDB calls and sum their consumed capacity while a block of code runs.

    with measure_dynamodb() as usage:
        client.get("/api/v1/scans")
    usage.calls, usage.read_units, usage.write_units

While measuring, botocore hooks on the shared client ask every operation that accepts it
for ``ReturnConsumedCapacity="TOTAL"`` and read the answer back. Outside the block the
hooks are unregistered, so production requests pay nothing. Meant for benchmarks and tests
in one thread: the collector is not shared between threads.
"""

import contextlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dynamo.client import get_client

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
        # Transactions and batches report one entry per table, single-item calls one entry.
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        for entry in entries:
            reads = entry.get("ReadCapacityUnits")
            writes = entry.get("WriteCapacityUnits")
            if reads is None and writes is None:
                # "TOTAL" answers carry only CapacityUnits; the operation says which kind.
                total = entry.get("CapacityUnits", 0.0)
                reads, writes = (0.0, total) if operation in WRITE_OPERATIONS else (total, 0.0)
            self.read_units += float(reads or 0.0)
            self.write_units += float(writes or 0.0)


@contextlib.contextmanager
def measure_dynamodb() -> Iterator[DynamoDBUsage]:
    """Record DynamoDB calls and capacity on the shared client until the block ends."""
    usage = DynamoDBUsage()
    events = get_client().meta.events

    def request_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in CAPACITY_OPERATIONS:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def record_call(http_response: Any, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        usage.calls_by_operation[model.name] += 1
        usage.add_capacity(model.name, parsed.get("ConsumedCapacity"))

    events.register("before-parameter-build.dynamodb", request_capacity)
    events.register("after-call.dynamodb", record_call)
    try:
        yield usage
    finally:
        events.unregister("before-parameter-build.dynamodb", request_capacity)
        events.unregister("after-call.dynamodb", record_call)
