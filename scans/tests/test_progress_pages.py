"""Progress over a long history: a page of scans at a time, each scan read in part.

The history is one uploaded, analysed photo and, before it, a scan a day holding its
analysis (scores moved a little), written through the data layer (``tests.seeding``):
hundreds of uploads would take minutes.
"""

import pytest
from rest_framework.test import APIClient

from dynamo.client import get_client
from dynamo.scans import scans_table
from scans import selectors
from tests.seeding import seed_analysed_scans

PROGRESS = "/api/v1/scans/progress"


@pytest.fixture
def history(auth_client, upload):
    """``count`` analysed scans of the signed-in user, a day apart up to today's upload;
    returns their ids, oldest first."""

    def make(count: int, areas: tuple[str, ...] = ("face",)) -> list[str]:
        user_id = auth_client.session_data["user"]["user_id"]
        latest = upload().json()["scan_id"]
        stored = scans_table().get(user_id, latest)
        assert stored is not None and stored.analysis is not None
        earlier = seed_analysed_scans(user_id, count - 1, analysis=stored.analysis, areas=areas)
        return [*earlier, latest]

    return make


@pytest.fixture
def dynamodb_answer_bytes():
    """The bytes of DynamoDB's answers meanwhile, as they came over the wire."""
    answers: list[int] = []

    def count(http_response, **_):
        answers.append(len(http_response.content))

    events = get_client().meta.events
    events.register("after-call.dynamodb", count)
    yield answers
    events.unregister("after-call.dynamodb", count)


def redness_ids(body: dict) -> list[str]:
    [series] = [m for m in body["metrics"] if m["metric"] == "redness"]
    return [point["scan_id"] for point in series["points"]]


def walk(client: APIClient, params: dict) -> list[dict]:
    pages, cursor = [], None
    while True:
        response = client.get(PROGRESS, {**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.content
        pages.append(response.json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            return pages


class TestPages:
    def test_a_long_history_comes_a_page_of_the_newest_scans_at_a_time(self, auth_client, history):
        scan_ids = history(250)

        pages = walk(auth_client, {})

        assert [page["scans"] for page in pages][:3] == [100, 100, 50]
        assert [redness_ids(page) for page in pages if page["scans"]] == [
            scan_ids[150:],
            scan_ids[50:150],
            scan_ids[:50],
        ]
        for page in pages[:3]:
            [series] = [m for m in page["metrics"] if m["metric"] == "redness"]
            # The change is the page's: from its first point to its latest.
            assert series["first"] == series["points"][0]["score"]
            assert series["latest"] == series["points"][-1]["score"]
            assert series["change"] == pytest.approx(series["latest"] - series["first"], abs=0.11)

    def test_a_page_holds_limit_scans_and_one_metric_alone_if_asked(self, auth_client, history):
        scan_ids = history(12)

        first = auth_client.get(PROGRESS, {"limit": 5, "metric": "redness"}).json()
        second = auth_client.get(
            PROGRESS, {"limit": 5, "metric": "redness", "cursor": first["next_cursor"]}
        ).json()

        assert [m["metric"] for m in first["metrics"]] == ["redness"]
        assert (redness_ids(first), redness_ids(second)) == (scan_ids[7:], scan_ids[2:7])
        everything = auth_client.get(PROGRESS, {"limit": 1000}).json()
        assert (everything["scans"], everything["next_cursor"]) == (12, None)
        assert redness_ids(everything) == scan_ids

    def test_a_page_of_one_area_holds_limit_scans_of_that_area(self, auth_client, history):
        # Two foreheads among seven faces: a page of one goes on reading past the faces.
        foreheads = of_area(auth_client, history(9, areas=("forehead", "face", "face")))

        pages = walk(auth_client, {"area": "forehead", "limit": 1})

        assert [redness_ids(page) for page in pages if page["scans"]] == [
            foreheads[1:],
            foreheads[:1],
        ]

    def test_a_page_reads_at_most_its_share_of_scans_and_goes_on_from_the_last_read(
        self, auth_client, history, monkeypatch
    ):
        # Few scans of the area among many others: a page stops after reading
        # PROGRESS_READ_MAX_SCANS, shorter than its limit, and the cursor goes on.
        monkeypatch.setattr(selectors, "PROGRESS_READ_MAX_SCANS", 4)
        foreheads = of_area(auth_client, history(9, areas=("forehead", "face", "face")))

        pages = walk(auth_client, {"area": "forehead", "limit": 10})

        assert [page["scans"] for page in pages] == [1, 1, 0]
        assert [i for page in pages for i in redness_ids(page)] == foreheads[::-1]


class TestCost:
    def test_a_page_reads_the_scores_of_its_scans_not_their_whole_analyses(
        self, auth_client, history, dynamodb_answer_bytes
    ):
        history(250)
        auth_client.get("/api/v1/scans", {"limit": 100})
        whole_scans = sum(dynamodb_answer_bytes)
        dynamodb_answer_bytes.clear()

        response = auth_client.get(PROGRESS)

        assert response.json()["scans"] == 100
        # The same 100 scans as the list page, each without its regions, concerns,
        # summary and the rest: under half the bytes (about a third, measured).
        assert sum(dynamodb_answer_bytes) < whole_scans / 2, (dynamodb_answer_bytes, whole_scans)


class TestCursors:
    def test_a_progress_cursor_is_refused_to_another_account_list_or_range(
        self, auth_client, history, register
    ):
        history(3)
        cursor = auth_client.get(PROGRESS, {"limit": 1}).json()["next_cursor"]
        list_cursor = auth_client.get("/api/v1/scans", {"limit": 1}).json()["next_cursor"]
        intruder = APIClient()
        intruder.credentials(HTTP_AUTHORIZATION=f"Bearer {register()['access']}")

        refused = [
            intruder.get(PROGRESS, {"cursor": cursor}),
            auth_client.get(PROGRESS, {"cursor": list_cursor}),
            auth_client.get("/api/v1/scans", {"cursor": cursor}),
            auth_client.get(PROGRESS, {"cursor": cursor, "from": "2020-01-01"}),
            auth_client.get(PROGRESS, {"cursor": cursor[:-3] + "AAA"}),
        ]

        assert [r.status_code for r in refused] == [400] * 5
        assert {r.json()["error"]["code"] for r in refused} == {"invalid_cursor"}

    @pytest.mark.parametrize("limit", [0, 1001, "many"])
    def test_a_limit_outside_1_to_1000_is_400(self, auth_client, limit):
        response = auth_client.get(PROGRESS, {"limit": limit})
        assert response.status_code == 400
        assert "limit" in response.json()["error"]["details"]


class TestSchema:
    def test_the_schema_documents_the_progress_pages(self):
        response = APIClient().get("/api/v1/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
        schema = response.json()
        operation = schema["paths"][PROGRESS]["get"]
        parameters = {p["name"]: p for p in operation["parameters"]}
        assert {"limit", "cursor", "from", "to", "area", "metric"} <= set(parameters)
        assert parameters["limit"]["schema"]["maximum"] == 1000
        assert parameters["limit"]["schema"]["default"] == 100
        body = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        name = body.rsplit("/", 1)[-1]
        assert "next_cursor" in schema["components"]["schemas"][name]["properties"]


def of_area(client: APIClient, scan_ids: list[str], area: str = "forehead") -> list[str]:
    user_id = client.session_data["user"]["user_id"]
    found = scans_table().get_many(user_id, scan_ids)
    return [scan_id for scan_id in scan_ids if found[scan_id].area == area]
