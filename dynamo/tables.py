"""Table definitions: names (from settings), keys, indexes, TTL; on-demand billing.

    for definition in ALL_TABLES:
        client.create_table(**definition.create_request())

The definitions are the single source for ``create_tables``, its ``--check`` and the
table managers. Attribute types: ``S`` string, ``N`` number.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

KeyAttribute = tuple[str, str]  # (attribute name, "S" | "N")


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    projection: str = "ALL"

    def key_schema(self) -> list[dict[str, str]]:
        return key_schema(self.partition_key, self.sort_key)

    def request(self) -> dict[str, Any]:
        return {
            "IndexName": self.name,
            "KeySchema": self.key_schema(),
            "Projection": {"ProjectionType": self.projection},
        }


@dataclass(frozen=True)
class TableDefinition:
    setting: str  # the settings attribute (and environment variable) naming the table
    partition_key: KeyAttribute
    sort_key: KeyAttribute | None = None
    global_indexes: tuple[Index, ...] = ()
    local_indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    attributes: tuple[KeyAttribute, ...] = field(init=False)

    def __post_init__(self) -> None:
        seen: dict[str, str] = {}
        keys = [self.partition_key, self.sort_key]
        for index in (*self.global_indexes, *self.local_indexes):
            keys += [index.partition_key, index.sort_key]
        for key in keys:
            if key is not None:
                seen.setdefault(*key)
        object.__setattr__(self, "attributes", tuple(seen.items()))

    @property
    def name(self) -> str:
        return str(getattr(settings, self.setting))

    def key_schema(self) -> list[dict[str, str]]:
        return key_schema(self.partition_key, self.sort_key)

    def create_request(self) -> dict[str, Any]:
        request: dict[str, Any] = {
            "TableName": self.name,
            "KeySchema": self.key_schema(),
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": kind} for name, kind in self.attributes
            ],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if self.global_indexes:
            request["GlobalSecondaryIndexes"] = [i.request() for i in self.global_indexes]
        if self.local_indexes:
            request["LocalSecondaryIndexes"] = [i.request() for i in self.local_indexes]
        return request

    def schema_differences(
        self, description: Mapping[str, Any], ttl: Mapping[str, Any] | None = None
    ) -> list[str]:
        """What differs between this definition and a DescribeTable ``Table`` (and, given
        it, a DescribeTimeToLive ``TimeToLiveDescription``)."""
        problems = []
        if _normal(description.get("KeySchema", [])) != _normal(self.key_schema()):
            problems.append("key schema differs")
        for kind, wanted in (
            ("GlobalSecondaryIndexes", self.global_indexes),
            ("LocalSecondaryIndexes", self.local_indexes),
        ):
            actual = {i["IndexName"]: i for i in description.get(kind, [])}
            for index in wanted:
                if index.name not in actual:
                    problems.append(f"index {index.name} is missing")
                    continue
                if _normal(actual[index.name]["KeySchema"]) != _normal(index.key_schema()):
                    problems.append(f"index {index.name} has another key schema")
                # An index that projects less cannot answer the managers' queries,
                # which read (and filter on) whole items.
                projection = actual[index.name].get("Projection", {}).get("ProjectionType")
                if projection != index.projection:
                    problems.append(
                        f"index {index.name} projects {projection}, expected {index.projection}"
                    )
        if ttl is not None:
            problems += self.ttl_differences(ttl)
        types = {
            a["AttributeName"]: a["AttributeType"]
            for a in description.get("AttributeDefinitions", [])
        }
        for name, kind in self.attributes:
            if name in types and types[name] != kind:
                problems.append(f"attribute {name} is {types[name]}, expected {kind}")
        return problems

    def ttl_differences(self, ttl: Mapping[str, Any]) -> list[str]:
        """What differs between this definition's time to live and a DescribeTimeToLive
        ``TimeToLiveDescription``: on another attribute, items would never expire (or
        the wrong ones would); off, they never expire."""
        status = ttl.get("TimeToLiveStatus", "DISABLED")
        attribute = ttl.get("AttributeName")
        on = status in ("ENABLED", "ENABLING")
        if self.ttl_attribute is None:
            return [f"time to live is on {attribute}, expected off"] if on else []
        if not on:
            return [f"time to live is {status.lower()}, expected on {self.ttl_attribute}"]
        if attribute != self.ttl_attribute:
            return [f"time to live is on {attribute}, expected {self.ttl_attribute}"]
        return []


def key_schema(partition_key: KeyAttribute, sort_key: KeyAttribute | None) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition_key[0], "KeyType": "HASH"}]
    if sort_key:
        schema.append({"AttributeName": sort_key[0], "KeyType": "RANGE"})
    return schema


def _normal(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
    return sorted((part["KeyType"], part["AttributeName"]) for part in schema)


# The users table also holds small item kinds keyed by a prefixed id: the email claim
# ("email#<address>") that makes emails unique, and, expiring through TTL, revoked
# refresh tokens ("revoked-refresh#<jti>") and the limits' counters and flags ("rate#...",
# "failures#...", "mark#...", see dynamo/limits.py).
USERS = TableDefinition(
    setting="DYNAMODB_USERS_TABLE",
    partition_key=("user_id", "S"),
    global_indexes=(Index("email-index", ("email", "S")),),
    ttl_attribute="expires_at",
)
SCANS = TableDefinition(
    setting="DYNAMODB_SCANS_TABLE",
    partition_key=("user_id", "S"),
    sort_key=("scan_id", "S"),
    local_indexes=(Index("scan-date-index", ("user_id", "S"), ("scanned_at", "S")),),
)
PLANS = TableDefinition(
    setting="DYNAMODB_PLANS_TABLE",
    partition_key=("user_id", "S"),
    sort_key=("plan_id", "S"),
)
# session_message_id is "<session_id>#<message_id>": one Query with begins_with on the
# session-index returns a session's messages in time order.
CHAT = TableDefinition(
    setting="DYNAMODB_CHAT_TABLE",
    partition_key=("user_id", "S"),
    sort_key=("message_id", "S"),
    local_indexes=(Index("session-index", ("user_id", "S"), ("session_message_id", "S")),),
)

# The ops audit trail (staff actions) and the failed-analysis log, in month and day
# partitions so that "newest first" is a Query, never a Scan; see dynamo/audit.py. The
# dashboard's sharded daily counters live here too (dynamo/daily_stats.py).
AUDIT = TableDefinition(
    setting="DYNAMODB_AUDIT_TABLE",
    partition_key=("period", "S"),
    sort_key=("entry_id", "S"),
    global_indexes=(Index("target-index", ("target_user_id", "S"), ("entry_id", "S")),),
    ttl_attribute="expires_at",
)

# Jobs (deleting a chat session, ...) in their owner's partition, so a job's progress is
# one GetItem scoped to the caller, and an erasure sweeps them with the rest; finished
# jobs expire through TTL. See dynamo/jobs.py. The Idempotency-Keys of chat messages and
# plans ("request-key#...") live there too, for that TTL and that erasure.
JOBS = TableDefinition(
    setting="DYNAMODB_JOBS_TABLE",
    partition_key=("user_id", "S"),
    sort_key=("job_id", "S"),
    ttl_attribute="expires_at",
)

ALL_TABLES: tuple[TableDefinition, ...] = (USERS, SCANS, PLANS, CHAT, AUDIT, JOBS)
