"""Drift and live accuracy of the champions, and reads of the prediction log model-api writes.

The trainer runs the monitor (``scoreline.monitoring``): the prediction log is read from Elasticsearch
when ``SCORELINE_ELASTICSEARCH_URL`` is set, else from model-api's JSON Lines folder
(``SCORELINE_PREDICTION_LOG_DIR``); results go to ``scoreline-drift`` / ``scoreline-outcomes`` (or
``SCORELINE_MONITORING_DIR``). What a served model is (reference profile, holdout metrics, version) comes
from MLflow: the version behind ``SCORELINE_MODEL_ALIAS`` (champion) of each task. Real outcomes for live
accuracy are the latest dataset versions in the object store.

Routes (``router``): ``POST /v1/monitor/runs`` (admin key), ``GET /v1/monitor/drift``,
``GET /v1/monitor/accuracy``, ``GET /v1/monitor/predictions``, ``GET /v1/monitor/summary``, and a replay's progress
(``scoreline replay``): ``PUT /v1/monitor/replays/{replay_id}`` (api key) and ``GET /v1/monitor/replays``.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from scoreline_kit.app import require_admin_key, require_api_key
from scoreline_kit.edge import requires

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.monitoring.indices import REPLAYS_INDEX
from scoreline.monitoring.replay import ReplayStatus
from scoreline.monitoring.service import Monitor, MonitoredModel, MonitorRun, catalog_results_loader
from scoreline.tasks import get_task, task_ids
from scoreline_trainer.settings import TrainerSettings

MAX_RECORDS = 10_000  # per GET /v1/monitor/predictions
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Bucket = Literal["minute", "hour", "day"]
_FREQ: dict[str, str] = {"minute": "1min", "hour": "1h", "day": "1D"}


# ---- request and response models ----------------------------------------------------------------
class MonitorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tasks: list[str] | None = Field(default=None, description="tasks to check; every task with a champion if omitted")
    window_hours: float | None = Field(default=None, gt=0, le=24 * 90, description="drift window; settings default")
    accuracy_days: float | None = Field(default=None, gt=0, le=3650, description="live accuracy window")


class MonitoringResults(BaseModel):
    source: Literal["elasticsearch", "local"]
    results: list[dict[str, Any]]


class PredictionRecords(BaseModel):
    task: str
    source: Literal["elasticsearch", "local"]
    since: datetime
    until: datetime
    count: int
    records: list[dict[str, Any]] = Field(
        description="as model-api logged them (@timestamp, request_id, task, model_name, model_version, inputs, "
        "features, prediction, probabilities, latency_ms), newest first"
    )


class LatencySummary(BaseModel):
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


class TrafficBucket(BaseModel):
    time: datetime
    predictions: int


class EntityCount(BaseModel):
    value: str
    requests: int


class PredictionSummary(BaseModel):
    task: str
    source: Literal["elasticsearch", "local"]
    since: datetime
    until: datetime
    bucket: Bucket
    predictions: int = Field(description="logged predictions in the window (at most SCORELINE_MONITOR_MAX_RECORDS)")
    truncated: bool = Field(description="the window held more records than were read; newest ones counted")
    latency: LatencySummary | None
    traffic: list[TrafficBucket] = Field(description="predictions per bucket, oldest first, empty buckets included")
    model_versions: dict[str, int]
    top_entities: dict[str, list[EntityCount]] = Field(description="most requested value per entity field")


# ---- the service ----------------------------------------------------------------------------------
class MonitorService:
    """Builds the monitor on first use and finds the champions in MLflow (their bundles cached by version)."""

    def __init__(self, settings: TrainerSettings) -> None:
        self.settings = settings
        self.source: Literal["elasticsearch", "local"] = "elasticsearch" if settings.elasticsearch_url else "local"
        self._monitor: Monitor | None = None
        self._client: Any = None
        self._lock = threading.Lock()
        self._models: dict[tuple[str, str], MonitoredModel] = {}

    def elastic_client(self) -> Any:
        if self._client is None and self.settings.elasticsearch_url:
            from scoreline.predlog.elastic import build_client

            self._client = build_client(
                self.settings.elasticsearch_url,
                self.settings.elasticsearch_username,
                self.settings.elasticsearch_password,
                timeout_s=self.settings.elasticsearch_timeout_s,
            )
        return self._client

    @property
    def monitor(self) -> Monitor:
        with self._lock:
            if self._monitor is None:
                from scoreline.monitoring.service import elastic_monitor, local_monitor

                loader = catalog_results_loader(self.settings)
                if self.source == "elasticsearch":
                    self._monitor = elastic_monitor(self.settings, self.elastic_client(), loader)
                else:
                    self._monitor = local_monitor(self.settings, self.settings.prediction_log_dir, loader)
            return self._monitor

    def install_templates_in_background(self) -> None:
        """With Elasticsearch: the index templates of the results (and the log), retried while it is down."""
        client = self.elastic_client()
        if client is not None:
            from scoreline.monitoring import indices

            install = threading.Thread(target=indices.install_with_retries, args=(client,), daemon=True)
            install.name = "es-templates"
            install.start()

    # -- what is served ----------------------------------------------------------------------------
    def champions(self, tasks: list[str] | None = None) -> list[MonitoredModel]:
        """The model behind the alias of each task (all registered tasks when None) that has one."""
        from scoreline.lifecycle.registry import Registry

        registry = Registry(self.settings.mlflow_uri)
        found = []
        for task in tasks or task_ids():
            version = registry.aliases(task).get(self.settings.model_alias)
            if version is not None:
                found.append(self._model(task, version))
        return found

    def _model(self, task: str, version: str) -> MonitoredModel:
        key = (task, version)
        cached = self._models.get(key)
        if cached is not None:
            return cached
        from scoreline.lifecycle.registry import load_bundle, model_uri_for

        bundle = load_bundle(model_uri_for(task, version=version), tracking_uri=self.settings.mlflow_uri)
        model = self._models[key] = MonitoredModel(
            task=task,
            model_version=version,
            reference_profile=dict(bundle.reference_profile or {}),
            holdout_metrics=dict(bundle.holdout_metrics),
            classes=tuple(get_task(task).classes),
        )
        return model

    # -- runs and results --------------------------------------------------------------------------
    def run(self, body: MonitorRequest) -> MonitorRun:
        tasks = [get_task(task).id for task in body.tasks] if body.tasks else None
        models = self.champions(tasks)
        return self.monitor.run(models, tasks, window_hours=body.window_hours, accuracy_days=body.accuracy_days)

    def report_replay(self, status: ReplayStatus) -> ReplayStatus:
        get_task(status.task)
        document = {**status.model_dump(mode="json"), "@timestamp": status.updated_at}
        self.monitor.store.write(REPLAYS_INDEX, [document], [status.replay_id])
        return status

    def replays(self, task: str | None, limit: int) -> list[ReplayStatus]:
        documents = self.monitor.store.latest(REPLAYS_INDEX, task, limit=limit)
        return [ReplayStatus.model_validate({k: v for k, v in d.items() if k != "@timestamp"}) for d in documents]

    def predictions(self, task: str, since: datetime | None, until: datetime | None, limit: int) -> PredictionRecords:
        get_task(task)
        start, end = _utc(since) or EPOCH, _utc(until) or datetime.now(UTC)
        records = self.monitor.reader.documents(task, start, end, limit)
        records.sort(key=lambda r: str(r.get("@timestamp") or r.get("timestamp") or ""), reverse=True)
        return PredictionRecords(
            task=task, source=self.source, since=start, until=end, count=len(records), records=records
        )

    def summary(self, task: str, since: datetime | None, until: datetime | None, bucket: Bucket) -> PredictionSummary:
        task_spec = get_task(task)
        end = _utc(until) or datetime.now(UTC)
        start = _utc(since) or end - timedelta(hours=self.settings.monitor_window_hours)
        limit = self.settings.monitor_max_records
        records = self.monitor.reader.documents(task, start, end, limit)
        stamps = pd.to_datetime(
            [r.get("@timestamp") or r.get("timestamp") for r in records], utc=True, errors="coerce", format="ISO8601"
        )
        latencies = np.array([float(r["latency_ms"]) for r in records if _is_number(r.get("latency_ms"))])
        entities: dict[str, Counter[str]] = {e.field: Counter() for e in task_spec.entity_fields}
        for record in records:
            inputs = record.get("inputs") or {}
            for field, counts in entities.items():
                value = inputs.get(field)
                if value not in (None, ""):
                    counts[str(value)] += 1
        return PredictionSummary(
            task=task,
            source=self.source,
            since=start,
            until=end,
            bucket=bucket,
            predictions=len(records),
            truncated=len(records) >= limit,
            latency=_latency(latencies),
            traffic=_traffic(stamps, bucket),
            model_versions=dict(Counter(str(r.get("model_version")) for r in records)),
            top_entities={
                field: [EntityCount(value=value, requests=n) for value, n in counts.most_common(10)]
                for field, counts in entities.items()
            },
        )


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)


def _latency(values: np.ndarray) -> LatencySummary | None:
    if values.size == 0:
        return None
    p50, p90, p95, p99 = np.percentile(values, [50, 90, 95, 99])
    return LatencySummary(
        mean_ms=float(values.mean()), p50_ms=float(p50), p90_ms=float(p90), p95_ms=float(p95), p99_ms=float(p99),
        max_ms=float(values.max()),
    )  # fmt: skip


def _traffic(stamps: pd.DatetimeIndex, bucket: Bucket) -> list[TrafficBucket]:
    stamps = stamps.dropna()
    if stamps.empty:
        return []
    counts = pd.Series(1, index=stamps).sort_index().resample(_FREQ[bucket]).size()
    return [TrafficBucket(time=time.to_pydatetime(), predictions=int(n)) for time, n in counts.items()]


# ---- routes -------------------------------------------------------------------------------------
def get_monitor(request: Request) -> MonitorService:
    return request.app.state.monitor


@requires("admin")
def check_admin_key(request: Request) -> None:
    settings: TrainerSettings = request.app.state.settings
    require_admin_key(lambda: settings.admin_key)(request)


@requires("api")
def check_api_key(request: Request) -> None:
    settings: TrainerSettings = request.app.state.settings
    require_api_key(lambda: settings.api_key)(request)


MonitorDep = Annotated[MonitorService, Depends(get_monitor)]
TaskQuery = Annotated[str | None, Query(description="one task; all when omitted")]
ResultLimit = Annotated[int, Query(ge=1, le=10_000)]

router = APIRouter(prefix="/v1/monitor", tags=["monitoring"])


@router.post("/runs", response_model=MonitorRun, dependencies=[Depends(check_admin_key)])
async def run_monitor(monitor: MonitorDep, body: MonitorRequest | None = None) -> MonitorRun:
    """Drift and live accuracy of every champion over a window, results stored; ``alert`` says the alert rule
    holds (at least N features in alert, or the predicted-class distribution drifted): retrain."""
    return await run_in_threadpool(monitor.run, body or MonitorRequest())


@router.get("/drift", response_model=MonitoringResults)
async def latest_drift(monitor: MonitorDep, task: TaskQuery = None, limit: ResultLimit = 200) -> MonitoringResults:
    """Latest drift results (one document per task, feature and run), newest first."""
    results = await run_in_threadpool(monitor.monitor.latest_drift, task, limit)
    return MonitoringResults(source=monitor.source, results=results)


@router.get("/accuracy", response_model=MonitoringResults)
async def latest_accuracy(monitor: MonitorDep, task: TaskQuery = None, limit: ResultLimit = 200) -> MonitoringResults:
    """Live accuracy per model version and day (with the version's holdout metrics), newest first."""
    results = await run_in_threadpool(monitor.monitor.latest_accuracy, task, limit)
    return MonitoringResults(source=monitor.source, results=results)


@router.get("/predictions", response_model=PredictionRecords)
async def predictions(
    monitor: MonitorDep,
    task: Annotated[str, Query(min_length=1)],
    since: Annotated[datetime | None, Query(description="oldest @timestamp (ISO 8601, UTC if naive)")] = None,
    until: Annotated[datetime | None, Query(description="newest @timestamp; now when omitted")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_RECORDS)] = 1000,
) -> PredictionRecords:
    """The newest logged predictions of a task, newest first (bounded by ``limit``)."""
    return await run_in_threadpool(monitor.predictions, task, since, until, limit)


