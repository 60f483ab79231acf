"""model-api: serves each task's champion, hot-swaps it on alias change, logs every prediction.

Thin HTTP shell over ``scoreline.serving`` (holder, reloader, validation, prediction service) and
``scoreline.predlog`` (queue, writer, sink).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any, Literal

import orjson
from fastapi import Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field
from scoreline_kit.app import create_app as create_kit_app
from scoreline_kit.app import require_admin_key, require_api_key

from scoreline.errors import ErrorCode, ScorelineError
from scoreline.predlog.factory import make_sink
from scoreline.predlog.writer import PredictionLogWriter
from scoreline.serving.holder import ModelHolder
from scoreline.serving.reloader import Reloader, ReloadOutcome, mlflow_client_timeouts
from scoreline.serving.service import PredictionService
from scoreline.serving.webhook import parse_event, verify
from scoreline.tasks import get_task
from scoreline_model_api import monitoring
from scoreline_model_api.metrics import ModelApiMetrics
from scoreline_model_api.settings import ModelApiSettings

log = logging.getLogger("scoreline.model_api")


# ---- response models (OpenAPI) -----------------------------------------------------------------
class InstancePrediction(BaseModel):
    request_id: str
    prediction: str | float = Field(description="most likely class, e.g. home / draw / away")
    label: str = Field(description="the prediction in words, e.g. 'Brazil win' or 'draw'")
    probabilities: dict[str, float]
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


class ModelsResponse(BaseModel):
    models: list[ServedModelInfo]


class ReloadResponse(BaseModel):
    outcomes: list[dict[str, Any]]


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), status, headers, "application/json")


PREDICT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["instances"],
                    "properties": {
                        "instances": {
                            "description": "one instance object or a list of them (see GET /v1/{task}/schema)",
                            "oneOf": [{"type": "object"}, {"type": "array", "items": {"type": "object"}}],
                        }
                    },
                },
                "example": {"instances": [{"home_team": "Brazil", "away_team": "Argentina", "neutral": True}]},
            }
        },
    }
}


def create_app(settings: ModelApiSettings | None = None) -> FastAPI:
    settings = settings or ModelApiSettings()
    tasks = tuple(settings.model_tasks)
    holder = ModelHolder(tasks)
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mlflow_client_timeouts()
        writer = None
        if settings.log_predictions:
            sink = make_sink(settings)
            writer = PredictionLogWriter(
                sink,
                queue_size=settings.prediction_log_queue_size,
                batch_records=settings.prediction_log_batch_records,
                flush_interval_s=settings.prediction_log_flush_interval_s,
                fallback=getattr(sink, "spill", None),
            ).start()
        metrics.bind(holder, writer)
        if writer is not None:
            monitoring.register_sink_metrics(app.state.metrics_registry, writer.sink)
        monitoring.start_monitoring(app, settings)  # with Elasticsearch: installs the templates in the background
        reloader = Reloader(
            holder,
            tracking_uri=settings.mlflow_uri,
            cache_dir=settings.model_cache_dir,
            alias=settings.model_alias,
            on_outcome=metrics.observe_reload,
        )
        service = PredictionService(
            holder, writer, max_instances=settings.max_instances, max_batch_rows=settings.max_batch_rows
        )
        state.update(writer=writer, reloader=reloader, service=service)
        app.state.serving = state

        def first_load() -> None:
            reloader.reload_all(reason="startup")
            if settings.model_poll_interval_s > 0:
                reloader.start_polling(settings.model_poll_interval_s)

        threading.Thread(target=first_load, name="model-first-load", daemon=True).start()
        try:
            yield
        finally:
            reloader.stop()
            if writer is not None:
                writer.close()

    app = create_kit_app("model-api", lifespan=lifespan)
    metrics = ModelApiMetrics(app.state.metrics_registry)
    app.state.settings = settings
    app.state.holder = holder
    predict_auth: list[Any] = (
        [Depends(require_api_key(lambda: settings.api_key))] if settings.require_api_key_for_predictions else []
    )
    admin_auth = [Depends(require_admin_key(lambda: settings.admin_key))]

    def observe(task_id: str, endpoint: str, started: float, status: int, instances: int = 0) -> None:
        task_label = task_id if task_id in tasks else "unknown"
        elapsed = time.perf_counter() - started
        metrics.requests.labels(task_label, endpoint, str(status)).inc()
        metrics.latency.labels(task_label, endpoint, str(status)).observe(elapsed)
        if instances:
            metrics.instances.labels(task_label, endpoint).inc(instances)

    def service() -> PredictionService:
        if "service" not in state:
            raise ScorelineError(ErrorCode.UNAVAILABLE, "model-api is starting", retry_after_s=1)
        return state["service"]

    # ---- predictions ----------------------------------------------------------------------------
    @app.post(
        "/v1/{task}/predict",
        tags=["predict"],
        dependencies=predict_auth,
        response_model=PredictResponse,
        openapi_extra=PREDICT_BODY,
        summary="Predict one instance or a list of them",
    )
    async def predict(task: str, request: Request) -> Response:
        started = time.perf_counter()
        status = 500
        instances = 0
        try:
            raw = await request.body()
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise ScorelineError(
                    ErrorCode.INVALID_INPUT,
                    f'the body is not valid JSON ({exc}); expected {{"instances": [...]}} '
                    "(NaN and Infinity are not JSON numbers)",
                ) from exc
            payload, served = service().predict(task, body)
            instances = len(payload["predictions"])
            status = 200
            return _json(payload, headers={"X-Model-Version": served.version, "X-Model-Name": served.model_name})
        except ScorelineError as exc:
            status = exc.http_status
            raise
        finally:
            observe(task, "predict", started, status, instances)

    @app.post(
        "/v1/{task}/predict/batch",
        tags=["predict"],
        dependencies=predict_auth,
        summary="Predict a CSV or Parquet file; the same table comes back with prediction columns",
        responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}},
    )
    async def predict_batch(
        task: str,
        request: Request,
        file: UploadFile = File(description="CSV or Parquet, one request per row (columns as in /schema)"),
        format: Literal["csv", "parquet"] | None = Query(
            default=None, description="answer format; default from the Accept header, else the upload's format"
        ),
    ) -> Response:
        started = time.perf_counter()
        status = 500
        rows = 0
        try:
            get_task(task)
            content = await file.read(settings.max_upload_bytes + 1)
            if len(content) > settings.max_upload_bytes:
                raise ScorelineError(
                    ErrorCode.TOO_LARGE, f"file larger than {settings.max_upload_bytes} bytes; split it"
                )
            output = format or _format_from_accept(request.headers.get("accept", ""))
            result = await run_in_threadpool(service().predict_file, task, content, file.filename, output)
            rows = result.rows
            status = 200
            stem = (file.filename or "predictions").rsplit(".", 1)[0]
            headers = {
                "X-Model-Version": result.served.version,
                "X-Model-Name": result.served.model_name,
                "Content-Disposition": f'attachment; filename="{stem}-predictions.{result.file_format}"',
            }
            return Response(result.content, 200, headers, result.media_type)
        except ScorelineError as exc:
            status = exc.http_status
            raise
        finally:
            observe(task, "batch", started, status, rows)

    @app.get("/v1/{task}/schema", tags=["predict"], summary="What one instance looks like, and the known teams")
    async def schema(task: str) -> Response:
        task_obj = get_task(task)
        served = holder.peek(task)
        body: dict[str, Any] = {
            "task": task,
            "classes": list(task_obj.classes),
            "request": task_obj.request_model.model_json_schema(),
            "max_instances": settings.max_instances,
            "model_version": served.version if served else None,
        }
        if served is not None and served.teams is not None:
            body["teams"] = served.teams.teams
        if served is not None:
            body["example"] = {"instances": served.input_example[:3]}
        return _json(body)

    # ---- models and reloads ---------------------------------------------------------------------
    @app.get("/v1/models", tags=["models"], response_model=ModelsResponse, summary="What each task serves")
    async def models() -> Response:
        listing = []
        for task in tasks:
            served = holder.peek(task)
            error = holder.last_error(task)
            listing.append(
                {
                    "task": task,
                    "model_name": served.model_name if served else None,
                    "version": served.version if served else None,
                    "alias": settings.model_alias,
                    "loaded_at": served.loaded_at if served else None,
                    "source": served.source if served else None,
                    "fast_path": served.predictor.fast_path if served else None,
                    "holdout_metrics": served.holdout_metrics if served else {},
                    "last_reload_error": None if error is None else asdict(error),
                }
            )
        return _json({"models": listing})

    @app.post("/v1/admin/reload", tags=["admin"], dependencies=admin_auth, response_model=ReloadResponse)
    async def admin_reload(
        task: str | None = Query(default=None, description="one task; all when omitted"),
        force: bool = Query(default=False, description="reload even the served version, retry refused versions"),
    ) -> Response:
        reloader: Reloader = _running(state, "reloader")
        targets = [get_task(task).id] if task else list(tasks)
        if task and task not in tasks:
            raise ScorelineError(ErrorCode.NOT_FOUND, f"this model-api does not serve {task!r}; it serves {tasks}")
        outcomes: list[ReloadOutcome] = []
        for target in targets:
            outcomes.append(await run_in_threadpool(reloader.reload, target, reason="admin", force=force))
        return _json({"outcomes": [o.to_dict() for o in outcomes]})

    @app.post(
        "/v1/webhooks/mlflow",
        tags=["admin"],
        status_code=202,
        summary="MLflow registry webhook (model_version_alias.created), HMAC-signed",
    )
    async def mlflow_webhook(request: Request) -> Response:
        body = await request.body()
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
        verify(secret, request.headers, body)
        event, alias_event = parse_event(body)
        reloader: Reloader = _running(state, "reloader")
        if alias_event is None or alias_event.alias != settings.model_alias:
            return _json({"accepted": False, "event": event, "reason": "not a champion alias event"}, 202)
        task = next((t for t in tasks if reloader.registry_name(t) == alias_event.name), None)
        if task is None:
            return _json({"accepted": False, "event": event, "reason": f"{alias_event.name} is not served here"}, 202)
        _in_background(lambda: reloader.reload(task, reason="webhook"))
        return _json({"accepted": True, "event": event, "task": task, "version": alias_event.version}, 202)

    @app.get("/readyz", tags=["ops"], summary="Ready once every task has a model")
    async def readyz() -> Response:
        missing = [task for task in tasks if holder.peek(task) is None]
        if missing:
            return _json({"status": "not ready", "missing": missing}, 503)
        return _json({"status": "ready", "versions": {t: holder.get(t).version for t in tasks}})

    app.include_router(monitoring.router)
    return app


def _running(state: dict[str, Any], name: str) -> Any:
    if name not in state:
        raise ScorelineError(ErrorCode.UNAVAILABLE, "model-api is starting; try again", retry_after_s=1)
    return state[name]


def _format_from_accept(accept: str) -> Literal["csv", "parquet"] | None:
    accept = accept.lower()
    if "parquet" in accept:
        return "parquet"
    if "text/csv" in accept:
        return "csv"
    return None


_background_tasks: set[asyncio.Future[Any]] = set()


def _in_background(work: Callable[[], Any]) -> None:
    future = asyncio.get_running_loop().run_in_executor(None, work)
    _background_tasks.add(future)
    future.add_done_callback(_background_tasks.discard)
