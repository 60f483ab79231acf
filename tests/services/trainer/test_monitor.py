"""The trainer's monitor routes as real processes: model-api serves the champion and logs its predictions (JSON
Lines, or Elasticsearch = osmem), the trainer reads that log, finds the champion in MLflow and runs drift and live
accuracy (results kept locally or in ``scoreline-drift`` / ``scoreline-outcomes``)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from scoreline.data.datasets import DatasetCatalog
from scoreline.data.storage import LocalStore
from scoreline.lifecycle.registry import CHAMPION, Registry, log_training, model_name
from scoreline.ml.training import TrainingResult
from tests.elastic import es_client
from tests.mlflow_fixtures import TASK, simulated_csv
from tests.scoreline.serving.models import mark_promoted
from tests.servers import REPO, ServerProcess, free_port
from tests.services.model_api.conftest import launch_model_api
from tests.services.model_api.test_elastic_log import launch as launch_model_api_es
from tests.services.trainer.conftest import ADMIN_KEY, admin_headers

pytestmark = pytest.mark.slow
PREDICTIONS = "scoreline-predictions-*"


@pytest.fixture(scope="module")
def champion(mlflow_sqlite: ServerProcess, good_result: TrainingResult) -> str:
    """A fresh ``scoreline-match-outcome`` whose champion is the session's good model."""
    registry = Registry(mlflow_sqlite.url)
    if registry.versions(TASK) or registry.aliases(TASK):
        registry.client.delete_registered_model(model_name(TASK))
    version = log_training(good_result, "simulated", "sim-monitor", "test", mlflow_sqlite.url).version
    mark_promoted(mlflow_sqlite.url, TASK, version)  # model-api serves only promoted versions
    registry.set_alias(TASK, CHAMPION, version)
    return version


def start_trainer(workdir: Path, logs_dir: Path, mlflow_url: str, **settings: str) -> ServerProcess:
    """The trainer as a real process (through the osmem launcher: plain JSON to Elasticsearch)."""
    store = workdir / "store"
    DatasetCatalog(LocalStore(store)).ingest(TASK, "results", simulated_csv(500, seed=4), "results.csv")
    port = free_port()
    env = {
        "SCORELINE_TRAINER_PORT": str(port),
        "SCORELINE_STORAGE_URI": f"file://{store}",
        "SCORELINE_MLFLOW_URI": mlflow_url,
        "SCORELINE_ADMIN_KEY": ADMIN_KEY,
        "SCORELINE_JOBS_DIR": str(workdir / "jobs"),
        "SCORELINE_PREDICTION_LOG_DIR": str(workdir / "predictions"),
        "SCORELINE_MONITORING_DIR": str(workdir / "monitoring"),
        "SCORELINE_DRIFT_MIN_ROWS": "20",
        "SCORELINE_ELASTICSEARCH_TIMEOUT_S": "5",
        "SCORELINE_PUBLIC_READS": "true",  # closed reads (the default) are the edge tests' subject
        **{f"SCORELINE_{name.upper()}": value for name, value in settings.items()},
    }
    argv = [sys.executable, "-m", "tests.es_launch", "scoreline_trainer"]
    server = ServerProcess("trainer-monitor", argv, port, env=env, cwd=REPO, log_path=logs_dir / f"trainer-{port}.log")
    return server.start(timeout_s=120)


def predict(api: ServerProcess, instances: list[dict[str, Any]], rounds: int) -> set[str]:
    """``rounds`` requests of ``instances``; the request ids model-api answered."""
    ids: set[str] = set()
    with httpx.Client(base_url=api.url, timeout=30) as client:
        for _ in range(rounds):
            answer = client.post(f"/v1/{TASK}/predict", json={"instances": instances})
            assert answer.status_code == 200, answer.text
            ids.update(p["request_id"] for p in answer.json()["predictions"])
    return ids


