"""The scoreline_monitor DAG: hourly, thin, one alert gate and one retrain trigger per training task."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import DAGS_FOLDER


@pytest.fixture(scope="module")
def monitor_dag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER / "scoreline_monitor.py"))
    assert bag.import_errors == {}
    return bag.dags["scoreline_monitor"]


def test_monitor_dag_is_hourly_and_never_catches_up(monitor_dag: Any) -> None:
    assert monitor_dag.schedule == "@hourly"
    assert monitor_dag.catchup is False
    assert monitor_dag.max_active_runs == 1


def test_each_training_task_has_an_alert_gate_then_a_trigger(monitor_dag: Any) -> None:
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
    from scoreline_dags.factory import dag_id_for, training_tasks

    for task_id in training_tasks():
        name = task_id.replace("-", "_")
        gate = monitor_dag.get_task(f"alert_{name}")
        trigger = monitor_dag.get_task(f"retrain_{name}")
        assert isinstance(trigger, TriggerDagRunOperator)
        assert trigger.trigger_dag_id == dag_id_for(task_id)
        # The newest dataset version the gate found in ingest, rendered when the trigger runs.
        assert trigger.conf == {
            "task": task_id,
            "dataset": f"{{{{ ti.xcom_pull(task_ids='alert_{name}')['dataset'] }}}}",
            "version": f"{{{{ ti.xcom_pull(task_ids='alert_{name}')['version'] }}}}",
        }
        assert gate.upstream_task_ids == {"monitor"}
        assert trigger.upstream_task_ids == {f"alert_{name}"}
    assert monitor_dag.get_task("notify").upstream_task_ids == {"monitor"}


def test_the_monitor_step_asks_the_trainer_with_the_admin_key(
    monitor_dag: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The step's own code against a stand-in trainer: a loopback HTTP server answering as POST /v1/monitor/runs."""
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    seen: list[tuple[str, str | None, dict[str, Any]]] = []
    run = {
        "run_id": "run-1", "started_at": "t", "window_start": "a", "window_end": "b", "alert": True,
        "alert_tasks": ["match-outcome"],
        "tasks": [{"task": "match-outcome", "model_version": "3", "status": "alert", "alert": True,
                   "reason": "3 features in alert", "drift": None, "accuracy": None}],
    }  # fmt: skip

    class Trainer(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
            seen.append((self.path, self.headers.get("Authorization"), body))
            payload = json.dumps(run).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trainer)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("SCORELINE_TRAINER_URL", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("SCORELINE_MODEL_API_URL", "http://127.0.0.1:9")  # never asked: it only serves
        monkeypatch.setenv("SCORELINE_ADMIN_KEY", "admin-key")
        summary = monitor_dag.get_task("monitor").python_callable()
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [("/v1/monitor/runs", "Bearer admin-key", {})]
    assert summary["alert_tasks"] == ["match-outcome"]
    assert summary["tasks"]["match-outcome"] == {"status": "alert", "alert": True, "reason": "3 features in alert"}
