"""Every page with every service down (closed loopback ports): a clear message on the page, never a traceback."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from scoreline.processes import free_port
from tests.services.dashboard.conftest import PAGE_NAMES


@pytest.fixture
def nothing_running(tmp_path: Path) -> dict[str, str]:
    closed = {name: free_port() for name in ("model_api", "ingest", "trainer", "mlflow", "elastic")}
    return {
        "SCORELINE_MODEL_API_URL": f"http://127.0.0.1:{closed['model_api']}",
        "SCORELINE_INGEST_URL": f"http://127.0.0.1:{closed['ingest']}",
        "SCORELINE_TRAINER_URL": f"http://127.0.0.1:{closed['trainer']}",
        "SCORELINE_MLFLOW_URI": f"http://127.0.0.1:{closed['mlflow']}",
        "SCORELINE_ELASTICSEARCH_URL": f"http://127.0.0.1:{closed['elastic']}",
        "SCORELINE_PREDICTION_LOG_DIR": str(tmp_path / "predictions"),
    }


@pytest.mark.parametrize("page", PAGE_NAMES)
def test_page_explains_that_services_are_down(
    page: str, nothing_running: dict[str, str], run_page: Callable[..., AppTest]
) -> None:
    app = run_page(page, nothing_running)
    assert not app.exception, [e.value for e in app.exception]
    messages = [e.value for e in app.error]
    if page == "batch":  # nothing is called before a file is uploaded; the page still renders
        assert app.get("file_uploader")
        return
    assert messages, f"{page} showed no error"
    assert all("not reachable" in m for m in messages), messages
    assert any(nothing_running["SCORELINE_MODEL_API_URL"] in m or "SCORELINE_" in m for m in messages)
