"""Metric values against hand computations; artifacts are real image files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoreline.ml import evaluation

PROBABILITIES = np.array([[0.7, 0.2, 0.1], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6]])
LABELS = np.array([0, 2, 2])


def test_log_loss_by_hand() -> None:
    expected = -(math.log(0.7) + math.log(0.3) + math.log(0.6)) / 3
    assert evaluation.log_loss(LABELS, PROBABILITIES) == pytest.approx(expected)


def test_log_loss_is_finite_for_a_zero_probability() -> None:
    assert evaluation.log_loss([1], [[1.0, 0.0, 0.0]]) == pytest.approx(-math.log(1e-15))


def test_rps_by_hand() -> None:
    # Row 1: cumulative (0.7, 0.9) vs (1, 1): 0.09 + 0.01 = 0.10, halved = 0.05.
    # Row 2: (0.2, 0.7) vs (0, 0): 0.04 + 0.49 = 0.53 -> 0.265. Row 3: (0.1, 0.4) vs (0, 0): 0.17 -> 0.085.
    assert evaluation.rps(LABELS, PROBABILITIES) == pytest.approx((0.05 + 0.265 + 0.085) / 3)


def test_rps_rewards_near_misses_over_far_misses() -> None:
    assert evaluation.rps([0], [[0.0, 1.0, 0.0]]) < evaluation.rps([0], [[0.0, 0.0, 1.0]])


def test_brier_by_hand() -> None:
    row1 = 0.3**2 + 0.2**2 + 0.1**2
    row2 = 0.2**2 + 0.5**2 + 0.7**2
    row3 = 0.1**2 + 0.3**2 + 0.4**2
    assert evaluation.brier(LABELS, PROBABILITIES) == pytest.approx((row1 + row2 + row3) / 3)


def test_accuracy_by_hand() -> None:
    assert evaluation.accuracy(LABELS, PROBABILITIES) == pytest.approx(2 / 3)


def test_ece_by_hand() -> None:
    # Confidences 0.7 (right, bin 7), 0.5 (wrong, bin 5), 0.6 (right, bin 6): each bin has one row.
    expected = (abs(1 - 0.7) + abs(0 - 0.5) + abs(1 - 0.6)) / 3
    assert evaluation.ece(LABELS, PROBABILITIES) == pytest.approx(expected)


def test_ece_is_zero_when_confidence_matches_frequency() -> None:
    probabilities = np.tile([0.75, 0.25], (4, 1))
    assert evaluation.ece([0, 0, 0, 1], probabilities) == pytest.approx(0.0)


def test_roc_auc_by_hand_with_ties() -> None:
    # Positives 0.9 and 0.4; negatives 0.4 and 0.1: pairs won 1 + 1 + 0.5 (tie) + 1 = 3.5 of 4.
    assert evaluation.roc_auc([1, 1, 0, 0], [0.9, 0.4, 0.4, 0.1]) == pytest.approx(3.5 / 4)


def test_f1_by_hand() -> None:
    # Predicted positive: rows 0, 1, 3; true positive rows 0, 2: TP 1, FP 2, FN 1 -> F1 = 2 / 5.
    assert evaluation.f1([1, 0, 1, 0], [0.9, 0.6, 0.2, 0.5]) == pytest.approx(0.4)


def test_regression_metrics_by_hand() -> None:
    actual, predicted = [100.0, 200.0, 0.0], [110.0, 150.0, 0.0]
    assert evaluation.mae(actual, predicted) == pytest.approx(20.0)
    assert evaluation.mape(actual, predicted) == pytest.approx((10 + 25) / 2)
    assert evaluation.smape(actual, predicted) == pytest.approx(100 * (20 / 210 + 100 / 350 + 0) / 3)


def test_score_names_every_metric_and_rejects_unknown_ones() -> None:
    scores = evaluation.score(["rps", "log_loss"], LABELS, PROBABILITIES)
    assert list(scores) == ["rps", "log_loss"]
    with pytest.raises(ValueError, match="unknown metric"):
        evaluation.score(["nope"], LABELS, PROBABILITIES)


def test_calibration_table_counts_every_row_per_class() -> None:
    table = evaluation.calibration_table(LABELS, PROBABILITIES, ("home", "draw", "away"))
    assert table.groupby("class")["count"].sum().to_dict() == {"home": 3, "draw": 3, "away": 3}


def test_plots_are_png_files(tmp_path: Path) -> None:
    calibration = evaluation.calibration_plot(LABELS, PROBABILITIES, ("home", "draw", "away"), tmp_path / "c.png")
    importance = evaluation.feature_importance_plot(pd.Series({"a": 0.7, "b": 0.3}), tmp_path / "i.png")
    for path in (calibration, importance):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
