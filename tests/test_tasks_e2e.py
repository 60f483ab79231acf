"""Every built-in task end to end on ``make run``'s stack (``local_stack``: each task's simulated data ingested,
trained, promoted and served by the launcher): predict with the served example, a batch file, the prediction
log, drift, and the dashboard's Predict page in Chromium."""

from __future__ import annotations

import pandas as pd
import pytest
from scoreline_launcher.stack import LocalStack

from scoreline.tasks import get_task
from tests import lifecycle_checks as check

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # the first test bootstraps the stack

TASKS = ("esports-win", "player-investment", "event-traffic")


@pytest.mark.parametrize("task", TASKS)
def test_the_served_example_predicts_in_words(local_stack: LocalStack, task: str) -> None:
    schema = check.schema(local_stack, task)
    assert schema["model_version"], f"{task} is not served: {local_stack.report.failed.get(task)}"
    response = check.predict(local_stack, task, [schema["example_request"]])
    assert response.status_code == 200, response.text
    answer = response.json()["predictions"][0]
    kind = get_task(task).kind
    if kind == "forecast":
        assert len(answer["prediction"]) == get_task(task).horizon
        low, high = answer["intervals"]["p10"], answer["intervals"]["p90"]
        assert all(lo <= v <= hi for lo, v, hi in zip(low, answer["prediction"], high, strict=True))
    else:
        assert abs(sum(answer["probabilities"].values()) - 1) < 1e-6
    assert answer["label"]


@pytest.mark.parametrize("task", TASKS)
def test_a_batch_file_is_answered_row_for_row(local_stack: LocalStack, task: str) -> None:
    example = check.schema(local_stack, task)["example_request"]
    table = pd.DataFrame([example] * 5).drop(columns=["events", "timeline", "match"], errors="ignore")
    answer = check.predict_batch(local_stack, task, table)
    assert len(answer) == 5
    assert "label" in answer.columns


@pytest.mark.parametrize("task", TASKS)
def test_predictions_are_logged_and_drift_is_measured(local_stack: LocalStack, task: str) -> None:
    example = check.schema(local_stack, task)["example_request"]
    assert check.predict(local_stack, task, [example] * check.DRIFT_ROWS).status_code == 200
    records = check.logged_records(local_stack, task, check.DRIFT_ROWS)
    assert len(records) >= check.DRIFT_ROWS
    result = check.monitor_run(local_stack, task)
    assert result["drift"] is not None and result["status"] != "insufficient_data", result
    assert {f["feature"] for f in result["drift"]["features"]}


@pytest.mark.browser
@pytest.mark.parametrize("task", TASKS)
def test_the_dashboard_predicts_it(local_stack: LocalStack, task: str) -> None:
    answer_text = {"esports-win": "side wins", "player-investment": "5+ seasons", "event-traffic": "requests/day"}
    check.open_predict_page(local_stack, task, answer_text[task])
