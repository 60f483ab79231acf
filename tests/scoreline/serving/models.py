"""Small real models for serving tests: the real training pipeline on simulated matches."""

from __future__ import annotations

import copy
import io
from typing import Any

from scoreline.ml.training import TrainingResult, train
from scoreline.tasks import get_task

TASK = "match-outcome"


def train_small(seed: int, max_depth: int) -> TrainingResult:
    """A quick model: 3,000 simulated matches, no tuning; different seeds/depths give different probabilities."""
    task = get_task(TASK)
    raw, _ = task.simulate(3000, seed=seed)
    buffer = io.BytesIO()
    raw.to_csv(buffer, index=False)
    canonical = task.to_canonical(buffer.getvalue(), "results.csv")
    return train(task, canonical, params={"max_depth": max_depth, "learning_rate": 0.2}, seed=seed)


def broken_bundle(bundle: Any) -> Any:
    """The same model with a serving state that knows no team: it loads but cannot answer its input example."""
    broken = copy.copy(bundle)
    broken.serving_state = {**bundle.serving_state, "teams": {}, "h2h": []}
    return broken


def mark_promoted(tracking_uri: str, task_id: str, version: str) -> None:
    """Tag ``version`` as a promotion decision does: model-api serves only versions that passed promotion."""
    from scoreline.lifecycle.promotion import TAG_DECISION
    from scoreline.lifecycle.registry import Registry

    Registry(tracking_uri).set_version_tags(task_id, version, {TAG_DECISION: "promoted"})


def register_unloadable_version(tracking_uri: str) -> str:
    """A registry version whose files are not a model at all (it fails to load)."""
    from mlflow.tracking import MlflowClient

    from scoreline.lifecycle.registry import experiment_name, model_name

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    experiment = client.get_experiment_by_name(experiment_name(TASK))
    run = client.create_run(experiment.experiment_id)
    client.log_text(run.info.run_id, "this is not a model", "model/README.txt")
    client.set_terminated(run.info.run_id)
    # Tagged like a trainer registration, so it is refused for not loading (not for lacking tags).
    tags = {"task": TASK, "dataset": "simulated", "dataset_version": "broken", "run_id": run.info.run_id}
    version = client.create_model_version(
        model_name(TASK), f"{run.info.artifact_uri}/model", run.info.run_id, tags=tags
    )
    return str(version.version)
