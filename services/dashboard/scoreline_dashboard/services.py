"""The calls the pages make, one class per service, each returning plain data for the pages.

Scoreline's services are reached through ``scoreline_client`` (typed answers, one error type), tried once
because a person is waiting. Nothing else: the prediction log, drift, live accuracy and the registered
versions all come from the trainer's endpoints. Unknown extra fields are kept so a newer service does not
break an older dashboard.
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scoreline_client import IngestClient, ModelApiClient, TrainerClient

from scoreline_dashboard.settings import DashboardSettings


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())


class Prediction(Loose):
    """One answer of ``POST /v1/{task}/predict``, whatever the task's kind."""

    prediction: str | float | list[float] | None = None  # label | value | values per horizon day
    label: str | None = None  # the prediction in words
    probabilities: dict[str, float] = Field(default_factory=dict)  # classification
    horizon: list[int] | None = None  # forecast
    intervals: dict[str, list[float]] | None = None  # forecast: {p10: [...], p90: [...]}
    contributions: dict[str, float] | None = None  # tasks that explain: feature → SHAP value


class PredictResult(Loose):
    predictions: list[Prediction]
    model_name: str | None = None
    model_version: str | None = None


def _plain(model: BaseModel) -> dict[str, Any]:
    """A typed answer as the JSON the service sent (no defaults added), for pages that read dicts."""
    return model.model_dump(mode="json", exclude_unset=True)


class ModelApi:
    def __init__(self, settings: DashboardSettings) -> None:
        self.client = ModelApiClient(
            settings.model_api_url,
            api_key=settings.api_key,
            timeout_s=settings.dashboard_request_timeout_s,
            attempts=1,
            setting="SCORELINE_MODEL_API_URL",
        )
        self.long_timeout_s = settings.dashboard_long_timeout_s

    def models(self) -> dict[str, Any]:
        return _plain(self.client.models())

    def schema(self, task: str) -> dict[str, Any]:
        return _plain(self.client.schema(task))

    def predict(self, task: str, instances: list[dict[str, Any]]) -> PredictResult:
        return parse_predict(self.client.predict(task, instances))

    def predict_batch(self, task: str, filename: str, content: bytes, content_type: str) -> tuple[bytes, str]:
        result = self.client.predict_batch(
            task, content, filename, content_type=content_type, timeout_s=self.long_timeout_s
        )
        return result.content, result.media_type


def parse_predict(body: dict[str, Any]) -> PredictResult:
    result = PredictResult.model_validate(body)
    first = body["predictions"][0] if body.get("predictions") else {}
    result.model_name = result.model_name or first.get("model_name")
    version = result.model_version or first.get("model_version")
    result.model_version = None if version is None else str(version)
    return result


class Ingest:
    def __init__(self, settings: DashboardSettings) -> None:
        self.client = IngestClient(
            settings.ingest_url,
            api_key=settings.api_key,  # the catalogue and downloads are closed reads
            timeout_s=settings.dashboard_request_timeout_s,
            attempts=1,
            setting="SCORELINE_INGEST_URL",
        )
        self.long_timeout_s = settings.dashboard_long_timeout_s

    def datasets(self) -> list[dict[str, Any]]:
        return [_plain(summary) for summary in self.client.datasets()]

    def versions(self, task: str, dataset: str) -> list[dict[str, Any]]:
        return [_plain(manifest) for manifest in self.client.versions(task, dataset)]

    def manifest(self, task: str, dataset: str, version: str) -> dict[str, Any]:
        return _plain(self.client.manifest(task, dataset, version))

    def data(self, task: str, dataset: str, version: str) -> pd.DataFrame:
        """The canonical table of a version (``GET .../versions/{version}/data``, Parquet)."""
        content = self.client.data(task, dataset, version, timeout_s=self.long_timeout_s)
        return pd.read_parquet(io.BytesIO(content))


class Trainer:
    def __init__(self, settings: DashboardSettings) -> None:
        self.settings = settings
        self.client = self._client(None)
        self.long_timeout_s = settings.dashboard_long_timeout_s

    def _client(self, admin_key: str | None) -> TrainerClient:
        return TrainerClient(
            self.settings.trainer_url,
            api_key=self.settings.api_key,  # jobs, versions and monitoring are closed reads
            admin_key=admin_key,
            timeout_s=self.settings.dashboard_request_timeout_s,
            attempts=1,
            setting="SCORELINE_TRAINER_URL",
        )

    def jobs(self) -> dict[str, Any]:
        return {"jobs": [_plain(job) for job in self.client.jobs()]}

    def model_versions(self, task: str) -> dict[str, Any]:
        """Registered versions with aliases, holdout and baseline metrics and tags (public)."""
        return _plain(self.client.model_versions(task))

    def summary(self, task: str, bucket: str | None = None) -> dict[str, Any]:
        return _plain(self.client.summary(task, bucket=bucket))  # type: ignore[arg-type]

    def predictions(self, task: str, limit: int) -> dict[str, Any]:
        return self.client.predictions(task, limit=limit)

    def drift(self, task: str) -> dict[str, Any]:
        return self.client.drift(task)

    def prediction_runs(self, task: str) -> list[dict[str, Any]]:
        """Scheduled prediction runs (the daily pipeline's answers kept in the object store), newest first."""
        return self.client.prediction_runs(task)

    def prediction_run_data(self, task: str, run_id: str) -> bytes:
        return self.client.prediction_run_data(task, run_id)

    def accuracy(self, task: str) -> dict[str, Any]:
        return self.client.accuracy(task)

    def calibration(self, task: str, version: str) -> dict[str, Any]:
        """The version's holdout calibration table (its reliability diagram), from the run's logged artifact."""
        return self.client.calibration(task, version)

    def replays(self, task: str) -> list[dict[str, Any]]:
        """``scoreline replay``'s progress for the task, newest first."""
        return self.client.replays(task, limit=5)

    def promotions(self, task: str, admin_key: str) -> dict[str, Any]:
        """The promotion history; the trainer keeps it behind the admin key."""
        return _plain(self._client(admin_key).promotions(task))

    def promotion_action(self, task: str, action: str, admin_key: str, body: dict[str, Any]) -> dict[str, Any]:
        """``action`` is "promote" (decide), "approve" or "rollback"; ``body`` as the trainer's route takes it."""
        trainer = self._client(admin_key)
        trainer.http.timeout_s = self.long_timeout_s
        if action == "promote":
            decision = trainer.decide(
                task, mode=body.get("mode"), actor=body.get("actor"), margin=body.get("margin"),
                baseline=body.get("baseline"),
            )  # fmt: skip
        elif action == "approve":
            decision = trainer.approve(task, str(body["version"]), str(body.get("actor") or "dashboard"))
        elif action == "rollback":
            decision = trainer.rollback(task, body.get("actor"))
        else:
            raise ValueError(f"unknown promotion action {action!r}; expected promote, approve or rollback")
        return _plain(decision)
