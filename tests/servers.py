"""Real servers for tests: the process runner lives in ``scoreline_launcher.processes``; these build the argv."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scoreline_launcher.processes import VENV_BIN, ServerProcess, free_port, port_open
from scoreline_launcher.stack import StackSettings

REPO = Path(__file__).resolve().parents[1]

__all__ = [
    "REPO", "VENV_BIN", "ServerProcess", "free_port", "loopback_stack_settings", "mlflow_server", "moto_server",
    "port_open",
]  # fmt: skip


def loopback_stack_settings(home: Path, name: str, **overrides: Any) -> StackSettings:
    """``make run``'s stack settings on free loopback ports in ``home``, with keys named after ``name``."""
    return StackSettings(
        home=home,
        mlflow_port=free_port(),
        ingest_port=free_port(),
        trainer_port=free_port(),
        model_api_port=free_port(),
        dashboard_port=free_port(),
        api_key=f"{name}-api-key",
        admin_key=f"{name}-admin-key",
        **overrides,
    )


def moto_server(port: int, log_path: Path) -> ServerProcess:
    return ServerProcess(
        "moto",
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        port,
        health_path="/moto-api/",
        log_path=log_path,
    )


def mlflow_server(
    port: int, backend_uri: str, artifacts_dest: str, log_path: Path, env: dict[str, str] | None = None
) -> ServerProcess:
    argv = [
        str(VENV_BIN / "mlflow"),
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        backend_uri,
        "--artifacts-destination",
        artifacts_dest,
        "--serve-artifacts",
    ]
    return ServerProcess(
        "mlflow",
        argv,
        port,
        health_path="/health",
        log_path=log_path,
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **(env or {})},
    )
