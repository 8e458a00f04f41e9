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
    SUMMARY_MAX_LENGTH,
    InvalidAnalysis,
    SkinAnalysis,
    face_covered,
    face_too_cut_to_score,
    found_no_face,
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

SUMMARY_CUT_MARK = "..."

__all__ = ["BLOCKED_FINISH_REASONS", "SAFETY_SETTINGS", "GeminiProvider"]


class GeminiProvider(GeminiPlanDrafting, GeminiChat, GeminiClient):
    """Gemini for every AI use of DermaLens; one google-genai client per instance."""

    # Measures the photo before the model sees it; deterministic and without network.
    pipeline = OfflineProvider()

    def analyze_skin(self, *, image_jpeg: bytes, area: str, profile: SkinProfile) -> SkinAnalysis:
        measured = self.pipeline.analyze_skin(image_jpeg=image_jpeg, area=area, profile=profile)
        if found_no_face(measured):
            return not_scored(measured, provider=self.name, model=self.model)
        if face_too_cut_to_score(measured) or face_covered(measured) or not_a_photo(measured):
            # The pipeline's own summary asks for the whole face in the photo, uncovered,
            # or for a photo taken with the camera.
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
        answer = within_summary_length(self._answer_from(response))
        try:
            judged = SkinAnalysis.from_dict(
                answer, provider=self.name, model=self.model, heuristic=False, source=MODEL
            )
        except InvalidAnalysis as err:
            raise self._failed("invalid_response", f"the answer broke the contract: {err}") from err
        return with_measurements(judged, measured=measured)


def within_summary_length(answer: Any) -> Any:
    """The answer with a summary past SUMMARY_MAX_LENGTH cut at a word, marked "...".

    The response schema asks for at most that many characters, but a schema's
    ``maxLength`` is guidance to the model, not a guarantee: a long summary is no reason
    to lose the whole analysis.
    """
    summary = answer.get("summary") if isinstance(answer, dict) else None
    if not isinstance(summary, str) or len(summary) <= SUMMARY_MAX_LENGTH:
        return answer
    kept = summary[: SUMMARY_MAX_LENGTH - len(SUMMARY_CUT_MARK)].rsplit(maxsplit=1)[0]
    return {**answer, "summary": kept.rstrip(",;:") + SUMMARY_CUT_MARK}
