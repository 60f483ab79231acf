"""Typed answers of the services, where their shape is stable. Unknown fields are kept (``extra="allow"``),
so a newer service does not break an older client; fields a service may add later have defaults."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow", protected_namespaces=())


# ---- ingest --------------------------------------------------------------------------------------
class DatasetManifest(Loose):
    """A stored dataset version (``manifest.json``)."""

    task: str
    dataset: str
    version: str
    sha256: str | None = None
    rows: int
    columns: list[str] = Field(default_factory=list)
    dtypes: dict[str, str] = Field(default_factory=dict)
    source: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None
    schema_version: int | None = None
    data_key: str | None = None
    date_min: str | None = None
    date_max: str | None = None
    sources: list[dict[str, Any]] = Field(default_factory=list)  # every file of a several-file or appended ingest
    lineage: dict[str, Any] | None = None  # base_version, files, rows_read, duplicates_dropped, rows_added, ...


class Ingested(Loose):
    """The answer of an ingest: the version's manifest, and whether this call created it (201) or found it (200)."""

    manifest: DatasetManifest
    created: bool


class DatasetSummary(Loose):
    task: str
    dataset: str
    versions: int
    latest: DatasetManifest


# ---- trainer -------------------------------------------------------------------------------------
JobStatus = Literal["queued", "running", "succeeded", "failed"]


class Job(Loose):
    id: str
    task: str
    dataset: str
    dataset_version: str | None = None
    holdout_start: str | None = None
    tuning_budget: dict[str, Any] | None = None
    status: JobStatus
    progress: float = 0.0
    stage: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    holdout_window: dict[str, Any] | None = None
    run_id: str | None = None
    model_version: str | None = None
    error: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed")


class PromotionDecision(Loose):
    """What the promotion policy decided (``POST /v1/promotions/{task}`` and its approve / rollback)."""

    task: str
    decision: str  # promoted, rejected, pending_approval, unchanged, rolled_back
    reason: str = ""
    challenger_version: str | None = None
    champion_version: str | None = None
    previous_champion_version: str | None = None
    primary_metric: str | None = None
    greater_is_better: bool | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)
    mode: str | None = None
    margin: float | None = None
    decided_at: str | None = None
    decided_by: str | None = None


class PromotionHistory(Loose):
    task: str
    aliases: dict[str, str] = Field(default_factory=dict)
    events: list[dict[str, Any]] = Field(default_factory=list)


class ModelVersion(Loose):
    """One registered version (``GET /v1/models/{task}/versions``): metrics as MLflow keys them, without the
    ``holdout_`` prefix in ``holdout`` and grouped by baseline in ``baselines`` (``baseline_<b>_<metric>``)."""

    version: str
    aliases: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    run_id: str | None = None
    status: str | None = None
    holdout: dict[str, float] = Field(default_factory=dict)
    baselines: dict[str, dict[str, float]] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict, description="every metric of the run, as logged")
    tags: dict[str, str] = Field(default_factory=dict)


class ModelVersions(Loose):
    task: str
    model_name: str
    kind: str | None = None
    primary_metric: str | None = None
    greater_is_better: dict[str, bool] = Field(default_factory=dict, description="per metric name of the task")
    aliases: dict[str, str] = Field(default_factory=dict)
    versions: list[ModelVersion] = Field(default_factory=list)


class LatencySummary(Loose):
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


class PredictionSummary(Loose):
    """A task's logged predictions in a window (``GET /v1/monitor/summary``)."""

    task: str
    source: str | None = None
    since: datetime
    until: datetime
    bucket: str = "minute"
    predictions: int = 0
    truncated: bool = False
    latency: LatencySummary | None = None
    traffic: list[dict[str, Any]] = Field(default_factory=list, description="[{time, predictions}], oldest first")
    model_versions: dict[str, int] = Field(default_factory=dict)
    top_entities: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, description="{field: [{value, requests}]}, most requested first"
    )


# ---- model-api -----------------------------------------------------------------------------------
class ServedModel(Loose):
    """What model-api serves for one task (``GET /v1/models``)."""

    task: str
    model_name: str | None = None
    version: str | None = None
    alias: str | None = None
    loaded_at: str | None = None
    source: str | None = None
    fast_path: bool | None = None
    holdout_metrics: dict[str, float] = Field(default_factory=dict)
    last_reload_error: dict[str, Any] | None = None


class ServedWorker(Loose):
    """One model-api worker process and the version of each task it serves."""

    worker: int = 0
    pid: int = 0
    versions: dict[str, str | None] = Field(default_factory=dict)
    staged: dict[str, str] = Field(default_factory=dict)


class ServedModels(Loose):
    models: list[ServedModel] = Field(default_factory=list)
    workers: list[ServedWorker] = Field(default_factory=list)

    def get(self, task: str) -> ServedModel | None:
        return next((model for model in self.models if model.task == task), None)

    def served_everywhere(self, task: str) -> str | None:
        """The version of ``task`` every worker serves; None while they differ (a swap or a first load still on
        its way: the worker that answered may be ahead of the others). Without a workers listing, the answering
        process's version."""
        if not self.workers:
            model = self.get(task)
            return None if model is None else model.version
        versions = {worker.versions.get(task) for worker in self.workers}
        return versions.pop() if len(versions) == 1 else None


class TaskSchema(Loose):
    """What one prediction instance of a task looks like (``GET /v1/{task}/schema``)."""

    task: str
    title: str | None = None
    kind: str | None = None  # multiclass, binary, regression, forecast
    classes: list[str] = Field(default_factory=list)
    horizon: int | None = None  # forecast: days ahead per request
    request: dict[str, Any] = Field(default_factory=dict, description="JSON schema of one instance")
    entity_fields: dict[str, str] = Field(default_factory=dict, description="request field → noun (team, player)")
    entities: dict[str, list[str]] = Field(default_factory=dict, description="known names per entity field")
    max_instances: int | None = None
    model_version: str | None = None
    example_request: dict[str, Any] | None = Field(
        default=None, description="an instance the served model answers as it is"
    )
    example: dict[str, Any] | None = None  # {"instances": [...]} from the model's input example

    def example_instance(self) -> dict[str, Any] | None:
        """``example_request``, else the first instance of ``example``; None before a model is served."""
        if self.example_request:
            return dict(self.example_request)
        instances = (self.example or {}).get("instances") or []
        return dict(instances[0]) if instances else None


class BatchPredictions(Loose):
    """A predicted file: the uploaded table with prediction columns, as CSV or Parquet."""

    content: bytes
    media_type: str
    model_version: str | None = None
    model_name: str | None = None
