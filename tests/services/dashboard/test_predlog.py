"""The prediction log as the dashboard sees it: only through the trainer (``GET /v1/monitor/summary`` and
``/predictions``), whichever log the trainer reads. model-api's real sinks write the records (JSON Lines files,
and Elasticsearch = osmem, DESIGN.md §6); a real trainer process reads them; the Monitoring page shows them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from scoreline_launcher.processes import free_port
from streamlit.testing.v1 import AppTest

from scoreline.monitoring import indices
from scoreline.predlog.elastic import ElasticsearchSink
from scoreline.predlog.jsonl import JsonlSink
from scoreline.predlog.record import PredictionRecord
from scoreline.predlog.spool import DiskSpool
from tests.elastic import es_client
from tests.scoreline.predlog.records import make_record
from tests.servers import REPO, ServerProcess
from tests.services.dashboard.conftest import PAGES

READ_KEY = "dashboard-predlog-api-key"

pytestmark = pytest.mark.slow


def records(n: int, task: str = "match-outcome") -> list[PredictionRecord]:
    start = datetime.now(UTC) - timedelta(minutes=n + 5)  # inside the trainer's default window
    made = []
    for i in range(n):
        record = make_record(i, timestamp=(start + timedelta(minutes=i)).isoformat())
        made.append(record.model_copy(update={"task": task, "latency_ms": float(i + 1)}))
    return made


def trainer(workdir: Path, logs_dir: Path, **settings: str) -> ServerProcess:
    """The trainer as a real process (through the osmem launcher: plain JSON to Elasticsearch)."""
    port = free_port()
    env = {
        "SCORELINE_TRAINER_PORT": str(port),
        "SCORELINE_STORAGE_URI": f"file://{workdir / 'store'}",
        "SCORELINE_JOBS_DIR": str(workdir / "jobs"),
        "SCORELINE_MONITORING_DIR": str(workdir / "monitoring"),
        "SCORELINE_ELASTICSEARCH_TIMEOUT_S": "5",
        "SCORELINE_API_KEY": READ_KEY,  # the trainer's reads are closed: the dashboard sends this key
        **{f"SCORELINE_{name.upper()}": value for name, value in settings.items()},
    }
    argv = [sys.executable, "-m", "tests.es_launch", "scoreline_trainer"]
    return ServerProcess("trainer-log", argv, port, env=env, cwd=REPO, log_path=logs_dir / f"trainer-log-{port}.log")


def dashboard_env(server: ServerProcess) -> dict[str, str]:
    return {
        "SCORELINE_TRAINER_URL": server.url,
        "SCORELINE_API_KEY": READ_KEY,
        "SCORELINE_MODEL_API_URL": f"http://127.0.0.1:{free_port()}",  # down: the task is typed in
        "SCORELINE_INGEST_URL": f"http://127.0.0.1:{free_port()}",
    }


def monitoring_page(monkeypatch: pytest.MonkeyPatch, server: ServerProcess) -> AppTest:
    """The Monitoring page linked to the task (``?task=``): model-api, down here, cannot list the tasks."""
    import streamlit as st

    for key, value in dashboard_env(server).items():
        monkeypatch.setenv(key, value)
    st.cache_data.clear()
    app = AppTest.from_file(str(PAGES / "monitoring.py"), default_timeout=60)
    app.query_params["task"] = "match-outcome"
    app.run()
    assert not app.exception
    assert [e.value for e in app.error] == [e.value for e in app.error if "model-api is not reachable" in e.value]
    assert app.selectbox(key="monitoring_task").value == "match-outcome"
    return app


@pytest.fixture
def jsonl_trainer(tmp_path: Path, logs_dir: Path) -> Iterator[tuple[ServerProcess, list[PredictionRecord]]]:
    sink = JsonlSink(tmp_path / "predictions", max_file_bytes=2_000)  # small files: several rotations
    written = records(30)
    for start in range(0, 30, 5):
        sink.write(written[start : start + 5])
    sink.write(records(4, task="esports-win"))
    sink.close()
    assert len(sink.files()) > 1
    with trainer(tmp_path, logs_dir, prediction_log_dir=str(tmp_path / "predictions")).start(timeout_s=120) as server:
        yield server, written


def test_monitoring_page_shows_model_apis_json_lines_log_through_the_trainer(
    jsonl_trainer: tuple[ServerProcess, list[PredictionRecord]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, written = jsonl_trainer
    app = monitoring_page(monkeypatch, server)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Predictions"] == f"{len(written):,}"
    assert metrics["latency max"] == "30.0 ms"
    assert any("local prediction log" in c.value for c in app.caption)
    recent = next(d.value for d in app.dataframe if "request_id" in d.value.columns)
    assert set(recent["request_id"]) == {r.request_id for r in written}  # this task's only


@pytest.fixture
def es_trainer(
    osmem_url: str, tmp_path: Path, logs_dir: Path
) -> Iterator[tuple[ServerProcess, list[PredictionRecord]]]:
    client = es_client(osmem_url)
    indices.install(client)
    written = records(40)
    sink = ElasticsearchSink(es_client(osmem_url), DiskSpool(tmp_path / "spool"), flush_interval_s=0.1)
    sink.write(written + records(3, task="esports-win"))
    sink.close()
    client.indices.refresh(index="scoreline-predictions-*")
    client.close()
    with trainer(tmp_path, logs_dir, elasticsearch_url=osmem_url).start(timeout_s=120) as server:
        yield server, written


def test_monitoring_page_shows_the_elasticsearch_log_through_the_trainer(
    es_trainer: tuple[ServerProcess, list[PredictionRecord]], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, written = es_trainer
    app = monitoring_page(monkeypatch, server)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Predictions"] == f"{len(written):,}"
    assert metrics["latency max"] == "40.0 ms"
    assert any("elasticsearch prediction log" in c.value for c in app.caption)
    entities = app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart")
    assert entities  # traffic and the most requested entities
