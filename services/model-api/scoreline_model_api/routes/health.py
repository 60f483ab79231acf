"""Operations routes: ``GET /healthz`` (alive), ``GET /readyz`` (every task has a model), ``GET /metrics``."""

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
    missing = [task for task in holder.tasks if holder.peek(task) is None]
    if missing:
        return json_response({"status": "not ready", "missing": missing}, 503)
    return json_response({"status": "ready", "versions": {t: holder.get(t).version for t in holder.tasks}})


async def metrics(request: Request) -> Response:
    return metrics_response(request.app.state.metrics_registry)


def add_routes(app: FastAPI) -> None:
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["ops"])
    app.add_api_route("/readyz", readyz, methods=["GET"], tags=["ops"], summary="Ready once every task has a model")
    app.add_api_route("/metrics", metrics, methods=["GET"], tags=["ops"], include_in_schema=False)
