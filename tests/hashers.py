"""Password hashing at a test's cost.

Django's Argon2 parameters (100 MiB and two passes per hash) are right for people's
passwords and slow for a suite that registers and signs in thousands of times; this is
the same algorithm, stored format and code path (the worker's password thread) with the
smallest parameters, so the suite tests behaviour, not Argon2's price. The tests that
start gunicorn use the production hasher.
"""

from accounts.hashers import NormalisedArgon2PasswordHasher


class QuickArgon2PasswordHasher(NormalisedArgon2PasswordHasher):
    time_cost = 1
    memory_cost = 1024  # KiB
    parallelism = 1
