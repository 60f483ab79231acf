"""football-data.co.uk seasons through the ingest service: many files in one ingest, a zip, a list of URLs,
appending a season, and one 422 naming file, row, column, value and expectation."""

from __future__ import annotations

import httpx
import pytest
from scoreline_client import ScorelineClients

from tests.scoreline.tasks.match_outcome import football_data_files as fd
from tests.scoreline.tasks.zips import zipped
from tests.scoreline.test_datasets_files import five_seasons
from tests.services.ingest.conftest import API_KEY, Backend, FileServer

pytestmark = pytest.mark.slow

TASK = "match-outcome"
AUTH = {"Authorization": f"Bearer {API_KEY}"}


def _clients(backend: Backend) -> ScorelineClients:
    unused = "http://127.0.0.1:9"
    return ScorelineClients.build(ingest_url=backend.server.url, trainer_url=unused, model_api_url=unused,
                                  api_key=API_KEY, admin_key="unused", timeout_s=120)  # fmt: skip


def test_five_season_files_in_one_multipart_upload_then_the_next_season_appended(backend: Backend) -> None:
    dataset = f"epl-{backend.name}"
    files = [("file", (name, content, "text/csv")) for name, content in five_seasons()]
    response = httpx.post(f"{backend.server.url}/v1/datasets/{TASK}/{dataset}", files=files, headers=AUTH, timeout=120)
    assert response.status_code == 201, response.text
    first = response.json()
    assert first["rows"] == 620
    assert [s["filename"] for s in first["sources"]] == [name for name, _ in five_seasons()]
    assert first["notes"]["files"]["SP1-1920.csv"]["encoding"] == "cp1252"

    ingest = _clients(backend).ingest
    appended = ingest.upload_files(TASK, dataset, [("E0-2122.csv", fd.season("E0", 2021, rounds=6).encode())],
                                   append=True)  # fmt: skip
    assert appended.created
    lineage = appended.manifest.lineage
    assert lineage is not None
    assert (lineage["base_version"], lineage["rows_added"]) == (first["version"], 60)
    assert appended.manifest.rows == 680
    assert ingest.latest_version(TASK, dataset).version == appended.manifest.version  # type: ignore[union-attr]
    again = ingest.upload_files(TASK, dataset, [("E0-2122.csv", fd.season("E0", 2021, rounds=6).encode())],
                                append=True)  # fmt: skip
    assert (again.created, again.manifest.version) == (False, appended.manifest.version)


def test_a_zip_of_seasons_is_one_version(backend: Backend) -> None:
    archive = zipped(dict(five_seasons()))
    ingested = _clients(backend).ingest.upload(TASK, f"zip-{backend.name}", archive, "seasons.zip",
                                               content_type="application/zip")  # fmt: skip
    assert ingested.created and ingested.manifest.rows == 620


def test_a_list_of_urls_is_one_version(backend: Backend, file_server: FileServer) -> None:
    for name, content in five_seasons()[:3]:
        file_server.files[f"/mmz4281/{name}"] = (content, "text/csv")
    urls = [f"{file_server.url}/mmz4281/{name}" for name, _ in five_seasons()[:3]]
    ingested = _clients(backend).ingest.pull_urls(TASK, f"urls-{backend.name}", urls)
    assert ingested.created and ingested.manifest.rows == 180
    assert [s["url"] for s in ingested.manifest.sources] == urls


def test_problems_in_several_files_are_one_422_naming_each_file(backend: Backend) -> None:
    lines = fd.season(rounds=1).splitlines()
    cells = lines[4].split(",")
    cells[1] = "31/02/2019"
    bad = "\n".join([*lines[:4], ",".join(cells), *lines[5:]]) + "\n"
    files = [("file", ("good.csv", fd.season(rounds=1).encode(), "text/csv")), ("file", ("bad.csv", bad, "text/csv"))]
    dataset = f"bad-{backend.name}"
    response = httpx.post(f"{backend.server.url}/v1/datasets/{TASK}/{dataset}", files=files, headers=AUTH, timeout=60)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    problem = error["details"]["problems"][0]
    assert problem == {"file": "bad.csv", "row": 5, "column": "Date", "value": "31/02/2019",
                       "expected": problem["expected"]}  # fmt: skip
    assert "%d/%m/%Y" in problem["expected"] and "bad.csv" in error["message"]
    assert httpx.get(f"{backend.server.url}/v1/datasets/{TASK}/{dataset}/versions").json() == []  # nothing stored
