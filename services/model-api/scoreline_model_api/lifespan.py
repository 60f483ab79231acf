"""Startup and shutdown of model-api: the prediction log writer and its sink process (and, with
Elasticsearch, its index templates), the reloader with its first load and poller, and the prediction
service the routes use.

``create_app`` puts the settings, the model holder and the metrics on ``app.state``; the lifespan adds
``app.state.serving`` (a ``Serving``) once the writer and reloader run, and stops them on shutdown.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI

from scoreline.predlog.factory import make_sink
from scoreline.predlog.sinkd import SinkProcess, connect_writer, start_sink_process
from scoreline.predlog.writer import PredictionLogWriter
from scoreline.serving.holder import ModelHolder
from scoreline.serving.memory import settle_heap, tune_collector
from scoreline.serving.reloader import Reloader, ReloadOutcome, mlflow_client_timeouts
from scoreline.serving.service import PredictionService
from scoreline_model_api.metrics import ModelApiMetrics, register_sink_metrics
from scoreline_model_api.settings import ModelApiSettings


@dataclass(frozen=True)
class Serving:
    """What the lifespan started; the routes reach it through ``dependencies``."""

    writer: PredictionLogWriter | None
    reloader: Reloader
    service: PredictionService


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: ModelApiSettings = app.state.settings
    holder: ModelHolder = app.state.holder
    metrics: ModelApiMetrics = app.state.model_api_metrics
    mlflow_client_timeouts()
    tune_collector()
    writer, sink_process = _start_writer(settings)
    metrics.bind(holder, writer)
    if writer is not None:
        register_sink_metrics(app.state.metrics_registry, writer.sink)
    if settings.elasticsearch_url:
        _install_templates_in_background(settings)

    def on_reload(outcome: ReloadOutcome) -> None:
        metrics.observe_reload(outcome)
        if outcome.outcome in ("swapped", "cached"):
            settle_heap()

    reloader = Reloader(
        holder,
        tracking_uri=settings.mlflow_uri,
        cache_dir=settings.model_cache_dir,
        alias=settings.model_alias,
        on_outcome=on_reload,
    )
    service = PredictionService(
        holder, writer, max_instances=settings.max_instances, max_batch_rows=settings.max_batch_rows
    )
    app.state.serving = Serving(writer=writer, reloader=reloader, service=service)

    def first_load() -> None:
        reloader.reload_all(reason="startup")
        settle_heap()
        if settings.model_poll_interval_s > 0:
            reloader.start_polling(settings.model_poll_interval_s)

    threading.Thread(target=first_load, name="model-first-load", daemon=True).start()
    try:
        yield
    finally:
        reloader.stop()
        if writer is not None:
            writer.close()
        if sink_process is not None:
            sink_process.stop()


def _start_writer(settings: ModelApiSettings) -> tuple[PredictionLogWriter | None, SinkProcess | None]:
    """The writer, and the sink process this model-api started (None when a supervisor owns it, see
    ``scoreline.predlog.sinkd``, or the sink runs in this process)."""
    if not settings.log_predictions:
        return None, None
    if not settings.prediction_log_sink_process:
        sink = make_sink(settings)
        writer = PredictionLogWriter(
            sink,
            queue_size=settings.prediction_log_queue_size,
            batch_records=settings.prediction_log_batch_records,
            flush_interval_s=settings.prediction_log_flush_interval_s,
            fallback=getattr(sink, "spill", None),
        ).start()
        return writer, None
    owned = None
    address = settings.prediction_log_sink_address
    if not address:
        owned = start_sink_process(settings)
        address = owned.address
    return connect_writer(settings, address), owned


def _install_templates_in_background(settings: ModelApiSettings) -> None:
    """The index templates the prediction log writes under; an outage at start must not stop serving."""
    from scoreline.monitoring import indices
    from scoreline.predlog.elastic import build_client

    client = build_client(
        settings.elasticsearch_url or "",
        settings.elasticsearch_username,
        settings.elasticsearch_password,
        timeout_s=settings.elasticsearch_timeout_s,
    )
    threading.Thread(target=indices.install_with_retries, args=(client,), name="es-templates", daemon=True).start()
