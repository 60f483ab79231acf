"""Live accuracy: logged predictions joined with what really happened, for any task.

The task says how: its ``outcome_keys`` (request fields) and ``outcomes(canonical)`` (the same keys
plus ``outcome``). A key that is the task's date field and was omitted from a request is the day
the prediction was made. Forecasts are joined once per horizon day: the forecast made at origin
``date`` for day ``h`` meets the outcome dated ``date + h``.

Per prediction: log loss, Brier, RPS (tasks scored with it) and whether the most likely class
happened for classification; absolute error and absolute percentage error for values. Then means
per model version and day, and per model version beside that version's holdout metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from scoreline.tasks.base import Task

EPS = 1e-15
# Live metric → the holdout metric it is compared with (mean absolute percentage error is MAPE).
HOLDOUT_NAME = {"log_loss": "log_loss", "rps": "rps", "brier": "brier", "accuracy": "accuracy", "mae": "mae",
                "ape": "mape"}  # fmt: skip


class DailyAccuracy(BaseModel):
    model_version: str
    day: str
    count: int
    metrics: dict[str, float]


class VersionAccuracy(BaseModel):
    model_version: str
    count: int
    metrics: dict[str, float]
    holdout: dict[str, float]  # the version's holdout metrics, for comparison
    delta: dict[str, float]  # live minus holdout, per metric both have


class TaskAccuracy(BaseModel):
    task: str
    predictions: int  # logged predictions in the window
    matched: int  # of which the outcome is known (forecasts: horizon days)
    by_version: list[VersionAccuracy]
    daily: list[DailyAccuracy]


def live_metrics(task: Task) -> tuple[str, ...]:
    if task.kind in ("regression", "forecast"):
        return ("mae", "ape")
    scored = {m.name for m in task.metrics}
    return ("log_loss", *(("rps",) if "rps" in scored else ()), "brier", "accuracy")


def _keyed(task: Task, predictions: pd.DataFrame) -> pd.DataFrame:
    """The predictions with one text column per outcome key (dates as YYYY-MM-DD) and ``day``."""
    frame = predictions.copy()
    made_on = frame["timestamp"].dt.strftime("%Y-%m-%d")
    for key in task.outcome_keys:
        column = frame.get(f"inputs.{key}", pd.Series(None, index=frame.index, dtype=object))
        if key == task.date_column:
            frame[key] = pd.to_datetime(column, errors="coerce").dt.strftime("%Y-%m-%d").fillna(made_on)
        else:
            frame[key] = column.astype("string").str.strip()
    date_key = task.date_column if task.date_column in task.outcome_keys else None
    frame["day"] = frame[date_key] if date_key else made_on
    return frame


def _forecast_rows(task: Task, frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (forecast, horizon day): its target date and forecast value."""
    origin = pd.to_datetime(
        frame.get(f"inputs.{task.date_column}", pd.Series(None, index=frame.index)), errors="coerce"
    ).fillna(frame["timestamp"].dt.tz_localize(None).dt.normalize())
    parts = []
    for day in range(1, task.horizon + 1):
        column = f"probabilities.d{day}"
        if column not in frame:
            continue
        part = frame.assign(horizon=day, value=frame[column].astype(float))
        part["date"] = (origin + pd.Timedelta(days=day)).dt.strftime("%Y-%m-%d")
        part["request_id"] = part["request_id"].astype(str) + f":{day}"
        parts.append(part)
    rows = pd.concat(parts, ignore_index=True) if parts else frame.iloc[0:0].assign(horizon=0, value=0.0)
    rows["day"] = rows["date"]
    return rows


