"""The trainer's one settings object (``SCORELINE_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from scoreline.core.settings import DEFAULT_HOME, AuthSettings, MlflowSettings, StorageSettings
from scoreline.monitoring.settings import MonitoringSettings
from scoreline.predlog.factory import PredictionLogSettings


class TrainerSettings(StorageSettings, AuthSettings, MlflowSettings, PredictionLogSettings, MonitoringSettings):
    """Training and promotion (object store, MLflow), and the monitor: it reads the prediction log model-api
    writes (``SCORELINE_ELASTICSEARCH_URL``, else ``SCORELINE_PREDICTION_LOG_DIR``) and the champions from MLflow."""

    trainer_host: str = "127.0.0.1"
    trainer_port: int = 8002
    jobs_dir: Path = DEFAULT_HOME / "trainer-jobs"  # one JSON record per job, survives restarts
    max_queued_jobs: int = 20  # per task; more is refused with 409
    # "process": each job in a spawned child process (a crash or OOM kill fails the job, not the trainer);
    # "thread": in the service's process (debugging only: no timeout, no cancel of a running job).
    job_runner: Literal["process", "thread"] = "process"
    job_timeout_s: float = Field(4 * 3600.0, gt=0)  # a running job is stopped and failed after this
    max_concurrent_jobs: int = Field(1, ge=1, le=64)  # jobs training at once, across tasks
    # What one request may ask for; more is refused with 422 naming the maximum.
    max_tuning_trials: int = Field(100, ge=1)  # tuning_budget.trials
    max_tuning_seconds: float = Field(3600.0, gt=0)  # tuning_budget.seconds
    max_active_jobs: int = Field(4, ge=1)  # jobs queued or running at once, across tasks
    promotion_margin: float = 0.001  # minimum relative improvement of the primary metric
    promotion_mode: Literal["auto", "manual"] = "auto"
    promotion_baseline: str = "best"  # a baseline name (base_rates, elo, ...) or the run's strongest
    # Approval thresholds per task on the challenger's own holdout, as JSON in SCORELINE_PROMOTION_THRESHOLDS,
    # e.g. {"event-traffic": {"smape": 12, "mape": 15}}: a model that misses one is rejected.
    promotion_thresholds: dict[str, dict[str, float]] = {}
    model_alias: str = "champion"  # the alias model-api serves: the monitored version of each task
