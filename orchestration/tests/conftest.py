"""Fixtures for the orchestration suite, which runs in orchestration's own environment (Airflow 3).

Airflow reads its configuration when it is first imported, so ``pytest_configure`` points it at a fresh
AIRFLOW_HOME, this repo's DAG folder and a fresh metadata database before any test module imports it:
a new database on the machine's PostgreSQL (as in compose) when it is running, SQLite otherwise.

The Scoreline services run as real processes from the workspace's environment (``<repo>/.venv``), started
with ``scoreline_launcher.processes`` (own process group, stopped with children): it needs only httpx and the
standard library, and pytest puts the repo root on ``sys.path`` (``pythonpath`` in pyproject.toml).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from scoreline_launcher.processes import ServerProcess, free_port, port_open

ORCHESTRATION = Path(__file__).resolve().parents[1]
REPO = ORCHESTRATION.parent
DAGS_FOLDER = ORCHESTRATION / "dags"
AIRFLOW_BIN = Path(sys.executable).parent
WORKSPACE_BIN = REPO / ".venv" / "bin"
AIRFLOW_USER = "scoreline-test"


def _fresh_postgres_database() -> str | None:
    if not port_open(5432):
        return None
    import psycopg2

    name = f"scoreline_airflow_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"


def pytest_configure(config: pytest.Config) -> None:
    home = Path(tempfile.mkdtemp(prefix="scoreline-airflow-"))
    password = secrets.token_urlsafe(16)
    passwords_file = home / "simple_auth_passwords.json"
    passwords_file.write_text(json.dumps({AIRFLOW_USER: password}))
    database = _fresh_postgres_database() or f"sqlite:///{home / 'airflow.db'}"
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{AIRFLOW_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
            "SCORELINE_TEST_AIRFLOW_PASSWORD": password,
        }
    )
    for name in list(os.environ):
        if name.startswith("SCORELINE_") and name != "SCORELINE_TEST_AIRFLOW_PASSWORD":
            del os.environ[name]


def pytest_unconfigure(config: pytest.Config) -> None:
    """Drop the session's PostgreSQL database once every server using it has stopped."""
    database = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    if not database.startswith("postgresql") or not port_open(5432):
        return
    import psycopg2

    if "airflow.settings" in sys.modules:  # close this process's own connections first
        sys.modules["airflow.settings"].dispose_orm()
    name = database.rsplit("/", 1)[-1]
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture(scope="session")
def airflow_database() -> str:
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


def airflow_cli(*args: str, timeout_s: float = 600.0) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(AIRFLOW_BIN / "airflow"), *args], capture_output=True, text=True, timeout=timeout_s, cwd=REPO
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow {' '.join(args)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return result


@pytest.fixture(scope="session")
def airflow_db(airflow_database: str) -> str:
    """The metadata database migrated, with the DAG folder parsed into it (as the dag-processor would)."""
    airflow_cli("db", "migrate")
    airflow_cli("dags", "reserialize")
    return airflow_database


@pytest.fixture(scope="session")
def airflow_api(airflow_db: str, logs_dir: Path) -> Iterator[ServerProcess]:
    """``airflow api-server`` on a free port, sharing the metadata DB with the test process's ``dag.test()``."""
    port = free_port()
    server = ServerProcess(
        "airflow-api-server",
        [str(AIRFLOW_BIN / "airflow"), "api-server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        port,
        health_path="/api/v2/monitor/health",
        env={"PATH": f"{AIRFLOW_BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
        log_path=logs_dir / "airflow-api-server.log",
    )
    with server.start(timeout_s=180) as running:
        yield running


def airflow_token(api: ServerProcess) -> str:
    """A JWT from the simple auth manager, as ingest's notifier gets one."""
    response = httpx.post(
        f"{api.url}/auth/token",
        json={"username": AIRFLOW_USER, "password": os.environ["SCORELINE_TEST_AIRFLOW_PASSWORD"]},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["access_token"]


class WebhookReceiver:
    """A real HTTP server on loopback that records the JSON bodies posted to it (the Slack stand-in)."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from threading import Thread

        received: list[dict[str, object]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/scoreline"
        self.thread = Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()
