"""The one settings object of the orchestration shell, read from ``SCORELINE_*`` variables at task run time.

Nothing here is read when a DAG file is parsed: the dag-processor must not need the services' secrets.
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class OrchestrationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCORELINE_", extra="ignore", env_file=None)

    ingest_url: str = "http://127.0.0.1:8001"
    trainer_url: str = "http://127.0.0.1:8002"
    model_api_url: str = "http://127.0.0.1:8000"
    api_key: SecretStr | None = None
    admin_key: SecretStr | None = None
    # Slack-compatible incoming webhook; unset (and no Airflow Variable) → the notify step is skipped.
    notify_webhook_url: str | None = None

    http_timeout_s: float = 30.0
    # Attempts inside one task try, with exponential backoff, before the task itself fails and Airflow's
    # own retries (also exponential) take over.
    http_attempts: int = 4
    http_backoff_s: float = 1.0
    train_poll_interval_s: float = 5.0
    train_timeout_s: float = 3 * 3600.0
    reload_timeout_s: float = 120.0
    reload_poll_interval_s: float = 1.0
