"""Response models of model-api (OpenAPI) and the JSON response helper."""

from __future__ import annotations

from typing import Any, Literal

from fastapi.responses import Response
from pydantic import BaseModel, Field

from scoreline_model_api.errors import json_bytes


class InstancePrediction(BaseModel):
    request_id: str
    prediction: str | float | list[float] = Field(
        description="the most likely class (classification), the value (regression) or one value per horizon day "
        "(forecast)"
    )
    label: str = Field(description="the prediction in words, as the task describes it")
    probabilities: dict[str, float] | None = Field(default=None, description="per class (classification)")
    horizon: list[int] | None = Field(default=None, description="forecast: the days ahead of each value")
    intervals: dict[str, list[float]] | None = Field(default=None, description="forecast: e.g. p10 and p90 per day")
    contributions: dict[str, float] | None = Field(
        default=None, description="tasks that explain: the features that pushed this prediction most (SHAP, margin)"
    )
    model_name: str
    model_version: str


class PredictResponse(BaseModel):
    task: str
    model_name: str
    model_version: str
    predictions: list[InstancePrediction]


class ServedModelInfo(BaseModel):
    task: str
    model_name: str | None
    version: str | None
    alias: str
    loaded_at: str | None
    source: Literal["mlflow", "cache"] | None
    fast_path: bool | None
    holdout_metrics: dict[str, float]
    last_reload_error: dict[str, Any] | None


class WorkerInfo(BaseModel):
    worker: int
    pid: int
    versions: dict[str, str | None] = Field(description="per task: the version this worker serves")
    staged: dict[str, str] = Field(description="per task: a version loaded and waiting for the other workers")


class ModelsResponse(BaseModel):
    models: list[ServedModelInfo]
    workers: list[WorkerInfo] = Field(description="one entry per worker process (one when model-api runs alone)")


class ReloadResponse(BaseModel):
    outcomes: list[dict[str, Any]]


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json_bytes(payload), status, headers, "application/json")