def wait_for(condition: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError("condition not met in time")


def logged(trainer: ServerProcess) -> int:
    summary = httpx.get(trainer.url + "/v1/monitor/summary", params={"task": TASK}, timeout=30)
    assert summary.status_code == 200, summary.text
    return summary.json()["predictions"]


def check_monitor(trainer: ServerProcess, champion: str, ids: set[str], source: str) -> None:
    """The run, the stored results and the log reads, all over the ``ids`` model-api logged."""
    assert httpx.post(trainer.url + "/v1/monitor/runs", json={}).status_code == 401
    run = httpx.post(trainer.url + "/v1/monitor/runs", json={}, headers=admin_headers(), timeout=120)
    assert run.status_code == 200, run.text
    body = run.json()
    # One line per task with a champion in the (session-wide) registry: this stack's task among them.
    result = next(t for t in body["tasks"] if t["task"] == TASK)
    assert result["task"] == TASK and result["model_version"] == champion
    assert result["drift"]["rows"] == len(ids)
    assert result["alert"] is True  # the same few matches asked over and over are nothing like the training data
    assert result["accuracy_error"] is None

    drift = httpx.get(trainer.url + "/v1/monitor/drift", params={"task": TASK}).json()
    assert drift["source"] == source
    assert {doc["run_id"] for doc in drift["results"]} == {body["run_id"]}
    accuracy = httpx.get(trainer.url + "/v1/monitor/accuracy", params={"task": TASK})
    assert accuracy.status_code == 200 and accuracy.json()["source"] == source

    newest = httpx.get(trainer.url + "/v1/monitor/predictions", params={"task": TASK, "limit": 5}).json()
    assert newest["source"] == source and newest["count"] == 5
    stamps = [record["@timestamp"] for record in newest["records"]]
    assert stamps == sorted(stamps, reverse=True)
    assert {record["request_id"] for record in newest["records"]} <= ids
    assert {"inputs", "prediction", "latency_ms", "model_version"} <= set(newest["records"][0])
    assert httpx.get(trainer.url + "/v1/monitor/predictions", params={"task": TASK, "limit": 10_001}).status_code == 422
    assert httpx.get(trainer.url + "/v1/monitor/predictions", params={"task": "no-such-task"}).status_code == 404

    summary = httpx.get(trainer.url + "/v1/monitor/summary", params={"task": TASK}).json()
    assert summary["predictions"] == len(ids) and not summary["truncated"]
    assert sum(bucket["predictions"] for bucket in summary["traffic"]) == len(ids)
    latency = summary["latency"]
    assert 0 <= latency["p50_ms"] <= latency["p95_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    assert summary["model_versions"] == {champion: len(ids)}
    assert summary["top_entities"]["home_team"] and summary["top_entities"]["away_team"]


def test_monitor_over_model_apis_local_log(
    champion: str, good_result: TrainingResult, mlflow_sqlite: ServerProcess, tmp_path: Path, logs_dir: Path
) -> None:
    api = launch_model_api(tmp_path, logs_dir, mlflow_sqlite.url)
    trainer = start_trainer(tmp_path, logs_dir, mlflow_sqlite.url)
    try:
        ids = predict(api, list(good_result.bundle.input_example[:3]), rounds=10)
        wait_for(lambda: logged(trainer) == len(ids))
        check_monitor(trainer, champion, ids, "local")
        assert (tmp_path / "monitoring" / "scoreline-drift.jsonl").exists()
    finally:
        api.stop()
        trainer.stop()


def test_monitor_over_elasticsearch(
    champion: str, good_result: TrainingResult, mlflow_sqlite: ServerProcess, tmp_path: Path, logs_dir: Path,
    osmem_url: str,
) -> None:  # fmt: skip
    es = es_client(osmem_url)
    api = launch_model_api_es(tmp_path, logs_dir, mlflow_sqlite.url, osmem_url)
    trainer = start_trainer(tmp_path, logs_dir, mlflow_sqlite.url, elasticsearch_url=osmem_url)
    try:
        wait_for(lambda: es.indices.exists_index_template(name="scoreline-drift").body)
        ids = predict(api, list(good_result.bundle.input_example[:3]), rounds=10)
        wait_for(lambda: logged(trainer) == len(ids))
        check_monitor(trainer, champion, ids, "elasticsearch")
        es.indices.refresh(index="scoreline-drift")
        assert es.count(index="scoreline-drift")["count"] == len(
            httpx.get(trainer.url + "/v1/monitor/drift", params={"task": TASK}).json()["results"]
        )
    finally:
        api.stop()
        trainer.stop()
        es.close()
