"""The offline AI provider: skin analysis and overlays from the photo's pixels alone.

    from ai.offline import OfflineProvider, render_overlay
    analysis = OfflineProvider().analyze_skin(image_jpeg=data, area="face", profile=profile)
    png = render_overlay(data, "redness")

No network and nothing downloaded: MediaPipe's face detector and face-mesh models
(shipped in ``models/``, run by LiteRT) find the face, its 468 landmarks and its pose;
colour rules and filters measure redness, tone, shine, texture, spots and under-eye
shading on landmark regions, and ridge and pit filters measure lines and pores when the
face is large enough. Its answers say they are heuristic estimates, never a diagnosis.

Modules: ``images`` (decoding, quality checks), ``landmarks`` (face, mesh, pose),
``regions`` (landmark polygons and their masks), ``pixels`` (skin mask, per-pixel
maps), ``detail`` (lines and pores), ``examine`` (one photo, end to end), ``scores``
(maps to the contract's scores), ``provider``, ``overlays``.
"""

from ai.offline.overlays import OVERLAY_METRICS, render_overlay
from ai.offline.provider import ENGINE, OfflineProvider

__all__ = ["ENGINE", "OVERLAY_METRICS", "OfflineProvider", "render_overlay"]
