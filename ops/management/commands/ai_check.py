"""Send one small real request to Gemini for each use, and say what worked.

    python manage.py ai_check

With the configured ``GEMINI_API_KEY``, ``GEMINI_MODEL``, ``GEMINI_API_VERSION`` and
thinking settings it analyses a generated face image, drafts a plan from the rules' plan
for an empty profile, and answers one chat message: the three request shapes the service
sends. One line per use says ``ok`` (with the time taken) or ``FAILED`` with the reason
and the provider's own message; the exit code is non-zero when anything failed, so a
deployment stops before users meet a wrong model name, a refused field or a bad key.
Nothing of any user is sent.
"""

import io
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from google.genai import errors
from PIL import Image, ImageDraw, ImageFilter

from ai.chat import ChatContext, ChatFailed
from ai.providers import AnalysisFailed, SkinProfile, chat_provider_name, provider_name
from dermalens_site.commands import build_ai_providers
from plans.rules import build_plan

# Big enough to pass the upload checks (480 px on the short side), small to send.
FACE_IMAGE_PIXELS = 640
SKIN_TONE = (214, 170, 140)
# The light falls off from the upper left (a share of the level per squared image width),
# and a camera's grain (sigma in grey levels, always the same draw).
LIGHT_FALL_OFF = 0.4
GRAIN_SIGMA = 4.0
GRAIN_SEED = 7
# Skin's colour varies with the blood under it: a face of one flat colour is in one hue,
# like a statue's, and is not analysed. Blotches of redness this many levels either way
# (red up, green and blue down by BLOTCH_GREEN_BLUE_SHARE of it), this share of the
# image wide.
BLOTCH_LEVELS = 10.0
BLOTCH_GREEN_BLUE_SHARE = 0.4
BLOTCH_WIDTH_SHARE = 1 / 40
CHECK_MESSAGE = "In one sentence: what does a gentle cleanser do?"


def generated_face_jpeg() -> bytes:
    """A drawn face (oval, eyes, brows, nose, mouth), softened, lit from one side and with
    a camera's grain and blotches of redness, so that the analysis takes it for a
    photographed face (a flat drawing is ``not_a_photo``, a face in one colour
    ``one_hue``, neither ever sent to Gemini): no person's."""
    size = FACE_IMAGE_PIXELS
    image = Image.new("RGB", (size, size), (196, 206, 214))
    draw = ImageDraw.Draw(image)
    draw.ellipse((150, 70, 490, 560), fill=SKIN_TONE)
    for left in (225, 355):
        draw.ellipse((left, 240, left + 60, 275), fill=(245, 245, 240))
        draw.ellipse((left + 18, 244, left + 42, 271), fill=(70, 50, 40))
        draw.arc((left - 5, 205, left + 65, 245), 200, 340, fill=(90, 60, 45), width=8)
    draw.line((320, 280, 305, 380, 335, 385), fill=(180, 130, 105), width=5)
    draw.arc((260, 400, 380, 470), 20, 160, fill=(170, 80, 80), width=8)
    pixels = np.asarray(image.filter(ImageFilter.GaussianBlur(2)), dtype=np.float32)
    rows, columns = np.mgrid[0:size, 0:size]
    distance = ((columns - 0.35 * size) ** 2 + (rows - 0.3 * size) ** 2) / size**2
    light = 1.0 - LIGHT_FALL_OFF * distance
    rng = np.random.default_rng(GRAIN_SEED)
    noise = Image.fromarray(rng.normal(128, 60, (size, size)).clip(0, 255).astype(np.uint8))
    noise = noise.filter(ImageFilter.GaussianBlur(BLOTCH_WIDTH_SHARE * size))
    blotches = np.asarray(noise, dtype=np.float32) - 128
    blotches *= BLOTCH_LEVELS / max(float(np.std(blotches)), 1e-6)
    pixels[..., 0] += blotches
    pixels[..., 1:] -= BLOTCH_GREEN_BLUE_SHARE * blotches[..., None]
    grain = rng.normal(0.0, GRAIN_SIGMA, pixels.shape)
    photo = np.clip(pixels * light[..., None] + grain, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(photo).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def provider_message(err: BaseException) -> str:
    """The provider's own words: the API error's status and message when there is one."""
    cause: BaseException | None = err
    while cause is not None and not isinstance(cause, errors.APIError):
        cause = cause.__cause__
    if isinstance(cause, errors.APIError):
        return f"Gemini answered {cause.code} {cause.status}: {cause.message}"
    return getattr(err, "message", None) or str(err) or type(err).__name__


class Command(BaseCommand):
    help = "Send one small real Gemini request per use (analysis, plan, chat); exit 1 if any fails."

    def handle(self, *args: Any, **options: Any) -> None:
        from ai.gemini import GeminiProvider  # needs the settings checked below

        # What the service itself would use: a wrong AI_PROVIDER or AI_CHAT_PROVIDER stops
        # its workers, so it fails here too, and a use that is not Gemini's is said.
        build_ai_providers("analysis", "chat")
        if not settings.GEMINI_API_KEY:
            raise CommandError("GEMINI_API_KEY is not set: there is no Gemini to check.")
        uses = {"analyses and plans": provider_name(), "chat": chat_provider_name()}
        self.stdout.write(
            "The service uses: " + ", ".join(f"{use}: {name}" for use, name in uses.items())
        )
        if "gemini" not in uses.values():
            self.stdout.write("(none of it is Gemini's: this checks Gemini all the same)")
        try:
            provider = GeminiProvider()
        except ImproperlyConfigured as err:
            raise CommandError(str(err)) from err
        self.stdout.write(
            f"Gemini {provider.model}, API {provider.api_version}, "
            f"{settings.GEMINI_BASE_URL or 'generativelanguage.googleapis.com'}"
        )
        profile = SkinProfile()
        checks: dict[str, Callable[[], object]] = {
            "analysis": lambda: provider.analyze_skin(
                image_jpeg=generated_face_jpeg(), area="face", profile=profile
            ),
            "plan": lambda: provider.draft_plan(
                base_plan=build_plan(analysis=None, profile=profile),
                analysis=None,
                profile=profile,
            ),
            "chat": lambda: provider.reply(
                context=ChatContext(), history=[], message=CHECK_MESSAGE
            ),
        }
        failed = [use for use, check in checks.items() if not self.run_check(use, check)]
        if failed:
            raise CommandError(f"{len(failed)} of {len(checks)} checks failed: {', '.join(failed)}")
        self.stdout.write(self.style.SUCCESS(f"all {len(checks)} checks passed"))

    def run_check(self, use: str, check: Callable[[], object]) -> bool:
        started = time.perf_counter()
        try:
            check()
        except (AnalysisFailed, ChatFailed) as failure:
            self.stdout.write(
                f"{use:<9} FAILED  {failure.reason}: {provider_message(failure)}",
            )
            return False
        except Exception as err:  # a 400/403/404 is exactly what this command is for
            self.stdout.write(f"{use:<9} FAILED  {provider_message(err)}")
            return False
        seconds = time.perf_counter() - started
        self.stdout.write(f"{use:<9} ok      {seconds:.1f} s")
        return True
