"""The ``scoreline_monitor`` DAG end to end with ``dag.test()`` against real ingest, trainer, MLflow and model-api
processes (the training DAG suite's stack): match-outcome trained on real international results and served,
model-api asked the same odd request over and over (the features drift), then one monitor run: the drift alert is
posted to the promotions' webhook (a loopback receiver) and the training DAG is triggered on the newest version of
the task's default dataset (read back over Airflow's REST API; nothing runs it here, there is no scheduler)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest

from tests.conftest import DAGS_FOLDER, REPO, WebhookReceiver
from tests.test_training_dag_e2e import Stack, data_server, stack  # noqa: F401  (module-scoped fixtures)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

TASK = "match-outcome"
TRAIN_DAG = "scoreline_train_match_outcome"
RESULTS = REPO / "data" / "international_results" / "results.csv"
SPLIT = "2024-01-01"  # the first version holds matches since 2015 up to here; the newest appends the rest


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


@pytest.fixture(scope="module")
def served(stack: Stack) -> dict[str, Any]:  # noqa: F811
    """Real results since 2015 in the task's default dataset, a model trained on them, promoted and served; then
    the later matches appended as the newest version (what a retrain should pick up)."""
    from scoreline_client import ScorelineClients

    from scoreline.tasks import get_task

    if not RESULTS.exists():
        pytest.fail(f"the bundled international results are missing: {RESULTS}")
    task = get_task(TASK)
    clients = ScorelineClients.build(
        ingest_url=stack.ingest.url, trainer_url=stack.trainer.url, model_api_url=stack.model_api.url,
        api_key=stack.api_key, admin_key=stack.admin_key, timeout_s=300.0,
    )  # fmt: skip
    results = pd.read_csv(RESULTS)
    recent = results[results["date"] >= "2015-01-01"]
    first = clients.ingest.upload(TASK, task.default_dataset, csv_bytes(recent[recent["date"] < SPLIT]), "early.csv")
    job = clients.trainer.submit_job(TASK, task.default_dataset, first.manifest.version)
    assert clients.trainer.wait_for_job(job.id, timeout_s=900).status == "succeeded"
    decision = clients.trainer.decide(TASK, mode="auto", actor="test")
    assert decision.decision == "promoted", decision
    version = clients.model_api.wait_until_served(TASK, str(decision.champion_version), timeout_s=120)
    newest = clients.ingest.upload_files(
        TASK, task.default_dataset, [("late.csv", csv_bytes(recent[recent["date"] >= SPLIT]))], append=True
    )
    assert newest.created and newest.manifest.version != first.manifest.version
    return {"clients": clients, "version": version, "dataset": task.default_dataset, "newest": newest.manifest}


def test_a_drift_alert_notifies_and_triggers_training_on_the_newest_version(
    stack: Stack,  # noqa: F811
    served: dict[str, Any],
    webhook: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    clients = served["clients"]
    # The same World Cup match at a neutral venue, 150 times: every request feature is one value.
    odd = {"home_team": "Brazil", "away_team": "Argentina", "neutral": True, "competition": "FIFA World Cup",
           "date": "2026-07-01"}  # fmt: skip
    assert len(clients.model_api.predict(TASK, [odd] * 150)["predictions"]) == 150
    monkeypatch.setenv("SCORELINE_NOTIFY_WEBHOOK_URL", webhook.url)

    dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags["scoreline_monitor"]
    run = dag.test(logical_date=datetime(2026, 3, 10, tzinfo=UTC))

    instances = stack.airflow_get(f"/dags/scoreline_monitor/dagRuns/{run.run_id}/taskInstances")["task_instances"]
    states = {ti["task_id"]: ti["state"] for ti in instances}
    assert run.state == "success", states
    summary = stack.airflow_get(
        f"/dags/scoreline_monitor/dagRuns/{run.run_id}/taskInstances/monitor/xcomEntries/return_value"
    )["value"]
    assert summary["alert_tasks"] == [TASK], summary
    assert (states["notify"], states["alert_match_outcome"], states["retrain_match_outcome"]) == (
        "success", "success", "success",
    )  # fmt: skip
    assert states["retrain_esports_win"] == "skipped"  # not served here: no alert
    # The alert, on the promotions' webhook.
    (message,) = webhook.received
    assert message["text"] == f"Scoreline monitor: drift alert for {TASK}; retraining"
    assert "features in alert" in str(message["blocks"])
    # The training DAG, triggered on the newest version of the task's default dataset.
    triggered = stack.airflow_get(f"/dags/{TRAIN_DAG}/dagRuns/monitor__{run.run_id}__match_outcome")
    assert triggered["conf"] == {"task": TASK, "dataset": served["dataset"], "version": served["newest"].version}
