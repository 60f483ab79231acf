"""The trainer's HTTP shell: training jobs, promotion decisions and monitor runs (drift, live accuracy, prediction
log reads; ``scoreline_trainer.monitor``) over ``scoreline`` (DESIGN.md §4)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from scoreline_kit.app import create_app as create_kit_app
from scoreline_kit.app import require_admin_key, require_api_key

from scoreline.data.datasets import check_dataset_name, check_version
from scoreline.lifecycle.promotion import Decision, Promoter, PromotionPolicy
from scoreline.lifecycle.registry import Registry
from scoreline.tasks import get_task
from scoreline_trainer import monitor, scheduled, versions
from scoreline_trainer.jobs import (
    InProcessRunner,
    Job,
    JobLimits,
    JobManager,
    JobRunner,
    JobStatus,
    ProcessRunner,
    TuningBudget,
)
from scoreline_trainer.settings import TrainerSettings
from scoreline_trainer.training import TrainJob


class JobRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str = Field(min_length=1, examples=["match-outcome"])
    dataset: str = Field(min_length=1, examples=["international"])
    dataset_version: str | None = Field(default=None, description="latest when omitted")
    holdout_start: date | None = Field(default=None, description="first date of the holdout window (default: last 20%)")
    tuning_budget: TuningBudget | None = None


class JobList(BaseModel):
    jobs: list[Job]


class PromotionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["auto", "manual"] | None = Field(default=None, description="the service's setting when omitted")
    actor: str = Field(default="api", min_length=1, max_length=200)
    margin: float | None = Field(default=None, ge=0, lt=1, description="minimum relative improvement")
    baseline: str | None = Field(default=None, description="baseline name or 'best'")
    thresholds: dict[str, float] | None = Field(
        default=None,
        description='approval thresholds on the challenger\'s holdout, e.g. {"smape": 12} (at most) or '
        '{"roc_auc": 0.8} (at least); the service\'s setting for the task when omitted',
    )


class ApproveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1, pattern=r"^[0-9]+$")
    actor: str = Field(min_length=1, max_length=200)


class RollbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str = Field(default="api", min_length=1, max_length=200)


class DecisionResponse(BaseModel):
    task: str
    decision: Literal["promoted", "rejected", "pending_approval", "unchanged", "rolled_back"]
    reason: str
    challenger_version: str | None
    champion_version: str | None
    previous_champion_version: str | None
    primary_metric: str | None
    greater_is_better: bool | None
    metrics: dict[str, Any]
    mode: str
    margin: float | None
    decided_at: str
    decided_by: str


class PromotionHistory(BaseModel):
    task: str
    aliases: dict[str, str]
    events: list[dict[str, Any]]


def _decision(decision: Decision) -> DecisionResponse:
    return DecisionResponse.model_validate(decision.to_dict())


def create_app(settings: TrainerSettings | None = None) -> FastAPI:
    settings = settings or TrainerSettings()

    def build_catalog() -> Any:
        from scoreline.data.datasets import DatasetCatalog
        from scoreline.data.storage import open_store

        return DatasetCatalog(open_store(settings))

    train = TrainJob(settings)
    runner: JobRunner = (
        ProcessRunner(train, timeout_s=settings.job_timeout_s)
        if settings.job_runner == "process"
        else InProcessRunner(train)
    )
    manager = JobManager(
        runner,
        settings.jobs_dir,
        max_queued_per_task=settings.max_queued_jobs,
        max_concurrent=settings.max_concurrent_jobs,
        limits=JobLimits(settings.max_tuning_trials, settings.max_tuning_seconds, settings.max_active_jobs),
    )
    monitoring = monitor.MonitorService(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        manager.start()
        monitoring.install_templates_in_background()
        try:
            yield
        finally:
            manager.close()

    app = create_kit_app("trainer", lifespan=lifespan)
    app.state.settings = settings
    app.state.jobs = manager
    app.state.monitor = monitoring
    app.include_router(monitor.router)
    app.include_router(versions.router)
    app.include_router(scheduled.router)
    user = Depends(require_api_key(lambda: settings.api_key))
    admin = Depends(require_admin_key(lambda: settings.admin_key))

    def promoter() -> Promoter:
        from scoreline.lifecycle.pipeline import latest_from_catalog

        return Promoter(Registry(settings.mlflow_uri), latest_from_catalog(build_catalog()))

    def policy(body: PromotionRequest, task: str) -> PromotionPolicy:
        thresholds = settings.promotion_thresholds.get(task, {}) if body.thresholds is None else body.thresholds
        return PromotionPolicy(
            margin=settings.promotion_margin if body.margin is None else body.margin,
            mode=body.mode or settings.promotion_mode,
            baseline=body.baseline or settings.promotion_baseline,
            thresholds=thresholds,
        )

    # ---- jobs ------------------------------------------------------------------------------
    @app.post("/v1/jobs", status_code=202, response_model=Job, dependencies=[user], tags=["jobs"])
    async def submit_job(body: JobRequest, request: Request) -> JSONResponse:
        """Queue a training job; 404 when the task, dataset or version does not exist."""
        get_task(body.task)
        check_dataset_name(body.dataset)
        if body.dataset_version is not None:
            check_version(body.dataset_version)

        def resolve() -> str:
            catalog = build_catalog()
            if body.dataset_version is not None:
                return catalog.manifest(body.task, body.dataset, body.dataset_version).version
            return catalog.latest(body.task, body.dataset).version

        version = await asyncio.to_thread(resolve)
        job = manager.submit(body.task, body.dataset, version, body.holdout_start, body.tuning_budget)
        headers = {"Location": str(request.url_for("get_job", job_id=job.id))}
        return JSONResponse(job.model_dump(mode="json"), status_code=202, headers=headers)

    @app.get("/v1/jobs/{job_id}", response_model=Job, tags=["jobs"])
    async def get_job(job_id: str) -> Job:
        return manager.get(job_id)

    @app.delete("/v1/jobs/{job_id}", response_model=Job, dependencies=[user], tags=["jobs"])
    async def cancel_job(job_id: str) -> Job:
        """Cancel a job: a queued one leaves the queue, a running one has its process stopped; it ends ``failed``
        with stage ``cancelled``. 409 when it already finished."""
        return manager.cancel(job_id)

    @app.get("/v1/jobs", response_model=JobList, tags=["jobs"])
    async def list_jobs(
        task: str | None = None, status: JobStatus | None = None, limit: int = Query(100, ge=1, le=1000)
    ) -> JobList:
        return JobList(jobs=manager.list_jobs(task, status, limit))

    # ---- promotions (admin) ----------------------------------------------------------------
    @app.post("/v1/promotions/{task}", response_model=DecisionResponse, dependencies=[admin], tags=["promotions"])
    async def decide(task: str, body: PromotionRequest | None = None) -> DecisionResponse:
        """Judge the challenger against the champion; promotes in auto mode, waits for approval in manual mode."""
        get_task(task)
        chosen = policy(body or PromotionRequest(), task)
        actor = (body or PromotionRequest()).actor
        decision = await asyncio.to_thread(lambda: promoter().decide(task, chosen, actor))
        return _decision(decision)

    @app.post(
        "/v1/promotions/{task}/approve", response_model=DecisionResponse, dependencies=[admin], tags=["promotions"]
    )
    async def approve(task: str, body: ApproveRequest) -> DecisionResponse:
        get_task(task)
        return _decision(await asyncio.to_thread(lambda: promoter().approve(task, body.version, body.actor)))

    @app.post(
        "/v1/promotions/{task}/rollback", response_model=DecisionResponse, dependencies=[admin], tags=["promotions"]
    )
    async def rollback(task: str, body: RollbackRequest | None = None) -> DecisionResponse:
        get_task(task)
        actor = (body or RollbackRequest()).actor
        return _decision(await asyncio.to_thread(lambda: promoter().rollback(task, actor)))

    @app.get("/v1/promotions/{task}", response_model=PromotionHistory, dependencies=[admin], tags=["promotions"])
    async def history(task: str) -> PromotionHistory:
        get_task(task)
        return PromotionHistory.model_validate(await asyncio.to_thread(lambda: promoter().history(task)))

    return app
