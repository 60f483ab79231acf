"""Dashboard settings and the command that runs Streamlit with them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from scoreline_dashboard.__main__ import APP, streamlit_argv
from scoreline_dashboard.settings import DashboardSettings


def test_defaults_work_on_one_machine() -> None:
    settings = DashboardSettings()
    assert settings.dashboard_port == 8501
    assert settings.model_api_url == "http://127.0.0.1:8000"
    assert settings.mlflow_url == "http://127.0.0.1:5000"
    assert settings.elasticsearch_url is None and settings.api_key is None and settings.admin_key is None


def test_an_http_mlflow_uri_is_the_rest_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORELINE_MLFLOW_URI", "http://mlflow:5000/")
    assert DashboardSettings().mlflow_url == "http://mlflow:5000"
    monkeypatch.setenv("SCORELINE_MLFLOW_URI", "sqlite:///mlflow.db")  # not readable over HTTP: the UI URL is used
    monkeypatch.setenv("SCORELINE_MLFLOW_UI_URL", "http://127.0.0.1:5123")
    assert DashboardSettings().mlflow_url == "http://127.0.0.1:5123"


def test_log_reads_stay_within_the_elasticsearch_result_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORELINE_DASHBOARD_MAX_LOG_RECORDS", "20000")
    with pytest.raises(ValidationError):
        DashboardSettings()


def test_streamlit_runs_the_app_on_the_configured_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORELINE_DASHBOARD_PORT", "9123")
    argv = streamlit_argv(DashboardSettings())
    assert argv[:3] == ["streamlit", "run", str(APP)] and APP.exists()
    assert argv[argv.index("--server.port") + 1] == "9123"
    assert argv[argv.index("--server.headless") + 1] == "true"
