"""The web worker's photo processes (``dermalens_site.photo_processes``).

Each script runs in a process patched as a gevent worker is, and prepares photos as
``POST /scans`` does: the real child processes, over their real sockets.
"""

import os
import time

import psutil
import pytest

from tests.gevent_process import run_patched, run_patched_with_errors


def gone(pid: int) -> bool:
    """Exited: no such process, or one that only waits to be reaped (an orphan's parent
    is whatever adopts it, and a container's first process may never reap it)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


PHOTO = """
import django

django.setup()

from dermalens_site.photo_processes import photo_processes
from scans.tests.conftest import encode, face_photo, upload_file

jpeg = encode(face_photo().resize((1536, 1536)))
"""

SAME_PHOTO_AT_A_LOWER_PRIORITY = (
    PHOTO
    + """
import json
import os

from scans.images import prepare_photo, prepare_scan_image

prepared = prepare_scan_image(upload_file(jpeg))
at_home = prepare_photo(jpeg)  # the same work, in this process
(child,) = photo_processes().pids()
print(json.dumps({
    "same_jpeg": prepared.jpeg == at_home.jpeg,
    "same_thumbnail": prepared.thumbnail == at_home.thumbnail,
    "size": [prepared.width, prepared.height],
    "child": child,
    "own_pid": os.getpid(),
    "child_niceness": os.getpriority(os.PRIO_PROCESS, child),
    "own_niceness": os.getpriority(os.PRIO_PROCESS, 0),
}))
"""
)


def test_a_photo_is_worked_on_in_a_child_at_a_lower_priority_with_the_same_result():
    outcome = run_patched(SAME_PHOTO_AT_A_LOWER_PRIORITY, PHOTO_PROCESS_NICENESS="7")

    assert outcome["same_jpeg"] and outcome["same_thumbnail"], outcome
    assert outcome["size"] == [1536, 1536]
    assert outcome["child"] != outcome["own_pid"]
    assert outcome["child_niceness"] == outcome["own_niceness"] + 7


DAMAGED_AND_UNSUPPORTED = (
    PHOTO
    + """
import json

from scans.images import InvalidImage, prepare_scan_image
from scans.tests.conftest import truncated

outcomes = {}
for name, data in {
    "cut webp": truncated("WEBP"),
    "cut jpeg": truncated("JPEG"),
    "a gif": encode(face_photo(), "GIF"),
    "text": b"not a photo at all" * 100,
}.items():
    try:
        prepare_scan_image(upload_file(data))
        outcomes[name] = None
    except InvalidImage as err:
        outcomes[name] = {
            "code": err.default_code,
            "status": err.status_code,
            "message": err.message,
            "cause": str(err.__cause__),
        }
(child,) = photo_processes().pids()
outcomes["still one child"] = child
print(json.dumps(outcomes))
"""
)


def test_what_the_child_refuses_reaches_the_request_as_the_same_error():
    outcomes = run_patched(DAMAGED_AND_UNSUPPORTED)

    assert outcomes["cut webp"]["code"] == "corrupt_image"
    assert outcomes["cut jpeg"]["code"] == "corrupt_image"
    assert outcomes["a gif"]["code"] == "unsupported_image"
    assert outcomes["a gif"]["status"] == 415
    assert outcomes["text"]["code"] == "unsupported_image"
    # The child's own traceback rides along for the log, down to the decoder.
    assert "in decode" in outcomes["cut webp"]["cause"]
    # A refused photo is an answer, not a failure: the same child goes on.
    assert isinstance(outcomes["still one child"], int)


KILLED_MID_PHOTO = (
    PHOTO
    + """
import io
import json
import logging
import os
import signal

import gevent

from dermalens_site.photo_processes import PhotoWorkFailed
from scans.images import prepare_scan_image

log = io.StringIO()
handler = logging.StreamHandler(log)
logging.getLogger("dermalens.photo_processes").addHandler(handler)
big = encode(face_photo().resize((4000, 4000)))
photo_processes().start()
(first,) = photo_processes().pids()


def kill_soon():
    gevent.sleep(0.05)
    os.kill(first, signal.SIGKILL)


gevent.spawn(kill_soon)
try:
    prepare_scan_image(upload_file(big))
    failed = None
except PhotoWorkFailed as err:
    failed = {"code": err.default_code, "status": err.status_code}
