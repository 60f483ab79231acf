"""What model-api serves and how it changes: ``GET /v1/models``, ``GET /v1/{task}/schema``,
``POST /v1/admin/reload`` (admin key) and the MLflow registry webhook ``POST /v1/webhooks/mlflow``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from scoreline_kit.edge import mark_access

from scoreline.core.errors import ErrorCode, ScorelineError, redact_urls
from scoreline.serving.reloader import ReloadOutcome
from scoreline.serving.webhook import parse_event, verify
from scoreline.tasks import get_task
from scoreline_model_api.dependencies import AdminAuth, HolderDep, ReloaderDep, SettingsDep, get_serving
from scoreline_model_api.schemas import ModelsResponse, ReloadResponse, json_response
from scoreline_model_api.workers import workers_serving


async def schema(task: str, settings: SettingsDep, holder: HolderDep) -> Response:
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
    return json_response(body)


async def models(settings: SettingsDep, holder: HolderDep) -> Response:
    listing = []
    for task in holder.tasks:
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
                # No internal URL (MLflow, artifact store) in a listing that SCORELINE_PUBLIC_READS may open.
                "last_reload_error": None
                if error is None
                else {**asdict(error), "message": redact_urls(error.message)},
            }
        )
    return json_response({"models": listing, "workers": workers_serving(holder)})


async def admin_reload(
    holder: HolderDep,
    reloader: ReloaderDep,
    task: Annotated[str | None, Query(description="one task; all when omitted")] = None,
    force: Annotated[bool, Query(description="reload even the served version, retry refused versions")] = False,
    serve_unpromoted: Annotated[
        bool,
        Query(description="admin override: serve the alias target even without Scoreline's tags or a promotion"),
    ] = False,
) -> Response:
    tasks = holder.tasks
    targets = [get_task(task).id] if task else list(tasks)
    if task and task not in tasks:
        raise ScorelineError(ErrorCode.NOT_FOUND, f"this model-api does not serve {task!r}; it serves {tasks}")
    outcomes: list[ReloadOutcome] = []
    for target in targets:
        outcomes.append(
            await run_in_threadpool(
                reloader.reload, target, reason="admin", force=force, serve_unpromoted=serve_unpromoted
            )
        )
    return json_response({"outcomes": [o.to_dict() for o in outcomes]})


async def mlflow_webhook(request: Request, settings: SettingsDep, holder: HolderDep) -> Response:
    body = await request.body()
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
    verify(secret, request.headers, body)
    event, alias_event = parse_event(body)
    reloader = get_serving(request).reloader  # after the signature check: 503 while starting
    if alias_event is None or alias_event.alias != settings.model_alias:
        return json_response({"accepted": False, "event": event, "reason": "not a champion alias event"}, 202)
    task = next((t for t in holder.tasks if reloader.registry_name(t) == alias_event.name), None)
    if task is None:
        return json_response(
            {"accepted": False, "event": event, "reason": f"{alias_event.name} is not served here"}, 202
        )
    _in_background(lambda: reloader.reload(task, reason="webhook"))
    return json_response({"accepted": True, "event": event, "task": task, "version": alias_event.version}, 202)


def add_routes(app: FastAPI) -> None:
    app.add_api_route(
        "/v1/{task}/schema",
        schema,
        methods=["GET"],
        tags=["predict"],
        summary="What one instance looks like, and the known entities",
    )
    app.add_api_route(
        "/v1/models",
        models,
        methods=["GET"],
        tags=["models"],
        response_model=ModelsResponse,
        summary="What each task serves",
    )
    app.add_api_route(
        "/v1/admin/reload",
        admin_reload,
        methods=["POST"],
        tags=["admin"],
        dependencies=[AdminAuth],
        response_model=ReloadResponse,
    )
    app.add_api_route(
        "/v1/webhooks/mlflow",
        mlflow_webhook,
        methods=["POST"],
        tags=["admin"],
        status_code=202,
        summary="MLflow registry webhook (model_version_alias.created), HMAC-signed",
    )
    mark_access(app, "/v1/{task}/schema", "public")
    mark_access(app, "/v1/webhooks/mlflow", "signed")  # its own HMAC signature, checked on the raw body


_background_tasks: set[asyncio.Future[Any]] = set()


def _in_background(work: Callable[[], Any]) -> None:
    future = asyncio.get_running_loop().run_in_executor(None, work)
    _background_tasks.add(future)
    future.add_done_callback(_background_tasks.discard)
