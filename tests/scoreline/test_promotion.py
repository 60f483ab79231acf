"""The promotion policy against the real ``mlflow server``, with small but real trained models."""

from __future__ import annotations

import json

import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.data.datasets import DatasetCatalog
from scoreline.lifecycle.pipeline import latest_from_catalog
from scoreline.lifecycle.promotion import (
    TAG_DECIDED_BY,
    TAG_DECISION,
    TAG_METRICS,
    TAG_PREVIOUS_CHAMPION,
    TAG_REASON,
    TAG_ROLLED_BACK_BY,
    Promoter,
    PromotionPolicy,
)
from scoreline.lifecycle.registry import CHALLENGER, CHAMPION, Registry, log_training
from scoreline.ml.training import TrainingResult
from tests.mlflow_fixtures import TASK

pytestmark = pytest.mark.slow

AUTO = PromotionPolicy(margin=0.001, mode="auto", baseline="base_rates")
MANUAL = PromotionPolicy(margin=0.001, mode="manual", baseline="base_rates")


@pytest.fixture
def promoter(clean_registry: Registry, simulated_catalog: tuple[DatasetCatalog, str]) -> Promoter:
    catalog, _ = simulated_catalog
    return Promoter(clean_registry, latest_from_catalog(catalog))


@pytest.fixture
def register(clean_registry: Registry, simulated_catalog: tuple[DatasetCatalog, str]):
    _, version = simulated_catalog

    def register(result: TrainingResult) -> str:
        return log_training(result, "simulated", version, "git:test", clean_registry.tracking_uri).version

    return register


def test_first_model_is_promoted_when_it_beats_the_baseline(promoter: Promoter, register, good_result):
    assert good_result.holdout_metrics["rps"] < good_result.baseline_metrics["base_rates"]["rps"]
    version = register(good_result)

    decision = promoter.decide(TASK, AUTO, actor="tester")

    assert decision.decision == "promoted"
    assert decision.champion_version == version and decision.previous_champion_version is None
    assert "first model" in decision.reason and "base_rates" in decision.reason
    assert promoter.registry.aliases(TASK) == {CHAMPION: version, CHALLENGER: version}
    tags = promoter.registry.version(TASK, version).tags
    assert tags[TAG_DECISION] == "promoted"
    assert tags[TAG_DECIDED_BY] == "tester"
    assert json.loads(tags[TAG_METRICS])["baseline"]["name"] == "base_rates"


def test_first_model_worse_than_the_strongest_baseline_is_rejected(promoter: Promoter, register, weak_result):
    version = register(weak_result)

    decision = promoter.decide(TASK, PromotionPolicy(mode="auto", baseline="best"), actor="tester")

    assert decision.decision == "rejected"
    assert "does not beat the elo baseline" in decision.reason
    assert promoter.registry.version_by_alias(TASK, CHAMPION) is None
    tags = promoter.registry.version(TASK, version).tags
    assert tags[TAG_DECISION] == "rejected"
    assert tags[TAG_REASON] == decision.reason


