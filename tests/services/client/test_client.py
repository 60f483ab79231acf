"""scoreline_client: one method per endpoint (path, method, key), typed answers, retries and the one error type.

The wire is httpx's in-process transport (``httpx.MockTransport``) answering as the services do; the clients'
behaviour against the real services is covered by the launcher's end-to-end test and the DAG tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from scoreline_client import (
    IngestClient,
    ModelApiClient,
    ScorelineClients,
    ServiceError,
    TrainerClient,
)

MANIFEST = {
    "task": "match-outcome",
    "dataset": "simulated",
    "version": "abc123def456",
    "sha256": "abc123def456" + "0" * 52,
    "rows": 10,
    "columns": ["date"],
    "dtypes": {"date": "datetime64[ns]"},
    "source": {"kind": "upload", "filename": "x.csv"},
    "created_at": "2026-01-01T00:00:00Z",
    "schema_version": 1,
    "data_key": "datasets/match-outcome/simulated/abc123def456/data.parquet",
}
JOB = {
    "id": "job-1",
    "task": "match-outcome",
    "dataset": "simulated",
    "dataset_version": "abc123def456",
    "status": "succeeded",
    "progress": 1.0,
    "metrics": {"holdout_rps": 0.2},
    "model_version": "3",
    "created_at": "2026-01-01T00:00:00Z",
}
DECISION = {
    "task": "match-outcome",
    "decision": "promoted",
    "reason": "better",
    "challenger_version": "3",
    "champion_version": "3",
    "previous_champion_version": "2",
    "primary_metric": "rps",
    "greater_is_better": False,
    "metrics": {},
    "mode": "auto",
    "margin": 0.0,
    "decided_at": "2026-01-01T00:00:00Z",
    "decided_by": "test",
}


class Recorder:
    """Answers each request with ``respond(request)`` and keeps the requests."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self.respond = respond

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.respond(request)

    def client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self))


def _clients(recorder: Recorder, **options: Any) -> ScorelineClients:
    return ScorelineClients.build(
        ingest_url="http://ingest:8001",
        trainer_url="http://trainer:8002",
        model_api_url="http://model-api:8000/",
        api_key="user-key",
        admin_key="admin-key",
        client=recorder.client(),
        sleep=lambda _: None,
        **options,
    )


def test_ingest_upload_sends_the_file_with_the_api_key_and_says_whether_it_was_new(tmp_path: Path) -> None:
    recorder = Recorder(lambda request: httpx.Response(201, json=MANIFEST))
    ingest = _clients(recorder).ingest
    data = tmp_path / "results.csv"
    data.write_text("date,home_team\n")

    ingested = ingest.upload("match-outcome", "simulated", data)

    assert ingested.created and ingested.manifest.version == "abc123def456" and ingested.manifest.rows == 10
    request = recorder.requests[0]
    assert (request.method, request.url.path) == ("POST", "/v1/datasets/match-outcome/simulated")
    assert request.headers["authorization"] == "Bearer user-key"
    assert b'filename="results.csv"' in request.content and b"date,home_team" in request.content

    recorder.respond = lambda request: httpx.Response(200, json=MANIFEST)
    assert not ingest.pull_url("match-outcome", "simulated", "https://example.org/r.csv").created
    assert json.loads(recorder.requests[1].content) == {"url": "https://example.org/r.csv"}


def test_ingest_listings_are_typed_and_a_missing_dataset_has_no_latest_version() -> None:
    older = {**MANIFEST, "version": "000000000001", "created_at": "2025-01-01T00:00:00Z"}

    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/datasets":
            return httpx.Response(200, json=[{"task": "match-outcome", "dataset": "simulated", "versions": 2,
                                              "latest": MANIFEST}])  # fmt: skip
        if request.url.path.endswith("/nothing/versions"):
            return httpx.Response(404, json={"error": {"code": "not_found", "message": "no dataset", "details": None}})
        return httpx.Response(200, json=[MANIFEST, older])

    ingest = _clients(Recorder(respond)).ingest
    assert ingest.datasets()[0].latest.version == "abc123def456"
    assert [m.version for m in ingest.versions("match-outcome", "simulated")] == ["abc123def456", "000000000001"]
    latest = ingest.latest_version("match-outcome", "simulated")
    assert latest is not None and latest.version == "abc123def456"
    assert ingest.latest_version("match-outcome", "nothing") is None


