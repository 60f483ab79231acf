"""``scoreline_monitor``: hourly drift and live-accuracy check; retrains a task when its alert rule holds.

``monitor`` asks the trainer to run the checks (``POST /v1/monitor/runs``: drift of the last window of
model-api's prediction log against each champion's reference profile, live accuracy, results to
Elasticsearch). When any task's alert rule holds (N features in alert, or the predicted-class distribution
drifted), ``notify`` posts the alert to the same webhook as the training DAGs' promotions
(``SCORELINE_NOTIFY_WEBHOOK_URL`` or the Variable ``scoreline_notify_webhook_url``), and for each such task
``alert_<task>`` finds the newest version of the task's default dataset in ingest and lets ``retrain_<task>``
trigger ``scoreline_train_<task>`` on it (conf ``{"task", "dataset", "version"}``). Thin: HTTP only,
nothing read or imported at parse time beyond Airflow and the DAG helpers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Variable, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException
from scoreline_dags.factory import NOTIFY_WEBHOOK_VARIABLE, dag_id_for, training_tasks

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

    @task(task_id="notify", retries=1)
    def notify(summary: dict[str, Any]) -> str:
        from scoreline_dags.settings import OrchestrationSettings
        from scoreline_dags.steps import Services, alert_message, post_webhook

        if not summary["alert_tasks"]:
            raise AirflowSkipException("no task's alert rule holds: nothing to announce")
        settings = OrchestrationSettings()
        url = settings.notify_webhook_url or Variable.get(NOTIFY_WEBHOOK_VARIABLE, default=None)
        if not url:
            raise AirflowSkipException(
                f"no webhook configured (SCORELINE_NOTIFY_WEBHOOK_URL or {NOTIFY_WEBHOOK_VARIABLE})"
            )
        context = get_current_context()
        message = alert_message(context["dag"].dag_id, context["run_id"], summary)
        post_webhook(Services(settings), url, message)
        return str(message["text"])

    report = monitor()
    notify(report)
    for task_id in training_tasks():
        name = _underscored(task_id)

        @task.short_circuit(task_id=f"alert_{name}")
        def alert(summary: dict[str, Any], task_id: str = task_id) -> dict[str, str] | None:
            """The newest dataset version to retrain on when the task's alert rule holds (else skip)."""
            holds = task_id in summary["alert_tasks"]
            print(f"{task_id}: {summary['tasks'].get(task_id)}; retrain: {holds}")
            if not holds:
                return None
            from scoreline_dags.factory import default_dataset
            from scoreline_dags.settings import OrchestrationSettings
            from scoreline_dags.steps import Services, latest_version

            dataset = default_dataset(task_id)
            version = latest_version(Services(OrchestrationSettings()), task_id, dataset)
            if version is None:
                print(f"{task_id}: ingest holds no version of {dataset!r}; nothing to retrain on")
                return None
            print(f"{task_id}: retraining on {dataset} version {version}")
            return {"dataset": dataset, "version": version}

        target = f"ti.xcom_pull(task_ids='alert_{name}')"
        retrain = TriggerDagRunOperator(
            task_id=f"retrain_{name}",
            trigger_dag_id=dag_id_for(task_id),
            trigger_run_id=f"monitor__{{{{ run_id }}}}__{name}",
            conf={
                "task": task_id,
                "dataset": f"{{{{ {target}['dataset'] }}}}",
                "version": f"{{{{ {target}['version'] }}}}",
            },
            skip_when_already_exists=True,  # a retried trigger must not start a second training run
            wait_for_completion=False,
        )
        alert(report) >> retrain


scoreline_monitor()
