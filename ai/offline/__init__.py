"""The offline AI provider: skin analysis and overlays from the photo's pixels alone.

    from ai.offline import OfflineProvider, render_overlay
    analysis = OfflineProvider().analyze_skin(image_jpeg=data, area="face", profile=profile)
    png = render_overlay(data, "redness")

No network and nothing downloaded: OpenCV's bundled Haar cascades find the face and
eyes; colour rules and filters measure redness, tone, shine, texture and spots. Its
answers say they are heuristic estimates, never a diagnosis.

Modules: ``images`` (decoding, quality checks), ``faces`` (detection, regions),
``pixels`` (skin mask, per-pixel maps), ``examine`` (one photo, end to end),
``scores`` (maps to the contract's scores), ``provider``, ``overlays``.
"""

from ai.offline.overlays import OVERLAY_METRICS, render_overlay
from ai.offline.provider import OfflineProvider

__all__ = ["OVERLAY_METRICS", "OfflineProvider", "render_overlay"]
