"""Password validators that work with DynamoDB users (plain dataclasses, no ORM model)."""

import unicodedata
from types import SimpleNamespace
from typing import Any, cast

from django.contrib.auth.password_validation import UserAttributeSimilarityValidator
from django.core.exceptions import ValidationError

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


class VariedCharactersValidator:
    """At least ``min_distinct`` different characters, spaces aside: twelve spaces, or
    "aaaaaaaaaaaa" and "abababababab", pass the length and common-password checks and are
    among the first any guesser tries."""

    def __init__(self, min_distinct: int = 5):
        self.min_distinct = min_distinct

    def validate(self, password: str, user: Any = None) -> None:
        # Spaces of any kind, and characters that show nothing (a zero-width space), aside.
        shown = {c for c in password if not c.isspace() and unicodedata.category(c) != "Cf"}
        if len(shown) < self.min_distinct:
            raise ValidationError(self.get_help_text(), code="password_too_uniform", params={})

    def get_help_text(self) -> str:
        return f"Your password must use at least {self.min_distinct} different characters."
