"""Privacy jobs: erasing an account, which can hold thousands of items and files.

enqueue(erase_account, user_id=user_id)    # privacy.services.begin_erasure
"""

import re

from celery import shared_task

from privacy import services

# Ids are ULIDs; anything else is malformed, never a key to look up.
ID_PATTERN = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


@shared_task(name="privacy.erase_account")
def erase_account(*, user_id: str) -> None:
    """Erase every file and item of the account; safe to run again (it finishes the job)."""
    if not isinstance(user_id, str) or not ID_PATTERN.match(user_id):
        raise ValueError("user_id must be a ULID")
    services.erase_account(user_id=user_id)
