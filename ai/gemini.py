"""``GeminiProvider``: skin analysis, plan drafting and chat by Google Gemini (google-genai).

    provider = GeminiProvider()
    analysis = provider.analyze_skin(image_jpeg=data, area="face", profile=SkinProfile())

Every answer is validated before anything is stored: an analysis against the
``SkinAnalysis`` contract, a plan by the safety check (``plans.safety``), a chat reply
as plain text.

An analysis starts with the offline pixel pipeline on the same photo: what it measures
stays its measure (``source: measured``), so the same photo gives the same numbers
whatever the model answers; Gemini receives those measures as context and adds what
pixels cannot give (skin type, concerns in words, judged metrics, summary, red flags).
A face photo in which the pipeline finds no face is not scored, and Gemini is not asked.
"""

from typing import Any

from google.genai import types

from ai.analysis import (
    LIST_MAX_ITEMS,
    SUMMARY_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    InvalidAnalysis,
    SkinAnalysis,
    face_covered,
    face_too_cut_to_score,
    found_no_face,
    in_one_hue,
    metrics_to_judge,
    not_a_photo,
    not_scored,
    with_measurements,
)
from ai.gemini_chat import GeminiChat
from ai.gemini_client import (
    BLOCKED_FINISH_REASONS,
    SAFETY_SETTINGS,
    GeminiClient,
)
from ai.gemini_plans import GeminiPlanDrafting
from ai.offline import OfflineProvider
from ai.prompts import SKIN_ANALYSIS_INSTRUCTION, analysis_response_schema, skin_analysis_request
from ai.providers import SkinProfile
from skincare.metrics import MODEL

# Ends a text of the answer cut to its length (a summary, a red flag, a concern's name).
CUT_MARK = "..."

__all__ = ["BLOCKED_FINISH_REASONS", "SAFETY_SETTINGS", "GeminiProvider"]


class GeminiProvider(GeminiPlanDrafting, GeminiChat, GeminiClient):
    """Gemini for every AI use of DermaLens; one google-genai client per instance."""

    # Measures the photo before the model sees it; deterministic and without network.
    pipeline = OfflineProvider()

    def analyze_skin(self, *, image_jpeg: bytes, area: str, profile: SkinProfile) -> SkinAnalysis:
        measured = self.pipeline.analyze_skin(image_jpeg=image_jpeg, area=area, profile=profile)
        if found_no_face(measured):
            return not_scored(measured, provider=self.name, model=self.model)
        if (
            face_too_cut_to_score(measured)
            or face_covered(measured)
            or not_a_photo(measured)
            or in_one_hue(measured)
        ):
            # The pipeline's own summary asks for the whole face in the photo, uncovered,
            # or for a photo of the face taken with the camera, without a filter.
            return not_scored(
                measured, provider=self.name, model=self.model, summary=measured.summary
            )
        response = self._generate(
            use="analysis",
            contents=[
                types.Part.from_bytes(data=image_jpeg, mime_type="image/jpeg"),
                skin_analysis_request(area=area, profile=profile, measured=measured),
            ],
            config=self._json_config(
                instruction=SKIN_ANALYSIS_INSTRUCTION,
                schema=analysis_response_schema(judged_metrics=metrics_to_judge(measured)),
                use="analysis",
            ),
        )
        answer = within_limits(self._answer_from(response))
        try:
            judged = SkinAnalysis.from_dict(
                answer, provider=self.name, model=self.model, heuristic=False, source=MODEL
            )
        except InvalidAnalysis as err:
            raise self._failed("invalid_response", f"the answer broke the contract: {err}") from err
        return with_measurements(judged, measured=measured)


def within_limits(answer: Any) -> Any:
    """The answer with its texts and lists kept within the contract's limits.

    The response schema asks for them, but a schema's ``maxLength`` and ``maxItems`` are
    guidance to the model, not a guarantee, and one long red flag is no reason to lose
    the whole analysis (least of all its red flags). The summary (SUMMARY_MAX_LENGTH),
    each red flag and each concern's name (TEXT_MAX_LENGTH) are cut at a word and marked
    "..."; blank red flags and concerns without a name are left out; of each list, the
    first LIST_MAX_ITEMS are kept (the model lists what matters most first). Anything
    of another type is left for ``SkinAnalysis.from_dict`` to refuse.
    """
    if not isinstance(answer, dict):
        return answer
    kept = dict(answer)
    if isinstance(answer.get("summary"), str):
        kept["summary"] = cut_at_word(answer["summary"], SUMMARY_MAX_LENGTH)
    if isinstance(answer.get("red_flags"), list):
        flags = [
            cut_at_word(flag, TEXT_MAX_LENGTH) if isinstance(flag, str) else flag
            for flag in answer["red_flags"]
        ]
        kept["red_flags"] = [flag for flag in flags if flag != ""][:LIST_MAX_ITEMS]
    if isinstance(answer.get("concerns"), list):
        concerns = [
            {**concern, "name": cut_at_word(concern["name"], TEXT_MAX_LENGTH)}
            if isinstance(concern, dict) and isinstance(concern.get("name"), str)
            else concern
            for concern in answer["concerns"]
        ]
        kept["concerns"] = [
            concern
            for concern in concerns
            if not (isinstance(concern, dict) and concern.get("name") in ("", None))
        ][:LIST_MAX_ITEMS]
    return kept


def cut_at_word(text: str, limit: int) -> str:
    """``text`` without its surrounding space, cut at a word to at most ``limit``
    characters and marked ``CUT_MARK`` when longer (within a word only when a single
    word fills the room)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    head = text[: limit - len(CUT_MARK)]
    if not text[len(head)].isspace():
        words = head.rsplit(maxsplit=1)
        head = words[0] if len(words) > 1 else head
    return head.rstrip().rstrip(",;:").rstrip() + CUT_MARK
