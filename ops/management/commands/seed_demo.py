"""Create a demo account that makes the API and the ops pages look alive.

    python manage.py seed_demo [--email demo@dermalens.example] [--weeks 6]

Several weekly scans made from the photo shipped in ``tests/data`` (redness fading week
by week, so progress shows), analysed by the configured provider, a treatment plan with
two weeks of check-ins, and a chat session. The password is generated and printed
once. An existing demo account is left alone unless ``--replace`` is given, which
erases only an account this command made (and records the erasure in the audit log).
"""

import io
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import CommandError
from PIL import Image

from accounts.services import register_user, update_profile
from chat.services import send_message, start_session
from dermalens_site.commands import DataCommand, build_ai_providers
from dynamo.plans import plans_table
from dynamo.scans import scans_table
from dynamo.users import users_table
from ops.services import record_command_action
from plans.services import check_in, create_plan
from privacy.services import erase_account
from scans.services import upload_scan

SAMPLE_PHOTO = Path(settings.BASE_DIR) / "tests" / "data" / "astronaut.jpg"
# Extra red added to the first week's photo; it fades to none by the last week.
FIRST_WEEK_FLUSH = 45
SKIN_MIN_RED_OVER_BLUE = 30
# The rows of the sample photo that hold the eyes and their lids (fractions of its height).
SAMPLE_EYE_ROWS = (0.17, 0.22)
CHECK_IN_DAYS = 14
DEMO_NAME = "Demo Person"


def weekly_photo(week: int, weeks: int) -> bytes:
    """The sample photo with a flush that fades as the weeks go by, upscaled to 1024 px.

    The flush reddens the skin alone: reddening every pixel would be a red light, which
    the whites of the eyes show and the analysis refuses as a colour cast."""
    photo = Image.open(SAMPLE_PHOTO).convert("RGB").resize((1024, 1024))
    flush = round(FIRST_WEEK_FLUSH * (weeks - 1 - week) / max(1, weeks - 1))
    pixels = np.asarray(photo).astype(np.int16)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    # Skin-coloured: red over green over blue, and well away from grey (not an eye white).
    skin = (red > 95) & (red > green) & (green > blue) & (red - blue > SKIN_MIN_RED_OVER_BLUE)
    top, bottom = (round(fraction * pixels.shape[0]) for fraction in SAMPLE_EYE_ROWS)
    skin[top:bottom] = False  # the eyes and their lids stay as they are
    pixels[..., 0] = np.where(skin, np.minimum(255, red + flush), red)
    photo = Image.fromarray(pixels.astype(np.uint8))
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


class Command(DataCommand):
    help = "Create a demo account with scans over time, a plan with check-ins and a chat."

    def add_arguments(self, parser):
        parser.add_argument("--email", default="demo@dermalens.example")
        parser.add_argument("--weeks", type=int, default=6, choices=range(2, 27))
        parser.add_argument(
            "--replace", action="store_true", help="erase an existing demo account first"
        )

    def handle(self, *args, email: str, weeks: int, replace: bool, **options):
        build_ai_providers("analysis", "chat")  # before anything of the account is made
        existing_id = users_table().find_user_id(email.strip().lower())
        existing = users_table().get(existing_id) if existing_id else None
        if existing and not replace:
            raise CommandError(f"{email} exists already; --replace erases and recreates it.")
        if existing:
            # Only what this command made: a real person's account is erased by erase_user,
            # which asks first.
            if existing.full_name != DEMO_NAME or existing.is_staff:
                raise CommandError(
                    f"{email} is not a demo account made by seed_demo; nothing was erased."
                )
            erase_account(user_id=existing.user_id)
            record_command_action(
                action="erase_account",
                target_user_id=existing.user_id,
                by="seed_demo --replace",
            )
        password = secrets.token_urlsafe(18)
        user, _ = register_user(email=email, password=password, full_name=DEMO_NAME)
        user = update_profile(
            user_id=user.user_id,
            changes={
                "skin_type": "combination",
                "skin_concerns": ["redness", "acne"],
                "sensitivities": ["fragrance"],
                "age_range": "25_34",
                "pregnant_or_breastfeeding": False,
            },
        )
        self.add_scans(user, weeks)
        plan = create_plan(user=user)
        # Begun with the check-ins' first day (a check-in cannot be dated before its plan).
        began = datetime.now(UTC) - timedelta(days=CHECK_IN_DAYS)
        plans_table().update(
            user.user_id,
            plan.plan_id,
            changes={"created_at": began.isoformat(timespec="milliseconds")[:-6] + "Z"},
        )
        today = datetime.now(UTC).date()
        for days_ago in range(CHECK_IN_DAYS, 0, -1):
            check_in(
                user_id=user.user_id,
                plan_id=plan.plan_id,
                day=today - timedelta(days=days_ago),
                am_done=True,
                pm_done=days_ago % 4 != 0,
                irritation=1 if days_ago > 10 else 0,
                notes=None,
            )
        session = start_session(user_id=user.user_id, title="Getting started")
        send_message(
            user=user,
            session_id=session.session_id,
            content="How is my redness doing, and what should I do tonight?",
        )
        self.stdout.write(
            f"Demo account {email} (password: {password}): {weeks} scans, "
            f"a plan with {CHECK_IN_DAYS} check-ins, one chat session."
        )

    def add_scans(self, user, weeks: int) -> None:
        now = datetime.now(UTC)
        for week in range(weeks):
            photo = SimpleUploadedFile(f"week-{week + 1}.jpg", weekly_photo(week, weeks))
            scan, _ = upload_scan(user=user, image=photo, area="face", notes=f"Week {week + 1}")
            taken = now - timedelta(weeks=weeks - 1 - week)
            scans_table().update(
                user.user_id,
                scan.scan_id,
                changes={"scanned_at": taken.isoformat(timespec="milliseconds")[:-6] + "Z"},
            )
            self.stdout.write(f"scan {week + 1}/{weeks}: {scan.status}")