@router.get("/summary", response_model=PredictionSummary)
async def summary(
    monitor: MonitorDep,
    task: Annotated[str, Query(min_length=1)],
    since: Annotated[datetime | None, Query(description="window start; SCORELINE_MONITOR_WINDOW_HOURS ago")] = None,
    until: Annotated[datetime | None, Query(description="window end; now when omitted")] = None,
    bucket: Bucket = "minute",
) -> PredictionSummary:
    """Traffic per bucket, latency percentiles, versions and most requested entities of a task's predictions."""
    return await run_in_threadpool(monitor.summary, task, since, until, bucket)


class ReplayList(BaseModel):
    source: Literal["elasticsearch", "local"]
    replays: list[ReplayStatus] = Field(description="newest first (by their last update)")


@router.put("/replays/{replay_id}", response_model=ReplayStatus, dependencies=[Depends(check_api_key)])
async def report_replay(monitor: MonitorDep, replay_id: str, body: ReplayStatus) -> ReplayStatus:
    """A replay's progress (``scoreline replay`` sends it after every day), kept for the dashboard."""
    if body.replay_id != replay_id:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT, f"the body's replay_id {body.replay_id!r} is not the path's {replay_id!r}"
        )
    return await run_in_threadpool(monitor.report_replay, body)


@router.get("/replays", response_model=ReplayList)
async def replays(monitor: MonitorDep, task: TaskQuery = None, limit: ResultLimit = 20) -> ReplayList:
    """The latest replays' progress (days played of the period, predictions logged, results ingested, the last
    monitor run's drift and live accuracy), newest first."""
    found = await run_in_threadpool(monitor.replays, task, limit)
    return ReplayList(source=monitor.source, replays=found)
