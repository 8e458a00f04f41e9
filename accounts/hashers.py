"""Argon2 password hashing that holds no other request while it computes.

    PASSWORD_HASHERS = ["accounts.hashers.Argon2PasswordHasher", ...]

Argon2 is slow on purpose (time and memory cost): every login, registration and
password change spends a tenth of a second or more of CPU on it. In a gevent worker that
would hold every other request of the worker for as long, so the hash runs in the
worker's CPU threads (``dermalens_site.concurrency``); argon2-cffi releases the GIL
while it hashes. The stored format is Django's own (algorithm ``argon2``): existing
hashes verify, and new ones read the same.
"""

from django.contrib.auth import hashers

from dermalens_site.concurrency import run_cpu_bound


class Argon2PasswordHasher(hashers.Argon2PasswordHasher):
    def encode(self, password: str, salt: str) -> str:
        return run_cpu_bound(super().encode, password, salt)

    def verify(self, password: str, encoded: str) -> bool:
        return run_cpu_bound(super().verify, password, encoded)
