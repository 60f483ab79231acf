"""A version registered or aliased outside Scoreline (no Scoreline tags, never promoted): promotion judges the
challenger as a first model instead of failing, and such a version is never served without an admin override."""

from __future__ import annotations

import pytest

from scoreline.data.datasets import DatasetCatalog
from scoreline.lifecycle.pipeline import latest_from_catalog
from scoreline.lifecycle.promotion import TAG_PREVIOUS_CHAMPION, Promoter, PromotionPolicy, serving_refusal
from scoreline.lifecycle.registry import CHAMPION, Registry, log_training, model_name
from scoreline.ml.training import TrainingResult
from tests.mlflow_fixtures import TASK

AUTO = PromotionPolicy(margin=0.001, mode="auto", baseline="base_rates")
REGISTERED = {"task": TASK, "dataset": "simulated", "dataset_version": "abc123", "run_id": "r1"}


def register_by_hand(registry: Registry, source_version: str) -> str:
    """What the MLflow UI does: a new version of the same model files, with no tags at all."""
    import mlflow

    mlflow.set_tracking_uri(registry.tracking_uri)
    mlflow.set_registry_uri(registry.tracking_uri)
    created = mlflow.register_model(registry.version(TASK, source_version).source, model_name(TASK))
    assert not {k for k in created.tags if not k.startswith("mlflow.")}  # no Scoreline tags at all
    return str(created.version)


def test_only_versions_registered_by_scoreline_and_promoted_may_be_served() -> None:
    assert serving_refusal(TASK, {**REGISTERED, "promotion.decision": "promoted"}) is None
    assert "registration tags" in (serving_refusal(TASK, {}) or "")
    assert "did not pass promotion" in (serving_refusal(TASK, REGISTERED) or "")
    assert "rejected" in (serving_refusal(TASK, {**REGISTERED, "promotion.decision": "rejected"}) or "")
    other_task = {**REGISTERED, "task": "esports-win", "promotion.decision": "promoted"}
    assert "esports-win" in (serving_refusal(TASK, other_task) or "")


@pytest.mark.slow
def test_promotion_over_a_champion_registered_by_hand_judges_the_challenger_instead_of_failing(
    clean_registry: Registry, simulated_catalog: tuple[DatasetCatalog, str], good_result: TrainingResult
) -> None:
    catalog, version = simulated_catalog
    first = log_training(good_result, "simulated", version, "git:test", clean_registry.tracking_uri).version
    by_hand = register_by_hand(clean_registry, first)
    clean_registry.set_alias(TASK, CHAMPION, by_hand)
    challenger = log_training(good_result, "simulated", version, "git:test", clean_registry.tracking_uri).version

    decision = Promoter(clean_registry, latest_from_catalog(catalog)).decide(TASK, AUTO, actor="tester")

    assert decision.decision == "promoted", decision
    assert f"version {by_hand}, which was ignored" in decision.reason and "registration tags" in decision.reason
    assert clean_registry.aliases(TASK)[CHAMPION] == challenger
    # rollback would not bring the hand-made version back
    assert clean_registry.version(TASK, challenger).tags[TAG_PREVIOUS_CHAMPION] == ""
