"""model-api settings (SCORELINE_* environment variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from scoreline.core.cores import usable_cores
from scoreline.core.settings import DEFAULT_HOME, AuthSettings, MlflowSettings
from scoreline.predlog.factory import PredictionLogSettings
from scoreline.serving.workers import SWAP_TIMEOUT_S
from scoreline.tasks import task_ids


class ModelApiSettings(AuthSettings, MlflowSettings, PredictionLogSettings):
    """model-api only serves: MLflow for the champions, the prediction log for what it answered. No object-store
    credentials (drift and live accuracy run in the trainer)."""

    model_api_host: str = "127.0.0.1"
    model_api_port: int = 8000
    # Worker processes on one port (a listening socket each); 1 = a single process (no supervisor).
    model_api_workers: int = Field(default_factory=usable_cores, ge=1)
    model_swap_timeout_s: float = SWAP_TIMEOUT_S  # the longest a worker waits for the others to load a version
    # Set by the supervisor for each worker it starts: the folder the workers coordinate swaps through, and
    # this worker's id there. Unset: a single process.
    model_api_run_dir: Path | None = None
    model_api_worker: int = 0
    model_alias: str = "champion"
    model_tasks: tuple[str, ...] = Field(default_factory=task_ids)  # every registered task
    model_poll_interval_s: float = 5.0  # 0 disables polling (webhook and admin reload only)
    model_cache_dir: Path = (DEFAULT_HOME / "model-cache").resolve()
    max_instances: int = 1000  # per POST /predict; more → 413
    max_batch_rows: int = 1_000_000
    max_upload_bytes: int = 256 * 1024 * 1024
    require_api_key_for_predictions: bool = False
    webhook_secret: SecretStr | None = None  # MLflow registry webhook HMAC secret; unset → webhook refused
    log_predictions: bool = True