after = prepare_scan_image(upload_file(jpeg))
(second,) = photo_processes().pids()
print(json.dumps({
    "failed": failed,
    "after": [after.width, after.height],
    "first": first,
    "second": second,
    "log": log.getvalue(),
}))
"""
)


def test_a_child_that_dies_mid_photo_fails_that_request_alone_and_is_replaced():
    outcome = run_patched(KILLED_MID_PHOTO)

    assert outcome["failed"] == {"code": "photo_work_failed", "status": 503}
    assert outcome["after"] == [1536, 1536]
    assert outcome["second"] != outcome["first"]
    assert gone(outcome["first"])
    assert "photo process lost" in outcome["log"]


HUNG_CHILD = (
    PHOTO
    + """
import json
import time

from dermalens_site.photo_processes import PhotoWorkFailed, in_photo_process
from scans.images import prepare_scan_image

photo_processes().start()
(stuck,) = photo_processes().pids()
started = time.monotonic()
try:
    in_photo_process(time.sleep, 30)  # a decoder that never comes back
    failed = None
except PhotoWorkFailed as err:
    failed = err.default_code
waited = time.monotonic() - started
after = prepare_scan_image(upload_file(jpeg))
print(json.dumps({
    "failed": failed,
    "waited": waited,
    "stuck": stuck,
    "after": [after.width, after.height],
    "now": photo_processes().pids(),
}))
"""
)


def test_a_child_stuck_past_the_timeout_is_stopped_and_its_request_fails():
    """The next photo gets a new child, whose loading (a second or more on busy cores)
    does not count against the photo's 3 s."""
    # At the worker's own priority, so that the photo after it (30 ms of work) is not
    # starved past the short timeout by the suite's other processes on the same cores.
    outcome = run_patched(HUNG_CHILD, PHOTO_WORK_TIMEOUT_SECONDS="3", PHOTO_PROCESS_NICENESS="0")

    assert outcome["failed"] == "photo_work_failed"
    assert 3 <= outcome["waited"] < 15
    assert gone(outcome["stuck"])
    assert outcome["after"] == [1536, 1536]
    assert outcome["now"] and outcome["now"] != [outcome["stuck"]]


WORKER_THAT_EXITS = (
    PHOTO
    + """
import json
import os
import select

photo_processes().start()
children = photo_processes().pids()
if os.environ["WAIT_FOR_LOADED"] == "yes":
    # Loaded: each child has said so, and waits for work; the worker never read it.
    for process in list(photo_processes().idle.queue):
        select.select([process.connection], [], [], 60)
print(json.dumps({"children": children, "groups": [os.getpgid(pid) for pid in children],
                  "worker_group": os.getpgrp()}))
"""
)


@pytest.mark.parametrize("loaded", ["yes", "no"], ids=["loaded", "still-loading"])
def test_the_children_end_with_their_worker_quietly(loaded):
    outcome, errors = run_patched_with_errors(
        WORKER_THAT_EXITS, PHOTO_WORK_SLOTS_PER_WORKER="2", WAIT_FOR_LOADED=loaded
    )

    assert len(outcome["children"]) == 2
    deadline = time.monotonic() + 30  # a child that was still loading Django finishes first
    while time.monotonic() < deadline and not all(map(gone, outcome["children"])):
        time.sleep(0.1)
    assert all(map(gone, outcome["children"]))
    assert "Traceback" not in errors
    # Out of the worker's process group: a Ctrl-C at `make run` is not theirs.
    assert outcome["groups"] == outcome["children"] != [outcome["worker_group"]] * 2


def test_outside_a_gevent_worker_the_photo_is_worked_on_in_process():
    from dermalens_site.photo_processes import photo_processes
    from scans.images import prepare_scan_image
    from scans.tests.conftest import encode, face_photo, upload_file

    before = {child.pid for child in psutil.Process(os.getpid()).children()}
    prepared = prepare_scan_image(upload_file(encode(face_photo())))

    assert prepared.width > 0
    assert {child.pid for child in psutil.Process(os.getpid()).children()} == before
    assert photo_processes.cache_info().currsize == 0


