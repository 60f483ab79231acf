from __future__ import annotations

import math

import pandas as pd
import pytest

from scoreline.monitoring.logs import to_frame
from scoreline.monitoring.outcomes import live_accuracy, outcome_documents
from scoreline.tasks import get_task

TASK = get_task("match-outcome")

CLASSES = ("home", "draw", "away")


def prediction(
    request_id: str, version: str, home: str, away: str, p: tuple[float, float, float], **extra: str
) -> dict:
    inputs = {"home_team": home, "away_team": away, "neutral": False}
    if "date" in extra:
        inputs["date"] = extra["date"]
    return {
        "@timestamp": extra.get("at", "2026-06-10T12:00:00+00:00"),
        "request_id": request_id,
        "task": "match-outcome",
        "model_version": version,
        "inputs": inputs,
        "features": {"elo_diff": 10.0},
        "prediction": CLASSES[max(range(3), key=lambda i: p[i])],
        "probabilities": dict(zip(CLASSES, p, strict=True)),
        "latency_ms": 1.0,
    }


RESULTS = pd.DataFrame(
    {
        "date": pd.to_datetime(["2026-06-11", "2026-06-12", "2026-06-13"]),
        "home_team": ["Brazil", "France", "Japan"],
        "away_team": ["Argentina", "Spain", "Ghana"],
        "home_score": [2, 1, 0],
        "away_score": [1, 1, 3],
    }
)


def test_live_accuracy_matches_a_hand_computation() -> None:
    logged = to_frame(
        [
            prediction("a", "1", "Brazil", "Argentina", (0.5, 0.3, 0.2), date="2026-06-11"),
            prediction("b", "1", "France", "Spain", (0.2, 0.3, 0.5), date="2026-06-12"),
            prediction("c", "1", "Italy", "Peru", (0.4, 0.3, 0.3), date="2026-06-11"),  # no result yet
            # no date in the request: the day it was made is the match day
            prediction("d", "2", "Brazil", "Argentina", (0.6, 0.2, 0.2), at="2026-06-11T09:00:00+00:00"),
            prediction("e", "2", "Japan", "Ghana", (0.6, 0.2, 0.2), date="2026-06-14"),  # wrong day: no match
        ]
    )
    report, joined = live_accuracy(TASK, logged, RESULTS, {"1": {"log_loss": 1.0, "accuracy": 0.5, "roc_auc": 0.7}})
    assert report.predictions == 5
    assert report.matched == 3
    assert sorted(joined["request_id"]) == ["a", "b", "d"]
    # a: home happened. log loss -ln 0.5; RPS ((0.5-1)^2 + (0.8-1)^2) / 2; Brier 0.5^2 + 0.3^2 + 0.2^2; right
    # b: draw happened. log loss -ln 0.3; RPS ((0.2-0)^2 + (0.5-1)^2) / 2; Brier 0.2^2 + 0.7^2 + 0.5^2; wrong
    # d: home happened. log loss -ln 0.6; RPS ((0.6-1)^2 + (0.8-1)^2) / 2; Brier 0.4^2 + 0.2^2 + 0.2^2; right
    v1, v2 = report.by_version
    assert (v1.model_version, v1.count, v2.model_version, v2.count) == ("1", 2, "2", 1)
    assert v1.metrics["log_loss"] == pytest.approx((-math.log(0.5) - math.log(0.3)) / 2)
    assert v1.metrics["rps"] == pytest.approx((0.145 + 0.145) / 2)
    assert v1.metrics["brier"] == pytest.approx((0.38 + 0.78) / 2)
    assert v1.metrics["accuracy"] == pytest.approx(0.5)
    assert v1.holdout == {"log_loss": 1.0, "accuracy": 0.5}
    assert v1.delta["log_loss"] == pytest.approx((-math.log(0.5) - math.log(0.3)) / 2 - 1.0)
    assert v1.delta["accuracy"] == pytest.approx(0.0)
    assert v2.metrics["log_loss"] == pytest.approx(-math.log(0.6))
    assert v2.metrics["rps"] == pytest.approx(0.1)
    assert v2.metrics["accuracy"] == 1.0
    assert v2.delta == {}
    days = {(d.model_version, d.day): d.count for d in report.daily}
    assert days == {("1", "2026-06-11"): 1, ("1", "2026-06-12"): 1, ("2", "2026-06-11"): 1}


def test_outcome_documents_have_stable_ids() -> None:
    logged = to_frame([prediction("a", "1", "Brazil", "Argentina", (0.5, 0.3, 0.2), date="2026-06-11")])
    report, joined = live_accuracy(TASK, logged, RESULTS, {"1": {"log_loss": 0.9}})
    documents, ids = outcome_documents(TASK, joined, report, "2026-06-20T00:00:00+00:00")
    assert ids == ["a", "match-outcome:1:2026-06-11"]
    assert documents[0]["kind"] == "prediction"
    assert documents[0]["correct"] is True
    assert documents[0]["holdout_log_loss"] == 0.9
    assert documents[1]["kind"] == "daily"
    assert documents[1]["count"] == 1


def test_a_record_logged_twice_counts_once() -> None:
    once = prediction("a", "1", "Brazil", "Argentina", (0.5, 0.3, 0.2), date="2026-06-11")
    report, _ = live_accuracy(TASK, to_frame([once, once]), RESULTS, {})
    assert report.matched == 1
