"""The offline analysis of a test photo (an RGB array), as the photo tests ask for it."""

import numpy as np

from ai.analysis import SkinAnalysis
from ai.offline import OfflineProvider
from ai.providers import SkinProfile
from tests import photos


def analyse(picture: np.ndarray, area: str = "face") -> SkinAnalysis:
    return OfflineProvider().analyze_skin(
        image_jpeg=photos.encode(picture), area=area, profile=SkinProfile()
    )