def join_predictions(task: Task, predictions: pd.DataFrame, outcomes: pd.DataFrame) -> pd.DataFrame:
    """One row per matched prediction (forecasts: per horizon day) with its per-prediction scores."""
    metrics = live_metrics(task)
    keys = list(task.outcome_keys)
    empty = pd.DataFrame(columns=["request_id", "model_version", "day", *keys, "prediction", "outcome", *metrics])
    if predictions.empty or outcomes.empty or not keys:
        return empty
    frame = _keyed(task, predictions)
    if task.kind == "forecast":
        frame = _forecast_rows(task, frame)
        keys = [*keys, "date"] if "date" not in keys else keys
    outcomes = outcomes.astype({key: "string" for key in keys if key in outcomes}).drop_duplicates(keys, keep="last")
    joined = frame.drop(columns=["outcome"], errors="ignore").merge(outcomes, on=keys, how="inner")
    if joined.empty:
        return empty
    if task.kind in ("regression", "forecast"):
        predicted = joined["value"] if "value" in joined else joined["prediction"].astype(float)
        actual = joined["outcome"].astype(float)
        joined["prediction"] = predicted
        joined["mae"] = (predicted - actual).abs()
        joined["ape"] = 100.0 * joined["mae"] / actual.abs().where(actual != 0)
        return joined
    classes = list(task.classes)
    p = joined[[f"probabilities.{c}" for c in classes]].to_numpy(dtype=float)
    p = p / p.sum(axis=1, keepdims=True)
    truth = joined["outcome"].map({c: i for i, c in enumerate(classes)})
    joined = joined[truth.notna().to_numpy()]
    p, truth_index = p[truth.notna().to_numpy()], truth.dropna().to_numpy(dtype=int)
    one_hot = np.eye(len(classes))[truth_index]
    rows = np.arange(len(joined))
    joined = joined.assign(
        log_loss=-np.log(np.clip(p, EPS, 1.0)[rows, truth_index]),
        brier=np.sum((p - one_hot) ** 2, axis=1),
        accuracy=(np.argmax(p, axis=1) == truth_index).astype(float),
    )
    if "rps" in metrics:
        gap = np.cumsum(p, axis=1)[:, :-1] - np.cumsum(one_hot, axis=1)[:, :-1]
        joined["rps"] = np.sum(gap**2, axis=1) / (len(classes) - 1)
    return joined


def live_accuracy(
    task: Task,
    predictions: pd.DataFrame,
    results: pd.DataFrame,
    holdout_by_version: dict[str, dict[str, float]],
) -> tuple[TaskAccuracy, pd.DataFrame]:
    """Aggregates of the joined predictions, and the joined rows themselves (for ``outcome_documents``).

    ``results``: the task's canonical table(s) holding what happened."""
    outcomes = task.outcomes(results) if len(results) else pd.DataFrame()
    joined = join_predictions(task, predictions, outcomes)
    metrics = live_metrics(task)
    daily = [
        DailyAccuracy(model_version=str(version), day=str(day), count=len(group), metrics=_means(group, metrics))
        for (version, day), group in joined.groupby(["model_version", "day"], sort=True)
    ]
    by_version = []
    for version, group in joined.groupby("model_version", sort=True):
        means = _means(group, metrics)
        known = holdout_by_version.get(str(version), {})
        holdout = {m: float(known[HOLDOUT_NAME[m]]) for m in metrics if HOLDOUT_NAME[m] in known}
        delta = {m: means[m] - holdout[m] for m in metrics if m in holdout}
        by_version.append(
            VersionAccuracy(model_version=str(version), count=len(group), metrics=means, holdout=holdout, delta=delta)
        )
    report = TaskAccuracy(
        task=task.id, predictions=len(predictions), matched=len(joined), by_version=by_version, daily=daily
    )
    return report, joined


def _means(group: pd.DataFrame, metrics: tuple[str, ...]) -> dict[str, float]:
    return {metric: float(group[metric].mean()) for metric in metrics}


def outcome_documents(
    task: Task, joined: pd.DataFrame, report: TaskAccuracy, timestamp: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """``scoreline-outcomes`` documents and their ids: per prediction (``_id`` = request id) and per
    version and day, so re-running the join overwrites instead of adding."""
    holdout = {v.model_version: v.holdout for v in report.by_version}
    metrics = live_metrics(task)
    keys = [k for k in (*task.outcome_keys, "horizon") if k in joined.columns]
    documents: list[dict[str, Any]] = []
    ids: list[str] = []
    for row in joined.to_dict(orient="records"):
        version = str(row["model_version"])
        document = {
            "@timestamp": row["timestamp"].isoformat(),
            "kind": "prediction",
            "request_id": row["request_id"],
            "task": task.id,
            "model_version": version,
            "day": row["day"],
            **{key: _plain(row[key]) for key in keys},
            "prediction": _plain(row["prediction"]),
            "outcome": _plain(row["outcome"]),
            **{metric: _plain(row[metric]) for metric in metrics},
            "count": 1,
            **{f"holdout_{m}": v for m, v in holdout.get(version, {}).items()},
        }
        if "accuracy" in metrics:
            document["correct"] = bool(row["accuracy"])
        documents.append(document)
        ids.append(str(row["request_id"]))
    for day in report.daily:
        documents.append(
            {
                "@timestamp": timestamp,
                "kind": "daily",
                "task": task.id,
                "model_version": day.model_version,
                "day": day.day,
                "count": day.count,
                **day.metrics,
                **{f"holdout_{m}": v for m, v in holdout.get(day.model_version, {}).items()},
            }
        )
        ids.append(f"{task.id}:{day.model_version}:{day.day}")
    return documents, ids


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is pd.NA:
        return None
    return value
