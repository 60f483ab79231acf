"""A service started through scoreline_kit.serve logs timestamped lines (scoreline.core.logs), uvicorn's too."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.scoreline.core.test_logs import TIMESTAMP
from tests.servers import VENV_BIN, ServerProcess, free_port


def test_a_running_service_writes_timestamped_lines(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "ingest.log"
    server = ServerProcess(
        "ingest",
        [str(VENV_BIN / "python"), "-m", "scoreline_ingest"],
        port,
        env={"SCORELINE_INGEST_PORT": str(port), "SCORELINE_STORAGE_URI": f"file://{tmp_path / 'store'}"},
        log_path=log,
    )
    with server.start(timeout_s=60):
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert any("Uvicorn running" in line for line in lines), lines
    assert all(TIMESTAMP.match(line) for line in lines if "Uvicorn running" in line or "INFO" in line), lines
