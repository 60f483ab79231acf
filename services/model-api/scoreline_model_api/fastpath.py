"""The ASGI fast path of ``POST /v1/{task}/predict``.

Single predictions are small, so FastAPI's per-request work (route matching, dependency solving,
Request/Response objects) cost more than the prediction itself (benchmarks/serve.py). This middleware
answers the predict path before routing with the same ``PredictHandler`` as the documented route, and
renders its errors (auth included) with the shared ``errors.render_error``. Everything else goes to the
app unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from scoreline.core.errors import ScorelineError
from scoreline_model_api.errors import RawHeaders, render_error

Handler = Callable[[str, bytes], tuple[int, bytes, RawHeaders]]


class PredictFastPath:
    def __init__(self, app: ASGIApp, route: Any, handle: Handler, auth: Callable[[Request], None] | None) -> None:
        self.app = app
        self.route = route
        self.handle = handle
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = predict_task(scope) if scope["type"] == "http" and scope["method"] == "POST" else None
        if task is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route  # the route label of the kit's HTTP metrics
        if self.auth is not None:
            try:
                self.auth(Request(scope))
            except ScorelineError as exc:
                await send_json(send, *render_error(exc))
                return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # client went away
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        await send_json(send, *self.handle(task, chunks[0] if len(chunks) == 1 else b"".join(chunks)))


async def send_json(send: Send, status: int, content: bytes, headers: RawHeaders) -> None:
    start_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": start_headers + headers})
    await send({"type": "http.response.body", "body": content})


def predict_task(scope: Scope) -> str | None:
    """The task of a ``/v1/{task}/predict`` path, else None."""
    path: str = scope["path"]
    if not (path.startswith("/v1/") and path.endswith("/predict")):
        return None
    task = path[4:-8]
    return task if task and "/" not in task else None
