"""Every DAG file imports cleanly, fast, without network or heavy libraries, and is shaped as documented."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import DAGS_FOLDER

HEAVY_MODULES = ["pandas", "numpy", "mlflow", "xgboost", "sklearn", "pyarrow", "numba"]
# The task registry is all of the core package a DAG file may import: no task module, nothing heavy.
ALLOWED_SCORELINE_MODULES = {"scoreline", "scoreline.core", "scoreline.core.errors", "scoreline.tasks"}
TRAINING_STEPS = ["pull", "train", "wait_for_training", "decide", "approve", "promote", "reload", "notify"]

# Parses the DAG folder in a fresh interpreter with every outgoing connection refused, and reports what
# it found: import errors, per-file parse time, DAG ids, and which heavy modules got imported.
PARSE_SCRIPT = """
import json, socket, sys

def refuse(*args, **kwargs):
    raise OSError("network access while parsing DAGs")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse

from airflow.dag_processing.dagbag import DagBag

heavy = set(sys.argv[2].split(","))
already = {name for name in heavy if name in sys.modules}
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({
    "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
    "files": {stat.file: stat.duration.total_seconds() for stat in bag.dagbag_stats},
    "dag_ids": sorted(bag.dag_ids),
    "heavy_loaded": sorted(name for name in heavy if name in sys.modules and name not in already),
    "scoreline_loaded": sorted(name for name in sys.modules if name == "scoreline" or name.startswith("scoreline.")),
}))
"""


@pytest.fixture(scope="module")
def parse_report() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", PARSE_SCRIPT, str(DAGS_FOLDER), ",".join(HEAVY_MODULES)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def dagbag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_every_dag_file_imports_without_errors(parse_report: dict[str, Any]) -> None:
    assert parse_report["import_errors"] == {}
    assert "scoreline_train_match_outcome" in parse_report["dag_ids"]


def test_every_dag_file_parses_in_under_a_second(parse_report: dict[str, Any]) -> None:
    assert parse_report["files"], "no DAG file was parsed"
    slow = {name: seconds for name, seconds in parse_report["files"].items() if seconds >= 1.0}
    assert slow == {}


def test_parsing_imports_no_heavy_library(parse_report: dict[str, Any]) -> None:
    assert parse_report["heavy_loaded"] == []
    assert set(parse_report["scoreline_loaded"]) <= ALLOWED_SCORELINE_MODULES


def test_there_is_a_training_dag_per_registered_task(parse_report: dict[str, Any]) -> None:
    from scoreline.tasks import task_ids

    assert task_ids(), "no task is registered"
    expected = {"scoreline_train_" + task_id.replace("-", "_") for task_id in task_ids()}
    training = {dag_id for dag_id in parse_report["dag_ids"] if dag_id.startswith("scoreline_train_")}
    assert training == expected


def test_training_dag_ids_follow_the_design(dagbag: Any) -> None:
    from scoreline_dags.factory import dag_id_for, training_tasks

    for task_id in training_tasks():
        assert dag_id_for(task_id) in dagbag.dag_ids
    assert dag_id_for("match-outcome") == "scoreline_train_match_outcome"


def test_training_dag_schedule_tags_and_steps(dagbag: Any) -> None:
    dag = dagbag.dags["scoreline_train_match_outcome"]
    assert dag.schedule == "@daily"
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert {"scoreline", "training", "match-outcome"} <= set(dag.tags)
    assert set(dag.task_ids) == set(TRAINING_STEPS)
    order = [task.task_id for task in dag.topological_sort()]
    assert order == TRAINING_STEPS


def test_service_calls_retry_with_exponential_backoff(dagbag: Any) -> None:
    dag = dagbag.dags["scoreline_train_match_outcome"]
    for task_id in ["pull", "train", "wait_for_training", "decide", "promote", "reload"]:
        task = dag.get_task(task_id)
        assert task.retries >= 3, task_id
        assert task.retry_exponential_backoff, task_id
        assert task.retry_delay == timedelta(seconds=30), task_id
    # A human answer is not retried: a rejection is an answer, not a failure.
    assert dag.get_task("approve").retries == 0


def test_steps_after_the_decision_skip_instead_of_failing(dagbag: Any) -> None:
    dag = dagbag.dags["scoreline_train_match_outcome"]
    assert dag.get_task("approve").trigger_rule == "none_failed"
    assert dag.get_task("promote").trigger_rule == "none_failed"
    assert dag.get_task("notify").trigger_rule == "all_done"


def test_waiting_for_training_is_deferrable(dagbag: Any) -> None:
    from scoreline_dags.operators import TrainerJobTrigger, WaitForTrainerJob

    task = dagbag.dags["scoreline_train_match_outcome"].get_task("wait_for_training")
    assert isinstance(task, WaitForTrainerJob)
    trigger = TrainerJobTrigger("http://trainer:8002", "job-1", 5.0, 60.0)
    classpath, kwargs = trigger.serialize()
    assert classpath == "scoreline_dags.operators.TrainerJobTrigger"
    assert TrainerJobTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_manual_approval_is_airflows_human_in_the_loop(dagbag: Any) -> None:
    from airflow.providers.standard.operators.hitl import ApprovalOperator

    approve = dagbag.dags["scoreline_train_match_outcome"].get_task("approve")
    assert isinstance(approve, ApprovalOperator)
    assert approve.options == ["Approve", "Reject"]


def test_ingest_trigger_conf_matches_the_dag_params(dagbag: Any) -> None:
    """ingest's notifier sends conf {task, dataset, version}: each is a declared param."""
    params = dagbag.dags["scoreline_train_match_outcome"].params
    assert {"task", "dataset", "version", "source_urls", "holdout_start", "promotion_mode"} <= set(params.keys())
    assert params["task"] == "match-outcome"
    assert params["version"] is None
    assert params["dataset"] is None  # the task's default_dataset, read when the run starts
    # Tuning on the walk-forward folds runs by default, within a time budget.
    assert params["tuning_trials"] > 0 and params["tuning_seconds"] > 0


def test_a_run_without_a_dataset_trains_on_the_tasks_default_dataset() -> None:
    from scoreline_dags.factory import default_dataset

    from scoreline.tasks import get_task, task_ids

    for task_id in task_ids():
        assert default_dataset(task_id) == get_task(task_id).default_dataset


def test_the_prediction_pipeline_has_one_step_per_task(dagbag: Any) -> None:
    from scoreline.tasks import task_ids

    dag = dagbag.dags.get("scoreline_predict")
    assert dag is not None
    assert sorted(dag.task_ids) == sorted(f"predict_{t.replace('-', '_')}" for t in task_ids())
    assert dag.max_active_runs == 1
