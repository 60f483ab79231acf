"""The ingest service as a real process, over a local folder and over S3 (moto)."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest

from tests.services.ingest.conftest import API_KEY, MAX_UPLOAD_BYTES, Backend, FileServer

pytestmark = pytest.mark.slow

TASK = "match-outcome"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
HEADER = "date,home_team,away_team,home_score,away_score,tournament,city,country,neutral\n"
GOOD_ROW = "2001-05-01,Chile,Peru,2,0,Copa América,Santiago,Chile,FALSE\n"


def _stored(backend: Backend) -> list[str]:
    """Every dataset and raw object in the store (landing files are inputs, not results)."""
    store = backend.open_store()
    return store.list("datasets/") + store.list("raw/")


def _upload(backend: Backend, dataset: str, data: bytes, filename: str = "data.csv", **kwargs: Any) -> httpx.Response:
    return httpx.post(
        f"{backend.server.url}/v1/datasets/{TASK}/{dataset}",
        files={"file": (filename, data, "text/csv")},
        headers=kwargs.pop("headers", AUTH),
        timeout=120,
        **kwargs,
    )


def _pull(backend: Backend, dataset: str, url: str) -> httpx.Response:
    return httpx.post(f"{backend.server.url}/v1/datasets/{TASK}/{dataset}", json={"url": url}, headers=AUTH, timeout=60)


def test_health_and_metrics(backend: Backend) -> None:
    assert httpx.get(f"{backend.server.url}/healthz").json()["status"] == "ok"
    ready = httpx.get(f"{backend.server.url}/readyz")
    assert ready.status_code == 200
    metrics = httpx.get(f"{backend.server.url}/metrics").text
    assert "scoreline_http_requests_total" in metrics


def test_public_readiness_does_not_show_the_storage_address(backend: Backend) -> None:
    ready = httpx.get(f"{backend.server.url}/readyz")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    assert backend.env["SCORELINE_STORAGE_URI"] not in ready.text


def test_real_dataset_through_http(backend: Backend, international_results: Path, file_server: FileServer) -> None:
    data = international_results.read_bytes()
    expected_rows = data.count(b"\n") - 1 if data.endswith(b"\n") else data.count(b"\n")
    announced_before = sum(n["body"]["conf"]["dataset"] == "international-results" for n in file_server.notifications)
    first = _upload(backend, "international-results", data, "results.csv")
    assert first.status_code == 201, first.text
    manifest = first.json()
    assert manifest["rows"] == expected_rows == 49_520
    assert manifest["task"] == TASK and manifest["dataset"] == "international-results"
    assert manifest["source"]["format"] == "international"

    again = _upload(backend, "international-results", data, "results-copy.csv")
    assert again.status_code == 200
    assert again.json()["version"] == manifest["version"]
    assert again.json()["created_at"] == manifest["created_at"]

    version = manifest["version"]
    base = f"{backend.server.url}/v1/datasets/{TASK}/international-results"
    assert [m["version"] for m in httpx.get(f"{base}/versions").json()] == [version]
    assert httpx.get(f"{base}/versions/{version}").json() == manifest
    assert httpx.get(f"{base}/versions/000000000000").status_code == 404
    listing = httpx.get(f"{backend.server.url}/v1/datasets").json()
    assert {(d["dataset"], d["latest"]["version"]) for d in listing} >= {("international-results", version)}

    table = httpx.get(f"{base}/versions/{version}/data", timeout=60)
    assert table.headers["content-type"] == "application/vnd.apache.parquet"
    canonical = pd.read_parquet(io.BytesIO(table.content))
    assert len(canonical) == 49_520
    assert list(canonical.columns) == manifest["columns"]
    assert httpx.get(f"{base}/versions/000000000000/data").status_code == 404

    store = backend.open_store()
    assert store.get(manifest["source"]["raw_key"]) == data
    assert store.exists(manifest["data_key"])

    # the new version was announced to the (Airflow-shaped) receiver, with the token
    deadline = time.monotonic() + 15
    wanted = {"task": TASK, "dataset": "international-results", "version": version}
    while time.monotonic() < deadline and len(_announced(file_server, wanted)) <= announced_before:
        time.sleep(0.1)
    time.sleep(0.5)  # a second announcement (from the 200 re-ingest) would arrive by now
    announced = _announced(file_server, wanted)
    assert len(announced) == announced_before + 1
    note = announced[-1]
    assert note["path"] == "/api/v2/dags/scoreline_train_match_outcome/dagRuns"
    assert note["authorization"] == "Bearer airflow-test-token"
    assert "logical_date" in note["body"]


def _announced(file_server: FileServer, conf: dict[str, str]) -> list[dict[str, Any]]:
    return [n for n in file_server.notifications if n["body"]["conf"] == conf]


def test_pull_from_url(backend: Backend, international_results: Path, file_server: FileServer) -> None:
    lines = international_results.read_bytes().splitlines(keepends=True)
    subset = b"".join(lines[:1001])
    file_server.files["/subset.csv"] = (subset, "text/csv; charset=utf-8")
    response = _pull(backend, f"pulled-{backend.name}", f"{file_server.url}/subset.csv")
    assert response.status_code == 201, response.text
    manifest = response.json()
    assert manifest["rows"] == 1000
    assert manifest["source"]["kind"] == "url" and manifest["source"]["url"].endswith("/subset.csv")
    assert _pull(backend, f"pulled-{backend.name}", f"{file_server.url}/subset.csv").status_code == 200


def test_notification_is_retried(backend: Backend, file_server: FileServer) -> None:
    file_server.fail_first_notifications = 2
    rows = f"2003-01-0{1 if backend.name == 'local' else 2},Chile,Peru,2,0,Friendly,S,C,FALSE\n"
    response = _upload(backend, "retried", (HEADER + rows).encode())
    assert response.status_code == 201
    version = response.json()["version"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(
        n["body"]["conf"]["version"] == version for n in file_server.notifications
    ):
        time.sleep(0.1)
    assert any(n["body"]["conf"]["version"] == version for n in file_server.notifications)
    assert file_server.fail_first_notifications == 0


def test_racing_uploads_make_one_version(backend: Backend) -> None:
    data = (HEADER + GOOD_ROW + f"2002-02-02,Peru,Chile,1,1,Friendly,L,P,{backend.name == 's3'}\n").encode()
    statuses: list[int] = []
    versions: list[str] = []

    def send() -> None:
        response = _upload(backend, "race", data)
        statuses.append(response.status_code)
        versions.append(response.json()["version"])

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 200, 200, 201]
    assert len(set(versions)) == 1


def test_object_store_event(backend: Backend) -> None:
    data = (HEADER + GOOD_ROW + "2002-03-03,Bolivia,Chile,0,0,Friendly,L,P,FALSE\n").encode()
    backend.landing_put(f"landing/{TASK}/landed/my+file 1.csv", data)
    bucket = backend.env["SCORELINE_STORAGE_URI"].removeprefix("s3://").removeprefix("file://")
    event = {
        "EventName": "s3:ObjectCreated:Put",
        "Records": [
            {
                "eventName": "s3:ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": f"landing/{TASK}/landed/my%2Bfile+1.csv"}},
            },
            {"eventName": "s3:ObjectCreated:Put", "s3": {"bucket": {"name": bucket}, "object": {"key": "other/x.csv"}}},
        ],
    }
    url = f"{backend.server.url}/v1/events/object-store"
    assert httpx.post(url, json=event).status_code == 401
    response = httpx.post(url, json=event, headers=AUTH, timeout=60)
    assert response.status_code == 200, response.text
    created, ignored = response.json()["results"]
    assert created["outcome"] == "created" and created["manifest"]["rows"] == 2
    assert created["manifest"]["source"]["kind"] == "object-store"
    assert ignored["outcome"] == "ignored"
    again = httpx.post(url, json=event, headers=AUTH, timeout=60).json()["results"][0]
    assert again["outcome"] == "exists" and again["manifest"]["version"] == created["manifest"]["version"]
    bad = httpx.post(url, json={"Records": []}, headers=AUTH)
    assert bad.status_code == 422


def test_event_with_invalid_landed_file_is_rejected_without_writing(backend: Backend) -> None:
    backend.landing_put(
        f"landing/{TASK}/landed-bad/bad.csv", (HEADER + "2001-05-01,Chile,Chile,1,0,F,S,C,FALSE\n").encode()
    )
    before = _stored(backend)
    bucket = backend.env["SCORELINE_STORAGE_URI"].removeprefix("s3://")
    event = {"Records": [{"s3": {"bucket": {"name": bucket}, "object": {"key": f"landing/{TASK}/landed-bad/bad.csv"}}}]}
    result = httpx.post(f"{backend.server.url}/v1/events/object-store", json=event, headers=AUTH).json()["results"][0]
    assert result["outcome"] == "rejected"
    assert result["error"]["code"] == "invalid_input"
    assert result["error"]["details"]["problems"][0]["row"] == 2
    assert _stored(backend) == before


def test_api_key_required_on_writes(backend: Backend) -> None:
    data = (HEADER + GOOD_ROW).encode()
    before = _stored(backend)
    assert _upload(backend, "auth", data, headers={}).status_code == 401
    wrong = _upload(backend, "auth", data, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    assert wrong.json()["error"]["code"] == "forbidden"
    assert _stored(backend) == before
    assert httpx.get(f"{backend.server.url}/v1/datasets").status_code == 200  # this fixture opens reads


def _garbage() -> bytes:
    import numpy as np

    return b"\x89PNG\r\n\x1a\n" + bytes(np.random.default_rng(1).integers(0, 256, 20_000, dtype=np.uint8))


BAD_UPLOADS: dict[str, tuple[str, bytes, int, str | None]] = {
    # name: (dataset, body, status, column named in the first problem)
    "wrong columns": ("bad", b"day,home,away,hg,ag\n2001-01-01,A,B,1,0\n", 422, "date"),
    "unparseable date": ("bad", (HEADER + "2001-02-30,Chile,Peru,2,0,F,S,C,FALSE\n").encode(), 422, "date"),
    "negative score": ("bad", (HEADER + "2001-02-03,Chile,Peru,-2,0,F,S,C,FALSE\n").encode(), 422, "home_score"),
    "non-integer score": ("bad", (HEADER + "2001-02-03,Chile,Peru,2,0.5,F,S,C,FALSE\n").encode(), 422, "away_score"),
    "team plays itself": ("bad", (HEADER + "2001-02-03,Chile,Chile,2,0,F,S,C,FALSE\n").encode(), 422, "home_team"),
    "empty file": ("bad", b"", 422, None),
    "header only": ("bad", HEADER.encode(), 422, None),
    "binary garbage": ("bad", _garbage(), 415, None),
    "over the limit": ("bad", (HEADER + GOOD_ROW * (MAX_UPLOAD_BYTES // len(GOOD_ROW) + 10)).encode(), 413, None),
    "path trick in name": ("..%2F..%2Fetc", (HEADER + GOOD_ROW).encode(), 404, None),
    "dotted name": ("a.b", (HEADER + GOOD_ROW).encode(), 422, None),
    "uppercase name": ("Results", (HEADER + GOOD_ROW).encode(), 422, None),
}


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_uploads_are_refused_and_store_nothing(backend: Backend, case: str) -> None:
    dataset, body, status, column = BAD_UPLOADS[case]
    before = _stored(backend)
    response = _upload(backend, dataset, body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    if column is not None:
        assert error["details"]["problems"][0]["column"] == column
        assert {"row", "column", "value", "expected"} <= set(error["details"]["problems"][0])
    assert _stored(backend) == before


def test_upload_without_file_field(backend: Backend) -> None:
    before = _stored(backend)
    response = httpx.post(
        f"{backend.server.url}/v1/datasets/{TASK}/bad",
        files={"data": ("x.csv", io.BytesIO((HEADER + GOOD_ROW).encode()), "text/csv")},
        headers=AUTH,
    )
    assert response.status_code == 422
    assert "'file'" in response.json()["error"]["message"]
    assert _stored(backend) == before


@pytest.mark.parametrize(
    ("path", "status", "fragment"),
    [
        ("/does-not-exist.csv", 422, "404"),
        ("/slow.csv", 422, "did not answer"),
        ("/page.html", 415, "text/html"),
        ("/huge.csv", 413, "larger than"),
    ],
)
def test_bad_urls_are_refused_and_store_nothing(
    backend: Backend, file_server: FileServer, path: str, status: int, fragment: str
) -> None:
    file_server.files["/slow.csv"] = ((HEADER + GOOD_ROW).encode(), "text/csv")
    file_server.files["/page.html"] = (b"<html>hello</html>", "text/html")
    file_server.files["/huge.csv"] = (b"x" * (MAX_UPLOAD_BYTES + 1), "text/csv")
    before = _stored(backend)
    response = _pull(backend, "bad-url", f"{file_server.url}{path}")
    assert response.status_code == status, response.text
    assert fragment in response.json()["error"]["message"]
    assert _stored(backend) == before


def test_bad_url_values(backend: Backend) -> None:
    for body in ({"url": "ftp://example.org/x.csv"}, {"url": 5}, {"nope": 1}):
        response = httpx.post(f"{backend.server.url}/v1/datasets/{TASK}/x", json=body, headers=AUTH)
        assert response.status_code == 422, response.text
    unreachable = _pull(backend, "x", "http://127.0.0.1:9/x.csv")
    assert unreachable.status_code == 422


def test_unknown_task(backend: Backend) -> None:
    missing = httpx.post(
        f"{backend.server.url}/v1/datasets/curling/x", files={"file": ("a.csv", b"a\n1\n")}, headers=AUTH
    )
    assert missing.status_code == 404
    assert "match-outcome" in missing.json()["error"]["message"]
