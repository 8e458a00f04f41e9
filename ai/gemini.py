"""``GeminiProvider``: skin analysis, plan drafting and chat by Google Gemini (google-genai).

    provider = GeminiProvider()
    analysis = provider.analyze_skin(image_jpeg=data, area="face", profile=SkinProfile())

Every answer is validated before anything is stored: an analysis against the
``SkinAnalysis`` contract, a plan by the safety check (``plans.safety``), a chat reply
as plain text.
"""

from google.genai import types

from ai.analysis import InvalidAnalysis, SkinAnalysis
from ai.gemini_chat import GeminiChat
from ai.gemini_client import (
    BLOCKED_FINISH_REASONS,
    SAFETY_SETTINGS,
    GeminiClient,
)
from ai.gemini_plans import GeminiPlanDrafting
from ai.prompts import SKIN_ANALYSIS_INSTRUCTION, analysis_response_schema, skin_analysis_request
from ai.providers import SkinProfile

__all__ = ["BLOCKED_FINISH_REASONS", "SAFETY_SETTINGS", "GeminiProvider"]


class GeminiProvider(GeminiPlanDrafting, GeminiChat, GeminiClient):
    """Gemini for every AI use of DermaLens; one google-genai client per instance."""

    def analyze_skin(self, *, image_jpeg: bytes, area: str, profile: SkinProfile) -> SkinAnalysis:
        response = self._generate(
            contents=[
                types.Part.from_bytes(data=image_jpeg, mime_type="image/jpeg"),
                skin_analysis_request(area=area, profile=profile),
            ],
            config=self._json_config(
                instruction=SKIN_ANALYSIS_INSTRUCTION,
                schema=analysis_response_schema(),
                use="analysis",
            ),
        )
        answer = self._answer_from(response)
        try:
            return SkinAnalysis.from_dict(
                answer, provider=self.name, model=self.model, heuristic=False
            )
        except InvalidAnalysis as err:
            raise self._failed("invalid_response", f"the answer broke the contract: {err}") from err