def test_trainer_jobs_and_promotions_use_the_right_keys_and_bodies() -> None:
    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/jobs" and request.method == "POST":
            return httpx.Response(202, json={**JOB, "status": "queued", "progress": 0.0})
        if request.url.path.startswith("/v1/jobs/"):
            return httpx.Response(200, json=JOB)
        return httpx.Response(200, json=DECISION)

    recorder = Recorder(respond)
    trainer = _clients(recorder).trainer

    queued = trainer.submit_job("match-outcome", "simulated", "abc123def456", holdout_start="2024-01-01")
    finished = trainer.wait_for_job(queued.id, poll_s=0)
    decision = trainer.decide("match-outcome", mode="auto", actor="test", margin=0.0)
    trainer.approve("match-outcome", "3", "someone")
    trainer.rollback("match-outcome")

    assert queued.status == "queued" and finished.done and finished.model_version == "3"
    assert decision.decision == "promoted" and decision.champion_version == "3"
    submit, _, decide, approve, rollback = recorder.requests
    assert json.loads(submit.content) == {
        "task": "match-outcome", "dataset": "simulated", "dataset_version": "abc123def456",
        "holdout_start": "2024-01-01",
    }  # fmt: skip
    assert submit.headers["authorization"] == "Bearer user-key"
    assert json.loads(decide.content) == {"mode": "auto", "actor": "test", "margin": 0.0}
    assert {r.headers["authorization"] for r in (decide, approve, rollback)} == {"Bearer admin-key"}
    assert approve.url.path == "/v1/promotions/match-outcome/approve"
    assert json.loads(approve.content) == {"version": "3", "actor": "someone"}
    assert rollback.url.path == "/v1/promotions/match-outcome/rollback"


