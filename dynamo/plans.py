"""The treatment-plans table: a user's plans, newest last by ULID ``plan_id``.

    plans = plans_table()
    plans.create(plan)
    plan = plans.update(user_id, plan_id, changes={"status": "paused"}, expected_version=2)

The plan's content (goals, routines, cautions) is one nested map, ``content``; the
attributes that lists and conditions need (status, title, version) are top-level.
"""

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dynamo.base import Page, Table
from dynamo.codec import Item, from_attribute, to_item
from dynamo.errors import ConditionFailed, ItemNotFound
from dynamo.tables import PLANS


@dataclass(frozen=True, slots=True)
class Plan:
    user_id: str
    plan_id: str
    status: str
    title: str
    created_at: str
    updated_at: str
    content: dict[str, Any]
    scan_id: str | None = None
    version: int = 1


def plan_from_item(item: Item) -> Plan:
    scan = item.get("scan_id")
    return Plan(
        user_id=item["user_id"]["S"],
        plan_id=item["plan_id"]["S"],
        status=item["status"]["S"],
        title=item["title"]["S"],
        created_at=item["created_at"]["S"],
        updated_at=item["updated_at"]["S"],
        content=from_attribute(item["content"]),
        scan_id=scan["S"] if scan else None,
        version=int(item["version"]["N"]),
    )


def plan_to_item(plan: Plan) -> Item:
    return to_item(
        {
            "user_id": plan.user_id,
            "plan_id": plan.plan_id,
            "status": plan.status,
            "title": plan.title,
            "created_at": plan.created_at,
            "updated_at": plan.updated_at,
            "content": plan.content,
            "scan_id": plan.scan_id,
            "version": plan.version,
        }
    )


class PlansTable(Table):
    definition = PLANS

    def get(self, user_id: str, plan_id: str) -> Plan | None:
        item = self.get_item({"user_id": {"S": user_id}, "plan_id": {"S": plan_id}})
        return plan_from_item(item) if item else None

    def create(self, plan: Plan) -> None:
        self.call(
            "put_item",
            Item=plan_to_item(plan),
            ConditionExpression="attribute_not_exists(plan_id)",
        )

    def query_page(self, user_id: str, *, limit: int, cursor: str | None = None) -> Page[Plan]:
        return self.query_partition(
            user_id, parse=plan_from_item, limit=limit, cursor=cursor, scope="plans"
        )

    def update(
        self,
        user_id: str,
        plan_id: str,
        *,
        changes: Mapping[str, Any],
        expected_version: int | None = None,
    ) -> Plan:
        item = self.update_versioned(
            {"user_id": {"S": user_id}, "plan_id": {"S": plan_id}},
            changes=changes,
            expected_version=expected_version,
        )
        return plan_from_item(item)

    def delete(self, user_id: str, plan_id: str) -> None:
        try:
            self.call(
                "delete_item",
                Key={"user_id": {"S": user_id}, "plan_id": {"S": plan_id}},
                ConditionExpression="attribute_exists(plan_id)",
            )
        except ConditionFailed as err:
            raise ItemNotFound(cause=err.cause) from err


@functools.cache
def plans_table() -> PlansTable:
    return PlansTable()
