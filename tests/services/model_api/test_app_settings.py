"""The app in-process (no model needed): optional API key on predictions, admin key, readiness."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from scoreline_model_api.app import create_app
from scoreline_model_api.settings import ModelApiSettings

from scoreline.tasks import task_ids


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
        assert ready.json()["missing"] == list(task_ids())
        assert client.post("/v1/admin/reload").status_code == 401


def test_fast_predict_path_keeps_the_schema_metrics_and_error_format(tmp_path: Path) -> None:
    with TestClient(create_app(settings(tmp_path))) as client:
        schema = client.get("/openapi.json").json()
        answer = schema["paths"]["/v1/{task}/predict"]["post"]["responses"]["200"]["content"]["application/json"]
        assert answer["schema"]["$ref"].endswith("/PredictResponse")
        bad = client.post(
            "/v1/match-outcome/predict", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"
        assert bad.headers["content-type"] == "application/json"
        unknown = client.post("/v1/no-such-task/predict", json={"instances": {}})
        assert unknown.status_code == 404
        starting = client.post("/v1/match-outcome/predict", json={"instances": {"home_team": "A", "away_team": "B"}})
        assert starting.status_code == 503 and starting.headers["retry-after"] == "5"
        assert client.get("/v1/match-outcome/predict").status_code == 405  # only POST takes the fast path
        metrics = client.get("/metrics", headers={"Authorization": "Bearer api"}).text
        assert 'route="/v1/{task}/predict",service="model-api",status="422"' in metrics
        assert 'endpoint="predict",status="404",task="unknown"' in metrics
