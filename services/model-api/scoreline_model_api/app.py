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
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from scoreline.errors import ErrorCode, ScorelineError
from scoreline.predlog.factory import make_sink
from scoreline.predlog.writer import PredictionLogWriter
from scoreline.serving.holder import ModelHolder
from scoreline.serving.memory import settle_heap, tune_collector
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
    prediction: str | float | list[float] = Field(
        description="the most likely class (classification), the value (regression) or one value per horizon day "
        "(forecast)"
    )
    label: str = Field(description="the prediction in words, e.g. 'Brazil win' or 'draw'")
    probabilities: dict[str, float] | None = Field(default=None, description="per class (classification)")
    horizon: list[int] | None = Field(default=None, description="forecast: the days ahead of each value")
    intervals: dict[str, list[float]] | None = Field(default=None, description="forecast: e.g. p10 and p90 per day")
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
        tune_collector()
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
            on_outcome=on_reload,
        )
        service = PredictionService(
            holder, writer, max_instances=settings.max_instances, max_batch_rows=settings.max_batch_rows
        )
        state.update(writer=writer, reloader=reloader, service=service)
        app.state.serving = state

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

    # FastAPI's native OpenTelemetry hooks check the global providers on every request; Scoreline
    # exports Prometheus metrics, so they are off.
    app = create_kit_app("model-api", lifespan=lifespan, telemetry={"tracing": False, "metrics": False, "logs": False})
    metrics = ModelApiMetrics(app.state.metrics_registry)
    app.state.settings = settings
    app.state.holder = holder
    predict_auth: list[Any] = (
        [Depends(require_api_key(lambda: settings.api_key))] if settings.require_api_key_for_predictions else []
    )
    admin_auth = [Depends(require_admin_key(lambda: settings.admin_key))]

    children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}  # labels() costs more than inc()

    def observe(task_id: str, endpoint: str, started: float, status: int, instances: int = 0) -> None:
        elapsed = time.perf_counter() - started
        task_label = task_id if task_id in tasks else "unknown"
        key = (task_label, endpoint, status)
        found = children.get(key)
        if found is None:
            found = children[key] = (
                metrics.requests.labels(task_label, endpoint, str(status)),
                metrics.latency.labels(task_label, endpoint, str(status)),
                metrics.instances.labels(task_label, endpoint),
            )
        found[0].inc()
        found[1].observe(elapsed)
        if instances:
            found[2].inc(instances)

    def on_reload(outcome: ReloadOutcome) -> None:
        metrics.observe_reload(outcome)
        if outcome.outcome in ("swapped", "cached"):
            settle_heap()

    def service() -> PredictionService:
        if "service" not in state:
            raise ScorelineError(ErrorCode.UNAVAILABLE, "model-api is starting", retry_after_s=1)
        return state["service"]

    def predict_json(task: str, raw: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        """POST /v1/{task}/predict as (status, JSON body, extra headers); errors as the kit renders them."""
        started = time.perf_counter()
        status = 500
        instances = 0
        try:
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
            headers = [(b"x-model-version", served.version.encode()), (b"x-model-name", served.model_name.encode())]
            return 200, orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), headers
        except ScorelineError as exc:
            status = exc.http_status
            return _error_json(exc)
        finally:
            observe(task, "predict", started, status, instances)

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
        # Normally answered by PredictFastPath before routing; this route documents it (OpenAPI) and
        # answers when the fast path steps aside.
        status, content, headers = predict_json(task, await request.body())
        return Response(content, status, {k.decode(): v.decode() for k, v in headers}, "application/json")

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

    @app.get("/v1/{task}/schema", tags=["predict"], summary="What one instance looks like, and the known entities")
    async def schema(task: str) -> Response:
        task_obj = get_task(task)
        served = holder.peek(task)
        body: dict[str, Any] = {
            "task": task,
            "title": task_obj.title or task,
            "kind": task_obj.kind,
            "classes": list(task_obj.classes),
            "horizon": task_obj.horizon or None,
            "request": task_obj.request_model.model_json_schema(),
            "entity_fields": {e.field: e.noun for e in task_obj.entity_fields},
            "max_instances": settings.max_instances,
            "model_version": served.version if served else None,
        }
        if served is not None:
            state = served.bundle.serving_state
            body["entities"] = served.entities.names if served.entities is not None else {}
            # "teams": every name of the first entity field (kept for clients of the first task).
            first = next(iter(body["entities"].values()), None)
            if first is not None:
                body["teams"] = first
            body["team_state"] = task_obj.state_summary(state)
            body["example"] = {"instances": served.input_example[:3]}
            body["example_request"] = task_obj.example_request(state, served.input_example)
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

    @app.get("/readyz", tags=["ops"], summary="Ready once some task serves a model; lists the tasks without one")
    async def readyz() -> Response:
        versions = {t: served.version for t in tasks if (served := holder.peek(t)) is not None}
        missing = [task for task in tasks if task not in versions]
        if not versions:
            return _json({"status": "not ready", "missing": missing}, 503)
        return _json({"status": "ready", "versions": versions, "missing": missing})

    app.include_router(monitoring.router)
    predict_route = next(r for r in app.routes if getattr(r, "path", None) == "/v1/{task}/predict")
    check_api_key = require_api_key(lambda: settings.api_key) if settings.require_api_key_for_predictions else None
    # Innermost user middleware: inside the kit's HTTP metrics and error handling, before routing.
    app.user_middleware.append(
        Middleware(PredictFastPath, route=predict_route, handle=predict_json, auth=check_api_key)
    )
    return app


class PredictFastPath:
    """Answers ``POST /v1/{task}/predict`` without FastAPI's routing and dependency machinery.

    Single predictions are small, so the framework's per-request work (route matching, dependency
    solving, Request/Response objects) cost more than the prediction itself; the route above is the
    same handler and keeps the OpenAPI schema. Everything else goes to the app unchanged.
    """

    def __init__(
        self,
        app: ASGIApp,
        route: Any,
        handle: Callable[[str, bytes], tuple[int, bytes, list[tuple[bytes, bytes]]]],
        auth: Callable[[Request], None] | None,
    ) -> None:
        self.app = app
        self.route = route
        self.handle = handle
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = _predict_task(scope) if scope["type"] == "http" and scope["method"] == "POST" else None
        if task is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route  # the route label of the kit's HTTP metrics
        if self.auth is not None:
            try:
                self.auth(Request(scope))
            except ScorelineError as exc:
                await _send_json(send, *_error_json(exc))
                return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await _send_json(send, *self.handle(task, chunks[0] if len(chunks) == 1 else b"".join(chunks)))


def _error_json(exc: ScorelineError) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """A domain error as the kit renders it (same payload and Retry-After header)."""
    if exc.http_status >= 500:
        log.warning("%s: %s", exc.code, exc.message)
    retry = [] if exc.retry_after_s is None else [(b"retry-after", str(exc.retry_after_s).encode())]
    return exc.http_status, orjson.dumps(exc.to_payload(), option=orjson.OPT_SERIALIZE_NUMPY), retry


async def _send_json(send: Send, status: int, content: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    start_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": start_headers + headers})
    await send({"type": "http.response.body", "body": content})


def _predict_task(scope: Scope) -> str | None:
    """The task of a ``/v1/{task}/predict`` path, else None."""
    path: str = scope["path"]
    if not (path.startswith("/v1/") and path.endswith("/predict")):
        return None
    task = path[4:-8]
    return task if task and "/" not in task else None


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
