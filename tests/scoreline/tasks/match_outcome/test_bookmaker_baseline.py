"""The bookmaker baseline: reported in every run whose holdout has odds, beside Elo; promotion does not gate on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoreline.lifecycle.promotion import PromotionPolicy, _baseline
from scoreline.ml import evaluation
from scoreline.tasks import get_task
from scoreline.tasks.match_outcome.data import market_probabilities
from tests.scoreline.tasks.match_outcome import football_data_files as fd
from tests.scoreline.tasks.zips import zipped

TASK = get_task("match-outcome")


def _seasons() -> pd.DataFrame:
    files = {f"E0-{year}.csv": fd.season("E0", year, modern=year >= 2019) for year in range(2016, 2021)}
    return TASK.to_canonical(zipped(files), "E0.zip")


def test_the_training_table_carries_market_probabilities_in_its_own_order() -> None:
    canonical = _seasons().sample(frac=1.0, random_state=3).reset_index(drop=True)  # any order in
    table = TASK.training_table(canonical)
    market = table.market  # type: ignore[attr-defined]
    expected = market_probabilities(canonical.sort_values("date", kind="stable"))
    assert market.shape == (len(canonical), 3) and np.allclose(market, expected)


def test_a_run_with_odds_reports_the_bookmaker_baseline_beside_elo(tmp_path: Path) -> None:
    from scoreline.ml.training import train

    # Simulated matches with odds rather than the hand-written seasons: their made-up scores repeat a pattern
    # the booster keeps learning for thousands of rounds (over 10 minutes on a busy machine).
    result = train(TASK, _simulated_with_odds(), artifacts_dir=tmp_path)
    assert {"base_rates", "elo", "bookmaker"} <= result.baseline_metrics.keys()
    assert 0 < result.baseline_metrics["bookmaker"]["rps"] < 1
    # every holdout match with the model's, the market's and Elo's probabilities, for analysts
    holdout = pd.read_csv(result.artifacts["holdout_predictions.csv"])
    assert len(holdout) == result.rows["holdout"]
    for column in ("date", "home_team", "away_team", "actual", "home", "draw", "away", "bookmaker_home", "elo_away"):
        assert column in holdout.columns
    assert set(holdout["actual"]) <= {"home", "draw", "away"}
    market = holdout[["bookmaker_home", "bookmaker_draw", "bookmaker_away"]]
    assert np.allclose(market.sum(axis=1), 1.0, atol=1e-4)  # written with 6 significant digits


def test_data_without_odds_has_no_bookmaker_baseline() -> None:
    canonical = _seasons()
    canonical = canonical.drop(columns=[c for c in canonical.columns if c.startswith("odds_")])
    table = TASK.training_table(canonical)
    rows = np.arange(len(table))
    assert TASK.baselines(table, rows[:100], rows[100:]) == {}


def test_best_baseline_for_promotion_leaves_out_the_market() -> None:
    metrics = {"baseline_bookmaker_rps": 0.19, "baseline_elo_rps": 0.21, "baseline_base_rates_rps": 0.24}
    policy = PromotionPolicy()
    assert _baseline(metrics, "rps", False, "best", policy.reference_baselines) == ("elo", 0.21)
    assert _baseline(metrics, "rps", False, "bookmaker", policy.reference_baselines) == ("bookmaker", 0.19)


def _simulated_with_odds(n: int = 3000, seed: int = 5) -> pd.DataFrame:
    """Simulated matches priced by a market that knows the true probabilities (a 5% margin on top)."""
    from scoreline.tasks.match_outcome.simulator import simulate

    raw, truth = simulate(n, seed)
    canonical = TASK.to_canonical(raw.to_csv(index=False).encode(), "simulated.csv")
    probabilities = truth.to_numpy(dtype=float)
    order = pd.to_datetime(raw["date"]).to_numpy().argsort(kind="stable")  # to_canonical sorts by date
    odds = np.maximum(1.0 / (probabilities[order] * 1.05), 1.01)  # a price is above 1.0 even for a sure thing
    for index, side in enumerate(("home", "draw", "away")):
        canonical[f"odds_psc_{side}"] = odds[:, index]
    return canonical


def test_holdout_rows_without_odds_keep_the_market_comparison_on_the_rows_with_odds(tmp_path: Path) -> None:
    from scoreline.ml.training import train

    canonical = _simulated_with_odds()
    late = np.arange(len(canonical)) >= len(canonical) * 0.7
    unpriced = late & (np.arange(len(canonical)) % 3 == 0)  # a third of the late matches lost their odds
    canonical.loc[unpriced, ["odds_psc_home", "odds_psc_draw", "odds_psc_away"]] = np.nan
    result = train(TASK, canonical, artifacts_dir=tmp_path)

    holdout = pd.read_csv(result.artifacts["holdout_predictions.csv"])
    priced = holdout[["bookmaker_home", "bookmaker_draw", "bookmaker_away"]].notna().all(axis=1).to_numpy()
    assert 0 < priced.sum() < len(holdout)  # the holdout has matches with and without odds
    metrics = result.holdout_metrics
    assert metrics["bookmaker_rows"] == priced.sum()
    actual = holdout["actual"].map({"home": 0, "draw": 1, "away": 2}).to_numpy()[priced]
    model_rps = evaluation.rps(actual, holdout.loc[priced, ["home", "draw", "away"]].to_numpy())
    market_rps = evaluation.rps(actual, holdout.loc[priced, ["bookmaker_home", "bookmaker_draw", "bookmaker_away"]])
    assert result.baseline_metrics["bookmaker"]["rps"] == pytest.approx(market_rps, rel=1e-4)
    assert metrics["gap_to_bookmaker_rps"] == pytest.approx(model_rps - market_rps, abs=1e-5)
    assert metrics["gap_to_bookmaker_rps_pct"] == pytest.approx(100 * (model_rps - market_rps) / market_rps, abs=1e-2)
    assert metrics["gap_to_bookmaker_rps"] > 0  # a market that knows the true probabilities is not beaten
    assert np.isfinite([metrics["gap_to_bookmaker_log_loss"], metrics["gap_to_bookmaker_log_loss_pct"]]).all()
    assert "bookmaker_rows" not in result.bundle.holdout_metrics  # the served model's scores stay its own

    from scoreline.lifecycle.registry import fold_metric_keys, metric_keys

    assert result.fold_metrics
    priced_folds = [fold for fold in result.fold_metrics if "gap_to_bookmaker_rps" in fold]
    assert priced_folds and all(fold["bookmaker_rows"] > 0 for fold in priced_folds)
    keys = fold_metric_keys(result)
    assert "folds_gap_to_bookmaker_rps_mean" in keys and np.isfinite(keys["folds_gap_to_bookmaker_rps_mean"])
    logged = metric_keys(result.holdout_metrics, result.baseline_metrics)
    assert {"holdout_gap_to_bookmaker_rps", "holdout_gap_to_bookmaker_rps_pct", "holdout_bookmaker_rows",
            "baseline_bookmaker_rps"} <= logged.keys()  # fmt: skip
