"""The framework's limit for benchmarks/serve.py: an endpoint that returns a constant JSON, through FastAPI's
routing (``create_app``) or as a raw ASGI handler before it (``create_raw_app``, as model-api's predict fast path)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

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


def create_raw_app() -> ASGIApp:
    """The same app behind a raw ASGI handler of ``POST /predict`` (reads the body, answers the constant)."""
    app = create_app()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]

    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/predict":
            await app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            if not message.get("more_body", False):
                break
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": BODY})

    return raw