def test_trainer_monitor_and_registered_versions() -> None:
    summary = {
        "task": "match-outcome", "source": "local", "since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z",
        "bucket": "hour", "predictions": 3, "truncated": False,
        "latency": {"mean_ms": 2, "p50_ms": 1, "p90_ms": 3, "p95_ms": 3, "p99_ms": 4, "max_ms": 5},
        "traffic": [{"time": "2026-01-01T00:00:00Z", "predictions": 3}], "model_versions": {"3": 3},
        "top_entities": {"home_team": [{"value": "A", "requests": 3}]},
    }  # fmt: skip
    versions = {
        "task": "match-outcome", "model_name": "scoreline-match-outcome", "kind": "multiclass",
        "primary_metric": "rps", "greater_is_better": {"rps": False}, "aliases": {"champion": "3"},
        "versions": [{"version": "3", "aliases": ["champion"], "holdout": {"rps": 0.2},
                      "baselines": {"elo": {"rps": 0.21}}, "tags": {"dataset_version": "abc"}}],
    }  # fmt: skip

    def respond(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/monitor/runs":
            return httpx.Response(200, json={"run_id": "r", "alert": False, "alert_tasks": [], "tasks": []})
        if path == "/v1/monitor/summary":
            return httpx.Response(200, json=summary)
        if path.endswith("/versions"):
            return httpx.Response(200, json=versions)
        return httpx.Response(200, json={"source": "local", "results": [], "records": []})

    recorder = Recorder(respond)
    trainer = _clients(recorder).trainer

    assert trainer.monitor_run(["match-outcome"], window_hours=2)["run_id"] == "r"
    trainer.drift("match-outcome", limit=5)
    trainer.accuracy()
    trainer.predictions("match-outcome", since="2026-01-01T00:00:00Z", limit=10)
    read = trainer.summary("match-outcome", bucket="hour")
    listed = trainer.model_versions("match-outcome")

    assert read.latency is not None and read.latency.p99_ms == 4 and read.top_entities["home_team"][0]["value"] == "A"
    assert listed.versions[0].holdout == {"rps": 0.2} and listed.aliases == {"champion": "3"}
    run, drift, accuracy, predictions, summary_request, versions_request = recorder.requests
    assert (run.method, run.url.path, run.headers["authorization"]) == ("POST", "/v1/monitor/runs", "Bearer admin-key")
    assert json.loads(run.content) == {"tasks": ["match-outcome"], "window_hours": 2}
    assert (drift.url.path, dict(drift.url.params)) == ("/v1/monitor/drift", {"task": "match-outcome", "limit": "5"})
    assert (accuracy.url.path, dict(accuracy.url.params)) == ("/v1/monitor/accuracy", {})
    assert dict(predictions.url.params) == {"task": "match-outcome", "since": "2026-01-01T00:00:00Z", "limit": "10"}
    assert dict(summary_request.url.params) == {"task": "match-outcome", "bucket": "hour"}
    assert versions_request.url.path == "/v1/models/match-outcome/versions"
    # reads carry the API key (services keep reads closed by default), never the admin key
    assert all(r.method == "GET" and r.headers["authorization"] == "Bearer user-key" for r in recorder.requests[1:])
    assert not hasattr(_clients(recorder).model_api, "monitor")  # model-api only serves


def test_model_api_calls() -> None:
    schema = {
        "task": "match-outcome",
        "classes": ["home", "draw", "away"],
        "request": {"type": "object"},
        "example_request": {"home_team": "A", "away_team": "B", "neutral": False},
        "teams": ["A", "B"],
    }

    def respond(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v1/models":
            return httpx.Response(200, json={"models": [{"task": "match-outcome", "version": "3", "alias": "champion",
                                                         "holdout_metrics": {"rps": 0.2}}]})  # fmt: skip
        if path.endswith("/schema"):
            return httpx.Response(200, json=schema)
        if path.endswith("/predict/batch"):
            return httpx.Response(200, content=b"a,b\n", headers={"content-type": "text/csv", "x-model-version": "3"})
        if path.endswith("/predict"):
            return httpx.Response(200, json={"task": "match-outcome", "predictions": [{"prediction": "home"}]})
        return httpx.Response(200, json={"outcomes": []})

    recorder = Recorder(respond)
    api = _clients(recorder).model_api

    assert api.models().get("match-outcome").version == "3"  # type: ignore[union-attr]
    task_schema = api.schema("match-outcome")
    assert task_schema.example_instance() == schema["example_request"]
    assert task_schema.model_extra == {"teams": ["A", "B"]}  # fields the client does not type are kept
    assert api.predict("match-outcome", {"home_team": "A"})["predictions"][0]["prediction"] == "home"
    batch = api.predict_batch("match-outcome", b"home_team\nA\n", "games.csv", output="csv")
    assert (batch.content, batch.media_type, batch.model_version) == (b"a,b\n", "text/csv", "3")
    api.reload("match-outcome")
    assert api.wait_until_served("match-outcome", "3") == "3"

    predict, batch_request, reload = recorder.requests[2], recorder.requests[3], recorder.requests[4]
    assert json.loads(predict.content) == {"instances": {"home_team": "A"}}
    assert batch_request.url.params["format"] == "csv"
    assert reload.url.path == "/v1/admin/reload" and reload.url.params["task"] == "match-outcome"
    assert "force" not in reload.url.params
    assert reload.headers["authorization"] == "Bearer admin-key"


def test_a_version_counts_as_served_once_every_worker_serves_it() -> None:
    """The worker that answers may have swapped first: waiting on its own version let a DAG move on while the other
    worker still served nothing (CI: the DAG's reload step passed, the next request got no version)."""
    listings = [
        ("3", {"match-outcome": "3"}, {"match-outcome": None}),  # a first load: worker 0 has it, worker 1 not yet
        ("3", {"match-outcome": "3"}, {"match-outcome": "2"}),
        ("2", {"match-outcome": "3"}, {"match-outcome": "3"}),  # the answering process lags in its own entry: fine
    ]

    def respond(request: httpx.Request) -> httpx.Response:
        version, first, second = listings[min(len(recorder.requests), len(listings)) - 1]
        return httpx.Response(200, json={
            "models": [{"task": "match-outcome", "version": version, "alias": "champion"}],
            "workers": [{"worker": 0, "pid": 10, "versions": first}, {"worker": 1, "pid": 11, "versions": second}],
        })  # fmt: skip

    recorder = Recorder(respond)
    api = _clients(recorder).model_api
    assert api.models().served_everywhere("match-outcome") is None
    assert api.wait_until_served("match-outcome", "3") == "3"
    assert len(recorder.requests) == 3  # it polled until both workers served version 3


def test_the_example_falls_back_to_the_models_input_example() -> None:
    recorder = Recorder(lambda r: httpx.Response(200, json={"task": "t", "example": {"instances": [{"x": 1}]}}))
    assert _clients(recorder).model_api.schema("t").example_instance() == {"x": 1}


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_transient_answers_are_retried_with_doubling_delays(status: int) -> None:
    answers = [httpx.Response(status, json={"error": {"code": "unavailable", "message": "busy"}})] * 2
    answers.append(httpx.Response(200, json={"models": []}))
    waits: list[float] = []
    recorder = Recorder(lambda request: answers[len(recorder.requests) - 1])
    api = ModelApiClient("http://m", client=recorder.client(), backoff_s=0.5, sleep=waits.append)

    assert api.models().models == []
    assert waits == [0.5, 1.0]


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    waits: list[float] = []
    busy = httpx.Response(503, headers={"retry-after": "7"}, json={"error": {"code": "unavailable", "message": "x"}})
    recorder = Recorder(lambda request: busy)
    api = ModelApiClient("http://m", client=recorder.client(), attempts=3, max_backoff_s=5, sleep=waits.append)

    with pytest.raises(ServiceError) as caught:
        api.models()
    assert waits == [5, 5]
    assert caught.value.attempts == 3 and caught.value.retryable


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422])
def test_a_refusal_fails_at_once_with_the_services_error(status: int) -> None:
    error = {"error": {"code": "invalid_input", "message": "home_team: unknown team", "details": [{"row": 0}]}}
    recorder = Recorder(lambda request: httpx.Response(status, json=error))
    trainer = TrainerClient("http://trainer:8002", client=recorder.client(), sleep=lambda _: None)

    with pytest.raises(ServiceError) as caught:
        trainer.submit_job("match-outcome", "simulated")
    assert len(recorder.requests) == 1
    raised = caught.value
    assert (raised.service, raised.status, raised.code) == ("trainer", status, "invalid_input")
    assert raised.remote_message == "home_team: unknown team" and raised.details == [{"row": 0}]
    assert raised.message.startswith("trainer ") and not raised.retryable


