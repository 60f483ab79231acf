from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoreline.tasks.match_outcome.simulator import (
    DIXON_COLES_RHO,
    RAW_COLUMNS,
    TRUTH_COLUMNS,
    outcome_probabilities,
    simulate,
)


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, pd.DataFrame]:
    return simulate(200_000, seed=11)


def _outcomes(raw: pd.DataFrame) -> np.ndarray:
    return np.select([raw.home_score > raw.away_score, raw.home_score == raw.away_score], [0, 1], 2)


def test_shapes_and_format(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    raw, truth = simulated
    assert list(raw.columns) == list(RAW_COLUMNS)
    assert list(truth.columns) == list(TRUTH_COLUMNS)
    assert len(raw) == len(truth) == 200_000
    dates = pd.to_datetime(raw.date, format="%Y-%m-%d")
    assert dates.is_monotonic_increasing
    assert dates.dt.year.max() - dates.dt.year.min() >= 40  # decades of history
    assert (raw.home_team != raw.away_team).all()
    assert 150 <= pd.concat([raw.home_team, raw.away_team]).nunique() <= 260
    assert (raw.home_score >= 0).all() and (raw.away_score >= 0).all()
    assert raw.neutral.dtype == bool and 0.05 < raw.neutral.mean() < 0.35
    assert raw.tournament.nunique() >= 5


def test_realistic_outcome_rates(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    raw, _ = simulated
    outcome = _outcomes(raw)
    draw_rate = (outcome == 1).mean()
    assert 0.22 <= draw_rate <= 0.27
    assert (outcome == 0).mean() > (outcome == 2).mean()  # home advantage
    goals = (raw.home_score + raw.away_score).mean()
    assert 2.3 < goals < 3.3
    home_venue = ~raw.neutral
    home_rate_at_home = (outcome[home_venue] == 0).mean()
    home_rate_neutral = (outcome[~home_venue] == 0).mean()
    assert home_rate_at_home > home_rate_neutral + 0.03


def test_truth_is_a_distribution(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, truth = simulated
    assert np.allclose(truth.sum(axis=1), 1.0, atol=1e-12)
    assert (truth.to_numpy() > 0).all() and (truth.to_numpy() < 1).all()


def test_truth_is_calibrated(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    raw, truth = simulated
    outcome = _outcomes(raw)
    for k, column in enumerate(TRUTH_COLUMNS):
        p = truth[column].to_numpy()
        bins = np.digitize(p, np.linspace(0, 1, 11)[1:-1])
        for b in np.unique(bins):
            rows = bins == b
            if rows.sum() < 2_000:
                continue
            observed = (outcome[rows] == k).mean()
            tolerance = 4 * np.sqrt(p[rows].mean() * (1 - p[rows].mean()) / rows.sum()) + 0.002
            assert abs(observed - p[rows].mean()) < tolerance, (column, b, observed, p[rows].mean())
    # the truth beats the best constant forecast by a clear margin
    picked = truth.to_numpy()[np.arange(len(outcome)), outcome]
    base = np.bincount(outcome, minlength=3) / len(outcome)
    assert -np.log(picked).mean() < -np.log(base[outcome]).mean() - 0.05


def test_outcome_probabilities_match_brute_force_grid() -> None:
    rate_home = np.array([0.3, 1.4, 2.2, 6.0, 0.9])
    rate_away = np.array([0.5, 1.1, 0.4, 0.2, 3.5])
    goals = np.arange(80)
    from scipy.stats import poisson

    expected = []
    for lh, la in zip(rate_home, rate_away, strict=True):
        grid = np.outer(poisson.pmf(goals, lh), poisson.pmf(goals, la))
        rho = DIXON_COLES_RHO
        grid[0, 0] *= 1 - lh * la * rho
        grid[0, 1] *= 1 + lh * rho
        grid[1, 0] *= 1 + la * rho
        grid[1, 1] *= 1 - rho
        expected.append([np.tril(grid, -1).sum(), np.trace(grid), np.triu(grid, 1).sum()])
    assert np.allclose(outcome_probabilities(rate_home, rate_away), np.array(expected), atol=1e-12)


def test_seeded() -> None:
    first, first_truth = simulate(5_000, seed=3)
    again, again_truth = simulate(5_000, seed=3)
    other, _ = simulate(5_000, seed=4)
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first_truth, again_truth)
    assert not first.equals(other)


def test_rejects_non_positive_n() -> None:
    with pytest.raises(ValueError):
        simulate(0, seed=1)


def test_home_advantage_collapse_halves_it_in_that_year_only() -> None:
    normal, normal_truth = simulate(20_000, seed=5)
    collapsed, collapsed_truth = simulate(20_000, seed=5, home_advantage_collapse=(2021, 0.5))
    year = pd.to_datetime(normal["date"]).dt.year.to_numpy()
    # The same schedule and ratings: only the probabilities of home matches in 2021 (and their scores) move.
    pd.testing.assert_frame_equal(
        normal[["date", "home_team", "away_team"]], collapsed[["date", "home_team", "away_team"]]
    )
    changed = ~np.isclose(normal_truth["p_home"], collapsed_truth["p_home"])
    home_in_2021 = (~normal["neutral"].to_numpy()) & (year == 2021)
    assert changed[home_in_2021].mean() > 0.9
    assert not changed[year < 2020].any() and not changed[year > 2022].any()
    assert (collapsed_truth["p_home"][home_in_2021] < normal_truth["p_home"][home_in_2021]).mean() > 0.9
    with pytest.raises(ValueError):
        simulate(100, seed=1, home_advantage_collapse=(1800, 0.5))
