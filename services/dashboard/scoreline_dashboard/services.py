"""The calls the pages make, one class per service, each returning plain typed data.

Response shapes follow the services' OpenAPI; unknown extra fields are kept so a newer
service does not break an older dashboard.
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from scoreline_dashboard.client import ServiceClient
from scoreline_dashboard.settings import DashboardSettings


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())


class Prediction(Loose):
    probabilities: dict[str, float] = Field(default_factory=dict)
    prediction: str | float | None = None
    label: str | None = None  # the prediction in words, e.g. "Brazil win"


class PredictResult(Loose):
    predictions: list[Prediction]
    model_name: str | None = None
    model_version: str | None = None


class ModelApi:
    def __init__(self, settings: DashboardSettings) -> None:
        self.http = ServiceClient(
            "model-api", settings.model_api_url, settings.dashboard_request_timeout_s, setting="SCORELINE_MODEL_API_URL"
        )
        self.long_timeout_s = settings.dashboard_long_timeout_s
        key = settings.api_key.get_secret_value() if settings.api_key else None
        self.auth_headers = {"Authorization": f"Bearer {key}"} if key else {}

    def models(self) -> dict[str, Any]:
        return self.http.get("/v1/models")

    def schema(self, task: str) -> dict[str, Any]:
        return self.http.get(f"/v1/{task}/schema")

    def predict(self, task: str, instances: list[dict[str, Any]]) -> PredictResult:
        response = self.http.post(f"/v1/{task}/predict", json={"instances": instances}, headers=self.auth_headers)
        return parse_predict(self.http.json(response), response.headers.get("X-Model-Version"))

    def predict_batch(self, task: str, filename: str, content: bytes, content_type: str) -> tuple[bytes, str]:
        response = self.http.post(
            f"/v1/{task}/predict/batch",
            files={"file": (filename, content, content_type)},
            headers=self.auth_headers,
            timeout_s=self.long_timeout_s,
        )
        return response.content, response.headers.get("content-type", "application/octet-stream")

    def drift(self, task: str) -> Any:
        return self.http.get("/v1/monitoring/drift", params={"task": task})

    def accuracy(self, task: str) -> Any:
        return self.http.get("/v1/monitoring/accuracy", params={"task": task})


def parse_predict(body: dict[str, Any], header_version: str | None) -> PredictResult:
    result = PredictResult.model_validate(body)
    model = body.get("model")
    if isinstance(model, dict):
        result.model_name = result.model_name or model.get("name")
        result.model_version = result.model_version or _str_or_none(model.get("version"))
    first = body["predictions"][0] if body.get("predictions") else {}
    result.model_name = result.model_name or first.get("model_name")
    result.model_version = result.model_version or _str_or_none(first.get("model_version")) or header_version
    return result


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


class Ingest:
    def __init__(self, settings: DashboardSettings) -> None:
        self.http = ServiceClient(
            "ingest", settings.ingest_url, settings.dashboard_request_timeout_s, setting="SCORELINE_INGEST_URL"
        )
        self.long_timeout_s = settings.dashboard_long_timeout_s

    def datasets(self) -> Any:
        return self.http.get("/v1/datasets")

    def versions(self, task: str, dataset: str) -> Any:
        return self.http.get(f"/v1/datasets/{task}/{dataset}/versions")

    def manifest(self, task: str, dataset: str, version: str) -> Any:
        return self.http.get(f"/v1/datasets/{task}/{dataset}/versions/{version}")

    def data(self, task: str, dataset: str, version: str) -> pd.DataFrame:
        """The canonical table of a version (Parquet)."""
        response = self.http.request(
            "GET", f"/v1/datasets/{task}/{dataset}/versions/{version}/data", timeout_s=self.long_timeout_s
        )
        return pd.read_parquet(io.BytesIO(response.content))


class Trainer:
    def __init__(self, settings: DashboardSettings) -> None:
        self.http = ServiceClient(
            "trainer", settings.trainer_url, settings.dashboard_request_timeout_s, setting="SCORELINE_TRAINER_URL"
        )
        self.long_timeout_s = settings.dashboard_long_timeout_s

    def jobs(self) -> Any:
        return self.http.get("/v1/jobs")

    def promotions(self, task: str, admin_key: str) -> Any:
        """The promotion history; the trainer keeps it behind the admin key."""
        response = self.http.request("GET", f"/v1/promotions/{task}", headers={"Authorization": f"Bearer {admin_key}"})
        return self.http.json(response)

    def promotion_action(self, task: str, action: str, admin_key: str, body: dict[str, Any]) -> Any:
        """``action`` is "promote" (decide), "approve" or "rollback"."""
        path = f"/v1/promotions/{task}" if action == "promote" else f"/v1/promotions/{task}/{action}"
        response = self.http.post(
            path, json=body, headers={"Authorization": f"Bearer {admin_key}"}, timeout_s=self.long_timeout_s
        )
        return self.http.json(response)


class Mlflow:
    """The parts of MLflow's REST API 2.0 the Models page reads."""

    def __init__(self, settings: DashboardSettings) -> None:
        self.http = ServiceClient(
            "MLflow", settings.mlflow_url, settings.dashboard_request_timeout_s, setting="SCORELINE_MLFLOW_URI"
        )

    def registered_model(self, name: str) -> dict[str, Any]:
        return self.http.get("/api/2.0/mlflow/registered-models/get", params={"name": name})["registered_model"]

    def model_versions(self, name: str) -> list[dict[str, Any]]:
        body = self.http.get(
            "/api/2.0/mlflow/model-versions/search", params={"filter": f"name='{name}'", "max_results": 200}
        )
        return body.get("model_versions", [])

    def run(self, run_id: str) -> dict[str, Any]:
        return self.http.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})["run"]
