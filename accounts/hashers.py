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
"""

from django.contrib.auth import hashers

from dermalens_site.concurrency import run_password_work


class Argon2PasswordHasher(hashers.Argon2PasswordHasher):
    parallelism = 1

    def encode(self, password: str, salt: str) -> str:
        return run_password_work(super().encode, password, salt)

    def verify(self, password: str, encoded: str) -> bool:
        return run_password_work(super().verify, password, encoded)
