"""Device tokens: a login's proof that it comes from a client that signed in before.

    token = issue_device_token(user)         # returned with every session
    device = device_of(token)                # a Device, or None

The per-account lockout (``accounts/lockouts.py``) stops password guessing, but anyone
who knows an email could keep its logins locked by failing on purpose. A client that
has signed in to the account holds a device token; a login that presents a valid one
for the account it names is counted on that device instead of on the account, so the
owner's own phone still signs in while strangers are locked out, and wrong passwords
sent with a token lock that token the same way (OWASP's "device cookies").

A token is signed with SECRET_KEY (``django.core.signing``, salted for this use), names
the account, its ``token_version`` and a random device id, and expires after
LOGIN_DEVICE_TOKEN_DAYS; nothing is stored. What ends every session (a password change
or reset, "revoke sessions") bumps ``token_version`` and so forgets every device too.
It grants nothing by itself: the password is still checked.
"""

import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing

from dynamo.users import User

SALT = "dermalens.accounts.device"
DEVICE_ID_BYTES = 12


@dataclass(frozen=True)
class Device:
    user_id: str
    token_version: int
    device_id: str

    def belongs_to(self, user: User | None) -> bool:
        """Whether this is a device of ``user`` as the account is now."""
        return (
            user is not None
            and user.user_id == self.user_id
            and user.token_version == self.token_version
        )

    @property
    def lockout_subject(self) -> str:
        """What this device's login failures are counted on (``lockouts.claim_attempt``)."""
        return f"device:{self.user_id}:{self.device_id}"


def issue_device_token(user: User) -> str:
    payload = {
        "u": user.user_id,
        "v": user.token_version,
        "d": secrets.token_urlsafe(DEVICE_ID_BYTES),
    }
    return signing.dumps(payload, salt=SALT)


def device_of(token: str | None) -> Device | None:
    """The device a token names, or None for a missing, altered or expired one."""
    if not token:
        return None
    try:
        payload = signing.loads(
            token, salt=SALT, max_age=timedelta(days=settings.LOGIN_DEVICE_TOKEN_DAYS)
        )
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict):
        return None
    user_id, version, device_id = payload.get("u"), payload.get("v"), payload.get("d")
    if not isinstance(user_id, str) or type(version) is not int or not isinstance(device_id, str):
        return None
    return Device(user_id, version, device_id)
