"""The dashboard's one settings object (``SCORELINE_*`` variables, DESIGN.md §4).

The dashboard reads Scoreline's services over HTTP only (model-api, ingest, trainer): no object store, MLflow,
Elasticsearch or prediction-log folder of its own, so it runs in a container of its own.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SCORELINE_", extra="ignore", env_file=None)

    ingest_url: str = "http://127.0.0.1:8001"
    trainer_url: str = "http://127.0.0.1:8002"
    model_api_url: str = "http://127.0.0.1:8000"
    dashboard_port: int = Field(8501, ge=1, le=65535)
    dashboard_host: str = "127.0.0.1"  # the image sets 0.0.0.0
    dashboard_cache_ttl_s: int = Field(15, ge=0)
    dashboard_request_timeout_s: float = Field(10.0, gt=0)
    # Batch predictions, dataset reads and promotions can take longer than an interactive call.
    dashboard_long_timeout_s: float = Field(120.0, gt=0)
    # Recent logged predictions listed on the Monitoring page (trainer GET /v1/monitor/predictions).
    dashboard_recent_predictions: int = Field(200, ge=1, le=10_000)
    # Rows of a dataset version the Data page plots (the newest; ingest sends the whole version).
    dashboard_max_plot_rows: int = Field(200_000, ge=1_000)
    # Sent on predictions when model-api requires the API key for them (SCORELINE_API_KEY; no default).
    api_key: SecretStr | None = None
    # The admin key (SCORELINE_ADMIN_KEY; no default). The dashboard uses it by itself only to read the promotion
    # history, and only when SCORELINE_DASHBOARD_READ_PROMOTIONS allows it; promote, approve and roll back always
    # ask for the key on the page.
    admin_key: SecretStr | None = None
    dashboard_read_promotions: bool = False

    @property
    def history_key(self) -> str | None:
        """The key the Models page may read the promotion history with, unasked (None: a person enters one)."""
        if self.dashboard_read_promotions and self.admin_key is not None:
            return self.admin_key.get_secret_value()
        return None
