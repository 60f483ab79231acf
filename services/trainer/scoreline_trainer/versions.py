"""``GET /v1/models/{task}/versions``: the registered versions of a task with their aliases, holdout and
baseline metrics and tags, and ``GET /v1/models/{task}/versions/{version}/calibration`` (the run's holdout
calibration table, for a reliability diagram), read from MLflow (``scoreline`` registry), so that readers such
as the dashboard need no MLflow access of their own. Public like ``GET /v1/jobs``: metrics are no secret, actions
stay admin."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks import get_task

# Metric names of every kind (DESIGN.md §4 and the task interface); a forecast's per-day ones end in _d<h>.
KNOWN_METRICS = (
    "log_loss", "rps", "brier", "accuracy", "ece", "roc_auc", "pr_auc", "f1", "precision", "recall",
    "mae", "mape", "smape", "rmse",
)  # fmt: skip


class VersionInfo(BaseModel):
    version: str
    aliases: list[str]
    created_at: datetime | None
    run_id: str | None
    status: str | None
    holdout: dict[str, float] = Field(description="holdout_<metric> without the prefix (forecast: <metric>_d<h> too)")
    baselines: dict[str, dict[str, float]] = Field(description="baseline_<baseline>_<metric> grouped by baseline")
    metrics: dict[str, float] = Field(description="every metric of the version's run, as logged")
    tags: dict[str, str]


class VersionList(BaseModel):
    task: str
    model_name: str
    kind: str
    primary_metric: str
    greater_is_better: dict[str, bool] = Field(description="direction of each of the task's metrics")
    aliases: dict[str, str]
    versions: list[VersionInfo] = Field(description="newest first")


def split_metrics(metrics: dict[str, float], names: tuple[str, ...]) -> tuple[dict[str, float], dict[str, dict]]:
    """(holdout scores, baseline scores by baseline) from MLflow metric keys; baseline names may hold ``_``."""
    alternatives = "|".join(re.escape(n) for n in sorted(set(names) | set(KNOWN_METRICS), key=len, reverse=True))
    baseline_key = re.compile(rf"^baseline_(?P<baseline>.+?)_(?P<metric>(?:{alternatives})(?:_d\d+)?)$")
    holdout: dict[str, float] = {}
    baselines: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        if key.startswith("holdout_"):
            holdout[key.removeprefix("holdout_")] = value
        elif found := baseline_key.match(key):
            baselines.setdefault(found["baseline"], {})[found["metric"]] = value
    return holdout, baselines


def list_versions(tracking_uri: str, task_id: str, limit: int) -> VersionList:
    from scoreline.lifecycle.registry import Registry, model_name

    task = get_task(task_id)
    registry = Registry(tracking_uri)
    aliases = registry.aliases(task.id)
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    names = tuple(m.name for m in task.metrics)
    found = []
    for entry in registry.versions(task.id)[:limit]:
        metrics = {k: float(v) for k, v in registry.run_metrics(entry.run_id).items()} if entry.run_id else {}
        holdout, baselines = split_metrics(metrics, names)
        created = entry.creation_timestamp
        found.append(
            VersionInfo(
                version=str(entry.version),
                aliases=sorted(by_version.get(str(entry.version), [])),
                created_at=datetime.fromtimestamp(created / 1000, UTC) if created else None,
                run_id=entry.run_id,
                status=str(entry.status) if entry.status is not None else None,
                holdout=holdout,
                baselines=baselines,
                metrics=metrics,
                tags={str(k): str(v) for k, v in (entry.tags or {}).items()},
            )
        )
    return VersionList(
        task=task.id,
        model_name=model_name(task.id),
        kind=task.kind,
        primary_metric=task.primary_metric,
        greater_is_better={m.name: m.greater_is_better for m in task.metrics},
        aliases=aliases,
        versions=found,
    )


class CalibrationBin(BaseModel):
    class_: str = Field(alias="class", serialization_alias="class")
    bin: int
    predicted: float = Field(description="mean predicted probability of the class in the bin")
    observed: float = Field(description="how often the class happened in the bin")
    count: int


class Calibration(BaseModel):
    task: str
    version: str
    run_id: str
    bins: list[CalibrationBin] = Field(description="the run's evaluation/calibration.csv (holdout), per class and bin")


CALIBRATION_ARTIFACT = "evaluation/calibration.csv"


def calibration(tracking_uri: str, task_id: str, version: str) -> Calibration:
    import io

    import pandas as pd

    from scoreline.lifecycle.registry import Registry

    task = get_task(task_id)
    registry = Registry(tracking_uri)
    entry = registry.version(task.id, version)
    if not entry.run_id:
        raise ScorelineError(ErrorCode.NOT_FOUND, f"version {version} of {task.id} has no training run")
    table = pd.read_csv(io.BytesIO(registry.run_artifact(entry.run_id, CALIBRATION_ARTIFACT)), dtype={"class": str})
    bins = [CalibrationBin.model_validate(row) for row in table.to_dict(orient="records")]
    return Calibration(task=task.id, version=str(entry.version), run_id=entry.run_id, bins=bins)


router = APIRouter(tags=["models"])


@router.get("/v1/models/{task}/versions", response_model=VersionList)
async def versions(task: str, request: Request, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> VersionList:
    """Registered versions of the task's model, newest first, with aliases, holdout and baseline metrics, tags."""
    return await run_in_threadpool(list_versions, request.app.state.settings.mlflow_uri, task, limit)


@router.get(
    "/v1/models/{task}/versions/{version}/calibration", response_model=Calibration, response_model_by_alias=True
)
async def version_calibration(task: str, version: str, request: Request) -> Calibration:
    """The reliability diagram's data of a version: its run's holdout calibration table (classification tasks;
    404 when the run logged none)."""
    return await run_in_threadpool(calibration, request.app.state.settings.mlflow_uri, task, version)
