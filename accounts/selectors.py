"""Reads of accounts."""

from ai.providers import SkinProfile
from dynamo.errors import AccountClosed
from dynamo.users import User, users_table


def get_user(*, user_id: str) -> User | None:
    return users_table().get(user_id)


def as_stored(user: User, *, read_now: bool = False) -> User:
    """``user`` read again, strongly consistent; ``AccountClosed`` when it is gone.

    The request's user may be the worker's copy, up to AUTH_USER_CACHE_SECONDS old; a
    profile changed through another worker a moment ago (a pregnancy, a new
    sensitivity) must still shape the plan, the analysis or the chat reply drafted now.
    An account erased (or being erased) meanwhile has nothing more drafted for it: the
    cached copy is never a stand-in for it. ``read_now``: ``user`` was itself read
    strongly consistent in this request (``accounts.authentication.read_in_this_request``),
    as fresh as a second read, so it is taken as it is.
    """
    stored = user if read_now else get_user(user_id=user.user_id)
    if stored is None or stored.erasure_started_at is not None:
        raise AccountClosed()
    return stored


def skin_profile_of(user: User) -> SkinProfile:
    """What an AI provider may know of a person: their skin, never their name or email."""
    return SkinProfile(
        skin_type=user.skin_type,
        skin_concerns=user.skin_concerns,
        sensitivities=user.sensitivities,
        age_range=user.age_range,
        pregnant_or_breastfeeding=user.pregnant_or_breastfeeding,
        allergies=user.allergies,
    )
