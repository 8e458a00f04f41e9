"""``OfflineProvider``: skin analysis from the photo's pixels alone, with no network.

    provider = OfflineProvider()
    analysis = provider.analyze_skin(image_jpeg=data, area="face", profile=SkinProfile())

Deterministic: the same bytes give the same analysis (but for ``analyzed_at``).
"""

from typing import Any

from ai.analysis import InvalidAnalysis, SkinAnalysis
from ai.chat import OfflineChat
from ai.offline.examine import examine_photo
from ai.offline.scores import score_examination
from ai.providers import AnalysisFailed, SkinProfile
from dermalens_site.concurrency import run_cpu_bound

# The offline pipeline's version, recorded with every analysis it measures (as the
# analysis's ``measured_by``, and as its ``model`` when the analysis is its own). Raise it
# with every change that moves a reading of a photo (a threshold, a quality check, a
# metric's formula): progress compares only scores measured by one version.
# ai/tests/test_engine_version.py keeps the readings of reference photos under it and
# fails when they move while it stays.
ENGINE = "dermalens-offline-heuristic-10"


def examine_and_score(image_jpeg: bytes, area: str) -> dict[str, Any]:
    return score_examination(examine_photo(image_jpeg, area=area))


class OfflineProvider(OfflineChat):
    """Face landmarks and heuristic pixel measures (redness, tone, shine, texture, spots,
    lines, pores, under-eye shading)."""

    name = "offline"
    model = ENGINE

    def analyze_skin(self, *, image_jpeg: bytes, area: str, profile: SkinProfile) -> SkinAnalysis:
        # The profile is deliberately unused: the scores describe this photo, and a
        # reported skin type must not leak into a measurement that claims to be one.
        # It computes rather than waits: in a gevent worker, in a real thread, so the
        # requests beside it go on (also when the Gemini provider measures with it).
        answer = run_cpu_bound(examine_and_score, image_jpeg, area)
        try:
            return SkinAnalysis.from_dict(
                answer, provider=self.name, model=self.model, heuristic=True, measured_by=ENGINE
            )
        except InvalidAnalysis as err:
            raise AnalysisFailed("invalid_response", f"offline analysis: {err}") from err
