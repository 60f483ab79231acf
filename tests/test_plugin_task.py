"""A task defined only in tests/ (``tests/fifth_task.py``: goal-total, a regression) goes the whole way through the
real services: ingest → train → register → promote → model-api predict and batch → prediction log → drift, and the
dashboard's Predict page in Chromium. It is registered through ``SCORELINE_TASK_PLUGINS``, the registry every
process reads, so this proves that adding a task needs no change outside its own folder.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest
from scoreline_launcher.stack import LocalStack, resolve_keys

from scoreline.tasks import get_task, task_ids
from tests import lifecycle_checks as check
from tests.servers import REPO, loopback_stack_settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # the first test bootstraps the stack

TASK = "goal-total"
PLUGIN = "tests.fifth_task:GoalTotalTask"


@pytest.fixture(scope="module")
def plugin_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalStack, dict]]:
    wanted = {
        "SCORELINE_TASK_PLUGINS": PLUGIN,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        settings = loopback_stack_settings(tmp_path_factory.mktemp("plugin-stack"), "plugin")
        stack = LocalStack(settings, resolve_keys(settings), say=lambda _: None)
        with stack.running():
            report = stack.bootstrap(tasks=[TASK])
            yield stack, {"tasks": report.tasks, "failed": report.failed}
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def api(stack: LocalStack) -> str:
    return stack.url(stack.settings.model_api_port)


def test_the_plugin_task_is_registered_in_this_process_too(plugin_stack: tuple[LocalStack, dict]) -> None:
    assert TASK in task_ids()
    assert get_task(TASK).kind == "regression"


def test_bootstrap_ingests_trains_promotes_and_serves_it(plugin_stack: tuple[LocalStack, dict]) -> None:
    stack, report = plugin_stack
    assert report["failed"] == {}
    outcome = report["tasks"][TASK]
    assert outcome["decision"]["decision"] == "promoted"
    assert outcome["served_version"] == outcome["decision"]["champion_version"]
    user = {"Authorization": f"Bearer {stack.keys.api_key}"}
    models = httpx.get(f"{api(stack)}/v1/models", headers=user, timeout=10).json()
    served = {m["task"]: m for m in models["models"]}
    assert served[TASK]["version"] == outcome["served_version"]


def test_predict_answers_a_value_in_words(plugin_stack: tuple[LocalStack, dict]) -> None:
    stack, _ = plugin_stack
    schema = httpx.get(f"{api(stack)}/v1/{TASK}/schema", timeout=10).json()
    assert schema["kind"] == "regression"
    teams = schema["entities"]["home_team"]
    example = schema["example_request"]
    response = httpx.post(f"{api(stack)}/v1/{TASK}/predict", json={"instances": [example]}, timeout=10)
    assert response.status_code == 200, response.text
    answer = response.json()["predictions"][0]
    assert isinstance(answer["prediction"], float) and answer["prediction"] > 0
    assert "goals expected" in answer["label"]
    many = [{"home_team": teams[i], "away_team": teams[i + 1]} for i in range(5)]
    values = [p["prediction"] for p in httpx.post(
        f"{api(stack)}/v1/{TASK}/predict", json={"instances": many}, timeout=10
    ).json()["predictions"]]  # fmt: skip
    assert len(values) == 5 and len(set(values)) > 1  # different teams, different expectations


def test_unknown_entities_and_a_team_playing_itself_are_422s(plugin_stack: tuple[LocalStack, dict]) -> None:
    stack, _ = plugin_stack
    schema = httpx.get(f"{api(stack)}/v1/{TASK}/schema", timeout=10).json()
    team = schema["entities"]["home_team"][0]
    unknown = httpx.post(
        f"{api(stack)}/v1/{TASK}/predict", json={"instances": [{"home_team": team + "x", "away_team": team}]}
    )
    assert unknown.status_code == 422
    problem = unknown.json()["error"]["details"]["problems"][0]
    assert problem["field"] == "home_team" and team in problem["closest"]
    itself = httpx.post(f"{api(stack)}/v1/{TASK}/predict", json={"instances": [{"home_team": team, "away_team": team}]})
    assert itself.status_code == 422
    assert itself.json()["error"]["details"]["problems"][0]["field"] == "away_team"


def test_a_batch_file_gets_a_prediction_column(plugin_stack: tuple[LocalStack, dict]) -> None:
    stack, _ = plugin_stack
    teams = httpx.get(f"{api(stack)}/v1/{TASK}/schema", timeout=10).json()["entities"]["home_team"]
    table = pd.DataFrame({"home_team": teams[:6], "away_team": teams[6:12]})
    response = httpx.post(
        f"{api(stack)}/v1/{TASK}/predict/batch",
        files={"file": ("matches.csv", table.to_csv(index=False).encode(), "text/csv")},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    answer = pd.read_csv(io.BytesIO(response.content))
    assert len(answer) == 6
    assert (answer["prediction"] > 0).all()
    assert answer["label"].str.contains("goals expected").all()


def test_predictions_are_logged_and_drift_is_computed(plugin_stack: tuple[LocalStack, dict]) -> None:
    stack, _ = plugin_stack
    teams = check.schema(stack, TASK)["entities"]["home_team"]
    instances = [{"home_team": teams[i % 8], "away_team": teams[(i % 8) + 8]} for i in range(check.DRIFT_ROWS)]
    assert check.predict(stack, TASK, instances).status_code == 200
    records = check.logged_records(stack, TASK, check.DRIFT_ROWS)
    assert len(records) >= check.DRIFT_ROWS
    assert {"home_goal_average", "away_goal_average"} <= set(records[0]["features"])
    result = check.monitor_run(stack, TASK)
    assert result["drift"] is not None and result["status"] != "insufficient_data"
    features = {f["feature"] for f in result["drift"]["features"]}
    assert {"home_goal_average", "away_goal_average"} <= features


def test_a_scheduled_prediction_run_is_stored_and_listed(plugin_stack: tuple[LocalStack, dict]) -> None:
    stack, _ = plugin_stack
    trainer = stack.url(stack.settings.trainer_port)
    user = {"Authorization": f"Bearer {stack.keys.api_key}"}
    assert httpx.post(f"{trainer}/v1/predictions/{TASK}", json={}, timeout=60).status_code == 401
    started = httpx.post(f"{trainer}/v1/predictions/{TASK}", json={}, headers=user, timeout=120)
    assert started.status_code == 201, started.text
    run = started.json()
    assert run["rows"] > 0 and run["model_version"] == plugin_stack[1]["tasks"][TASK]["served_version"]
    listed = httpx.get(f"{trainer}/v1/predictions/{TASK}", headers=user, timeout=10).json()["runs"]
    assert listed[0]["run_id"] == run["run_id"]
    data = httpx.get(f"{trainer}/v1/predictions/{TASK}/{run['run_id']}/data", headers=user).content
    answer = pd.read_csv(io.BytesIO(data))
    assert len(answer) == run["rows"] and (answer["prediction"] > 0).all()


@pytest.mark.browser
def test_the_dashboard_predict_page_predicts_it(plugin_stack: tuple[LocalStack, dict]) -> None:
    check.open_predict_page(plugin_stack[0], TASK, "goals expected")
