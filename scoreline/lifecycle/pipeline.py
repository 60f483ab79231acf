"""One training job end to end: dataset version → trained, evaluated model → registered ``challenger``.

Shared by ``scoreline train`` and the trainer service. Registration is the last step, so a job
that fails anywhere leaves no model version behind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import pandas as pd

from scoreline.lifecycle.registry import RegisteredVersion, current_code_version, log_training, metric_keys

if TYPE_CHECKING:
    from scoreline.data.datasets import DatasetCatalog
    from scoreline.lifecycle.promotion import LatestDataset
    from scoreline.ml.training import TrainingResult, TuningBudget

Progress = Callable[[float, str], None]

# Share of a job's progress bar per step: loading the data, training, logging to MLflow.
_LOAD, _TRAIN = 0.05, 0.85


@dataclass(frozen=True)
class TrainedVersion:
    result: TrainingResult
    registered: RegisteredVersion

    @property
    def metrics(self) -> dict[str, float]:
        return metric_keys(self.result.holdout_metrics, self.result.baseline_metrics)

    @property
    def holdout_window(self) -> dict[str, Any]:
        """Where the model was scored: dates for walk-forward splits, else the holdout's description."""
        result = self.result
        return {
            "start": result.holdout_start.isoformat() if result.holdout_start else None,
            "end": result.holdout_end.isoformat() if result.holdout_end else None,
            **result.holdout,
        }


def train_and_register(
    task_id: str,
    dataset: str,
    dataset_version: str | None,
    *,
    catalog: DatasetCatalog,
    tracking_uri: str,
    holdout_start: date | None = None,
    tuning_budget: TuningBudget | None = None,
    progress: Progress | None = None,
    code_version: str | None = None,
) -> TrainedVersion:
    from scoreline.ml.training import train
    from scoreline.tasks import get_task

    report = progress or (lambda _fraction, _stage: None)
    task = get_task(task_id)
    manifest = (
        catalog.manifest(task_id, dataset, dataset_version) if dataset_version else catalog.latest(task_id, dataset)
    )
    report(0.0, f"loading {task_id}/{dataset} version {manifest.version}")
    canonical = catalog.load(task_id, dataset, manifest.version)
    report(_LOAD, "training")

    def training_progress(fraction: float, stage: str) -> None:
        report(_LOAD + (_TRAIN - _LOAD) * fraction, stage)

    result = train(
        task, canonical, holdout_start=holdout_start, tuning_budget=tuning_budget, progress=training_progress
    )
    report(_TRAIN, "logging the run and registering the model in MLflow")
    registered = log_training(result, dataset, manifest.version, code_version or current_code_version(), tracking_uri)
    report(1.0, f"registered version {registered.version} as challenger")
    return TrainedVersion(result, registered)


def latest_from_catalog(catalog: DatasetCatalog) -> LatestDataset:
    """The promotion policy's view of the data: the latest version of a dataset and its table."""

    def latest(task_id: str, dataset: str) -> tuple[str, pd.DataFrame]:
        manifest = catalog.latest(task_id, dataset)
        return manifest.version, catalog.load(task_id, dataset, manifest.version)

    return latest
