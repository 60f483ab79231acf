"""Prediction routes: ``POST /v1/{task}/predict`` (JSON, one instance or many) and
``POST /v1/{task}/predict/batch`` (a CSV or Parquet file).

Single predictions are normally answered by ``fastpath.PredictFrontDoor`` before routing; it calls the
same ``PredictHandler`` as the route below, which documents the endpoint (OpenAPI) and answers when the
fast path steps aside.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

import orjson
from fastapi import Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.core.filenames import base_name, content_disposition, safe_filename
from scoreline.serving.service import PredictionService
from scoreline.tasks import get_task
from scoreline.tasks.base import Task
from scoreline_model_api.dependencies import ObserverDep, PredictAuth, SettingsDep, get_serving
from scoreline_model_api.errors import RawHeaders, json_bytes, render_error
from scoreline_model_api.metrics import RequestObserver
from scoreline_model_api.schemas import PredictResponse

PREDICT_PATH = "/v1/{task}/predict"


class PredictHandler:
    """``POST /v1/{task}/predict`` as (status, JSON body, extra headers); errors rendered by ``render_error``."""

    def __init__(self, app_state: Any, observer: RequestObserver) -> None:
        self.app_state = app_state  # the lifespan sets app_state.serving
        self.observer = observer

    def __call__(self, task: str, raw: bytes) -> tuple[int, bytes, RawHeaders]:
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
            serving = getattr(self.app_state, "serving", None)
            if serving is None:
                raise ScorelineError(ErrorCode.UNAVAILABLE, "model-api is starting", retry_after_s=1)
            payload, served = serving.service.predict(task, body)
            instances = len(payload["predictions"])
            status = 200
            headers = [(b"x-model-version", served.version.encode()), (b"x-model-name", served.model_name.encode())]
            return 200, json_bytes(payload), headers
        except ScorelineError as exc:
            status = exc.http_status
            return render_error(exc)
        finally:
            self.observer.observe(task, "predict", started, status, instances)


def get_predict_handler(request: Request) -> PredictHandler:
    return request.app.state.predict_handler


async def predict(
    task: str, request: Request, handler: Annotated[PredictHandler, Depends(get_predict_handler)]
) -> Response:
    status, content, headers = handler(task, await request.body())
    return Response(content, status, {k.decode(): v.decode() for k, v in headers}, "application/json")


async def predict_batch(
    task: str,
    request: Request,
    settings: SettingsDep,
    observer: ObserverDep,
    file: Annotated[UploadFile, File(description="CSV or Parquet, one request per row (columns as in /schema)")],
    format: Annotated[
        Literal["csv", "parquet"] | None,
        Query(description="answer format; default from the Accept header, else the upload's format"),
    ] = None,
) -> Response:
    started = time.perf_counter()
    status = 500
    rows = 0
    try:
        get_task(task)
        content = await file.read(settings.max_upload_bytes + 1)
        if len(content) > settings.max_upload_bytes:
            raise ScorelineError(ErrorCode.TOO_LARGE, f"file larger than {settings.max_upload_bytes} bytes; split it")
        output = format or _format_from_accept(request.headers.get("accept", ""))
        service = _service(request)
        name = base_name(file.filename)  # the one filename rule, coming in and going out
        result = await run_in_threadpool(service.predict_file, task, content, safe_filename(name, ""), output)
        rows = result.rows
        status = 200
        stem = name.rsplit(".", 1)[0] if "." in name else name
        headers = {
            "X-Model-Version": result.served.version,
            "X-Model-Name": result.served.model_name,
            "Content-Disposition": content_disposition(f"{stem or 'predictions'}-predictions.{result.file_format}"),
        }
        return Response(result.content, 200, headers, result.media_type)
    except ScorelineError as exc:
        status = exc.http_status
        raise
    finally:
        observer.observe(task, "batch", started, status, rows)


def add_routes(app: FastAPI, tasks: Sequence[Task]) -> APIRoute:
    """Add the prediction routes (OpenAPI examples for ``tasks``); the predict route, for the fast path."""
    app.add_api_route(
        PREDICT_PATH,
        predict,
        methods=["POST"],
        tags=["predict"],
        dependencies=[PredictAuth],
        response_model=PredictResponse,
        summary="Predict one instance or a list of them",
        openapi_extra=predict_openapi(tasks),
    )
    app.add_api_route(
        "/v1/{task}/predict/batch",
        predict_batch,
        methods=["POST"],
        tags=["predict"],
        dependencies=[PredictAuth],
        summary="Predict a CSV or Parquet file; the same table comes back with prediction columns",
        responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}},
    )
    return next(r for r in app.router.routes if isinstance(r, APIRoute) and r.path == PREDICT_PATH)


def _service(request: Request) -> PredictionService:
    """The prediction service, resolved inside the route so a 503 while starting is counted by the metrics."""
    return get_serving(request).service


def _format_from_accept(accept: str) -> Literal["csv", "parquet"] | None:
    accept = accept.lower()
    if "parquet" in accept:
        return "parquet"
    if "text/csv" in accept:
        return "csv"
    return None


# ---- OpenAPI: the request body, with one example per served task --------------------------------
def example_instance(request_model: type[BaseModel]) -> dict[str, Any]:
    """One instance built from the first example of each field of the task's request model."""
    return {name: field.examples[0] for name, field in request_model.model_fields.items() if field.examples}


def predict_openapi(tasks: Sequence[Task]) -> dict[str, Any]:
    """``openapi_extra`` of the predict route: the body schema and an example request per task."""
    examples = {
        task.id: {
            "summary": f"{task.title or task.id} (POST /v1/{task.id}/predict)",
            "value": {"instances": [example_instance(task.request_model)]},
        }
        for task in tasks
    }
    return {
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
                    "examples": examples,
                }
            },
        }
    }


def served_examples(app: FastAPI, holder: Any) -> Callable[[], dict[str, Any]]:
    """``app.openapi`` whose predict examples are each served task's ``example_request`` (entities the served
    version knows), else the request model's field examples; rebuilt when the served versions change."""
    build = app.openapi
    seen: list[Any] = [None]

    def openapi() -> dict[str, Any]:
        served = {task: holder.peek(task) for task in holder.tasks}
        key = tuple((task, item.version if item is not None else None) for task, item in served.items())
        if app.openapi_schema is not None and seen[0] == key:
            return app.openapi_schema
        app.openapi_schema = None
        schema = build()
        body = schema.get("paths", {}).get(PREDICT_PATH, {}).get("post", {}).get("requestBody", {})
        examples = body.get("content", {}).get("application/json", {}).get("examples", {})
        for task, item in served.items():
            if item is None or task not in examples:
                continue
            try:
                instance = get_task(task).example_request(item.bundle.serving_state, item.input_example)
            except Exception:  # an example must never break /docs
                continue
            if instance:
                examples[task]["value"] = {"instances": [instance]}
        seen[0] = key
        return schema

    return openapi
