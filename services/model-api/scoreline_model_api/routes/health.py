"""Operations routes: ``GET /healthz`` (alive), ``GET /readyz`` (some task serves a model), ``GET /metrics``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from scoreline_kit.app import metrics_response

from scoreline_model_api.dependencies import HolderDep
from scoreline_model_api.schemas import json_response

SERVICE = "model-api"


async def healthz() -> dict[str, str]:
    return {"status": "ok", "service": SERVICE}


async def readyz(holder: HolderDep) -> Response:
    versions = {t: served.version for t in holder.tasks if (served := holder.peek(t)) is not None}
    missing = [task for task in holder.tasks if task not in versions]
    if not versions:
        return json_response({"status": "not ready", "missing": missing}, 503)
    return json_response({"status": "ready", "versions": versions, "missing": missing})


async def metrics(request: Request) -> Response:
    return metrics_response(request.app.state.metrics_registry)


def add_routes(app: FastAPI) -> None:
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["ops"])
    app.add_api_route(
        "/readyz",
        readyz,
        methods=["GET"],
        tags=["ops"],
        summary="Ready once some task serves a model; lists the tasks without one",
    )
    app.add_api_route("/metrics", metrics, methods=["GET"], tags=["ops"], include_in_schema=False)
