"""What a training job runs: train on a dataset version, evaluate, log and register in MLflow.

A picklable callable (the settings travel with it), so ``ProcessRunner`` can run it in a spawned child process;
everything heavy is imported there, not in the service's process.
"""

from __future__ import annotations

from dataclasses import dataclass

from scoreline_trainer.jobs import Job, JobOutcome, Progress
from scoreline_trainer.settings import TrainerSettings


@dataclass(frozen=True)
class TrainJob:
    settings: TrainerSettings

    def __call__(self, job: Job, progress: Progress) -> JobOutcome:
        from scoreline.data.datasets import DatasetCatalog
        from scoreline.data.storage import open_store
        from scoreline.lifecycle.pipeline import train_and_register
        from scoreline.ml.training import TuningBudget as CoreBudget

        budget = None
        if job.tuning_budget is not None:
            seconds = job.tuning_budget.seconds
            budget = CoreBudget(trials=job.tuning_budget.trials, **({"seconds": seconds} if seconds else {}))
        trained = train_and_register(
            job.task,
            job.dataset,
            job.dataset_version,
            catalog=DatasetCatalog(open_store(self.settings)),
            tracking_uri=self.settings.mlflow_uri,
            holdout_start=job.holdout_start,
            tuning_budget=budget,
            progress=progress,
        )
        return JobOutcome(
            metrics=trained.metrics,
            run_id=trained.registered.run_id,
            model_version=trained.registered.version,
            holdout_window=trained.holdout_window,
        )
