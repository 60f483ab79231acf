"""Settings pieces every service shares. Each service composes its own settings class from these.

All names carry the ``SCORELINE_`` prefix (DESIGN.md §4). Every value has an embedded default
that works on one machine with no servers, except secrets, which have none.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HOME = Path(".scoreline")


class ScorelineSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCORELINE_", extra="ignore", env_file=None)


class StorageSettings(ScorelineSettings):
    storage_uri: str = f"file://{(DEFAULT_HOME / 'store').resolve()}"
    s3_endpoint: str | None = None  # e.g. http://minio:9000
    s3_access_key: SecretStr | None = None
    s3_secret_key: SecretStr | None = None
    s3_region: str = "us-east-1"


class AuthSettings(ScorelineSettings):
    api_key: SecretStr | None = None  # required on write routes; unset → write routes refuse
    admin_key: SecretStr | None = None  # required on admin routes; unset → admin routes refuse
    # Reads (GET) other than predict, schema, OpenAPI and health need the API or admin key unless this is on.
    public_reads: bool = False
    max_json_bytes: int = 8 * 1024 * 1024  # every JSON body, counted as it arrives; more → 413
    max_json_depth: int = 64  # JSON nesting beyond this → 422 before parsing


class MlflowSettings(ScorelineSettings):
    mlflow_uri: str = f"sqlite:///{(DEFAULT_HOME / 'mlflow.db').resolve()}"


class ServiceUrls(ScorelineSettings):
    ingest_url: str = "http://127.0.0.1:8001"
    trainer_url: str = "http://127.0.0.1:8002"
    model_api_url: str = "http://127.0.0.1:8000"
    airflow_url: str | None = None
    mlflow_ui_url: str = "http://127.0.0.1:5000"


class ElasticSettings(ScorelineSettings):
    elasticsearch_url: str | None = None  # unset → local JSON Lines prediction log
    elasticsearch_username: str | None = None
    elasticsearch_password: SecretStr | None = None
