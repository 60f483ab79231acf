"""Scheduled predictions: the champion predicts what a task asks for from newer data, answers kept as a run."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from scoreline.core.errors import ScorelineError
from scoreline.data.storage import LocalStore
from scoreline.ml.training import train
from scoreline.serving.scheduled import PredictionRunStore, predict_dataset
from scoreline.tasks import get_task

TASK = get_task("event-traffic")


@pytest.fixture(scope="module")
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same simulated service: the first 300 days (training data) and all 330 (newer data)."""
    content, name = TASK.simulated_file(330, 4)
    full = TASK.to_canonical(content, name)
    cut = pd.Timestamp(pd.to_datetime(full["date"]).min()) + pd.Timedelta(days=300)
    early = full[pd.to_datetime(full["date"]) < cut].reset_index(drop=True)
    return early, full


def test_forecasts_start_from_the_newest_data_without_retraining(tables: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    early, full = tables
    bundle = train(TASK, early).bundle
    content, rows = predict_dataset(TASK, bundle, full, model_name="m", model_version="3", writer=None)
    answer = pd.read_parquet(io.BytesIO(content))
    expected = TASK.prediction_requests(full)
    assert rows == len(expected) == len(answer)
    assert list(answer["date"]) == list(expected["date"])  # origins are the newest days, past the training data
    assert answer["date"].max() > pd.to_datetime(early["date"]).max().strftime("%Y-%m-%d")
    for day in range(1, TASK.horizon + 1):
        assert (answer[f"low_d{day}"] <= answer[f"forecast_d{day}"]).all()
        assert (answer[f"forecast_d{day}"] <= answer[f"high_d{day}"]).all()
    assert (answer["model_version"] == "3").all()


def test_runs_are_stored_listed_and_read_back(tmp_path: Path, tables: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    store = PredictionRunStore(LocalStore(tmp_path))
    frame = pd.DataFrame({"a": [1, 2]})
    sink = io.BytesIO()
    frame.to_parquet(sink, index=False)
    run = store.write(TASK.id, sink.getvalue(), 2, model_name="m", model_version="1", dataset="d", dataset_version="v")
    assert store.runs(TASK.id)[0].run_id == run.run_id
    assert run.columns == ["a"]
    assert pd.read_parquet(io.BytesIO(store.content(store.run(TASK.id, run.run_id)))).equals(frame)
    with pytest.raises(ScorelineError):
        store.run(TASK.id, "no-such-run")


def test_a_task_without_scheduled_predictions_is_a_conflict(tables: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    task = get_task("match-outcome")
    raw, _ = task.simulate(600, 1)
    canonical = task.to_canonical(raw.to_csv(index=False).encode(), "s.csv")
    bundle = train(task, canonical).bundle
    with pytest.raises(ScorelineError) as caught:
        predict_dataset(task, bundle, canonical, model_name="m", model_version="1", writer=None)
    assert "no scheduled predictions" in caught.value.message
