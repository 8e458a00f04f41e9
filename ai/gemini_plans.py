"""``GeminiPlanDrafting``: Gemini personalises the rule engine's treatment plan.

    class GeminiProvider(GeminiPlanDrafting, ...): ...
    draft = provider.draft_plan(base_plan=base, analysis=analysis, profile=profile)

A mixin for ``ai.gemini.GeminiProvider``: it uses ``GeminiClient``'s ``_generate``,
``_answer_from`` and ``_failed``, so a plan draft gets the same client, retries and failure reasons
(``AnalysisFailed``) as an analysis. The draft comes back unvalidated: the caller
(``plans.drafting``) holds it to the base plan and runs the safety check over it.
"""

from collections.abc import Callable
from typing import Any

from google.genai import types

from ai.plan_prompts import PLAN_DRAFTING_INSTRUCTION, plan_drafting_request, plan_response_schema
from ai.providers import AnalysisFailed, SkinProfile

# A little wording variety, but the same base plan should read much the same.
PLAN_TEMPERATURE = 0.4


class GeminiPlanDrafting:
    """``draft_plan`` for a class that also derives from ``GeminiProvider``."""

    # Supplied by GeminiClient (annotations only, so its own methods stay in charge).
    _generate: Callable[..., types.GenerateContentResponse]
    _json_config: Callable[..., types.GenerateContentConfig]
    _answer_from: Callable[[types.GenerateContentResponse], Any]
    _failed: Callable[..., AnalysisFailed]

    def draft_plan(
        self, *, base_plan: dict[str, Any], analysis: dict[str, Any] | None, profile: SkinProfile
    ) -> dict[str, Any]:
        """Gemini's personalised version of ``base_plan``; raises ``AnalysisFailed``."""
        response = self._generate(
            use="plan",
            contents=[
                plan_drafting_request(base_plan=base_plan, analysis=analysis, profile=profile)
            ],
            config=self._json_config(
                instruction=PLAN_DRAFTING_INSTRUCTION,
                schema=plan_response_schema(),
                use="plan",
                temperature=PLAN_TEMPERATURE,
            ),
        )
        answer = self._answer_from(response)
        if not isinstance(answer, dict):
            raise self._failed("invalid_response", "the plan is not a JSON object")
        return answer