def test_better_challenger_is_promoted_worse_one_rejected_and_rollback_restores(
    promoter: Promoter, register, good_result, weak_result
):
    earlier = register(weak_result)
    # an earlier champion, set up directly as a promotion leaves it (an unpromoted alias target is not the bar)
    promoter.registry.set_version_tags(TASK, earlier, {TAG_DECISION: "promoted"})
    promoter.registry.set_alias(TASK, CHAMPION, earlier)
    better = register(good_result)

    promoted = promoter.decide(TASK, AUTO, actor="airflow")

    assert promoted.decision == "promoted", promoted.reason
    assert (promoted.champion_version, promoted.previous_champion_version) == (better, earlier)
    compared = promoted.metrics
    assert compared["champion"]["version"] == earlier and compared["challenger"]["version"] == better
    assert compared["challenger"]["rps"] < compared["champion"]["rps"]
    assert compared["relative_improvement"] >= AUTO.margin
    assert compared["window"]["holdout_start"] == good_result.holdout_start.isoformat()
    assert promoter.registry.version_by_alias(TASK, CHAMPION).version == better
    assert promoter.registry.version(TASK, better).tags[TAG_PREVIOUS_CHAMPION] == earlier

    worse = register(weak_result)
    rejected = promoter.decide(TASK, AUTO, actor="airflow")
    assert rejected.decision == "rejected"
    assert "below the margin" in rejected.reason
    assert promoter.registry.version_by_alias(TASK, CHAMPION).version == better
    assert promoter.registry.version(TASK, worse).tags[TAG_REASON] == rejected.reason

    again = promoter.decide(TASK, AUTO, actor="airflow retry")
    assert again.decision == "unchanged" and "already rejected" in again.reason

    rolled = promoter.rollback(TASK, actor="oncall")
    assert rolled.decision == "rolled_back"
    assert (rolled.champion_version, rolled.previous_champion_version) == (earlier, better)
    assert promoter.registry.version_by_alias(TASK, CHAMPION).version == earlier
    assert promoter.registry.version(TASK, better).tags[TAG_ROLLED_BACK_BY] == "oncall"

    events = promoter.history(TASK)["events"]
    assert [e["event"] for e in events[:2]] == ["rolled_back", "restored"] or [e["event"] for e in events[:2]] == [
        "restored",
        "rolled_back",
    ]
    assert {(e["version"], e.get("decision")) for e in events if e["event"] == "decision"} == {
        (better, "promoted"),
        (worse, "rejected"),
    }


def test_manual_mode_waits_for_approval_and_never_promotes_twice(promoter: Promoter, register, good_result):
    version = register(good_result)

    pending = promoter.decide(TASK, MANUAL, actor="airflow")
    assert pending.decision == "pending_approval"
    assert promoter.registry.version_by_alias(TASK, CHAMPION) is None
    assert promoter.registry.version(TASK, version).tags[TAG_DECISION] == "pending_approval"

    still = promoter.decide(TASK, MANUAL, actor="airflow")
    assert still.decision == "pending_approval" and "waiting for approval" in still.reason
    assert promoter.registry.version_by_alias(TASK, CHAMPION) is None

    approved = promoter.approve(TASK, version, actor="alice")
    assert approved.decision == "promoted" and approved.champion_version == version
    assert promoter.registry.version_by_alias(TASK, CHAMPION).version == version
    tags = promoter.registry.version(TASK, version).tags
    assert tags["promotion.approved_by"] == "alice" and tags[TAG_DECISION] == "promoted"

    assert promoter.decide(TASK, MANUAL, actor="airflow").decision == "unchanged"
    assert promoter.approve(TASK, version, actor="alice").decision == "unchanged"


def test_approve_and_rollback_refuse_when_there_is_nothing_to_do(promoter: Promoter, register, good_result):
    version = register(good_result)
    with pytest.raises(ScorelineError) as not_pending:
        promoter.approve(TASK, version, actor="alice")
    assert not_pending.value.code == ErrorCode.CONFLICT
    with pytest.raises(ScorelineError) as no_champion:
        promoter.rollback(TASK, actor="alice")
    assert no_champion.value.code == ErrorCode.CONFLICT
    promoter.decide(TASK, AUTO, actor="tester")
    with pytest.raises(ScorelineError) as first_champion:
        promoter.rollback(TASK, actor="alice")
    assert first_champion.value.code == ErrorCode.CONFLICT
    with pytest.raises(ScorelineError) as unknown:
        promoter.approve(TASK, "999", actor="alice")
    assert unknown.value.code == ErrorCode.NOT_FOUND


def test_a_promoted_version_is_servable_the_moment_its_alias_moves(
    promoter: Promoter, register, good_result, monkeypatch
):
    """model-api reloads on the alias move (webhook) and serves only promoted versions: the verdict comes first."""
    from scoreline.lifecycle.promotion import serving_refusal

    refusals_at_move: list[str | None] = []
    move_alias = promoter.registry.set_alias

    def recording_set_alias(task_id: str, alias: str, version: str | int) -> None:
        refusals_at_move.append(serving_refusal(task_id, promoter.registry.version(task_id, str(version)).tags))
        move_alias(task_id, alias, version)

    monkeypatch.setattr(promoter.registry, "set_alias", recording_set_alias)
    register(good_result)

    assert promoter.decide(TASK, AUTO, actor="tester").decision == "promoted"
    assert refusals_at_move == [None]
