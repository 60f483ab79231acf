"""How the dashboard's calls (``scoreline_client``, tried once) turn HTTP failures into messages: against a
real HTTP server (the service kit's FastAPI edge under uvicorn, with routes that fail on purpose) and a
closed port."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from fastapi import Request
from scoreline_client import ServiceHttp
from scoreline_dashboard.client import ServiceCallError, interactive_http
from scoreline_kit import create_app
from scoreline_kit.edge import mark_access
from scoreline_launcher.processes import free_port

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.core.settings import AuthSettings


def _failing_app():  # a real kit app whose routes fail in the ways the services do
    app = create_app("failing")
    # No keys: reads open, and the one write marked public, so each route fails only in its own way.
    app.state.settings = AuthSettings(public_reads=True)
    mark_access(app, "/invalid", "public")

    @app.get("/missing")
    async def missing() -> None:
        raise ScorelineError(ErrorCode.NOT_FOUND, "no served model for task 'esports-win'")

    @app.post("/invalid")
    async def invalid(request: Request) -> None:
        raise ScorelineError(ErrorCode.INVALID_INPUT, "home_team: unknown team 'Atlantis'", [{"row": 0}])

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("boom")

    @app.get("/unavailable")
    async def unavailable() -> None:
        raise ScorelineError(ErrorCode.UNAVAILABLE, "no model loaded yet", retry_after_s=5)

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(3)
        return {"status": "late"}

    @app.get("/html-page")
    async def html() -> None:
        from fastapi.responses import HTMLResponse

        return HTMLResponse("<html>a login page of some proxy</html>")

    @app.get("/plain-text-error")
    async def plain() -> None:
        from fastapi.responses import PlainTextResponse

        return PlainTextResponse("Bad Gateway from a proxy", status_code=502)

    return app


@pytest.fixture(scope="module")
def failing_server() -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_failing_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _client(url: str, timeout_s: float = 2.0) -> ServiceHttp:
    return interactive_http("model-api", url, timeout_s, setting="SCORELINE_MODEL_API_URL")


def test_a_closed_port_says_not_reachable_and_which_setting() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ServiceCallError) as caught:
        _client(url).get("/v1/models")
    error = caught.value
    assert error.code == ErrorCode.UNAVAILABLE
    assert error.status is None
    assert url in error.message and "SCORELINE_MODEL_API_URL" in error.message
    assert "connection refused" in error.message
    assert isinstance(error.__cause__, httpx.ConnectError)


def test_a_slow_service_times_out_with_the_limit_in_the_message(failing_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(ServiceCallError) as caught:
        _client(failing_server, timeout_s=0.5).get("/slow")
    assert caught.value.code == ErrorCode.TIMEOUT
    assert "did not answer within 0.5 s" in caught.value.message
    assert time.monotonic() - started < 2.5


@pytest.mark.parametrize(
    ("method", "path", "status", "code", "fragment"),
    [
        ("GET", "/missing", 404, ErrorCode.NOT_FOUND, "no served model for task 'esports-win'"),
        ("POST", "/invalid", 422, ErrorCode.INVALID_INPUT, "rejected the request (422): home_team: unknown team"),
        ("GET", "/broken", 500, ErrorCode.INTERNAL, "failed on its side (500): internal error: RuntimeError"),
        ("GET", "/unavailable", 503, ErrorCode.UNAVAILABLE, "not ready or a service behind it is down (503)"),
        ("GET", "/plain-text-error", 502, ErrorCode.UNAVAILABLE, "Bad Gateway from a proxy"),
    ],
)
def test_error_answers_keep_the_service_message(
    failing_server: str, method: str, path: str, status: int, code: ErrorCode, fragment: str
) -> None:
    with pytest.raises(ServiceCallError) as caught:
        _client(failing_server).request(method, path)
    assert caught.value.status == status
    assert caught.value.code == code  # the service's own error code; from the status when it sent none
    assert caught.value.message.startswith("model-api ")
    assert fragment in caught.value.message


def test_the_service_error_details_travel_along(failing_server: str) -> None:
    with pytest.raises(ServiceCallError) as caught:
        _client(failing_server).post("/invalid", json={})
    assert caught.value.details == [{"row": 0}]
    assert caught.value.remote_message == "home_team: unknown team 'Atlantis'"


def test_an_interactive_call_is_tried_once(failing_server: str) -> None:
    started = time.monotonic()
    with pytest.raises(ServiceCallError) as caught:
        _client(failing_server).get("/unavailable")  # 503 with Retry-After: 5, not waited for
    assert caught.value.attempts == 1 and caught.value.retry_after_s == 5
    assert time.monotonic() - started < 2


def test_a_healthy_answer_is_returned(failing_server: str) -> None:
    assert _client(failing_server).get("/healthz") == {"status": "ok", "service": "failing"}


def test_a_successful_answer_that_is_not_json_is_a_clear_error(failing_server: str) -> None:
    with pytest.raises(ServiceCallError) as caught:
        _client(failing_server).get("/html-page")
    assert caught.value.code == ErrorCode.UPSTREAM_FAILED
    assert "answered text/html" in caught.value.message and "instead of JSON" in caught.value.message
    assert "SCORELINE_MODEL_API_URL" in caught.value.message