def test_an_unreachable_service_is_retried_then_one_error_names_the_setting() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    recorder = Recorder(refuse)
    waits: list[float] = []
    ingest = IngestClient("http://ingest:8001", client=recorder.client(), attempts=3, sleep=waits.append)

    with pytest.raises(ServiceError) as caught:
        ingest.datasets()
    assert len(recorder.requests) == 3 and waits == [1.0, 2.0]
    raised = caught.value
    assert raised.status is None and raised.code == "unavailable"
    assert "ingest is not reachable at http://ingest:8001 (connection refused)" in raised.message
    assert "SCORELINE_INGEST_URL" in raised.message and "gave up after 3 attempts" in raised.message
    assert isinstance(raised.__cause__, httpx.ConnectError)


def test_a_file_upload_is_sent_whole_on_every_attempt(tmp_path: Path) -> None:
    data = tmp_path / "results.csv"
    data.write_text("date,home_team\n2024-01-01,A\n")
    answers = [httpx.Response(503, json={}), httpx.Response(201, json=MANIFEST)]
    recorder = Recorder(lambda request: answers[len(recorder.requests) - 1])
    ingest = IngestClient("http://ingest", client=recorder.client(), sleep=lambda _: None)

    ingest.upload("match-outcome", "simulated", data)

    first, second = (request.read() for request in recorder.requests)
    assert b"2024-01-01,A" in first and b"2024-01-01,A" in second
