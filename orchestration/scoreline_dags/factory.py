"""Builds one training DAG per task: pull → train → wait → decide → approve → promote → reload → notify.

Every step is a service call (``scoreline_dags.steps``); this module only wires them into Airflow.
Which tasks exist comes from the core's task registry (``scoreline.tasks.task_ids()``), which imports no
task module, so parsing stays cheap; a task's default dataset is read when a run starts.
Steps after ``decide`` skip themselves when the decision leaves nothing for them to do, so one
straight line serves auto mode, manual mode, rejections and re-runs.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, Variable, get_current_context, task
from airflow.sdk.exceptions import AirflowSkipException

from scoreline_dags import steps
from scoreline_dags.operators import PromotionApproval, WaitForTrainerJob
from scoreline_dags.settings import OrchestrationSettings

SCHEDULE = "@daily"
TAGS = ["scoreline", "training"]
# Tuning on by default: the trainer judges each Optuna trial on the walk-forward folds, within this budget.
TUNING_TRIALS = 20
TUNING_SECONDS = 300.0
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "scoreline",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
}
NOTIFY_WEBHOOK_VARIABLE = "scoreline_notify_webhook_url"


def dag_id_for(task_id: str) -> str:
    return "scoreline_train_" + task_id.replace("-", "_")


def variable_prefix(task_id: str) -> str:
    return "scoreline_" + task_id.replace("-", "_")


def training_tasks() -> tuple[str, ...]:
    """Every registered task: one training DAG each (built-in tasks and ``SCORELINE_TASK_PLUGINS``)."""
    from scoreline.tasks import task_ids

    return task_ids()


def default_dataset(task_id: str) -> str:
    """The dataset a task trains on when nobody named one (imports the task: run time only, not parse time)."""
    from scoreline.tasks import get_task

    return get_task(task_id).default_dataset


def build_training_dags() -> dict[str, DAG]:
    """``{dag_id: DAG}`` for every registered task."""
    dags = [build_training_dag(task_id) for task_id in training_tasks()]
    return {dag.dag_id: dag for dag in dags}


def _services() -> steps.Services:
    return steps.Services(OrchestrationSettings())


def _actor(context: dict[str, Any]) -> str:
    return f"airflow:{context['dag'].dag_id}/{context['run_id']}"


def build_training_dag(task_id: str, dataset: str | None = None) -> DAG:
    """The training DAG of one task; ``dataset`` is the default of its ``dataset`` param (None: the task's own
    ``default_dataset``, read when a run starts)."""
    prefix = variable_prefix(task_id)
    with DAG(
        dag_id=dag_id_for(task_id),
        description=f"Train, evaluate and promote the {task_id} model, then make model-api serve it",
        schedule=SCHEDULE,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=[*TAGS, task_id],
        doc_md=__doc__,
        params={
            # ingest's notifier triggers a run with conf {"task", "dataset", "version"}.
            "task": Param(task_id, type="string", enum=[task_id]),
            "dataset": Param(
                dataset, type=["null", "string"], description="dataset to train on; empty = the task's default dataset"
            ),
            "version": Param(None, type=["null", "string"], description="dataset version; empty = latest"),
            "source_urls": Param(
                None,
                type=["null", "array"],
                description=f"URLs ingest pulls first; empty = the JSON list in Variable {prefix}_source_urls",
            ),
            "holdout_start": Param(None, type=["null", "string"], description="ISO date; empty = trainer's"),
            # Optuna tuning on the walk-forward folds, on by default within a time budget; 0 trials = none.
            "tuning_trials": Param(
                TUNING_TRIALS, type=["null", "integer"], minimum=0, description="Optuna trials at most; 0 = no tuning"
            ),
            "tuning_seconds": Param(
                TUNING_SECONDS, type=["null", "number"], exclusiveMinimum=0, description="tuning time budget (s)"
            ),
            "promotion_mode": Param(
                None,
                type=["null", "string"],
                enum=[None, "auto", "manual"],
                description=f"auto or manual; empty = Variable {prefix}_promotion_mode, else auto",
            ),
            "promotion_margin": Param(
                None,
                type=["null", "number"],
                minimum=0,
                exclusiveMaximum=1,
                description="minimum relative improvement over the champion; empty = the trainer's setting",
            ),
        },
    ) as dag:

        @task(task_id="pull")
        def pull_step(params: dict[str, Any]) -> dict[str, Any]:
            urls = params.get("source_urls")
            if urls is None:
                urls = json.loads(Variable.get(f"{prefix}_source_urls", default="[]"))
            dataset = params.get("dataset") or default_dataset(task_id)
            return steps.pull(_services(), task_id, dataset, list(urls), params.get("version"))

        @task(task_id="train")
        def train_step(pulled: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
            budget = steps.tuning_budget(params.get("tuning_trials"), params.get("tuning_seconds"))
            key = steps.job_key(task_id, pulled["dataset"], pulled["version"], params.get("holdout_start"), budget)
            known = Variable.get(key, default=None)
            job = steps.start_training(
                _services(), task_id, pulled["dataset"], pulled["version"], params.get("holdout_start"), known, budget
            )
            if str(job["id"]) != known:
                Variable.set(key, str(job["id"]), description=f"trainer job for {task_id} {pulled}")
            return job

        @task(task_id="decide")
        def decide_step(job: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
            mode = params.get("promotion_mode") or Variable.get(f"{prefix}_promotion_mode", default="auto")
            margin = params.get("promotion_margin")
            decision = steps.decide(_services(), task_id, mode, _actor(get_current_context()), margin)
            if job.get("model_version") and str(decision.get("challenger_version")) != str(job["model_version"]):
                steps.log.warning(
                    "the challenger is version %s, not version %s this run trained: a later job registered it",
                    decision.get("challenger_version"),
                    job["model_version"],
                )
            return {**decision, "mode": mode, "job_id": job.get("id"), "trained_version": job.get("model_version")}

        @task(task_id="promote", trigger_rule="none_failed")
        def promote_step(decision: dict[str, Any]) -> dict[str, Any]:
            context = get_current_context()
            actor = _actor(context)
            approval = context["ti"].xcom_pull(task_ids="approve")
            if approval:
                responder = approval.get("responded_by_user") or {}
                actor = f"airflow-approval:{responder.get('name') or responder.get('id')}"
            promoted = steps.promote(_services(), task_id, decision, actor)
            if promoted is None:
                if decision.get("decision") == steps.UNCHANGED and decision.get("champion_version"):
                    # A re-run: nothing to promote, but the reload step still checks what is served.
                    return {"champion_version": str(decision["champion_version"]), "via": "unchanged"}
                raise AirflowSkipException(f"not promoted: {decision.get('decision')} ({decision.get('reason')})")
            return promoted

        @task(task_id="reload", trigger_rule="none_failed_min_one_success")
        def reload_step(promoted: dict[str, Any]) -> str:
            return steps.reload_and_wait(_services(), task_id, promoted["champion_version"])

        @task(task_id="notify", trigger_rule="all_done", retries=1)
        def notify_step() -> None:
            context = get_current_context()
            ti = context["ti"]
            states = ti.get_task_states(dag_id=context["dag"].dag_id, run_ids=[context["run_id"]])
            run_states = states.get(context["run_id"], states)
            failed = sorted(t for t, state in run_states.items() if state in ("failed", "upstream_failed"))
            pulled = ti.xcom_pull(task_ids="pull") or {}
            facts = {
                "dataset": pulled.get("dataset"),
                "dataset_version": pulled.get("version"),
                "decision": ti.xcom_pull(task_ids="decide"),
                "served_version": ti.xcom_pull(task_ids="reload"),
                "failed_tasks": failed,
            }
            message = steps.summary_message(context["dag"].dag_id, context["run_id"], task_id, facts)
            steps.log.info("run summary: %s", message["text"])
            url = OrchestrationSettings().notify_webhook_url or Variable.get(NOTIFY_WEBHOOK_VARIABLE, default=None)
            if url:
                steps.post_webhook(_services(), url, message)
            if failed:
                raise RuntimeError(f"the run failed at {failed}; see those tasks' logs")
            if not url:
                raise AirflowSkipException(
                    f"no webhook configured (SCORELINE_NOTIFY_WEBHOOK_URL or {NOTIFY_WEBHOOK_VARIABLE})"
                )

        pulled = pull_step()
        job = train_step(pulled)
        finished = WaitForTrainerJob(task_id="wait_for_training", start_task_id="train")
        job >> finished
        decision = decide_step(finished.output)
        approve = PromotionApproval(
            task_id="approve",
            decide_task_id="decide",
            subject=f"Promote {task_id} model version {{{{ ti.xcom_pull(task_ids='decide')['challenger_version'] }}}}?",
            body="{{ ti.xcom_pull(task_ids='decide') | tojson }}",
            trigger_rule="none_failed",
            retries=0,
            # Unanswered for a week → the task fails and the challenger stays pending for a later run.
            response_timeout=timedelta(days=7),
        )
        promoted = promote_step(decision)
        decision >> approve >> promoted
        served = reload_step(promoted)
        served >> notify_step()
    return dag
