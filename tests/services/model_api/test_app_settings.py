"""The app in-process (no model needed): optional API key on predictions, admin key, readiness."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from scoreline_model_api.app import create_app
from scoreline_model_api.settings import ModelApiSettings


def settings(tmp_path: Path, **extra: object) -> ModelApiSettings:
    return ModelApiSettings(
        mlflow_uri="http://127.0.0.1:9",  # nothing listens there: no model, and no cached champion either
        model_cache_dir=tmp_path / "cache",
        prediction_log_dir=tmp_path / "predictions",
        model_poll_interval_s=0,
        admin_key="admin",
        api_key="api",
        **extra,
    )


def test_api_key_is_optional_on_predictions(tmp_path: Path) -> None:
    body = {"instances": {"home_team": "A", "away_team": "B"}}
    with TestClient(create_app(settings(tmp_path))) as client:
        assert client.post("/v1/match-outcome/predict", json=body).status_code == 503  # open, but no model yet
    with TestClient(create_app(settings(tmp_path, require_api_key_for_predictions=True))) as client:
        assert client.post("/v1/match-outcome/predict", json=body).status_code == 401
        assert (
            client.post("/v1/match-outcome/predict", json=body, headers={"Authorization": "Bearer no"}).status_code
            == 403
        )
        allowed = client.post("/v1/match-outcome/predict", json=body, headers={"Authorization": "Bearer api"})
        assert allowed.status_code == 503
        assert allowed.json()["error"]["code"] == "unavailable"


def test_not_ready_without_a_model_but_alive(tmp_path: Path) -> None:
    with TestClient(create_app(settings(tmp_path))) as client:
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["missing"] == ["match-outcome"]
        assert client.post("/v1/admin/reload").status_code == 401
