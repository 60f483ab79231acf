"""The bookmaker baseline: reported in every run whose holdout has odds, beside Elo; promotion does not gate on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scoreline.lifecycle.promotion import PromotionPolicy, _baseline
from scoreline.tasks import get_task
from scoreline.tasks.match_outcome.data import market_probabilities
from tests.scoreline.tasks.match_outcome import football_data_files as fd

TASK = get_task("match-outcome")


def _seasons() -> pd.DataFrame:
    files = {f"E0-{year}.csv": fd.season("E0", year, modern=year >= 2019) for year in range(2016, 2021)}
    return TASK.to_canonical(fd.zipped(files), "E0.zip")


def test_the_training_table_carries_market_probabilities_in_its_own_order() -> None:
    canonical = _seasons().sample(frac=1.0, random_state=3).reset_index(drop=True)  # any order in
    table = TASK.training_table(canonical)
    market = table.market  # type: ignore[attr-defined]
    expected = market_probabilities(canonical.sort_values("date", kind="stable"))
    assert market.shape == (len(canonical), 3) and np.allclose(market, expected)


def test_a_run_on_football_data_reports_the_bookmaker_baseline_beside_elo(tmp_path: Path) -> None:
    from scoreline.ml.training import train

    result = train(TASK, _seasons(), artifacts_dir=tmp_path)
    assert {"base_rates", "elo", "bookmaker"} <= result.baseline_metrics.keys()
    assert 0 < result.baseline_metrics["bookmaker"]["rps"] < 1
    # every holdout match with the model's, the market's and Elo's probabilities, for analysts
    holdout = pd.read_csv(result.artifacts["holdout_predictions.csv"])
    assert len(holdout) == result.rows["holdout"]
    for column in ("date", "home_team", "away_team", "actual", "home", "draw", "away", "bookmaker_home", "elo_away"):
        assert column in holdout.columns
    assert set(holdout["actual"]) <= {"home", "draw", "away"}
    assert np.allclose(holdout[["bookmaker_home", "bookmaker_draw", "bookmaker_away"]].sum(axis=1), 1.0)


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
