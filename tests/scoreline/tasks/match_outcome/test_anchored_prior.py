"""The anchored prior (issue 16): a logistic prior that starts from the goal models' own H/D/A forecast.

Few rows keep the anchor's forecast; many rows from a world the anchor gets wrong teach the correction; the
walk-forward choice of the penalty picks the anchor on noise and the correction on signal; the goal models'
log-probability features are a forecast of their own (each row's probabilities sum to one)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoreline.core.errors import ScorelineError
from scoreline.ml import evaluation
from scoreline.ml.modeling import LogisticPrior
from scoreline.ml.training import PRIOR_C_GRID, _anchored_prior_c, _fit_weights, _recency
from scoreline.tasks import get_task
from scoreline.tasks.base import TrainingTable
from scoreline.tasks.match_outcome.features import build_features

TASK = get_task("match-outcome")
ANCHOR = ("logp_home", "logp_draw", "logp_away")


def _world(n: int, seed: int, distortion: float) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Anchor forecasts and outcomes drawn from the anchor's logits scaled by ``distortion`` (1 = anchor is right)."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, 0.8, n)
    logits = np.column_stack([0.25 + strength / 2, np.full(n, -0.1), -strength / 2])
    anchor_p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    true_logits = distortion * np.log(anchor_p)
    true_p = np.exp(true_logits) / np.exp(true_logits).sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(3, p=row) for row in true_p])
    frame = pd.DataFrame(np.log(anchor_p), columns=list(ANCHOR)).assign(noise=rng.normal(size=n))
    return frame, labels, anchor_p


def test_with_few_rows_and_a_strong_penalty_the_prior_is_the_anchor_forecast() -> None:
    frame, labels, anchor_p = _world(60, seed=1, distortion=1.0)
    prior = LogisticPrior.fit(frame, labels, 3, c=1e-4, anchor=ANCHOR)
    probabilities = prior.probabilities(frame.to_numpy())
    assert np.abs(probabilities - anchor_p).max() < 0.01


def test_many_rows_from_a_world_the_anchor_gets_wrong_teach_the_correction() -> None:
    frame, labels, _ = _world(6000, seed=2, distortion=1.8)
    test_frame, test_labels, test_anchor = _world(3000, seed=3, distortion=1.8)
    prior = LogisticPrior.fit(frame, labels, 3, c=1.0, anchor=ANCHOR)
    learnt = evaluation.log_loss(test_labels, prior.probabilities(test_frame.to_numpy()))
    assert learnt < evaluation.log_loss(test_labels, test_anchor) - 0.005


def test_an_anchored_prior_is_a_plain_linear_prior_that_survives_json() -> None:
    frame, labels, _ = _world(500, seed=4, distortion=1.3)
    prior = LogisticPrior.fit(frame, labels, 3, c=0.1, anchor=ANCHOR)
    again = LogisticPrior.from_json(prior.to_json())
    rows = frame.to_numpy()
    assert np.allclose(again.margin(rows), prior.margin(rows))
    # The same linear form the serving path compiles: standardized features @ coef.T + intercept.
    standardized = (rows - np.array(prior.mean)) / np.array(prior.scale)
    manual = standardized @ np.array(prior.coef).T + np.array(prior.intercept)
    assert np.allclose(manual, prior.margin(rows))


def test_the_penalty_is_chosen_walk_forward() -> None:
    noise_frame, noise_labels, _ = _world(1200, seed=5, distortion=1.0)
    assert _anchored_prior_c(TASK, noise_frame, noise_labels, ANCHOR) <= PRIOR_C_GRID[1]
    signal_frame, signal_labels, _ = _world(2000, seed=6, distortion=3.0)
    assert _anchored_prior_c(TASK, signal_frame, signal_labels, ANCHOR) > PRIOR_C_GRID[0]


def test_an_anchor_must_be_one_prior_feature_per_class() -> None:
    frame, labels, _ = _world(100, seed=7, distortion=1.0)
    with pytest.raises(ScorelineError, match="one anchor feature per class"):
        LogisticPrior.fit(frame, labels, 3, anchor=("logp_home", "logp_draw"))
    with pytest.raises(ScorelineError, match="one anchor feature per class"):
        LogisticPrior.fit(frame, labels, 3, anchor=("logp_home", "logp_draw", "missing"))


def test_the_goal_models_log_probabilities_are_a_forecast() -> None:
    raw, _ = TASK.simulate(600, seed=11)
    features, _ = build_features(raw.rename(columns={"tournament": "competition"}))
    assert set(TASK.prior_anchor) <= set(TASK.prior_features)
    probabilities = np.exp(features[list(TASK.prior_anchor)].to_numpy())
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-9)
    assert (probabilities > 0).all()


@pytest.mark.parametrize("anchor", [ANCHOR, ()])
def test_a_row_weight_of_two_counts_as_the_row_seen_twice(anchor: tuple[str, ...]) -> None:
    """Recency weights (issue 16) in both the anchored and the plain prior: weight 2 on half the rows is the same
    fit as those rows duplicated, up to the penalty, which is per mean weight (the same C on the duplicated rows)."""
    frame, labels, _ = _world(800, seed=6, distortion=1.4)
    doubled = np.arange(len(labels)) % 2 == 0
    weight = np.where(doubled, 2.0, 1.0)
    index = np.concatenate([np.arange(len(labels)), np.flatnonzero(doubled)])
    duplicated = frame.iloc[index].reset_index(drop=True)
    c = 0.5
    weighted = LogisticPrior.fit(frame, labels, 3, c=c, anchor=anchor, sample_weight=weight)
    # Per row the penalty is 1 / (2 C n): n grows by the duplicates, so the duplicated fit's C scales the same way.
    copies = LogisticPrior.fit(duplicated, labels[index], 3, c=c, anchor=anchor)
    plain = LogisticPrior.fit(frame, labels, 3, c=c, anchor=anchor)
    rows = frame.to_numpy()
    assert np.abs(weighted.probabilities(rows) - copies.probabilities(rows)).max() < 2e-3
    assert (
        np.abs(weighted.probabilities(rows) - plain.probabilities(rows)).max()
        > 5 * np.abs(weighted.probabilities(rows) - copies.probabilities(rows)).max()
    )


def test_recency_weights_halve_per_half_life_before_each_fits_latest_row() -> None:
    dates = np.array(["2000-01-01", "2000-01-11", "2000-01-21", "2000-01-31"], dtype="datetime64[D]")
    table = TrainingTable(features=pd.DataFrame({"x": np.zeros(4)}), target=np.zeros(4, dtype=int), dates=dates)

    class Recent(type(TASK)):  # type: ignore[misc]
        recency_half_life_days = 10.0

    class Alike(type(TASK)):  # type: ignore[misc]
        recency_half_life_days = None

    assert _recency(Alike(), table) is None  # a task that asks none: every row alike
    log2 = _recency(Recent(), table)
    assert log2 is not None
    first_three = _fit_weights(log2, np.array([True, True, True, False]))
    assert first_three is not None
    assert first_three.mean() == pytest.approx(1.0)
    assert first_three[2] / first_three[1] == pytest.approx(2.0) and first_three[1] / first_three[0] == pytest.approx(
        2.0
    )
    assert _fit_weights(None, np.ones(4, dtype=bool)) is None

    class Broken(type(TASK)):  # type: ignore[misc]
        recency_half_life_days = 0.0

    with pytest.raises(ScorelineError, match="half-life"):
        _recency(Broken(), table)
