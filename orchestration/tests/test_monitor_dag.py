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
        assert trigger.conf == {"task": task_id}
        assert gate.upstream_task_ids == {"monitor"}
        assert trigger.upstream_task_ids == {f"alert_{name}"}
