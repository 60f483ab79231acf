"""The promotion policy as a pure function: millisecond tests of every branch of ``judge``."""

from __future__ import annotations

import json

import pytest

from scoreline.core.errors import ScorelineError
from scoreline.lifecycle.promotion import Evidence, PromotionPolicy, common_holdout, holdout_of, judge
from scoreline.lifecycle.registry import TAG_HOLDOUT, TAG_HOLDOUT_START


def evidence(**overrides: object) -> Evidence:
    base: dict[str, object] = {
        "primary_metric": "rps",
        "greater_is_better": False,
        "challenger_version": "2",
        "challenger_run_score": 0.20,
        "baseline": ("elo", 0.21),
    }
    return Evidence(**{**base, **overrides})  # type: ignore[arg-type]


def with_champion(ours: float, theirs: float, **overrides: object) -> Evidence:
    defaults: dict[str, object] = {
        "champion_version": "1",
        "window": {"holdout_start": "2024-01-01"},
        "challenger_scores": {"rps": ours},
        "champion_scores": {"rps": theirs},
    }
    return evidence(**{**defaults, **overrides})


def test_a_first_model_that_beats_its_baseline_is_promoted() -> None:
    verdict = judge(evidence(), PromotionPolicy())
    assert verdict.outcome == "promoted"
    assert "beats the elo baseline" in verdict.reason


def test_a_first_model_that_does_not_beat_its_baseline_is_rejected() -> None:
    assert judge(evidence(baseline=("elo", 0.19)), PromotionPolicy()).outcome == "rejected"


def test_without_a_baseline_the_first_model_is_promoted() -> None:
    assert judge(evidence(baseline=None), PromotionPolicy()).outcome == "promoted"


def test_a_challenger_better_than_the_champion_by_the_margin_is_promoted() -> None:
    verdict = judge(with_champion(0.190, 0.200), PromotionPolicy(margin=0.01))
    assert verdict.outcome == "promoted"
    assert verdict.compared["relative_improvement"] == pytest.approx(0.05)
    assert verdict.compared["champion"] == {"version": "1", "rps": 0.200}


def test_an_improvement_below_the_margin_is_rejected() -> None:
    verdict = judge(with_champion(0.1995, 0.200), PromotionPolicy(margin=0.01))
    assert verdict.outcome == "rejected"
    assert "below the margin" in verdict.reason


def test_greater_is_better_metrics_compare_the_other_way() -> None:
    policy = PromotionPolicy(margin=0.0)
    better = with_champion(0.85, 0.80, primary_metric="roc_auc", greater_is_better=True, challenger_run_score=0.85,
                           baseline=("base_rates", 0.5), challenger_scores={"roc_auc": 0.85},
                           champion_scores={"roc_auc": 0.80})  # fmt: skip
    assert judge(better, policy).outcome == "promoted"
    worse = with_champion(0.75, 0.80, primary_metric="roc_auc", greater_is_better=True, challenger_run_score=0.75,
                          baseline=("base_rates", 0.5), challenger_scores={"roc_auc": 0.75},
                          champion_scores={"roc_auc": 0.80})  # fmt: skip
    assert judge(worse, policy).outcome == "rejected"


def test_beating_the_champion_but_losing_to_the_baseline_is_rejected() -> None:
    verdict = judge(with_champion(0.19, 0.20, baseline=("elo", 0.18)), PromotionPolicy())
    assert verdict.outcome == "rejected"
    assert "worse than the elo baseline" in verdict.reason


def test_manual_mode_turns_a_promotion_into_a_pending_approval() -> None:
    assert judge(evidence(), PromotionPolicy(mode="manual")).outcome == "pending_approval"
    assert judge(evidence(baseline=("elo", 0.1)), PromotionPolicy(mode="manual")).outcome == "rejected"


def test_a_run_without_its_primary_metric_cannot_be_judged() -> None:
    with pytest.raises(ScorelineError):
        judge(evidence(challenger_run_score=None), PromotionPolicy())


def test_the_common_walk_forward_holdout_is_the_later_start() -> None:
    ours = {TAG_HOLDOUT: json.dumps({"strategy": "walk_forward", "start": "2024-01-01"})}
    theirs = {TAG_HOLDOUT_START: "2024-06-01"}  # a version registered before holdout specs existed
    assert common_holdout(ours, theirs) == {"strategy": "walk_forward", "start": "2024-06-01"}


def test_a_champion_registered_by_hand_is_compared_on_the_challengers_holdout() -> None:
    ours = {TAG_HOLDOUT: json.dumps({"strategy": "stratified", "fraction": 0.2})}
    assert holdout_of({}) is None
    assert common_holdout(ours, {}) == {"strategy": "stratified", "fraction": 0.2}


def test_group_holdouts_take_the_later_first_group() -> None:
    ours = {TAG_HOLDOUT: json.dumps({"strategy": "group", "first_group": 2015})}
    theirs = {TAG_HOLDOUT: json.dumps({"strategy": "group", "first_group": 2017})}
    assert common_holdout(ours, theirs)["first_group"] == 2017


def test_a_model_missing_an_approval_threshold_is_rejected() -> None:
    thresholds = PromotionPolicy(thresholds={"rps": 0.19})
    verdict = judge(evidence(run_metrics={"rps": 0.20}, greater_is_better_by_metric={"rps": False}), thresholds)
    assert verdict.outcome == "rejected"
    assert "rps 0.2 > 0.19" in verdict.reason
    passing = judge(evidence(run_metrics={"rps": 0.18}, greater_is_better_by_metric={"rps": False}), thresholds)
    assert passing.outcome == "promoted"
    assert passing.compared["thresholds"] == {"required": {"rps": 0.19}, "missed": []}


def test_thresholds_on_greater_is_better_metrics_are_minimums() -> None:
    policy = PromotionPolicy(thresholds={"roc_auc": 0.8})
    low = evidence(run_metrics={"roc_auc": 0.75}, greater_is_better_by_metric={"roc_auc": True})
    assert judge(low, policy).outcome == "rejected"
    unmeasured = evidence(run_metrics={}, greater_is_better_by_metric={})
    assert "roc_auc was not measured" in judge(unmeasured, policy).reason
