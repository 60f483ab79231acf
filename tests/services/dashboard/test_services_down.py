"""Every page with every service down (closed loopback ports): a clear message on the page, never a traceback."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from scoreline_launcher.processes import free_port
from streamlit.testing.v1 import AppTest

from tests.services.dashboard.conftest import PAGE_NAMES


@pytest.fixture
def nothing_running(tmp_path: Path) -> dict[str, str]:
    closed = {name: free_port() for name in ("model_api", "ingest", "trainer")}
    return {
        "SCORELINE_MODEL_API_URL": f"http://127.0.0.1:{closed['model_api']}",
        "SCORELINE_INGEST_URL": f"http://127.0.0.1:{closed['ingest']}",
        "SCORELINE_TRAINER_URL": f"http://127.0.0.1:{closed['trainer']}",
    }


@pytest.mark.parametrize("page", PAGE_NAMES)
def test_page_explains_that_services_are_down(
    page: str, nothing_running: dict[str, str], run_page: Callable[..., AppTest]
) -> None:
    app = run_page(page, nothing_running)
    assert not app.exception, [e.value for e in app.exception]
    messages = [e.value for e in app.error]
    if page == "batch":  # the upload stays usable while the expected columns cannot be read
        assert app.file_uploader(key="batch_file")
    assert messages, f"{page} showed no error"
    assert all("not reachable" in m for m in messages), messages
    assert any(nothing_running["SCORELINE_MODEL_API_URL"] in m or "SCORELINE_" in m for m in messages)


@pytest.fixture(scope="module")
def stuck_server() -> Iterator[str]:
    """A stand-in for a stuck service (named as such): a real HTTP server whose every route answers after 5 s."""
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def stuck(path: str) -> dict[str, str]:
        await asyncio.sleep(5)
        return {"path": path}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.mark.parametrize("page", ["predict", "models", "data", "monitoring"])
def test_page_explains_that_services_are_too_slow(
    page: str, stuck_server: str, tmp_path: Path, run_page: Callable[..., AppTest]
) -> None:
    env = {name: stuck_server for name in ("SCORELINE_MODEL_API_URL", "SCORELINE_INGEST_URL", "SCORELINE_TRAINER_URL")}
    env |= {"SCORELINE_DASHBOARD_REQUEST_TIMEOUT_S": "0.5"}
    app = run_page(page, env)
    assert not app.exception, [e.value for e in app.exception]
    messages = [e.value for e in app.error]
    assert messages, f"{page} showed no error"
    assert all(f"at {stuck_server} did not answer within 0.5 s" in m for m in messages), messages
