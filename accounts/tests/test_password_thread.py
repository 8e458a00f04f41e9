"""Password hashes in a gevent worker: one at a time, below the worker's priority.

Each Argon2 hash takes about 0.2 s of CPU and 100 MiB; a burst of sign-ins in the shared
CPU threads took 100 MiB per thread and the cores from every other request. These run
the production hasher in a process patched as a web worker is.
"""

import argon2
from django.contrib.auth.hashers import check_password
from rest_framework.test import APIClient

from accounts.hashers import Argon2PasswordHasher
from accounts.tests.test_api import LOGIN, ME, bearer
from conftest import STRONG_PASSWORD
from dynamo.users import users_table
from tests.gevent_process import run_patched

SIGN_INS_AT_ONCE = """
import json, os, resource, _thread
import django
django.setup()
import argon2.low_level
import gevent
from accounts.hashers import NormalisedArgon2PasswordHasher

hasher = NormalisedArgon2PasswordHasher()
real_hash = argon2.low_level.hash_secret
lock = _thread.allocate_lock()  # the CPU threads are real threads
running, seen = [0], []

def hash_secret(*args, **kwargs):
    with lock:
        running[0] += 1
        seen.append({"at_once": running[0], "niceness": os.getpriority(os.PRIO_PROCESS, 0)})
    try:
        return real_hash(*args, **kwargs)
    finally:
        with lock:
            running[0] -= 1

argon2.low_level.hash_secret = hash_secret
hasher.encode("warm-up-password", hasher.salt())
before_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
seen.clear()
sign_ins = [gevent.spawn(hasher.encode, f"password-{n}", hasher.salt()) for n in range(4)]
gevent.joinall(sign_ins, raise_error=True)
print(json.dumps({
    "seen": seen,
    "worker_niceness": os.getpriority(os.PRIO_PROCESS, 0),
    "grew_mib": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kib) / 1024,
    "encoded": [sign_in.value for sign_in in sign_ins],
}))
"""


def test_sign_ins_at_once_hash_one_at_a_time_below_the_worker_s_priority():
    outcome = run_patched(SIGN_INS_AT_ONCE)
    assert len(outcome["seen"]) == 4
    assert [hash_["at_once"] for hash_ in outcome["seen"]] == [1, 1, 1, 1]
    assert {hash_["niceness"] for hash_ in outcome["seen"]} == {outcome["worker_niceness"] + 10}
    # One hash's memory (100 MiB) at a time, not four.
    assert outcome["grew_mib"] < 150
    # Django's time and memory costs, one lane.
    assert all(
        encoded.startswith("argon2_nfkc$argon2id$v=19$m=102400,t=2,p=1$")
        for encoded in outcome["encoded"]
    )


def test_a_password_hashed_with_eight_lanes_still_verifies():
    eight_lanes = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=8)
    encoded = "argon2" + eight_lanes.hash("an-older-passphrase")
    assert check_password("an-older-passphrase", encoded, preferred=Argon2PasswordHasher())
    assert not check_password("another-passphrase", encoded, preferred=Argon2PasswordHasher())


def test_a_sign_in_with_an_eight_lane_hash_stores_it_hashed_anew_and_keeps_the_sessions(
    register,
):
    session = register()
    user_id, email = session["user"]["user_id"], session["user"]["email"]
    eight_lanes = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=8)
    older = "argon2" + eight_lanes.hash(STRONG_PASSWORD)
    users_table().rehash_password(
        user_id, old_hash=users_table().get(user_id, consistent=True).password_hash, new_hash=older
    )

    signed_in = APIClient().post(LOGIN, {"email": email, "password": STRONG_PASSWORD})
    assert signed_in.status_code == 200, signed_in.content
    stored = users_table().get(user_id, consistent=True).password_hash
    # The preferred hasher's: one lane, the password normalised.
    assert stored.startswith("argon2_nfkc$") and ",p=1$" in stored
    assert check_password(STRONG_PASSWORD, stored)
    # The same password: the sessions from before stand, and it signs in again.
    assert bearer(session["access"]).get(ME).status_code == 200
    again = APIClient().post(LOGIN, {"email": email, "password": STRONG_PASSWORD})
    assert again.status_code == 200
    assert users_table().get(user_id, consistent=True).password_hash == stored


def test_a_rehash_does_not_overwrite_a_password_changed_meanwhile(register):
    user_id = register()["user"]["user_id"]
    current = users_table().get(user_id, consistent=True).password_hash
    assert not users_table().rehash_password(user_id, old_hash="argon2$older", new_hash="x")
    assert users_table().get(user_id, consistent=True).password_hash == current
