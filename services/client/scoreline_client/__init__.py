"""Typed client for the Scoreline services: one class per service, one method per endpoint, one error type.

    from scoreline_client import ScorelineClients, ServiceError

    clients = ScorelineClients.build(ingest_url=..., trainer_url=..., model_api_url=..., api_key=..., admin_key=...)
    manifest = clients.ingest.upload("match-outcome", "simulated", path).manifest
    job = clients.trainer.wait_for_job(clients.trainer.submit_job("match-outcome", "simulated").id)

Depends on httpx and pydantic only, so it installs into Airflow's environment as well.
"""

from scoreline_client.clients import IngestClient, ModelApiClient, ScorelineClients, TrainerClient
from scoreline_client.errors import ServiceError
from scoreline_client.http import RETRYABLE_STATUS, ServiceHttp
from scoreline_client.models import (
    BatchPredictions,
    DatasetManifest,
    DatasetSummary,
    Ingested,
    Job,
    LatencySummary,
    ModelVersion,
    ModelVersions,
    PredictionSummary,
    PromotionDecision,
    PromotionHistory,
    ServedModel,
    ServedModels,
    TaskSchema,
)

__all__ = [
    "RETRYABLE_STATUS",
    "BatchPredictions",
    "DatasetManifest",
    "DatasetSummary",
    "IngestClient",
    "Ingested",
    "Job",
    "LatencySummary",
    "ModelApiClient",
    "ModelVersion",
    "ModelVersions",
    "PredictionSummary",
    "PromotionDecision",
    "PromotionHistory",
    "ScorelineClients",
    "ServedModel",
    "ServedModels",
    "ServiceError",
    "ServiceHttp",
    "TaskSchema",
    "TrainerClient",
]
