"""The limits' counters against DynamoDB Local: rate hits and failure records."""

import threading
from concurrent.futures import ThreadPoolExecutor

from dynamo.limits import FailureRecord, limits_table
from dynamo.tests.factories import new_id


def test_rate_hits_count_up_atomically_across_threads():
    key = f"test#{new_id()}"
    start = threading.Barrier(10)

    def hit(_):
        start.wait()
        return limits_table().count_hit(key, expires_at=2_000_000_000)

    with ThreadPoolExecutor(10) as pool:
        counts = sorted(pool.map(hit, range(10)))
    assert counts == list(range(1, 11))


def test_a_failure_record_is_written_only_over_the_record_it_was_read_as():
    key, limits = f"test#{new_id()}", limits_table()
    assert limits.get_failures(key) is None
    assert limits.put_failures(key, failures=1, locked_until=0, expires_at=50, previous=None)
    assert not limits.put_failures(key, failures=1, locked_until=0, expires_at=50, previous=None)
    first = limits.get_failures(key)
    assert first == FailureRecord(failures=1, locked_until=0, expires_at=50)
    assert limits.put_failures(key, failures=2, locked_until=9, expires_at=60, previous=first)
    # A writer that read the first record lost the race: it must read again.
    assert not limits.put_failures(key, failures=2, locked_until=9, expires_at=60, previous=first)
    assert limits.get_failures(key) == FailureRecord(failures=2, locked_until=9, expires_at=60)
    limits.delete_failures(key)
    assert limits.get_failures(key) is None
