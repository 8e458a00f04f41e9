"""Argon2 password hashing that holds no other request while it computes.

    PASSWORD_HASHERS = ["accounts.hashers.Argon2PasswordHasher", ...]

Argon2 is slow on purpose (time and memory cost): every login, registration and
password change spends about 0.2 s of CPU and 100 MiB on it. In a gevent worker that
would hold every other request of the worker for as long, so the hash runs in the
worker's password thread, one at a time and below the worker's priority
(``dermalens_site.concurrency.run_password_work``); argon2-cffi releases the GIL while
it hashes.

Django's time and memory costs are kept; the parallelism is 1 instead of 8. Eight lanes
make libargon2 start eight threads per hash, which on a host of two to four cores only
queue for them, and an attacker's cost is the same (it follows time x memory). The
stored format is Django's own (algorithm ``argon2``, parameters in each hash): hashes
made with 8 lanes still verify, and a sign-in with one stores the password hashed anew
(``accounts.services.rehashed``).

A password is hashed as Unicode NFKC (``NormalisedArgon2PasswordHasher``, stored as
``argon2_nfkc$...``), as NIST SP 800-63B advises: "é" comes from one keyboard as one
character and from another as "e" and a combining accent, and the person typed the same
password on both; the validators read it so too (``accounts.services.check_new_password``),
so "password1234" typed in full-width letters is as common. A hash made before
(``argon2$...``) is of the password as typed and is checked so, with one Argon2 as every
check, and a sign-in with it stores the password hashed anew, normalised.
"""

import unicodedata

from django.contrib.auth import hashers

from dermalens_site.concurrency import run_password_work


def as_hashed(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


class Argon2PasswordHasher(hashers.Argon2PasswordHasher):
    """Argon2 of the password as typed: the hashes stored before passwords were
    normalised (Django's own ``argon2$`` format)."""

    parallelism = 1

    def encode(self, password: str, salt: str) -> str:
        return run_password_work(super().encode, password, salt)

    def verify(self, password: str, encoded: str) -> bool:
        return run_password_work(super().verify, password, encoded)


class NormalisedArgon2PasswordHasher(Argon2PasswordHasher):
    """Argon2 of the password's NFKC form: the hasher of every password set now."""

    algorithm = "argon2_nfkc"

    def encode(self, password: str, salt: str) -> str:
        return super().encode(as_hashed(password), salt)

    def verify(self, password: str, encoded: str) -> bool:
        return super().verify(as_hashed(password), encoded)
