"""``OfflineProvider``: skin analysis from the photo's pixels alone, with no network.

    provider = OfflineProvider()
    analysis = provider.analyze_skin(image_jpeg=data, area="face", profile=SkinProfile())

Deterministic: the same bytes give the same analysis (but for ``analyzed_at``).
"""

from ai.analysis import InvalidAnalysis, SkinAnalysis
from ai.chat import OfflineChat
from ai.offline.examine import examine_photo
from ai.offline.images import decode_image
from ai.offline.scores import score_examination
from ai.providers import AnalysisFailed, SkinProfile


class OfflineProvider(OfflineChat):
    """Heuristic pixel measures (skin mask, redness, tone, shine, texture, spots)."""

    name = "offline"
    model = "dermalens-offline-heuristic-1"
    # It computes rather than waits: callers run it off the event loop (run_cpu_bound).
    cpu_bound = True

    def analyze_skin(self, *, image_jpeg: bytes, area: str, profile: SkinProfile) -> SkinAnalysis:
        # The profile is deliberately unused: the scores describe this photo, and a
        # reported skin type must not leak into a measurement that claims to be one.
        image = decode_image(image_jpeg)
        answer = score_examination(examine_photo(image, area=area))
        try:
            return SkinAnalysis.from_dict(
                answer, provider=self.name, model=self.model, heuristic=True
            )
        except InvalidAnalysis as err:
            raise AnalysisFailed("invalid_response", f"offline analysis: {err}") from err
