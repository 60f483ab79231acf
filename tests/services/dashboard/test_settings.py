"""Dashboard settings and the command that runs Streamlit with them."""

from __future__ import annotations

import pytest
from scoreline_dashboard.__main__ import APP, streamlit_argv
from scoreline_dashboard.settings import DashboardSettings


def test_defaults_work_on_one_machine() -> None:
    settings = DashboardSettings()
    assert settings.dashboard_port == 8501
    assert settings.model_api_url == "http://127.0.0.1:8000"
    assert settings.trainer_url == "http://127.0.0.1:8002" and settings.ingest_url == "http://127.0.0.1:8001"
    assert settings.api_key is None and settings.admin_key is None and settings.history_key is None


def test_only_the_services_are_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MLflow, Elasticsearch or log folder: the dashboard reads the services over HTTP only."""
    fields = set(DashboardSettings.model_fields)
    assert not {f for f in fields if "mlflow" in f or "elastic" in f or "log_dir" in f or "storage" in f}
    monkeypatch.setenv("SCORELINE_ELASTICSEARCH_URL", "http://elasticsearch:9200")  # another service's: ignored
    assert DashboardSettings().model_api_url == "http://127.0.0.1:8000"


def test_the_admin_key_reads_the_history_only_when_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORELINE_ADMIN_KEY", "secret")
    assert DashboardSettings().history_key is None
    monkeypatch.setenv("SCORELINE_DASHBOARD_READ_PROMOTIONS", "true")
    assert DashboardSettings().history_key == "secret"


def test_streamlit_runs_the_app_on_the_configured_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORELINE_DASHBOARD_PORT", "9123")
    argv = streamlit_argv(DashboardSettings())
    assert argv[:3] == ["streamlit", "run", str(APP)] and APP.exists()
    assert argv[argv.index("--server.port") + 1] == "9123"
    assert argv[argv.index("--server.headless") + 1] == "true"
