"""The framework's limit for benchmarks/serve.py: a FastAPI endpoint that returns a constant JSON."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response

BODY = b'{"predictions":[{"prediction":"home","probabilities":{"home":0.5,"draw":0.25,"away":0.25}}]}'


def create_app() -> FastAPI:
    app = FastAPI()

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        await request.body()
        return Response(BODY, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return app
