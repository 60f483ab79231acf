"""Drift of a window of logged predictions against the reference profile stored in the served model.

Numbers: PSI on the reference's quantile bins and the two-sample Kolmogorov-Smirnov test against the
reference sample. Categories: PSI, chi-square and the Jensen-Shannon distance on the category
frequencies. Predictions: the same on the predicted-class distribution. Each gets ok / warn / alert
from the thresholds in ``MonitoringSettings``; the task alerts when the alert rule holds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel
from scipy import stats
from scipy.spatial.distance import jensenshannon

from scoreline.monitoring.settings import MonitoringSettings

Status = Literal["ok", "warn", "alert"]
TaskStatus = Literal["ok", "warn", "alert", "insufficient_data", "no_reference"]
EPSILON = 1e-4  # floor for empty bins, so PSI stays finite
_RANK = {"ok": 0, "warn": 1, "alert": 2}


class FeatureDrift(BaseModel):
    feature: str
    kind: Literal["numeric", "categorical", "prediction"]
    rows: int
    psi: float
    statistic: float | None  # KS D for numbers, Jensen-Shannon distance for categories and predictions
    statistic_name: str
    p_value: float | None  # KS for numbers, chi-square for categories and predictions
    status: Status


class TaskDrift(BaseModel):
    task: str
    model_version: str | None
    window_start: str | None
    window_end: str | None
    rows: int
    status: TaskStatus
    alert: bool  # the alert rule holds
    features_in_alert: list[str]
    prediction_drift: bool
    features: list[FeatureDrift]
    prediction: FeatureDrift | None


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two distributions over the same bins."""
    e = np.clip(np.asarray(expected, dtype=float), EPSILON, None)
    a = np.clip(np.asarray(actual, dtype=float), EPSILON, None)
    e, a = e / e.sum(), a / a.sum()
    return float(np.sum((a - e) * np.log(a / e)))


