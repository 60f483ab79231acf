"""make run's bootstrap decision: train again only when something changed (pure function, no servers)."""

from __future__ import annotations

from scoreline.lifecycle.promotion import retrain_reason

TASK = "match-outcome"
PROMOTED = {
    "task": TASK,
    "dataset": "international-results",
    "dataset_version": "v1",
    "run_id": "r1",
    "promotion.decision": "promoted",
}


def test_same_data_and_a_servable_champion_skip_training() -> None:
    assert retrain_reason(TASK, "international-results", "v1", PROMOTED, PROMOTED) is None


def test_a_challenger_already_judged_on_the_same_data_is_not_trained_again() -> None:
    rejected = {**PROMOTED, "dataset_version": "v2", "promotion.decision": "rejected"}
    assert retrain_reason(TASK, "international-results", "v2", PROMOTED, rejected) is None
    assert retrain_reason(TASK, "international-results", "v2", None, rejected) is None


def test_new_data_no_champion_or_an_unservable_champion_train_again() -> None:
    assert "now international-results@v2" in (retrain_reason(TASK, "international-results", "v2", PROMOTED) or "")
    assert "simulated@v1" in (retrain_reason(TASK, "simulated", "v1", PROMOTED) or "")
    assert retrain_reason(TASK, "international-results", "v1", None) == "no champion yet"
    by_hand = {"mlflow.source": "ui"}
    assert "not servable" in (retrain_reason(TASK, "international-results", "v1", by_hand) or "")
    pending = {**PROMOTED, "promotion.decision": "pending_approval"}
    assert retrain_reason(TASK, "international-results", "v1", PROMOTED, pending) is None  # champion still fits
    assert "not servable" in (retrain_reason(TASK, "international-results", "v1", pending, pending) or "")
