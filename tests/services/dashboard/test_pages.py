"""Each page's logic with ``AppTest`` against real services: MLflow with champions trained by the real pipeline
(a three-class task and a forecast), model-api serving them, ingest holding a dataset and the trainer reading
model-api's prediction log. The dashboard is given the three service URLs only."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from scoreline.predlog.jsonl import read_jsonl
from tests.services.dashboard.conftest import ADMIN_KEY, ServingStack

pytestmark = pytest.mark.slow


def percentages(app: AppTest) -> dict[str, float]:
    return {m.label: float(m.value.rstrip("%")) / 100 for m in app.metric if m.value.endswith("%")}


def served_tasks(stack: ServingStack) -> list[str]:
    models = stack.read(f"{stack.model_api.url}/v1/models").json()["models"]
    return sorted(m["task"] for m in models if m["version"])


def predict_page(stack: ServingStack, run_page: Callable[..., AppTest], task: str) -> AppTest:
    app = run_page("predict", stack.env())
    assert not app.exception, [e.value for e in app.exception]
    if app.selectbox(key="predict_task").value != task:
        app.selectbox(key="predict_task").set_value(task).run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    return app


def sent(app: AppTest) -> dict[str, Any]:
    """The instance the page sent with its last prediction."""
    return app.session_state["last_prediction"][1]


def test_predict_a_three_class_task_with_entity_pickers(
    serving_stack: ServingStack, run_page: Callable[..., AppTest]
) -> None:
    schema = serving_stack.schema("match-outcome")
    home, away = schema["entities"]["home_team"][:2]
    app = predict_page(serving_stack, run_page, "match-outcome")
    picker = app.selectbox(key="field_match-outcome_home_team")
    assert picker.options == schema["entities"]["home_team"]  # the served model's names, searchable
    assert picker.value == schema["example_request"]["home_team"]  # defaults from the example request

    picker.set_value(home)
    app.selectbox(key="field_match-outcome_away_team").set_value(away)
    app.run()
    app.button(key="predict_button").click().run()

    assert not app.exception and not app.error, [e.value for e in app.error]
    shown = percentages(app)
    assert list(shown) == schema["classes"]
    assert sum(shown.values()) == pytest.approx(1.0, abs=0.002)  # each rounded to 0.1 %
    instance = sent(app)
    assert (instance["home_team"], instance["away_team"]) == (home, away)
    expected = httpx.post(
        f"{serving_stack.model_api.url}/v1/match-outcome/predict", json={"instances": [instance]}, timeout=10
    ).json()["predictions"][0]
    assert list(shown.values()) == pytest.approx([expected["probabilities"][c] for c in schema["classes"]], abs=6e-4)
    assert app.subheader[-1].value == expected["label"]  # the prediction in the task's words
    assert any(f"version {serving_stack.version}" in c.value for c in app.caption)
    assert app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart")


@pytest.fixture
def every_task(serving_stack: ServingStack) -> list[str]:
    tasks = served_tasks(serving_stack)
    assert len(tasks) >= 2, tasks
    return tasks


def test_predict_every_served_task_from_its_schema_alone(
    serving_stack: ServingStack, run_page: Callable[..., AppTest], every_task: list[str]
) -> None:
    """Whatever tasks model-api serves: the form comes from the schema, the example request fills it, the
    answer is drawn by the task's kind and equals model-api's own answer to the same instance."""
    for task in every_task:
        schema = serving_stack.schema(task)
        app = predict_page(serving_stack, run_page, task)
        for field, names in (schema.get("entities") or {}).items():
            assert app.selectbox(key=f"field_{task}_{field}").options == names
        app.button(key="predict_button").click().run()
        assert not app.exception and not app.error, (task, [e.value for e in app.error])
        expected = httpx.post(
            f"{serving_stack.model_api.url}/v1/{task}/predict", json={"instances": [sent(app)]}, timeout=10
        ).json()["predictions"][0]
        if schema["kind"] in ("binary", "multiclass"):
            assert list(percentages(app)) == schema["classes"], task
        elif schema["kind"] == "forecast":
            table = next(d.value for d in app.dataframe if "day" in d.value.columns)
            assert list(table["day"]) == list(range(1, schema["horizon"] + 1))
            assert list(table["value"]) == pytest.approx(expected["prediction"], rel=1e-6)
            assert {"p10", "p90"} <= set(table.columns)  # the fan's band
        else:
            assert [m.label for m in app.metric] == ["Prediction"]
        assert app.subheader[-1].value == expected["label"], task
        assert app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart")


def test_predict_shows_the_services_refusal(serving_stack: ServingStack, run_page: Callable[..., AppTest]) -> None:
    team = serving_stack.teams()[0]
    app = predict_page(serving_stack, run_page, "match-outcome")
    app.selectbox(key="field_match-outcome_home_team").set_value(team)
    app.selectbox(key="field_match-outcome_away_team").set_value(team)
    app.run()
    app.button(key="predict_button").click().run()
    assert not app.exception
    assert app.error and "rejected the request (422)" in app.error[0].value


def test_batch_predicts_an_uploaded_csv(serving_stack: ServingStack, run_page: Callable[..., AppTest]) -> None:
    teams = serving_stack.teams()
    table = pd.DataFrame({"home_team": teams[:4], "away_team": teams[4:8], "neutral": [False, True, False, False]})
    app = run_page("batch", serving_stack.env())
    app.selectbox(key="batch_task").set_value("match-outcome").run()
    assert any("home_team" in i.value for i in app.info)  # the expected columns, before any upload

    app.file_uploader(key="batch_file").set_value(("matches.csv", table.to_csv(index=False).encode(), "text/csv"))
    app.run()
    assert "4 rows" in app.markdown[0].value
    app.button(key="batch_predict").click().run()

    assert not app.exception and not app.error
    assert [s.value for s in app.success] == ["Predicted 4 rows."]
    result = app.dataframe[-1].value
    assert {f"prob_{c}" for c in serving_stack.schema()["classes"]} <= set(result.columns)
    assert {"prediction", "label"} <= set(result.columns) and len(result) == 4
    assert app.get("download_button")


def test_batch_explains_a_file_that_is_not_a_table(
    serving_stack: ServingStack, run_page: Callable[..., AppTest]
) -> None:
    app = run_page("batch", serving_stack.env())
    app.file_uploader(key="batch_file").set_value(
        ("matches.parquet", b"not parquet at all", "application/octet-stream")
    )
    app.run()
    assert not app.exception
    assert app.error and "could not be read as PARQUET" in app.error[0].value


def test_trainer_lists_registered_versions_with_metrics(serving_stack: ServingStack) -> None:
    for task, version in serving_stack.versions.items():
        listing = serving_stack.read(f"{serving_stack.trainer.url}/v1/models/{task}/versions").json()
        assert listing["aliases"]["champion"] == version
        entry = next(v for v in listing["versions"] if v["version"] == version)
        assert "champion" in entry["aliases"] and entry["tags"]["dataset_version"] == "sim-dashboard"
        assert listing["primary_metric"] in entry["holdout"]
        assert entry["baselines"] and all(entry["baselines"].values())
    forecast = serving_stack.read(f"{serving_stack.trainer.url}/v1/models/event-traffic/versions").json()
    baselines = forecast["versions"][0]["baselines"]
    assert any(metric.endswith("_d10") for scores in baselines.values() for metric in scores)
    assert serving_stack.read(f"{serving_stack.trainer.url}/v1/models/no-such-task/versions").status_code == 404


def test_models_shows_served_and_registered_versions(
    serving_stack: ServingStack, run_page: Callable[..., AppTest]
) -> None:
    app = run_page("models", serving_stack.env())
    app.selectbox(key="models_task").set_value("match-outcome").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Served version"] == serving_stack.version
    assert metrics["Champion"] == f"v{serving_stack.version}"
    versions = next(d.value for d in app.dataframe if "version" in d.value.columns)
    assert serving_stack.version in set(versions["version"])
    assert any(c.startswith("holdout ") for c in versions.columns)
    assert "Enter the admin key to see the promotion history." in [i.value for i in app.info]
    assert app.button(key="promotion_run").disabled  # no admin key entered
    assert not [s for s in app.subheader if s.value == "Error by horizon day"]  # not a forecast


def test_models_shows_a_forecasts_error_by_horizon_day(
    serving_stack: ServingStack, run_page: Callable[..., AppTest]
) -> None:
    app = run_page("models", serving_stack.env())
    app.selectbox(key="models_task").set_value("event-traffic").run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert [s.value for s in app.subheader if s.value == "Error by horizon day"]
    assert set(app.selectbox(key="horizon_metric").options) >= {"mae", "smape"}


def test_models_promotion_history_and_actions_need_the_admin_key(
    serving_stack: ServingStack, run_page: Callable[..., AppTest]
) -> None:
    app = run_page("models", serving_stack.env())
    app.selectbox(key="models_task").set_value("match-outcome").run()
    app.text_input(key="admin_key").input("not-the-key").run()
    assert [e.value for e in app.error] == [
        "trainer refused the key (the bearer token is not the admin key). Check the key and try again."
    ]

    app.text_input(key="admin_key").input(ADMIN_KEY).run()
    assert not app.exception and not app.error
    assert "No promotion has happened yet." in [i.value for i in app.info]
    app.radio(key="promotion_action").set_value("rollback").run()
    app.button(key="promotion_run").click().run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and errors[0].startswith("trainer rejected the request (409)")
    assert "nothing to roll back to" in errors[0]


def test_models_reads_the_history_with_the_configured_key_only_when_allowed(
    serving_stack: ServingStack, run_page: Callable[..., AppTest]
) -> None:
    env = {**serving_stack.env(), "SCORELINE_ADMIN_KEY": ADMIN_KEY, "SCORELINE_DASHBOARD_READ_PROMOTIONS": "false"}
    app = run_page("models", env)
    assert "Enter the admin key to see the promotion history." in [i.value for i in app.info]
    app = run_page("models", {**env, "SCORELINE_DASHBOARD_READ_PROMOTIONS": "true"})
    assert not app.error and "No promotion has happened yet." in [i.value for i in app.info]
    assert app.button(key="promotion_run").disabled  # actions still ask a person for the key


def test_data_lists_versions_notes_and_column_distributions(
    serving_stack: ServingStack, run_page: Callable[..., AppTest]
) -> None:
    manifest = serving_stack.read(
        f"{serving_stack.ingest.url}/v1/datasets/match-outcome/simulated/versions/{serving_stack.dataset_version}"
    ).json()
    app = run_page("data", serving_stack.env())
    assert not app.exception and not app.error, [e.value for e in app.error]
    assert app.selectbox(key="data_task").value == "match-outcome"
    assert app.selectbox(key="data_dataset").value == "simulated"
    assert app.selectbox(key="data_version").value == serving_stack.dataset_version
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Rows"] == f"{manifest['rows']:,}"
    assert metrics["Columns"] == str(len(manifest["columns"]))
    assert serving_stack.dataset_version in set(app.dataframe[0].value["version"])
    summary = next(d.value for d in app.dataframe if "kind" in d.value.columns)
    assert list(summary["column"]) == manifest["columns"]  # every column, none named by the page
    assert set(summary["kind"]) >= {"numeric", "categorical"}
    chosen = app.multiselect(key="data_columns").value
    assert chosen == manifest["columns"][:4]
    assert len(app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart")) == len(chosen)
    if manifest.get("notes"):
        assert any("Notes from the adapter" in m.value for m in app.markdown)


def _log_lines(stack: ServingStack) -> int:
    """Complete lines only (with their newline): the sink may be writing a file meanwhile."""
    return len(read_jsonl(stack.prediction_log_dir))


def test_monitoring_shows_traffic_entities_and_drift_from_the_trainer(
    serving_stack: ServingStack, run_page: Callable[..., AppTest]
) -> None:
    teams = serving_stack.teams()
    instances = [{"home_team": teams[i % 6], "away_team": teams[(i % 6) + 6]} for i in range(30)]
    api = serving_stack.model_api.url
    before = _log_lines(serving_stack)
    assert httpx.post(f"{api}/v1/match-outcome/predict", json={"instances": instances}, timeout=10).status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _log_lines(serving_stack) < before + 30:
        time.sleep(0.1)
    run = httpx.post(
        f"{serving_stack.trainer.url}/v1/monitor/runs",
        json={"tasks": ["match-outcome"]},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=120,
    )
    assert run.status_code == 200, run.text

    app = run_page("monitoring", serving_stack.env())
    app.selectbox(key="monitoring_task").set_value("match-outcome").run()
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    metrics = {m.label: m.value for m in app.metric}
    assert int(metrics["Predictions"].replace(",", "")) >= 30
    assert {"latency p50", "latency p95", "latency p99"} <= metrics.keys()
    assert any("local prediction log" in c.value for c in app.caption)
    drift_table = next(d.value for d in app.dataframe if "psi" in d.value.columns)
    assert {"feature", "psi", "status"} <= set(drift_table.columns)
    assert len(drift_table) >= 3
    versions = next(d.value for d in app.dataframe if "predictions" in d.value.columns)
    assert serving_stack.version in set(versions["version"])
