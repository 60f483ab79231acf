"""``scoreline_monitor``: hourly drift and live-accuracy check; retrains a task when its alert rule holds.

``monitor`` asks the trainer to run the checks (``POST /v1/monitor/runs``: drift of the last window of
model-api's prediction log against each champion's reference profile, live accuracy, results to
Elasticsearch); for every
task whose alert rule holds (N features in alert, or the predicted-class distribution drifted),
``alert_<task>`` lets ``retrain_<task>`` trigger ``scoreline_train_<task>``. Thin: HTTP only,
nothing read or imported at parse time beyond Airflow and the DAG helpers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import dag, task
from scoreline_dags.factory import dag_id_for, training_tasks

MONITOR_TIMEOUT_S = 600.0


def _underscored(task_id: str) -> str:
    return task_id.replace("-", "_")


@dag(
    dag_id="scoreline_monitor",
    description="Drift and live accuracy of the served models; retrain a task when its alert rule holds",
    schedule="@hourly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["scoreline", "monitoring"],
    doc_md=__doc__,
    default_args={"owner": "scoreline", "retries": 2, "retry_delay": timedelta(minutes=1)},
)
def scoreline_monitor() -> None:
    @task(task_id="monitor")
    def monitor() -> dict[str, Any]:
        from scoreline_dags.settings import OrchestrationSettings
        from scoreline_dags.steps import Services

        settings = OrchestrationSettings()
        report = Services(settings).clients.trainer.monitor_run(
            timeout_s=max(settings.http_timeout_s, MONITOR_TIMEOUT_S)
        )
        summary = {
            "run_id": report["run_id"],
            "alert_tasks": report["alert_tasks"],
            "tasks": {
                t["task"]: {"status": t["status"], "alert": t["alert"], "reason": t["reason"]} for t in report["tasks"]
            },
        }
        print(f"monitor run {summary['run_id']}: {summary['tasks']}")
        return summary

    report = monitor()
    for task_id in training_tasks():
        name = _underscored(task_id)

        @task.short_circuit(task_id=f"alert_{name}")
        def alert(summary: dict[str, Any], task_id: str = task_id) -> bool:
            holds = task_id in summary["alert_tasks"]
            print(f"{task_id}: {summary['tasks'].get(task_id)}; retrain: {holds}")
            return holds

        retrain = TriggerDagRunOperator(
            task_id=f"retrain_{name}",
            trigger_dag_id=dag_id_for(task_id),
            trigger_run_id=f"monitor__{{{{ run_id }}}}__{name}",
            conf={"task": task_id},
            skip_when_already_exists=True,  # a retried trigger must not start a second training run
            wait_for_completion=False,
        )
        alert(report) >> retrain


scoreline_monitor()
