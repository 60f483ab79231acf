"""Metrics, calibration plots and feature-importance artifacts, generic over tasks.

Probabilities are ``(n, k)`` arrays whose columns follow the task's class order; labels are
class indices. Binary tasks may pass ``(n,)`` probabilities of the positive class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

_EPS = 1e-15


def _as_matrix(probabilities: Any) -> np.ndarray:
    matrix = np.asarray(probabilities, dtype=np.float64)
    if matrix.ndim == 1:
        matrix = np.column_stack([1.0 - matrix, matrix])
    return matrix


def _labels(labels: Any) -> np.ndarray:
    return np.asarray(labels, dtype=np.int64)


def _one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[labels]


def log_loss(labels: Any, probabilities: Any) -> float:
    """Mean negative log probability of the true class (probabilities renormalised, clipped at 1e-15)."""
    p = _as_matrix(probabilities)
    y = _labels(labels)
    p = np.clip(p / p.sum(axis=1, keepdims=True), _EPS, 1.0)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def rps(labels: Any, probabilities: Any) -> float:
    """Ranked probability score for ordered classes: mean over rows of sum_k (F_k - O_k)^2 / (K - 1)."""
    p = _as_matrix(probabilities)
    y = _labels(labels)
    k = p.shape[1]
    cumulative_gap = np.cumsum(p, axis=1)[:, :-1] - np.cumsum(_one_hot(y, k), axis=1)[:, :-1]
    return float(np.mean(np.sum(cumulative_gap**2, axis=1) / (k - 1)))


def brier(labels: Any, probabilities: Any) -> float:
    """Multiclass Brier score: mean over rows of sum_k (p_k - o_k)^2 (0 best, 2 worst)."""
    p = _as_matrix(probabilities)
    y = _labels(labels)
    return float(np.mean(np.sum((p - _one_hot(y, p.shape[1])) ** 2, axis=1)))


def accuracy(labels: Any, probabilities: Any) -> float:
    p = _as_matrix(probabilities)
    return float(np.mean(np.argmax(p, axis=1) == _labels(labels)))


def ece(labels: Any, probabilities: Any, bins: int = 10) -> float:
    """Expected calibration error of the top-label confidence, equal-width bins over [0, 1]."""
    p = _as_matrix(probabilities)
    y = _labels(labels)
    confidence = p.max(axis=1)
    correct = (np.argmax(p, axis=1) == y).astype(np.float64)
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.sum() * abs(correct[members].mean() - confidence[members].mean())
    return float(total / len(y))


def roc_auc(labels: Any, scores: Any) -> float:
    """Binary ROC AUC (probability a random positive outranks a random negative; ties count half)."""
    y = _labels(labels)
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 2:
        s = s[:, 1]
    ranks = pd.Series(s).rank(method="average").to_numpy()
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def f1(labels: Any, probabilities: Any, threshold: float = 0.5) -> float:
    """Binary F1 of the positive class at a probability threshold."""
    y = _labels(labels)
    p = np.asarray(probabilities, dtype=np.float64)
    predicted = (p[:, 1] if p.ndim == 2 else p) >= threshold
    true_positive = int(np.sum(predicted & (y == 1)))
    denominator = int(predicted.sum()) + int((y == 1).sum())
    return float(2 * true_positive / denominator) if denominator else 0.0


def _predicted_positive(probabilities: Any, threshold: float) -> np.ndarray:
    p = np.asarray(probabilities, dtype=np.float64)
    return (p[:, 1] if p.ndim == 2 else p) >= threshold


def precision(labels: Any, probabilities: Any, threshold: float = 0.5) -> float:
    """Binary precision of the positive class at a probability threshold (0 when nothing is predicted positive)."""
    y = _labels(labels)
    predicted = _predicted_positive(probabilities, threshold)
    return float(np.sum(predicted & (y == 1)) / predicted.sum()) if predicted.any() else 0.0


def recall(labels: Any, probabilities: Any, threshold: float = 0.5) -> float:
    """Binary recall of the positive class at a probability threshold."""
    y = _labels(labels)
    predicted = _predicted_positive(probabilities, threshold)
    positives = int((y == 1).sum())
    return float(np.sum(predicted & (y == 1)) / positives) if positives else float("nan")


def pr_auc(labels: Any, scores: Any) -> float:
    """Average precision: the area under the precision-recall curve (step-wise, as scikit-learn)."""
    y = _labels(labels)
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim == 2:
        s = s[:, 1]
    positives = int(y.sum())
    if positives == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    y_sorted, s_sorted = y[order], s[order]
    # One point per distinct score threshold.
    last_of_tie = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), len(s_sorted) - 1]
    true_positives = np.cumsum(y_sorted)[last_of_tie]
    precision_at = true_positives / (last_of_tie + 1)
    recall_at = true_positives / positives
    return float(np.sum(np.diff(np.r_[0.0, recall_at]) * precision_at))


def rmse(actual: Any, predicted: Any) -> float:
    difference = np.asarray(actual, dtype=np.float64) - np.asarray(predicted, dtype=np.float64)
    return float(np.sqrt(np.mean(difference**2)))


def mae(actual: Any, predicted: Any) -> float:
    return float(np.mean(np.abs(np.asarray(actual, dtype=np.float64) - np.asarray(predicted, dtype=np.float64))))


def mape(actual: Any, predicted: Any) -> float:
    """Mean absolute percentage error in percent, over rows whose actual value is not zero."""
    a = np.asarray(actual, dtype=np.float64)
    f = np.asarray(predicted, dtype=np.float64)
    nonzero = a != 0
    return float(100.0 * np.mean(np.abs((a[nonzero] - f[nonzero]) / a[nonzero]))) if nonzero.any() else float("nan")


def smape(actual: Any, predicted: Any) -> float:
    """Symmetric MAPE in percent (0..200); rows where both values are zero count as 0."""
    a = np.asarray(actual, dtype=np.float64)
    f = np.asarray(predicted, dtype=np.float64)
    denominator = np.abs(a) + np.abs(f)
    ratio = np.divide(2.0 * np.abs(f - a), denominator, out=np.zeros_like(a), where=denominator != 0)
    return float(100.0 * np.mean(ratio))


METRICS: dict[str, Callable[..., float]] = {
    "log_loss": log_loss,
    "rps": rps,
    "brier": brier,
    "accuracy": accuracy,
    "ece": ece,
    "roc_auc": roc_auc,
    "f1": f1,
    "precision": precision,
    "recall": recall,
    "pr_auc": pr_auc,
    "mae": mae,
    "rmse": rmse,
    "mape": mape,
    "smape": smape,
}


def score(metric_names: Sequence[str], labels: Any, predictions: Any) -> dict[str, float]:
    """Every named metric of the predictions (probabilities, or values for regression)."""
    unknown = [name for name in metric_names if name not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; expected some of {sorted(METRICS)}")
    return {name: METRICS[name](labels, predictions) for name in metric_names}


# ---- artifacts ----------------------------------------------------------------------------


def calibration_table(labels: Any, probabilities: Any, classes: Sequence[str], bins: int = 10) -> pd.DataFrame:
    """Per class and probability bin: mean predicted probability, observed frequency, count."""
    p = _as_matrix(probabilities)
    y = _labels(labels)
    rows = []
    for k, name in enumerate(classes):
        which = np.minimum((p[:, k] * bins).astype(np.int64), bins - 1)
        observed = (y == k).astype(np.float64)
        for b in range(bins):
            members = which == b
            if members.any():
                rows.append(
                    {
                        "class": name,
                        "bin": b,
                        "predicted": float(p[members, k].mean()),
                        "observed": float(observed[members].mean()),
                        "count": int(members.sum()),
                    }
                )
    return pd.DataFrame(rows, columns=["class", "bin", "predicted", "observed", "count"])


def calibration_plot(
    labels: Any, probabilities: Any, classes: Sequence[str], path: Path, *, title: str = "Calibration", bins: int = 10
) -> Path:
    """Reliability diagram (one line per class) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    table = calibration_table(labels, probabilities, classes, bins)
    figure, axis = plt.subplots(figsize=(5.5, 5.0), dpi=100)
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect")
    for name, group in table.groupby("class", sort=False):
        axis.plot(group["predicted"], group["observed"], marker="o", label=str(name))
    axis.set_xlabel("predicted probability")
    axis.set_ylabel("observed frequency")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_title(title)
    axis.legend(loc="upper left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path


def feature_importance_plot(importance: pd.Series, path: Path, *, title: str = "Feature importance (gain)") -> Path:
    """Horizontal bar chart of importances (largest on top) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    ordered = importance.sort_values()
    figure, axis = plt.subplots(figsize=(6.5, 0.3 * len(ordered) + 1.2), dpi=100)
    axis.barh(ordered.index.astype(str), ordered.to_numpy())
    axis.set_title(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
