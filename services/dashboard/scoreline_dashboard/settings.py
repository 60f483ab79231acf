"""The dashboard's one settings object (``SCORELINE_*`` variables, DESIGN.md §4)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from scoreline.core.settings import DEFAULT_HOME, ElasticSettings, ServiceUrls


class DashboardSettings(ServiceUrls, ElasticSettings):
    dashboard_port: int = Field(8501, ge=1, le=65535)
    dashboard_host: str = "127.0.0.1"  # the image sets 0.0.0.0
    # The MLflow tracking server's REST address. SCORELINE_MLFLOW_URI is used when it is an HTTP
    # address (the stack's setting); a SQLite URI cannot be read over HTTP, so then this wins.
    mlflow_uri: str | None = None
    # Where model-api writes its JSON Lines prediction log when Elasticsearch is not configured.
    prediction_log_dir: Path = DEFAULT_HOME / "predictions"
    elasticsearch_index_pattern: str = "scoreline-predictions-*"
    dashboard_cache_ttl_s: int = Field(15, ge=0)
    dashboard_request_timeout_s: float = Field(10.0, gt=0)
    # Batch predictions and promotions can take longer than an interactive call.
    dashboard_long_timeout_s: float = Field(120.0, gt=0)
    # Elasticsearch answers at most 10,000 hits per search (index.max_result_window).
    # Sent on predictions when model-api requires the API key for them (SCORELINE_API_KEY; no default).
    api_key: SecretStr | None = None
    # Lets the Models page read the promotion history, which the trainer keeps behind the admin key
    # (SCORELINE_ADMIN_KEY; no default). Promote, approve and roll back always ask for the key on the page.
    admin_key: SecretStr | None = None
    dashboard_max_log_records: int = Field(5_000, ge=100, le=10_000)

    @property
    def mlflow_url(self) -> str:
        if self.mlflow_uri and self.mlflow_uri.startswith(("http://", "https://")):
            return self.mlflow_uri.rstrip("/")
        return self.mlflow_ui_url.rstrip("/")
