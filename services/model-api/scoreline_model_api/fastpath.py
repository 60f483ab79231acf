"""The ASGI front door of ``POST /v1/{task}/predict``.

Single predictions are small, so the per-request work of Starlette's middleware stack (error and telemetry
layers, body-limit wrapper, the kit's metrics and edge as separate layers, routing, Request/Response objects)
cost more than the prediction itself (benchmarks/serve.py). The front door sits outside that stack and answers
the predict path with the same ``PredictHandler`` as the documented route, under the edge's own rules
(``scoreline_kit.edge.admit``: key, media type, size; JSON nesting) and the kit's HTTP metrics. Everything else
goes to the app unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from scoreline_kit.edge import admit, too_large
from scoreline_kit.http_metrics import HttpRecorder
from starlette.types import ASGIApp, Receive, Scope, Send

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline_model_api.errors import RawHeaders, render_error

log = logging.getLogger("scoreline.model_api")

Handler = Callable[[str, bytes], tuple[int, bytes, RawHeaders]]
JSON_ONLY = ("application/json",)


class PredictFrontDoor:
    def __init__(self, app: ASGIApp, route_path: str, handle: Handler, settings: Any, recorder: HttpRecorder) -> None:
        self.app = app
        self.route_path = route_path
        self.handle = handle
        self.settings = settings
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        task = predict_task(scope) if scope["type"] == "http" and scope["method"] == "POST" else None
        if task is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        try:
            status = await self._answer(task, scope, receive, send)
        finally:
            self.recorder.record(self.route_path, "POST", status, started)

    async def _answer(self, task: str, scope: Scope, receive: Receive, send: Send) -> int:
        try:
            limit, scanner, what = admit(self.settings, dict(scope["headers"]), "predict", None, JSON_ONLY)
            chunks = []
            received = 0
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    return 499  # the client went away
                chunk = message.get("body", b"")
                received += len(chunk)
                if limit is not None and received > limit:
                    raise too_large(limit, received, what)
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            if scanner is not None:
                scanner.check_whole(body)
            answer = self.handle(task, body)
        except ScorelineError as exc:
            answer = render_error(exc)
        except Exception as exc:  # the app's error handler is inside the stack this path skips
            log.exception("unhandled error answering a prediction")
            answer = render_error(ScorelineError(ErrorCode.INTERNAL, f"internal error: {type(exc).__name__}"))
        await send_json(send, *answer)
        return answer[0]


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
