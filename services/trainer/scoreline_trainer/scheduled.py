"""Scheduled prediction runs (``scoreline.serving.scheduled``) over HTTP: the daily prediction DAG starts one,
the dashboard lists and downloads them.

- ``POST /v1/predictions/{task}`` (API key): the champion predicts what the task asks for from the newest
  version of a dataset; the answers are stored as a run and logged to the prediction log.
- ``GET /v1/predictions/{task}``: the runs, newest first. ``GET /v1/predictions/{task}/{run_id}``: one run's
  manifest; ``GET /v1/predictions/{task}/{run_id}/data``: its answer file (CSV or Parquet).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from scoreline_kit.app import require_api_key
from scoreline_kit.edge import requires

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.core.filenames import content_disposition
from scoreline.serving.scheduled import PredictionRun, PredictionRunStore, predict_dataset
from scoreline.tasks import get_task
from scoreline_trainer.settings import TrainerSettings


class PredictionRunRequest(BaseModel):
    dataset: str | None = Field(default=None, description="the dataset to predict from; the task's default if omitted")
    dataset_version: str | None = Field(default=None, description="its version; the newest if omitted")


class PredictionRunList(BaseModel):
    task: str
    runs: list[PredictionRun]


def _settings(request: Request) -> TrainerSettings:
    return request.app.state.settings


def _store(settings: TrainerSettings) -> PredictionRunStore:
    from scoreline.data.storage import open_store

    return PredictionRunStore(open_store(settings))


@requires("api")
def _user(request: Request) -> None:
    require_api_key(lambda: request.app.state.settings.api_key)(request)


SettingsDep = Annotated[TrainerSettings, Depends(_settings)]
router = APIRouter(tags=["predictions"])


def run_predictions(settings: TrainerSettings, task_id: str, body: PredictionRunRequest) -> PredictionRun:
    from scoreline.data.datasets import DatasetCatalog
    from scoreline.data.storage import open_store
    from scoreline.lifecycle.registry import Registry, load_bundle, model_name, model_uri_for
    from scoreline.predlog.factory import make_sink
    from scoreline.predlog.writer import PredictionLogWriter

    task = get_task(task_id)
    dataset = body.dataset or task.default_dataset
    catalog = DatasetCatalog(open_store(settings))
    manifest = catalog.manifest(task_id, dataset, body.dataset_version) if body.dataset_version else None
    manifest = manifest or catalog.latest(task_id, dataset)
    canonical = catalog.load(task_id, dataset, manifest.version)
    champion = Registry(settings.mlflow_uri).version_by_alias(task_id, settings.model_alias)
    if champion is None:
        raise ScorelineError(
            ErrorCode.CONFLICT,
            f"scoreline-{task_id} has no '{settings.model_alias}' version to predict with; train and promote one first",
        )
    bundle = load_bundle(model_uri_for(task_id, version=champion.version), tracking_uri=settings.mlflow_uri)
    sink = make_sink(settings, writer="scheduled")
    writer = PredictionLogWriter(sink, fallback=getattr(sink, "spill", None)).start()
    try:
        content, rows = predict_dataset(
            task, bundle, canonical, model_name=model_name(task_id), model_version=champion.version, writer=writer
        )
    finally:
        writer.close()  # writes what is queued and closes the sink
    return _store(settings).write(
        task_id, content, rows, model_name=model_name(task_id), model_version=champion.version, dataset=dataset,
        dataset_version=manifest.version,
    )  # fmt: skip


@router.post("/v1/predictions/{task}", status_code=201, response_model=PredictionRun, dependencies=[Depends(_user)])
async def start_run(task: str, settings: SettingsDep, body: PredictionRunRequest | None = None) -> PredictionRun:
    """The champion predicts what the task asks for from the newest data (e.g. every series 10 days ahead)."""
    return await run_in_threadpool(run_predictions, settings, task, body or PredictionRunRequest())


@router.get("/v1/predictions/{task}", response_model=PredictionRunList)
async def list_runs(task: str, settings: SettingsDep) -> PredictionRunList:
    get_task(task)
    return PredictionRunList(task=task, runs=await run_in_threadpool(_store(settings).runs, task))


@router.get("/v1/predictions/{task}/{run_id}", response_model=PredictionRun)
async def one_run(task: str, run_id: str, settings: SettingsDep) -> PredictionRun:
    return await run_in_threadpool(_store(settings).run, task, run_id)


@router.get("/v1/predictions/{task}/{run_id}/data")
async def run_data(
    task: str, run_id: str, settings: SettingsDep, format: Annotated[Literal["csv", "parquet"], Query()] = "csv"
) -> Response:
    store = _store(settings)
    run = await run_in_threadpool(store.run, task, run_id)
    content = await run_in_threadpool(store.content, run)
    if format == "parquet":
        return Response(content, media_type="application/vnd.apache.parquet")
    import io

    import pandas as pd

    text = pd.read_parquet(io.BytesIO(content)).to_csv(index=False)
    headers = {"Content-Disposition": content_disposition(f"{task}-{run_id}.csv")}
    return Response(text, media_type="text/csv", headers=headers)
