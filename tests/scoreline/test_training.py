"""Walk-forward training: the quality bars on real and simulated data, windows, baselines, artifacts, tuning."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.ml import evaluation
from scoreline.ml.training import TrainingResult, TuningBudget, evaluate_bundle, train
from scoreline.tasks import get_task

TASK = get_task("match-outcome")
REAL_HOLDOUT = date(2018, 1, 1)
REAL_RPS_BAR = 0.168
REAL_LOG_LOSS_BAR = 0.86
SIMULATED_MATCHES = 80_000
SMALL_SIMULATIONS = ((6_000, 7), (20_000, 7))  # (matches, seed): the local stack's and `make run`'s datasets
SIMULATED_GAP_BAR = 0.015  # model log loss at most 1.5 % above the true probabilities' log loss


@pytest.fixture(scope="module")
def real_table(international_results: Path) -> pd.DataFrame:
    return TASK.to_canonical(international_results.read_bytes(), international_results.name)


@pytest.fixture(scope="module")
def real_result(real_table: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    return train(TASK, real_table, holdout_start=REAL_HOLDOUT, artifacts_dir=tmp_path_factory.mktemp("real"))


def test_real_data_meets_the_quality_bar_and_beats_elo(real_result: TrainingResult) -> None:
    model, elo = real_result.holdout_metrics, real_result.baseline_metrics["elo"]
    assert model["rps"] <= REAL_RPS_BAR
    assert model["log_loss"] <= REAL_LOG_LOSS_BAR
    assert model["rps"] < elo["rps"]
    assert model["log_loss"] < elo["log_loss"]
    assert model["rps"] < real_result.baseline_metrics["base_rates"]["rps"]


def test_real_data_windows_are_walk_forward(real_result: TrainingResult, real_table: pd.DataFrame) -> None:
    assert real_result.holdout_start == REAL_HOLDOUT
    assert real_result.validation_start < real_result.holdout_start <= real_result.holdout_end
    dates = pd.to_datetime(real_table["date"])
    assert real_result.rows["holdout"] == int((dates >= pd.Timestamp(REAL_HOLDOUT)).sum())
    assert real_result.rows["validation"] == int(
        ((dates >= pd.Timestamp(real_result.validation_start)) & (dates < pd.Timestamp(REAL_HOLDOUT))).sum()
    )
    assert sum(real_result.rows.values()) == len(real_table)
    # The serving state is current: as of the end of the data, not of the training window.
    assert real_result.bundle.serving_state["as_of"] == dates.max().date().isoformat()


def test_evaluate_bundle_reproduces_the_holdout_metrics(real_result: TrainingResult, real_table: pd.DataFrame) -> None:
    again = evaluate_bundle(real_result.bundle, real_table, REAL_HOLDOUT)
    for name, value in real_result.holdout_metrics.items():
        assert again[name] == pytest.approx(value, rel=1e-6)


def test_artifacts_and_importance(real_result: TrainingResult) -> None:
    assert {"calibration.png", "feature_importance.png", "metrics.csv"} <= set(real_result.artifacts)
    for path in real_result.artifacts.values():
        assert path.stat().st_size > 0
    assert sum(real_result.feature_importance.values()) == pytest.approx(1.0)
    # Ratings enter through the prior (base margin); the trees learn what it misses, on real data at least something.
    assert real_result.bundle.prior is not None and real_result.bundle.prior.features[0] == "elo_diff"
    assert real_result.params["num_boost_round"] > 0
    assert min(real_result.feature_importance.values()) >= 0.0
    profile = real_result.bundle.reference_profile
    assert "elo_diff" in profile["numeric"] and "tier" in profile["categorical"]
    assert set(profile["prediction"]) <= {"home", "draw", "away"}


def test_simulated_data_is_close_to_the_true_probabilities(tmp_path: Path) -> None:
    raw, truth = TASK.simulate(SIMULATED_MATCHES, seed=7)
    canonical = TASK.to_canonical(raw.to_csv(index=False).encode(), "simulated.csv")
    result = train(TASK, canonical, artifacts_dir=tmp_path)
    holdout = (pd.to_datetime(canonical["date"]) >= pd.Timestamp(result.holdout_start)).to_numpy()
    labels = TASK.target(canonical).to_numpy()[holdout]
    best = evaluation.log_loss(labels, truth[["p_home", "p_draw", "p_away"]].to_numpy()[holdout])
    assert result.holdout_metrics["log_loss"] <= best * (1 + SIMULATED_GAP_BAR)
    assert result.holdout_metrics["log_loss"] < result.baseline_metrics["base_rates"]["log_loss"]


@pytest.mark.parametrize(("matches", "seed"), SMALL_SIMULATIONS)
def test_small_simulated_datasets_beat_the_elo_baseline(matches: int, seed: int, tmp_path: Path) -> None:
    """The promotion policy needs the first model to beat the run's best baseline, even on small data."""
    raw, _ = TASK.simulate(matches, seed=seed)
    canonical = TASK.to_canonical(raw.to_csv(index=False).encode(), "simulated.csv")
    result = train(TASK, canonical, artifacts_dir=tmp_path)
    best_baseline = min(metrics["rps"] for metrics in result.baseline_metrics.values())
    assert result.holdout_metrics["rps"] < best_baseline


def test_the_prior_is_fit_before_the_holdout_only(real_table: pd.DataFrame, real_result: TrainingResult) -> None:
    """Walk-forward prior: rewriting every holdout result leaves the stored prior untouched."""
    rewritten = real_table.copy()
    holdout = (pd.to_datetime(rewritten["date"]) >= pd.Timestamp(REAL_HOLDOUT)).to_numpy()
    rewritten.loc[holdout, ["home_score", "away_score"]] = rewritten.loc[
        holdout, ["away_score", "home_score"]
    ].to_numpy()
    again = train(TASK, rewritten, holdout_start=REAL_HOLDOUT, params={"learning_rate": 0.3})
    assert real_result.bundle.prior is not None
    assert again.bundle.prior == real_result.bundle.prior
    assert again.holdout_metrics["rps"] != real_result.holdout_metrics["rps"]


def test_tuning_runs_within_its_budget_and_reports_progress(tmp_path: Path) -> None:
    raw, _ = TASK.simulate(4_000, seed=3)
    canonical = TASK.to_canonical(raw.to_csv(index=False).encode(), "simulated.csv")
    seen: list[tuple[float, str]] = []
    result = train(
        TASK,
        canonical,
        tuning_budget=TuningBudget(trials=3, seconds=600),  # trials are judged on 3 folds each
        progress=lambda fraction, message: seen.append((fraction, message)),
        artifacts_dir=tmp_path,
    )
    assert result.tuning_trials == 3
    # Every evaluation fold carries its baselines, fit on the fold's own fit rows as the model is.
    assert len(result.fold_baseline_metrics) == len(result.fold_metrics) > 0
    assert all({"base_rates", "elo"} <= set(fold) for fold in result.fold_baseline_metrics)
    assert {"max_depth", "learning_rate", "num_boost_round"} <= set(result.params)
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert np.isfinite(list(result.holdout_metrics.values())).all()


def test_a_holdout_outside_the_data_is_an_input_error() -> None:
    raw, _ = TASK.simulate(500, seed=1)
    canonical = TASK.to_canonical(raw.to_csv(index=False).encode(), "simulated.csv")
    with pytest.raises(ScorelineError) as caught:
        train(TASK, canonical, holdout_start=date(2100, 1, 1))
    assert caught.value.code is ErrorCode.INVALID_INPUT
