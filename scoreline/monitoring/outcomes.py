"""Live accuracy: logged predictions joined with what really happened.

A prediction is matched to a result on (match date, home team, away team); its match date is the
request's ``date`` input, or the day it was made when the request had none. Per prediction:
log loss, ranked probability score, Brier and whether the most likely class happened (same
definitions as ``scoreline.evaluation``); then means per model version and day, and per model
version beside that version's holdout metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

EPS = 1e-15
JOIN_KEYS = ("match_date", "home_team", "away_team")
METRICS = ("log_loss", "rps", "brier", "accuracy")


class DailyAccuracy(BaseModel):
    model_version: str
    day: str
    count: int
    log_loss: float
    rps: float
    brier: float
    accuracy: float


class VersionAccuracy(BaseModel):
    model_version: str
    count: int
    log_loss: float
    rps: float
    brier: float
    accuracy: float
    holdout: dict[str, float]  # the version's holdout metrics, for comparison
    delta: dict[str, float]  # live minus holdout, per metric both have


class TaskAccuracy(BaseModel):
    task: str
    predictions: int  # logged predictions in the window
    matched: int  # of which a result is known
    by_version: list[VersionAccuracy]
    daily: list[DailyAccuracy]


def match_outcomes(results: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """Results (canonical match table) as ``match_date, home_team, away_team, outcome`` (a class label)."""
    home, away = results["home_score"].to_numpy(), results["away_score"].to_numpy()
    index = (home < away).astype(int) * 2 + (home == away).astype(int)  # home / draw / away
    return pd.DataFrame(
        {
            "match_date": pd.to_datetime(results["date"]).dt.strftime("%Y-%m-%d").to_numpy(),
            "home_team": results["home_team"].astype(str).str.strip().to_numpy(),
            "away_team": results["away_team"].astype(str).str.strip().to_numpy(),
            "outcome": np.asarray(classes, dtype=object)[index],
        }
    ).drop_duplicates(subset=list(JOIN_KEYS), keep="last")


def join_predictions(predictions: pd.DataFrame, outcomes: pd.DataFrame, classes: Sequence[str]) -> pd.DataFrame:
    """One row per matched prediction with its per-prediction scores."""
    if predictions.empty or outcomes.empty:
        return pd.DataFrame(columns=["request_id", "model_version", *JOIN_KEYS, "prediction", "outcome", *METRICS])
    frame = predictions.copy()
    requested = frame["inputs.date"] if "inputs.date" in frame else pd.Series(None, index=frame.index)
    made_on = frame["timestamp"].dt.strftime("%Y-%m-%d")
    frame["match_date"] = pd.to_datetime(requested, errors="coerce").dt.strftime("%Y-%m-%d").fillna(made_on)
    frame["home_team"] = frame["inputs.home_team"].astype(str).str.strip()
    frame["away_team"] = frame["inputs.away_team"].astype(str).str.strip()
    joined = frame.merge(outcomes, on=list(JOIN_KEYS), how="inner")
    if joined.empty:
        return pd.DataFrame(columns=["request_id", "model_version", *JOIN_KEYS, "prediction", "outcome", *METRICS])
    p = joined[[f"probabilities.{c}" for c in classes]].to_numpy(dtype=float)
    p = p / p.sum(axis=1, keepdims=True)
    truth = joined["outcome"].map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=int)
    one_hot = np.eye(len(classes))[truth]
    rows = np.arange(len(joined))
    joined["log_loss"] = -np.log(np.clip(p, EPS, 1.0)[rows, truth])
    gap = np.cumsum(p, axis=1)[:, :-1] - np.cumsum(one_hot, axis=1)[:, :-1]
    joined["rps"] = np.sum(gap**2, axis=1) / (len(classes) - 1)
    joined["brier"] = np.sum((p - one_hot) ** 2, axis=1)
    joined["accuracy"] = (np.argmax(p, axis=1) == truth).astype(float)
    return joined


def live_accuracy(
    task: str,
    predictions: pd.DataFrame,
    results: pd.DataFrame,
    classes: Sequence[str],
    holdout_by_version: dict[str, dict[str, float]],
) -> tuple[TaskAccuracy, pd.DataFrame]:
    """Aggregates of the joined predictions, and the joined rows themselves (for ``outcome_documents``)."""
    joined = join_predictions(
        predictions, match_outcomes(results, classes) if len(results) else pd.DataFrame(), classes
    )
    daily = [
        DailyAccuracy(model_version=str(version), day=str(day), count=len(group), **_means(group))
        for (version, day), group in joined.groupby(["model_version", "match_date"], sort=True)
    ]
    by_version = []
    for version, group in joined.groupby("model_version", sort=True):
        means = _means(group)
        holdout = {m: float(v) for m, v in holdout_by_version.get(str(version), {}).items() if m in METRICS}
        delta = {m: means[m] - holdout[m] for m in METRICS if m in holdout}
        by_version.append(
            VersionAccuracy(model_version=str(version), count=len(group), holdout=holdout, delta=delta, **means)
        )
    report = TaskAccuracy(
        task=task, predictions=len(predictions), matched=len(joined), by_version=by_version, daily=daily
    )
    return report, joined


def _means(group: pd.DataFrame) -> dict[str, float]:
    return {metric: float(group[metric].mean()) for metric in METRICS}


def outcome_documents(
    task: str, joined: pd.DataFrame, report: TaskAccuracy, timestamp: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """``scoreline-outcomes`` documents and their ids: per prediction (``_id`` = request id) and per
    version and day, so re-running the join overwrites instead of adding."""
    holdout = {v.model_version: v.holdout for v in report.by_version}
    documents: list[dict[str, Any]] = []
    ids: list[str] = []
    for row in joined.itertuples(index=False):
        version = str(row.model_version)
        documents.append(
            {
                "@timestamp": row.timestamp.isoformat(),
                "kind": "prediction",
                "request_id": row.request_id,
                "task": task,
                "model_version": version,
                "day": row.match_date,
                "match_date": row.match_date,
                "home_team": row.home_team,
                "away_team": row.away_team,
                "prediction": str(row.prediction),
                "outcome": row.outcome,
                "correct": bool(row.accuracy),
                "accuracy": float(row.accuracy),
                "log_loss": float(row.log_loss),
                "rps": float(row.rps),
                "brier": float(row.brier),
                "count": 1,
                **{f"holdout_{m}": v for m, v in holdout.get(version, {}).items()},
            }
        )
        ids.append(str(row.request_id))
    for day in report.daily:
        documents.append(
            {
                "@timestamp": timestamp,
                "kind": "daily",
                "task": task,
                "model_version": day.model_version,
                "day": day.day,
                "count": day.count,
                "log_loss": day.log_loss,
                "rps": day.rps,
                "brier": day.brier,
                "accuracy": day.accuracy,
                **{f"holdout_{m}": v for m, v in holdout.get(day.model_version, {}).items()},
            }
        )
        ids.append(f"{task}:{day.model_version}:{day.day}")
    return documents, ids
