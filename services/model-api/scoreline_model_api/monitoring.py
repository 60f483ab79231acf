"""Monitoring routes of model-api: run drift + live accuracy for the served models, read the results.

The app includes ``router``; ``start_monitoring(app, settings)`` (called in the lifespan) builds the
monitor once (Elasticsearch when ``SCORELINE_ELASTICSEARCH_URL`` is set, else the local JSON Lines
log) and installs the index templates in the background, retrying while Elasticsearch is down.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field
from scoreline_kit.app import require_admin_key

from scoreline.errors import ErrorCode, ScorelineError
from scoreline.monitoring import indices
from scoreline.monitoring.service import (
    Monitor,
    MonitoredModel,
    MonitorRun,
    catalog_results_loader,
    elastic_monitor,
    local_monitor,
)
from scoreline.monitoring.settings import MonitoringSettings
from scoreline.settings import AuthSettings, ElasticSettings, StorageSettings

log = logging.getLogger("scoreline.model_api.monitoring")

router = APIRouter(tags=["monitoring"])


class MonitorRequest(BaseModel):
    tasks: list[str] | None = Field(default=None, description="tasks to check; all served tasks when omitted")
    window_hours: float | None = Field(default=None, gt=0, le=24 * 90, description="drift window; settings default")
    accuracy_days: float | None = Field(default=None, gt=0, le=3650, description="live accuracy window")


class MonitoringResults(BaseModel):
    source: str  # elasticsearch / local
    results: list[dict[str, Any]]


def _settings(request: Request) -> Any:
    settings = getattr(request.app.state, "settings", None)
    if settings is None:
        from scoreline_model_api.settings import ModelApiSettings

        settings = ModelApiSettings()
        request.app.state.settings = settings
    return settings


def _admin(request: Request) -> None:
    settings = _settings(request)
    admin_key = settings.admin_key if isinstance(settings, AuthSettings) else None
    require_admin_key(lambda: admin_key)(request)


def _monitor(request: Request) -> Monitor:
    monitor = getattr(request.app.state, "monitor", None)
    if monitor is None:
        monitor = start_monitoring(request.app, _settings(request))
    return monitor


def _served_models(request: Request) -> list[MonitoredModel]:
    serving = getattr(request.app.state, "serving", None) or {}
    holder = getattr(request.app.state, "holder", None) or getattr(serving.get("service"), "holder", None)
    if holder is None:
        raise ScorelineError(ErrorCode.UNAVAILABLE, "model-api is starting; try again", retry_after_s=1)
    models = []
    for task in holder.tasks:
        served = holder.peek(task)
        if served is None:
            continue
        bundle = served.bundle
        models.append(
            MonitoredModel(
                task=task,
                model_version=str(served.version),
                reference_profile=dict(getattr(bundle, "reference_profile", {}) or {}),
                holdout_metrics=served.holdout_metrics,
                classes=tuple(getattr(served.predictor, "classes", ()) or ()),
            )
        )
    return models


def start_monitoring(app: Any, settings: Any) -> Monitor:
    """Build the app's monitor from its settings (idempotent) and install templates in the background."""
    existing = getattr(app.state, "monitor", None)
    if existing is not None:
        return existing
    monitoring_settings = settings if isinstance(settings, MonitoringSettings) else MonitoringSettings()
    storage = settings if isinstance(settings, StorageSettings) else StorageSettings()
    loader = catalog_results_loader(storage)
    if isinstance(settings, ElasticSettings) and settings.elasticsearch_url:
        from scoreline.predlog.elastic import build_client

        client = build_client(
            settings.elasticsearch_url,
            settings.elasticsearch_username,
            settings.elasticsearch_password,
            timeout_s=float(getattr(settings, "elasticsearch_timeout_s", 10.0)),
        )
        monitor = elastic_monitor(monitoring_settings, client, loader)
        app.state.monitor_source = "elasticsearch"
        threading.Thread(target=_install_templates, args=(client,), name="es-templates", daemon=True).start()
    else:
        log_dir = getattr(settings, "prediction_log_dir", None)
        if log_dir is None:
            raise ScorelineError(ErrorCode.INTERNAL, "model-api settings have no prediction_log_dir")
        monitor = local_monitor(monitoring_settings, log_dir, loader)
        app.state.monitor_source = "local"
    app.state.monitor = monitor
    return monitor


