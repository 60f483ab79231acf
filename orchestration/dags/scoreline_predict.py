"""``scoreline_predict``: the daily prediction pipeline. For every task, the trainer makes the champion predict
what the task asks for from its newest data (every series 10 days ahead, every rookie whose career is open):
``POST /v1/predictions/{task}``. The answers are stored as a versioned run in the object store and logged to
the prediction log (Elasticsearch), where live accuracy later meets what really happened. A task that asks
for no scheduled predictions is skipped. Thin: HTTP only, nothing read or imported at parse time beyond
Airflow and the DAG helpers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowSkipException
from scoreline_dags.factory import training_tasks

PREDICT_TIMEOUT_S = 900.0


@dag(
    dag_id="scoreline_predict",
    description="Daily scheduled predictions of every task's champion from the newest data",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["scoreline", "prediction"],
    doc_md=__doc__,
    default_args={"owner": "scoreline", "retries": 2, "retry_delay": timedelta(minutes=1)},
)
def scoreline_predict() -> None:
    for task_id in training_tasks():

        @task(task_id=f"predict_{task_id.replace('-', '_')}")
        def predict(task_name: str = task_id) -> dict[str, Any]:
            from scoreline_client import ServiceError
            from scoreline_dags.settings import OrchestrationSettings
            from scoreline_dags.steps import Services

            settings = OrchestrationSettings()
            try:
                run = Services(settings).clients.trainer.run_predictions(
                    task_name, timeout_s=max(settings.http_timeout_s, PREDICT_TIMEOUT_S)
                )
            except ServiceError as error:
                if error.status in (404, 409):  # no dataset yet, no champion yet, or no scheduled predictions
                    raise AirflowSkipException(f"{task_name}: {error.remote_message or error.message}") from error
                raise
            print(f"{task_name}: run {run['run_id']} with {run['rows']} rows by version {run['model_version']}")
            return run

        predict()


scoreline_predict()
