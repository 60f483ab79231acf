"""Each page's logic with ``AppTest`` against a real MLflow server and a real model-api process serving a
champion trained by the real pipeline. Ingest and trainer are left down here: those sections must say so
while the rest of the page works (they are exercised with the whole stack in test_browser.py)."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.services.dashboard.conftest import ADMIN_KEY, ServingStack

pytestmark = pytest.mark.slow


def percentages(app: AppTest) -> dict[str, float]:
    return {m.label: float(m.value.rstrip("%")) / 100 for m in app.metric if m.value.endswith("%")}


def test_predict_shows_the_served_models_probabilities(
    serving_stack: ServingStack, run_page: Callable[..., AppTest]
) -> None:
    home, away = serving_stack.teams()[:2]
    app = run_page("predict", serving_stack.env())
    assert not app.exception
    assert app.button(key="predict_button").disabled  # nothing chosen yet

    app.selectbox(key="home_team").set_value(home)
    app.selectbox(key="away_team").set_value(away)
    app.run()
    assert not app.button(key="predict_button").disabled
    app.button(key="predict_button").click().run()

    assert not app.exception and not app.error
    shown = percentages(app)
    assert list(shown) == [f"{home} win", "Draw", f"{away} win"]
    assert sum(shown.values()) == pytest.approx(1.0, abs=0.002)  # three values rounded to 0.1 %
    expected = httpx.post(
        f"{serving_stack.model_api.url}/v1/match-outcome/predict",
        json={"instances": [{"home_team": home, "away_team": away, "date": str(pd.Timestamp.today().date())}]},
        timeout=10,
    ).json()["predictions"][0]["probabilities"]
    assert list(shown.values()) == pytest.approx([expected["home"], expected["draw"], expected["away"]], abs=0.0006)
    assert any(f"version {serving_stack.version}" in c.value for c in app.caption)
    words = app.subheader[0].value  # the likely result in words, with the top probability
    assert f"{max(expected.values()):.0%}" in words and (home in words or away in words or "draw" in words.lower())
    assert app.get("arrow_vega_lite_chart") or app.get("vega_lite_chart")


def test_predict_refuses_the_same_team_twice(serving_stack: ServingStack, run_page: Callable[..., AppTest]) -> None:
    team = serving_stack.teams()[0]
    app = run_page("predict", serving_stack.env())
    app.selectbox(key="home_team").set_value(team)
    app.selectbox(key="away_team").set_value(team)
    app.run()
    assert app.button(key="predict_button").disabled
    assert "Home and away must be two different teams." in [i.value for i in app.info]


def test_predict_team_list_is_the_served_models(serving_stack: ServingStack, run_page: Callable[..., AppTest]) -> None:
    app = run_page("predict", serving_stack.env())
    assert app.selectbox(key="home_team").options == sorted(serving_stack.teams())


def test_batch_predicts_an_uploaded_csv(serving_stack: ServingStack, run_page: Callable[..., AppTest]) -> None:
    teams = serving_stack.teams()
    table = pd.DataFrame({"home_team": teams[:4], "away_team": teams[4:8], "neutral": [False, True, False, False]})
    app = run_page("batch", serving_stack.env())
    assert any("home_team" in i.value for i in app.info)  # the expected columns, before any upload

    app.file_uploader(key="batch_file").set_value(("matches.csv", table.to_csv(index=False).encode(), "text/csv"))
    app.run()
    assert "4 rows" in app.markdown[0].value
    app.button(key="batch_predict").click().run()

    assert not app.exception and not app.error
    assert [s.value for s in app.success] == ["Predicted 4 rows."]
    result = app.dataframe[-1].value
    probability_columns = [
        c for c in result.columns if c not in table.columns and pd.api.types.is_float_dtype(result[c])
    ]
    assert len(probability_columns) >= 3
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


def test_models_shows_served_and_registered_versions(
    serving_stack: ServingStack, run_page: Callable[..., AppTest]
) -> None:
    app = run_page("models", serving_stack.env())
    assert not app.exception and not app.error
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Served version"] == serving_stack.version
    assert metrics["Champion"] == f"v{serving_stack.version}"
    versions = app.dataframe[1].value
    assert serving_stack.version in set(versions["version"])
    assert any(c.startswith("holdout ") for c in versions.columns)
    assert "Enter the admin key to see the promotion history." in [i.value for i in app.info]
    assert app.button(key="promotion_run").disabled  # no admin key entered


def test_models_promotion_history_and_actions_need_the_admin_key(
    serving_stack: ServingStack, run_page: Callable[..., AppTest]
) -> None:
    app = run_page("models", serving_stack.env())
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


def test_data_lists_dataset_versions_and_manifests(
    serving_stack: ServingStack, run_page: Callable[..., AppTest]
) -> None:
    manifest = httpx.get(
        f"{serving_stack.ingest.url}/v1/datasets/match-outcome/simulated/versions/{serving_stack.dataset_version}",
        timeout=10,
    ).json()
    app = run_page("data", serving_stack.env())
    assert not app.exception and not app.error
    assert app.selectbox(key="data_task").value == "match-outcome"
    assert app.selectbox(key="data_dataset").value == "simulated"
    assert app.selectbox(key="data_version").value == serving_stack.dataset_version
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Rows"] == f"{manifest['rows']:,}"
    assert metrics["Columns"] == str(len(manifest["columns"]))
    assert serving_stack.dataset_version in set(app.dataframe[0].value["version"])


def test_monitoring_shows_logged_predictions_and_drift(
    serving_stack: ServingStack, run_page: Callable[..., AppTest]
) -> None:
    teams = serving_stack.teams()
    instances = [{"home_team": teams[i % 6], "away_team": teams[(i % 6) + 6]} for i in range(30)]
    api = serving_stack.model_api.url
    assert httpx.post(f"{api}/v1/match-outcome/predict", json={"instances": instances}, timeout=10).status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sum(1 for _ in _log_lines(serving_stack)) < 30:
        time.sleep(0.1)
    run = httpx.post(f"{api}/v1/admin/monitor", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60)
    assert run.status_code == 200, run.text

    app = run_page("monitoring", serving_stack.env())
    assert not app.exception
    assert not app.error, [e.value for e in app.error]
    metrics = {m.label: m.value for m in app.metric}
    assert int(metrics["Predictions"].replace(",", "")) >= 30
    assert {"latency p50", "latency p95", "latency p99"} <= metrics.keys()
    assert any("local prediction log" in c.value for c in app.caption)
    drift_table = app.dataframe[-1].value
    assert {"feature", "psi", "status"} <= set(drift_table.columns)
    assert len(drift_table) >= 3


def _log_lines(stack: ServingStack) -> list[str]:
    return [line for path in stack.prediction_log_dir.glob("*.jsonl") for line in open(path).read().splitlines()]