def bin_fractions(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Fractions of ``values`` in the reference bins; values beyond the outer edges count in the outer bins."""
    inner = np.asarray(edges[1:-1], dtype=float)
    index = np.searchsorted(inner, values, side="right")
    counts = np.bincount(index, minlength=len(edges) - 1).astype(float)
    return counts / max(values.size, 1)


def _status(value: float | None, warn: float, alert: float) -> Status:
    if value is None or math.isnan(value):
        return "ok"
    return "alert" if value >= alert else "warn" if value >= warn else "ok"


def _worst(*statuses: Status) -> Status:
    return max(statuses, key=lambda s: _RANK[s])


def category_key(value: Any) -> str:
    """One spelling per category: 3, 3.0 and "3.0" are all "3"; True and 1.0 are "1"."""
    if isinstance(value, bool):
        return str(int(value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isfinite(number) and number.is_integer():
        return str(int(number))
    return str(value)


def numeric_drift(
    name: str, reference: dict[str, Any], window: np.ndarray, settings: MonitoringSettings
) -> FeatureDrift:
    values = window[np.isfinite(window)]
    edges = reference["edges"]
    if len(edges) > 1 and values.size:
        value_psi = psi(np.asarray(reference["fractions"]), bin_fractions(values, edges))
    else:  # a constant reference feature: any other value is drift
        value_psi = psi(np.array([1.0, 0.0]), np.array([np.mean(values == edges[0]), np.mean(values != edges[0])]))
    sample = np.asarray(reference.get("sample") or [], dtype=float)
    statistic = p_value = None
    if sample.size and values.size:
        result = stats.ks_2samp(sample, values)
        statistic, p_value = float(result.statistic), float(result.pvalue)
    status = _worst(
        _status(value_psi, settings.drift_psi_warn, settings.drift_psi_alert),
        _status(statistic, settings.drift_ks_warn, settings.drift_ks_alert),
    )
    return FeatureDrift(
        feature=name,
        kind="numeric",
        rows=int(values.size),
        psi=value_psi,
        statistic=statistic,
        statistic_name="ks",
        p_value=p_value,
        status=status,
    )


def categorical_drift(
    name: str,
    reference: dict[str, float],
    window: Iterable[Any],
    settings: MonitoringSettings,
    kind: Literal["categorical", "prediction"] = "categorical",
) -> FeatureDrift:
    expected_by_key: dict[str, float] = {}
    for value, fraction in reference.items():
        key = category_key(value)
        expected_by_key[key] = expected_by_key.get(key, 0.0) + float(fraction)
    observed = pd.Series([category_key(v) for v in window if v is not None], dtype=object).value_counts()
    keys = sorted(set(expected_by_key) | set(observed.index))
    expected = np.array([expected_by_key.get(k, 0.0) for k in keys])
    counts = np.array([float(observed.get(k, 0)) for k in keys])
    rows = int(counts.sum())
    if rows == 0:
        return FeatureDrift(
            feature=name, kind=kind, rows=0, psi=0.0, statistic=None, statistic_name="jensen_shannon",
            p_value=None, status="ok",
        )  # fmt: skip
    actual = counts / rows
    value_psi = psi(expected, actual)
    distance = float(jensenshannon(np.clip(expected, EPSILON, None), np.clip(actual, EPSILON, None), base=2))
    floored = np.clip(expected, EPSILON, None)
    p_value = float(stats.chisquare(counts, floored / floored.sum() * rows).pvalue) if len(keys) > 1 else 1.0
    status = _worst(
        _status(value_psi, settings.drift_psi_warn, settings.drift_psi_alert),
        _status(distance, settings.drift_js_warn, settings.drift_js_alert),
    )
    return FeatureDrift(
        feature=name,
        kind=kind,
        rows=rows,
        psi=value_psi,
        statistic=distance,
        statistic_name="jensen_shannon",
        p_value=p_value,
        status=status,
    )


def compute_drift(
    task: str,
    profile: dict[str, Any] | None,
    window: pd.DataFrame,
    settings: MonitoringSettings,
    *,
    model_version: str | None = None,
) -> TaskDrift:
    """Drift of ``window`` (a frame from ``scoreline.monitoring.logs``: ``timestamp``, ``prediction``
    and one ``features.<name>`` / ``inputs.<name>`` column per logged value) against ``profile``."""
    rows = len(window)
    start = end = None
    if rows:
        start, end = window["timestamp"].min().isoformat(), window["timestamp"].max().isoformat()

    def result(status: TaskStatus, features: list[FeatureDrift], prediction: FeatureDrift | None) -> TaskDrift:
        in_alert = [f.feature for f in features if f.status == "alert"]
        prediction_drift = prediction is not None and prediction.status == "alert"
        alert = status not in ("insufficient_data", "no_reference") and (
            len(in_alert) >= settings.drift_alert_min_features or prediction_drift
        )
        if status == "ok":
            statuses = [f.status for f in features] + ([prediction.status] if prediction else [])
            status = "alert" if alert else "warn" if any(s != "ok" for s in statuses) else "ok"
        return TaskDrift(
            task=task,
            model_version=model_version,
            window_start=start,
            window_end=end,
            rows=rows,
            status=status,
            alert=alert,
            features_in_alert=in_alert,
            prediction_drift=prediction_drift,
            features=features,
            prediction=prediction,
        )

    if not profile or not (profile.get("numeric") or profile.get("categorical")):
        return result("no_reference", [], None)
    if rows < settings.drift_min_rows:
        return result("insufficient_data", [], None)
    features: list[FeatureDrift] = []
    for name, reference in profile.get("numeric", {}).items():
        column = _column(window, name)
        if column is None:
            continue
        features.append(
            numeric_drift(name, reference, pd.to_numeric(column, errors="coerce").to_numpy(float), settings)
        )
    for name, reference in profile.get("categorical", {}).items():
        column = _column(window, name)
        if column is None:
            continue
        features.append(categorical_drift(name, reference, column.tolist(), settings))
    prediction = None
    if profile.get("prediction") and "prediction" in window:
        prediction = categorical_drift(
            "prediction", profile["prediction"], window["prediction"].tolist(), settings, "prediction"
        )
    return result("ok", features, prediction)


def _column(window: pd.DataFrame, name: str) -> pd.Series | None:
    for column in (f"features.{name}", f"inputs.{name}"):
        if column in window:
            return window[column]
    return None


def drift_documents(
    drift: TaskDrift, run_id: str, timestamp: str, settings: MonitoringSettings
) -> list[dict[str, Any]]:
    """``scoreline-drift`` documents: one per feature and one for the predictions."""
    documents = []
    for item in [*drift.features, *([drift.prediction] if drift.prediction else [])]:
        documents.append(
            {
                "@timestamp": timestamp,
                "run_id": run_id,
                "task": drift.task,
                "model_version": drift.model_version,
                "feature": item.feature,
                "kind": item.kind,
                "psi": item.psi,
                "statistic": item.statistic,
                "statistic_name": item.statistic_name,
                "p_value": item.p_value,
                "status": item.status,
                "psi_warn_threshold": settings.drift_psi_warn,
                "psi_alert_threshold": settings.drift_psi_alert,
                "rows": item.rows,
                "window": {"start": drift.window_start, "end": drift.window_end, "rows": drift.rows},
            }
        )
    return documents
