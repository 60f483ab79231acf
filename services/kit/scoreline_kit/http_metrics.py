"""Per-route HTTP metrics as a pure ASGI middleware.

Starlette's ``@app.middleware("http")`` (BaseHTTPMiddleware) halved single-prediction
throughput (benchmarks/serve.py), so every service records its metrics this way instead.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpRecorder:
    """Counts and times one answered request by route template, method and status."""

    def __init__(self, service: str, requests_total: Any, latency: Any) -> None:
        self.service = service
        self.requests_total = requests_total
        self.latency = latency
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}  # labels() costs more than inc()

    def record(self, path: str, method: str, status: int, started: float) -> None:
        key = (path, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests_total.labels(self.service, path, method, str(status)),
                self.latency.labels(self.service, path, method),
            )
        children[0].inc()
        children[1].observe(time.perf_counter() - started)


class HttpMetrics:
    def __init__(self, app: ASGIApp, recorder: HttpRecorder) -> None:
        self.app = app
        self.recorder = recorder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.recorder.record(path, scope.get("method", "GET"), status, started)
