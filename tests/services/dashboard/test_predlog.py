"""The dashboard reads the prediction log that model-api's real sinks write: JSON Lines files, and
Elasticsearch (osmem stand-in, DESIGN.md §6) through its HTTP search API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scoreline_dashboard import predlog, views
from scoreline_dashboard.client import ServiceCallError
from scoreline_dashboard.settings import DashboardSettings
from streamlit.testing.v1 import AppTest

from scoreline.monitoring import indices
from scoreline.predlog.elastic import ElasticsearchSink
from scoreline.predlog.jsonl import JsonlSink
from scoreline.predlog.record import PredictionRecord
from scoreline.predlog.spool import DiskSpool
from tests.elastic import es_client
from tests.scoreline.predlog.records import make_record

START = datetime(2026, 6, 11, 18, 0, tzinfo=UTC)


def records(n: int, task: str = "match-outcome") -> list[PredictionRecord]:
    made = []
    for i in range(n):
        record = make_record(i, timestamp=(START + timedelta(minutes=i)).isoformat())
        made.append(record.model_copy(update={"task": task, "latency_ms": float(i + 1)}))
    return made


def test_local_log_is_read_newest_records_of_the_task(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path / "predictions", max_file_bytes=2_000)  # small files: several rotations
    written = records(30)
    for start in range(0, 30, 5):
        sink.write(written[start : start + 5])
    sink.write(records(4, task="esports-win"))
    sink.close()
    assert len(sink.files()) > 1
    settings = DashboardSettings(prediction_log_dir=tmp_path / "predictions", dashboard_max_log_records=100)

    log = predlog.read_predictions(settings, "match-outcome")

    assert len(log) == 30
    assert log["timestamp"].is_monotonic_increasing
    assert set(log["request_id"]) == {r.request_id for r in written}
    assert views.latency_summary(log)["max_ms"] == 30.0
    top = views.top_teams(log)
    assert top["requests"].sum() == 60  # home and away of every request


def test_local_log_keeps_only_the_newest_records(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path)
    written = records(150)
    sink.write(written)
    sink.close()
    log = predlog.read_predictions(
        DashboardSettings(prediction_log_dir=tmp_path, dashboard_max_log_records=100), "match-outcome"
    )
    assert list(log["request_id"]) == [r.request_id for r in written[-100:]]


def test_missing_local_log_is_empty_not_an_error(tmp_path: Path) -> None:
    log = predlog.read_predictions(DashboardSettings(prediction_log_dir=tmp_path / "nothing"), "match-outcome")
    assert log.empty


@pytest.fixture
def es_with_records(osmem_url: str, tmp_path: Path) -> tuple[str, list[PredictionRecord]]:
    client = es_client(osmem_url)
    indices.install(client)
    written = records(40)
    sink = ElasticsearchSink(es_client(osmem_url), DiskSpool(tmp_path / "spool"), flush_interval_s=0.1)
    sink.write(written + records(3, task="esports-win"))
    sink.close()
    client.indices.refresh(index="scoreline-predictions-*")
    client.close()
    return osmem_url, written


@pytest.mark.slow
def test_elasticsearch_log_is_read_through_search(es_with_records: tuple[str, list[PredictionRecord]]) -> None:
    url, written = es_with_records
    log = predlog.read_predictions(DashboardSettings(elasticsearch_url=url), "match-outcome")
    assert set(log["request_id"]) == {r.request_id for r in written}
    assert log["timestamp"].is_monotonic_increasing
    over_time = views.predictions_over_time(log)
    assert over_time["predictions"].sum() == 40


@pytest.mark.slow
def test_elasticsearch_without_indices_is_empty(osmem_url: str) -> None:
    log = predlog.read_predictions(
        DashboardSettings(elasticsearch_url=osmem_url, elasticsearch_index_pattern="nothing-here-*"), "match-outcome"
    )
    assert log.empty


def test_elasticsearch_down_is_a_clear_error() -> None:
    from scoreline_launcher.processes import free_port

    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceCallError) as caught:
        predlog.read_predictions(DashboardSettings(elasticsearch_url=url), "match-outcome")
    assert "Elasticsearch is not reachable" in caught.value.message
    assert "SCORELINE_ELASTICSEARCH_URL" in caught.value.message


@pytest.mark.slow
def test_monitoring_page_shows_traffic_from_elasticsearch(
    es_with_records: tuple[str, list[PredictionRecord]], run_page: Callable[..., AppTest], tmp_path: Path
) -> None:
    from scoreline_launcher.processes import free_port

    url, written = es_with_records
    env: dict[str, Any] = {
        "SCORELINE_ELASTICSEARCH_URL": url,
        "SCORELINE_MODEL_API_URL": f"http://127.0.0.1:{free_port()}",  # down: drift/accuracy explain that
    }
    app = run_page("monitoring", env)
    assert not app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Predictions"] == f"{len(written):,}"
    assert metrics["latency max"] == "40.0 ms"
    assert any("Elasticsearch" in c.value for c in app.caption)
    assert [e.value for e in app.error] and all("model-api is not reachable" in e.value for e in app.error)
