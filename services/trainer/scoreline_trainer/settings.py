"""The trainer's one settings object (``SCORELINE_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from scoreline.settings import DEFAULT_HOME, AuthSettings, MlflowSettings, StorageSettings


class TrainerSettings(StorageSettings, AuthSettings, MlflowSettings):
    trainer_host: str = "127.0.0.1"
    trainer_port: int = 8002
    jobs_dir: Path = DEFAULT_HOME / "trainer-jobs"  # one JSON record per job, survives restarts
    max_queued_jobs: int = 20  # per task; more is refused with 409
    promotion_margin: float = 0.001  # minimum relative improvement of the primary metric
    promotion_mode: Literal["auto", "manual"] = "auto"
    promotion_baseline: str = "best"  # a baseline name (base_rates, elo, ...) or the run's strongest
