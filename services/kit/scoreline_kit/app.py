"""FastAPI app factory with the shared edge: the domain error type mapped to HTTP, JSON errors
for validation failures, bearer-key auth, ``/healthz`` and Prometheus ``/metrics``."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from pydantic import SecretStr
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline_kit.edge import HttpEdge, install_openapi, requires
from scoreline_kit.http_metrics import HttpMetrics, HttpRecorder

log = logging.getLogger("scoreline.http")


def _error_response(error: ScorelineError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after_s)} if error.retry_after_s is not None else None
    return JSONResponse(error.to_payload(), status_code=error.http_status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    details = []
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        details.append({"field": ".".join(loc), "message": err.get("msg"), "input": _jsonable(err.get("input"))})
    return details


def _jsonable(value: Any) -> Any:
    """A short stand-in for a rejected input: scalars as they are (long strings cut), containers by kind and size
    (never ``repr()``: a deeply nested input would recurse)."""
    if isinstance(value, str):
        return value[:200]
    if isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, dict):
        return f"an object of {len(value)} keys"
    if isinstance(value, list | tuple):
        return f"an array of {len(value)} items"
    if isinstance(value, bytes | bytearray):
        return f"{len(value)} bytes"
    return type(value).__name__


def render_error(error: ScorelineError) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    """(status, JSON body, extra headers) of a domain error, for pure ASGI code."""
    import json

    retry = [] if error.retry_after_s is None else [(b"retry-after", str(error.retry_after_s).encode())]
    return error.http_status, json.dumps(error.to_payload()).encode(), retry


class ScorelineApp(FastAPI):
    """FastAPI with an optional ``outermost`` ASGI layer around its whole middleware stack: a path so hot that
    Starlette's layers cost more than its work is answered there (it then keeps the edge's rules itself)."""

    outermost: Callable[[ASGIApp], ASGIApp] | None = None

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        return stack if self.outermost is None else self.outermost(stack)


def create_app(service: str, *, version: str = "0.1.0", ops_routes: bool = True, **fastapi_kwargs: Any) -> ScorelineApp:
    """A FastAPI app for ``service`` with the shared error handlers, health and metrics routes.

    The app's Prometheus registry is ``app.state.metrics_registry``; services add their own
    collectors to it. With ``ops_routes=False`` the service adds ``/healthz`` and ``/metrics`` itself
    (``metrics_response(registry)`` renders the latter).
    """
    app = ScorelineApp(title=f"Scoreline {service}", version=version, **fastapi_kwargs)
    registry = CollectorRegistry()
    app.state.metrics_registry = registry
    requests_total = Counter(
        "scoreline_http_requests_total", "HTTP requests", ["service", "route", "method", "status"], registry=registry
    )
    latency = Histogram(
        "scoreline_http_request_seconds",
        "HTTP request latency",
        ["service", "route", "method"],
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    )

    # The edge (access, media type, body size and nesting) runs inside the metrics, before routing and parsing.
    app.add_middleware(HttpEdge, render=render_error)
    app.state.http_recorder = HttpRecorder(service, requests_total, latency)
    app.add_middleware(HttpMetrics, recorder=app.state.http_recorder)
    install_openapi(app)

    @app.exception_handler(ScorelineError)
    async def on_domain_error(_: Request, exc: ScorelineError) -> JSONResponse:
        if exc.http_status >= 500:
            log.warning("%s: %s", exc.code, exc.message)
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        first = details[0] if details else {"field": "?", "message": "invalid"}
        message = f"invalid request: {first['field']}: {first['message']}"
        return _error_response(ScorelineError(ErrorCode.INVALID_INPUT, message, details))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI's "error parsing the body" (e.g. JSON that is not UTF-8): invalid input
            return _error_response(
                ScorelineError(
                    ErrorCode.INVALID_INPUT, f"the request body could not be read ({exc.detail}); expected UTF-8 JSON"
                )
            )
        code = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.INVALID_INPUT, 413: ErrorCode.TOO_LARGE}.get(
            exc.status_code, ErrorCode.INVALID_INPUT
        )
        payload = {"error": {"code": code.value, "message": str(exc.detail), "details": None}}
        return JSONResponse(payload, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error_response(ScorelineError(ErrorCode.INTERNAL, f"internal error: {type(exc).__name__}"))

    if ops_routes:

        @app.get("/healthz", tags=["ops"])
        async def healthz() -> dict[str, str]:
            return {"status": "ok", "service": service}

        @app.get("/metrics", tags=["ops"], include_in_schema=False)
        async def metrics() -> Response:
            return metrics_response(registry)

    return app


def metrics_response(registry: CollectorRegistry) -> Response:
    """Prometheus text exposition of ``registry``."""
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _check_bearer(request: Request, expected: SecretStr | None, what: str) -> None:
    if expected is None or not expected.get_secret_value():
        raise ScorelineError(
            ErrorCode.FORBIDDEN,
            f"this route needs the {what}, and the server has none configured "
            f"(set SCORELINE_{what.upper().replace(' ', '_')})",
        )
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ScorelineError(ErrorCode.UNAUTHORIZED, f"expected header 'Authorization: Bearer <{what}>'")
    if not hmac.compare_digest(token.encode(), expected.get_secret_value().encode()):
        raise ScorelineError(ErrorCode.FORBIDDEN, f"the bearer token is not the {what}")


def require_api_key(get_key: Callable[[], SecretStr | None]) -> Callable[[Request], None]:
    """Dependency factory: the route needs ``Authorization: Bearer $SCORELINE_API_KEY``."""

    @requires("api", get_key)
    def dependency(request: Request) -> None:
        _check_bearer(request, get_key(), "api key")

    return dependency


def require_admin_key(get_key: Callable[[], SecretStr | None]) -> Callable[[Request], None]:
    """Dependency factory: the route needs ``Authorization: Bearer $SCORELINE_ADMIN_KEY``."""

    @requires("admin", get_key)
    def dependency(request: Request) -> None:
        _check_bearer(request, get_key(), "admin key")

    return dependency


def serve(app_path: str, host: str, port: int, *, workers: int = 1) -> None:
    """Run a service's app with uvicorn (used by each service's ``__main__``), logging through Scoreline's
    one timestamped setup (``scoreline.core.logs``)."""
    import uvicorn

    from scoreline.core.logs import configure_logging

    configure_logging(app_path.split(".")[0].removeprefix("scoreline_").replace("_", "-"))
    uvicorn.run(app_path, host=host, port=port, workers=workers, factory=True, log_level="info", log_config=None)