def _install_templates(client: Any, attempts: int = 60, wait_s: float = 5.0) -> None:
    for attempt in range(attempts):
        try:
            done = indices.install(client)
            log.info("Elasticsearch templates: %s", done)
            return
        except Exception as error:  # an outage at start must not stop serving; the sink spools meanwhile
            log.warning("installing Elasticsearch templates failed (attempt %d): %s", attempt + 1, error)
            time.sleep(wait_s)


@router.post("/v1/admin/monitor", response_model=MonitorRun, dependencies=[Depends(_admin)])
async def run_monitor(request: Request, body: MonitorRequest | None = None) -> MonitorRun:
    """Drift and live accuracy for every served task over a window; ``alert`` says the alert rule holds
    (at least N features in alert, or the predicted-class distribution drifted): retrain."""
    body = body or MonitorRequest()
    monitor = _monitor(request)
    models = _served_models(request)
    return await run_in_threadpool(
        monitor.run, models, body.tasks, window_hours=body.window_hours, accuracy_days=body.accuracy_days
    )


@router.get("/v1/monitoring/drift", response_model=MonitoringResults)
async def latest_drift(
    request: Request, task: str | None = None, limit: int = Query(default=200, ge=1, le=10_000)
) -> MonitoringResults:
    """Latest drift results (one document per task, feature and run), newest first."""
    monitor = _monitor(request)
    results = await run_in_threadpool(monitor.latest_drift, task, limit)
    return MonitoringResults(source=request.app.state.monitor_source, results=results)


@router.get("/v1/monitoring/accuracy", response_model=MonitoringResults)
async def latest_accuracy(
    request: Request, task: str | None = None, limit: int = Query(default=200, ge=1, le=10_000)
) -> MonitoringResults:
    """Live accuracy per model version and day (with the version's holdout metrics), newest first."""
    monitor = _monitor(request)
    results = await run_in_threadpool(monitor.latest_accuracy, task, limit)
    return MonitoringResults(source=request.app.state.monitor_source, results=results)


class SpoolCollector(Collector):
    """Spool size and age (and sink health) of the Elasticsearch sink, read at scrape time."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def collect(self) -> Any:
        stats = self.sink.stats()
        for name, doc, value in (
            ("scoreline_predlog_spool_records", "Prediction records waiting in the disk spool", stats.spool.records),
            ("scoreline_predlog_spool_bytes", "Size of the disk spool in bytes", stats.spool.bytes),
            (
                "scoreline_predlog_spool_oldest_age_seconds",
                "Age of the oldest spooled record",
                stats.spool.oldest_age_s,
            ),
            ("scoreline_predlog_es_delivered", "Prediction records Elasticsearch acknowledged", stats.delivered),
            ("scoreline_predlog_es_spooled", "Prediction records that went to the spool", stats.spooled),
            ("scoreline_predlog_es_buffered", "Prediction records in memory waiting for a bulk", stats.buffered),
            ("scoreline_predlog_es_rejected", "Prediction records Elasticsearch refused for good", stats.rejected),
            ("scoreline_predlog_es_healthy", "1 while Elasticsearch takes prediction records", int(stats.healthy)),
        ):
            yield GaugeMetricFamily(name, doc, value=float(value))


def register_sink_metrics(registry: CollectorRegistry, sink: Any) -> None:
    """Expose the spool metrics when the sink is the Elasticsearch one (it has ``stats``)."""
    if hasattr(sink, "stats") and hasattr(sink, "spool"):
        registry.register(SpoolCollector(sink))