PHONE_PHOTOS_AND_PAGE_FAULTS = """
import json

import django

django.setup()

from dermalens_site.photo_processes import photo_processes
from scans.images import prepare_scan_image
from scans.tests.conftest import upload_file
from tests import photos

phone_photo = photos.phone_jpeg()


def page_faults(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[7])  # minflt


prepare_scan_image(upload_file(phone_photo))  # the first photo sizes the heap
(child,) = photo_processes().pids()
before = page_faults(child)
for _ in range(3):
    prepare_scan_image(upload_file(phone_photo))
print(json.dumps({"faults_per_photo": (page_faults(child) - before) / 3}))
"""


def test_a_photo_process_reuses_the_memory_of_the_photo_before():
    """Each phone photo frees some 40 MiB of buffers. Handed back to the kernel, they were
    taken again page by page for the next photo: about 20,000 page faults a photo, a third
    of its CPU. The child's allocator keeps them (``CHILD_MALLOC_TUNABLES``): about 400."""
    outcome = run_patched(PHONE_PHOTOS_AND_PAGE_FAULTS)

    assert outcome["faults_per_photo"] < 3000, outcome


UPLOADS_OF_TWO_ACCOUNTS = """
import django

django.setup()

import json
import os
import time

import gevent
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from dermalens_site.photo_processes import photo_processes
from scans.tests.conftest import encode, face_photo
from scans.tests.test_hostile_photos import progressive, with_a_scan_repeated

normal = encode(face_photo())
hostile = {
    # A progressive JPEG with a scan written 3,000 times more: over a minute of decoding.
    "scan bomb": lambda: with_a_scan_repeated(progressive(face_photo(), quality=50), 3000),
    # A photo of the largest size taken, a second or more of work.
    "large photo": lambda: encode(face_photo().resize((6000, 6000))),
}[os.environ["HOSTILE"]]()
photo_processes().start()
client = Client()
answers = {}


def send(name, account, photo):
    started = time.monotonic()
    response = client.post(
        "/api/v1/scans",
        {"image": SimpleUploadedFile("photo.jpg", photo, "image/jpeg")},
        HTTP_AUTHORIZATION="Bearer " + os.environ[account],
    )
    answers[name] = {
        "status": response.status_code,
        "code": response.json().get("error", {}).get("code"),
        "retry_after": response.get("Retry-After"),
        "seconds": time.monotonic() - started,
    }


attacks = [gevent.spawn(send, f"hostile {n}", "ATTACKER", hostile) for n in range(4)]
gevent.sleep(0.3)
send("normal", "VICTIM", normal)
gevent.joinall(attacks, timeout=100)
print(json.dumps(answers))
"""


@pytest.fixture
def two_accounts(register):
    return {"ATTACKER": register()["access"], "VICTIM": register()["access"]}


def test_a_scan_bomb_is_refused_at_once_and_another_account_s_upload_goes_on(two_accounts):
    """The probe's attack: four scan bombs of one account at once, each of which took its
    photo process to the minute's timeout while another account's upload waited 127 s."""
    answers = run_patched(UPLOADS_OF_TWO_ACCOUNTS, HOSTILE="scan bomb", **two_accounts)

    codes = sorted(answers[f"hostile {n}"]["code"] for n in range(4))
    assert codes[0] == "corrupt_image"
    assert set(codes) <= {"corrupt_image", "photo_in_progress"}
    assert answers["normal"]["status"] == 201
    assert answers["normal"]["seconds"] < 15
    assert max(answers[f"hostile {n}"]["seconds"] for n in range(4)) < 15


def test_one_account_holds_one_photo_slot_and_another_account_s_upload_takes_the_other(
    two_accounts,
):
    """Two photo slots, four large photos of one account at once: one is worked on, three
    are turned away at once with Retry-After, and the other account's upload takes the
    second slot instead of waiting behind all four."""
    answers = run_patched(
        UPLOADS_OF_TWO_ACCOUNTS,
        HOSTILE="large photo",
        PHOTO_WORK_SLOTS_PER_WORKER="2",
        **two_accounts,
    )

    hostile = [answers[f"hostile {n}"] for n in range(4)]
    assert sorted(answer["status"] for answer in hostile) == [201, 429, 429, 429]
    refused = [answer for answer in hostile if answer["status"] == 429]
    assert {answer["code"] for answer in refused} == {"photo_in_progress"}
    assert all(answer["retry_after"] for answer in refused)
    # Turned away while the one taken was still in work, not after it.
    [taken] = [answer for answer in hostile if answer["status"] == 201]
    assert max(answer["seconds"] for answer in refused) < taken["seconds"], answers
    assert answers["normal"]["status"] == 201
