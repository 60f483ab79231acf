"""What every run logs for analysts, read back from the running services (match-outcome on the real international
results): the per-match holdout predictions beside each baseline's, and the holdout calibration table the
dashboard's Models page draws as a reliability diagram (trainer ``GET /v1/models/{task}/versions/{v}/calibration``)."""

from __future__ import annotations

import io

import httpx
import pandas as pd
import pytest
from scoreline_client import ServiceError
from scoreline_launcher.stack import LocalStack

from scoreline.lifecycle.registry import Registry

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
TASK = "match-outcome"


def test_the_champions_calibration_and_holdout_predictions(recent_results_stack: LocalStack) -> None:
    trainer = recent_results_stack.clients().trainer
    champion = recent_results_stack.clients().model_api.models().get(TASK)
    assert champion is not None and champion.version
    version = str(champion.version)
    answer = trainer.calibration(TASK, version)
    bins = pd.DataFrame(answer["bins"])
    assert answer["version"] == version
    assert set(bins["class"]) == {"home", "draw", "away"}
    assert bins["predicted"].between(0, 1).all() and bins["observed"].between(0, 1).all()
    per_class = bins.groupby("class")["count"].sum()
    assert per_class.nunique() == 1  # every holdout match counted once per class
    # The same run's per-match holdout predictions: one row per holdout match, the model's and the baselines'.
    registry = Registry(recent_results_stack.url(recent_results_stack.settings.mlflow_port))
    holdout = pd.read_csv(io.BytesIO(registry.run_artifact(answer["run_id"], "evaluation/holdout_predictions.csv")))
    assert len(holdout) == int(per_class.iloc[0]) > 1000
    assert {"home_team", "away_team", "date", "actual", "home", "draw", "away", "elo_home"} <= set(holdout.columns)
    assert holdout[["home", "draw", "away"]].sum(axis=1).round(3).eq(1.0).all()
    # Asked for a version that is not there: 404 with a JSON error.
    with pytest.raises(ServiceError) as missing:
        trainer.calibration(TASK, "9999")
    assert missing.value.status == 404
    response = httpx.get(
        f"{trainer.base_url}/v1/models/{TASK}/versions/9999/calibration",
        headers={"Authorization": f"Bearer {recent_results_stack.keys.api_key}"},
        timeout=30,
    )
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
