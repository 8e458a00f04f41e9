"""Helpers of the chat tests: URLs, and a person's stored scan and active plan."""

from dataclasses import dataclass

from ulid import ULID

from ai.analysis import SkinAnalysis, now_iso
from dynamo.plans import Plan, plans_table
from dynamo.scans import Scan, scans_table
from tests.fake_gemini import valid_analysis_answer

SESSIONS = "/api/v1/chat/sessions"


def messages_url(session_id: str) -> str:
    return f"{SESSIONS}/{session_id}/messages"


def user_id_of(client) -> str:
    return client.session_data["user"]["user_id"]


@dataclass(frozen=True)
class Grounding:
    scan: Scan
    plan: Plan


def store_scan_and_plan(
    user_id: str, *, marker: str, redness: float, source: str = "model"
) -> Grounding:
    """A completed scan (its summary and note carry ``marker``, ``source`` is every
    metric's) and an active plan."""
    answer = valid_analysis_answer()
    answer["metrics"]["redness"]["score"] = redness
    answer["summary"] = f"Mild redness on the cheeks ({marker} summary)."
    analysis = SkinAnalysis.from_dict(answer, provider="gemini", model="gemini-test", source=source)
    timestamp = now_iso()
    scan = Scan(
        user_id=user_id,
        scan_id=str(ULID()),
        status="complete",
        area="face",
        scanned_at=timestamp,
        created_at=timestamp,
        updated_at=timestamp,
        image_key=f"scans/{user_id}/x.jpg",
        notes=f"{marker} note",
        analysis=analysis.to_dict(),
    )
    scans_table().create(scan)
    plan = Plan(
        user_id=user_id,
        plan_id=str(ULID()),
        status="active",
        title=f"Calm redness ({marker} plan)",
        created_at=timestamp,
        updated_at=timestamp,
        content={
            "title": f"Calm redness ({marker} plan)",
            "duration_weeks": 12,
            "goals": [{"metric": "redness", "baseline": redness}],
            "am": [
                {"order": 1, "category": "cleanser", "name": f"{marker} gentle cleanser"},
                {"order": 2, "category": "sunscreen", "name": "Sunscreen SPF 50"},
            ],
            "pm": [
                {
                    "order": 1,
                    "category": "treatment",
                    "name": f"{marker} azelaic acid cream",
                    "actives": ["azelaic_acid"],
                    "frequency": "every_other_day",
                }
            ],
            "cautions": ["Patch-test each new product first."],
        },
    )
    plans_table().activate(user_id, new_plan=plan, updated_at=timestamp)
    return Grounding(scan=scan, plan=plan)
