"""Password validators that work with DynamoDB users (plain dataclasses, no ORM model)."""

from types import SimpleNamespace
from typing import Any, cast

from django.contrib.auth.password_validation import UserAttributeSimilarityValidator

# A new password (a change, a reset) that is the one it replaces: refused, since the
# change would sign every session out and leave the account as guessable as before.
UNCHANGED_MESSAGE = "The new password is the current one."


class _FieldNames:
    """What Django's validator asks of ``user._meta``: a field's verbose name."""

    @staticmethod
    def get_field(name: str) -> SimpleNamespace:
        return SimpleNamespace(verbose_name=name.replace("_", " "))


class _UserView:
    _meta = _FieldNames()

    def __init__(self, user: Any):
        self._user = user

    def __getattr__(self, name: str) -> Any:
        return getattr(self._user, name)


class AttributeSimilarityValidator(UserAttributeSimilarityValidator):
    """Django's similarity check; it names the field through ``user._meta``, which a
    dataclass user lacks, so the user is given a view that has it."""

    def validate(self, password: str, user: Any = None) -> None:
        # The validator only reads attributes and ``_meta``, which the view provides.
        view = cast(Any, _UserView(user)) if user is not None else None
        super().validate(password, view)
