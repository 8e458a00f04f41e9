"""Template filters of the ops pages: times in UTC, and audit actions in words."""

from datetime import UTC, datetime

from django import template

from ops.services import ACTION_LABELS

register = template.Library()


@register.filter
def utc(moment: str | None) -> str:
    """An ISO 8601 time as "2026-11-25 14:03 UTC" (empty when there is none)."""
    if not moment:
        return ""
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return moment
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@register.filter
def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


@register.filter
def detail_text(details: dict) -> str:
    """An audit entry's details as "complete 2, failed 1" (they hold codes and counts only).

    Sorted by name: DynamoDB keeps no order in a map.
    """
    return ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in sorted(details.items()))
