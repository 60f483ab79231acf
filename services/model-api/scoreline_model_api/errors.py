"""The one way model-api renders a domain error: ``{"error": {"code", "message", "details"}}`` with the
error's HTTP status and, when it has one, a ``Retry-After`` header.

``render_error`` gives the raw parts (the ASGI fast path sends them as they are); ``error_response`` and
``handle_scoreline_error`` wrap the same parts for FastAPI, which ``install_error_handler`` registers.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from scoreline.core.errors import ScorelineError

log = logging.getLogger("scoreline.model_api")

RawHeaders = list[tuple[bytes, bytes]]


def json_bytes(payload: Any) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)


def render_error(exc: ScorelineError) -> tuple[int, bytes, RawHeaders]:
    """(status, JSON body, extra headers) of a domain error; 5xx errors are logged."""
    if exc.http_status >= 500:
        log.warning("%s: %s", exc.code, exc.message)
    retry = [] if exc.retry_after_s is None else [(b"retry-after", str(exc.retry_after_s).encode())]
    return exc.http_status, json_bytes(exc.to_payload()), retry


def error_response(exc: ScorelineError) -> Response:
    status, content, headers = render_error(exc)
    return Response(content, status, {k.decode(): v.decode() for k, v in headers}, "application/json")


async def handle_scoreline_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ScorelineError)
    return error_response(exc)


def install_error_handler(app: FastAPI) -> None:
    """Route every ``ScorelineError`` raised by a route or dependency through ``render_error``."""
    app.add_exception_handler(ScorelineError, handle_scoreline_error)
