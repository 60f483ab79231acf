"""The kit's per-route HTTP metrics as a pure ASGI middleware.

The kit records them with ``@app.middleware("http")`` (Starlette's BaseHTTPMiddleware), which
halves single-prediction throughput here (measured with benchmarks/serve.py). model-api swaps it
for this equivalent that writes the same collectors.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HttpMetrics:
    def __init__(self, app: ASGIApp, service: str, requests_total: Any, latency: Any) -> None:
        self.app = app
        self.service = service
        self.requests_total = requests_total
        self.latency = latency

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
            method = scope.get("method", "GET")
            self.requests_total.labels(self.service, path, method, str(status)).inc()
            self.latency.labels(self.service, path, method).observe(time.perf_counter() - started)


def use_pure_asgi_http_metrics(app: FastAPI, service: str) -> None:
    """Replace the kit's BaseHTTPMiddleware metrics with :class:`HttpMetrics` on the same collectors."""
    registry: CollectorRegistry = app.state.metrics_registry
    collectors = getattr(registry, "_names_to_collectors", {})
    requests_total = collectors.get("scoreline_http_requests_total")
    latency = collectors.get("scoreline_http_request_seconds")
    if requests_total is None or latency is None:
        return
    app.user_middleware[:] = [m for m in app.user_middleware if m.cls is not BaseHTTPMiddleware]
    app.add_middleware(HttpMetrics, service=service, requests_total=requests_total, latency=latency)
