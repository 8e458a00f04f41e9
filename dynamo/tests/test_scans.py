import random

import pytest
from ulid import ULID

from dynamo.errors import ConditionFailed, InvalidCursor, ItemNotFound
from dynamo.scans import scans_table
from dynamo.tests.factories import a_scan, new_id, new_user_id


def create_scans(user_id, count, *, days=None):
    """``count`` scans uploaded one second apart (so their ULIDs sort by age)."""
    start = random.uniform(1.6e9, 1.7e9)
    scans = []
    for n in range(count):
        day = days[n] if days else 1 + n % 28
        scan = a_scan(
            user_id,
            scan_id=str(ULID.from_timestamp(start + n)),
            scanned_at=f"2024-03-{day:02d}T10:00:{n % 60:02d}.000Z",
        )
        scans_table().create(scan)
        scans.append(scan)
    return scans


def all_pages(user_id, *, limit, **query):
    pages, cursor = [], None
    while True:
        page = scans_table().query_page(user_id, limit=limit, cursor=cursor, **query)
        pages.append(page)
        cursor = page.next_cursor
        if cursor is None:
            return pages


def test_a_user_s_scans_come_in_pages_newest_first_without_repeats():
    user_id = new_user_id()
    scans = create_scans(user_id, 45)
    create_scans(new_user_id(), 3)  # a neighbour's scans, never in this user's list

    pages = all_pages(user_id, limit=20)

    assert [len(page.items) for page in pages] == [20, 20, 5]
    assert pages[-1].next_cursor is None
    listed = [scan for page in pages for scan in page.items]
    assert listed == list(reversed(scans))


def test_oldest_first_lists_scans_in_upload_order():
    user_id = new_user_id()
    scans = create_scans(user_id, 7)
    pages = all_pages(user_id, limit=3, newest_first=False)
    assert [scan for page in pages for scan in page.items] == scans


def test_a_user_with_no_scans_gets_one_empty_last_page():
    page = scans_table().query_page(new_id(), limit=20)
    assert page.items == []
    assert page.next_cursor is None


def test_a_date_range_lists_only_the_scans_scanned_in_it():
    user_id = new_user_id()
    scans = create_scans(user_id, 12, days=[1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23])
    create_scans(new_user_id(), 5, days=[5, 6, 7, 8, 9])

    pages = all_pages(
        user_id, limit=2, scanned_from="2024-03-05T00:00:00Z", scanned_to="2024-03-15T23:59:59Z"
    )

    listed = [scan for page in pages for scan in page.items]
    assert [scan.scanned_at[:10] for scan in listed] == [
        "2024-03-15",
        "2024-03-13",
        "2024-03-11",
        "2024-03-09",
        "2024-03-07",
        "2024-03-05",
    ]
    assert {scan.user_id for scan in listed} == {user_id}
    assert all(scan in scans for scan in listed)


@pytest.mark.parametrize(
    ("scanned_from", "scanned_to", "days"),
    [
        ("2024-03-10T00:00:00Z", None, [10, 12]),
        (None, "2024-03-04T23:59:59Z", [2, 4]),
    ],
)
def test_an_open_ended_date_range_reaches_the_first_or_last_scan(scanned_from, scanned_to, days):
    user_id = new_user_id()
    create_scans(user_id, 6, days=[2, 4, 6, 8, 10, 12])
    page = scans_table().query_page(
        user_id, limit=10, scanned_from=scanned_from, scanned_to=scanned_to, newest_first=False
    )
    assert [int(scan.scanned_at[8:10]) for scan in page.items] == days


def test_a_cursor_of_one_user_cannot_page_through_another_user_s_scans():
    owner, intruder = new_user_id(), new_user_id()
    create_scans(owner, 3)
    create_scans(intruder, 3)
    cursor = scans_table().query_page(owner, limit=1).next_cursor
    with pytest.raises(InvalidCursor):
        scans_table().query_page(intruder, limit=1, cursor=cursor)


def test_a_cursor_of_the_upload_order_list_is_invalid_for_a_date_range():
    user_id = new_user_id()
    create_scans(user_id, 3)
    cursor = scans_table().query_page(user_id, limit=1).next_cursor
    with pytest.raises(InvalidCursor):
        scans_table().query_page(user_id, limit=1, cursor=cursor, scanned_from="2024-01-01")


def test_a_cursor_of_one_date_range_is_invalid_for_another():
    user_id = new_user_id()
    create_scans(user_id, 10, days=list(range(1, 11)))
    first = scans_table().query_page(
        user_id, limit=3, scanned_from="2024-03-02T00:00:00Z", scanned_to="2024-03-08T23:59:59Z"
    )
    with pytest.raises(InvalidCursor):
        scans_table().query_page(
            user_id,
            limit=3,
            cursor=first.next_cursor,
            scanned_from="2024-03-07T00:00:00Z",
            scanned_to="2024-03-09T23:59:59Z",
        )


def test_a_scan_reads_back_as_it_was_created():
    scan = a_scan(new_user_id(), notes="left cheek", analysis={"acne": {"severity": 2}})
    scans_table().create(scan)
    assert scans_table().get(scan.user_id, scan.scan_id) == scan


def test_creating_a_scan_id_twice_is_refused_and_keeps_the_first():
    first = a_scan(new_user_id(), area="face")
    scans_table().create(first)
    with pytest.raises(ConditionFailed):
        scans_table().create(a_scan(first.user_id, scan_id=first.scan_id, area="neck"))
    assert scans_table().get(first.user_id, first.scan_id) == first


def test_the_same_scan_id_in_another_user_s_partition_is_another_scan():
    first = a_scan(new_user_id())
    scans_table().create(first)
    scans_table().create(a_scan(new_user_id(), scan_id=first.scan_id))
    assert scans_table().get(first.user_id, first.scan_id) == first


def test_deleting_a_scan_returns_it_and_removes_it():
    scan = a_scan(new_user_id(), thumbnail_key="thumbs/1.jpg")
    scans_table().create(scan)
    assert scans_table().delete(scan.user_id, scan.scan_id) == scan
    assert scans_table().get(scan.user_id, scan.scan_id) is None


@pytest.mark.parametrize("whose", ["missing", "another user's"])
def test_deleting_a_scan_that_is_not_there_raises_item_not_found(whose):
    scan = a_scan(new_user_id())
    scans_table().create(scan)
    user_id = scan.user_id if whose == "missing" else new_id()
    scan_id = new_id() if whose == "missing" else scan.scan_id
    with pytest.raises(ItemNotFound):
        scans_table().delete(user_id, scan_id)
    assert scans_table().get(scan.user_id, scan.scan_id) == scan
