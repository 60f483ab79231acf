"""Ingest test helpers: the service as a real uvicorn process, and a small real HTTP server for URL pulls."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import S3_ACCESS_KEY, S3_SECRET_KEY
from tests.servers import VENV_BIN, ServerProcess, free_port

API_KEY = "ingest-test-api-key"
MAX_UPLOAD_BYTES = 6 * 1024 * 1024  # above the real dataset (3.7 MB), small enough to exceed in a test
URL_TIMEOUT_S = 1.5


def ingest_server(env: dict[str, str], log_path: Path) -> ServerProcess:
    port = free_port()
    return ServerProcess(
        "ingest",
        [str(VENV_BIN / "python"), "-m", "scoreline_ingest"],
        port,
        env={
            "SCORELINE_INGEST_PORT": str(port),
            "SCORELINE_API_KEY": API_KEY,
            "SCORELINE_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
            "SCORELINE_URL_TIMEOUT_S": str(URL_TIMEOUT_S),
            "SCORELINE_URL_ALLOW_PRIVATE_HOSTS": "true",  # the test file server is on loopback
            "SCORELINE_NOTIFY_BACKOFF_S": "0.2",
            "SCORELINE_PUBLIC_READS": "true",  # closed reads (the default) are test_edge's subject
            **env,
        },
        log_path=log_path,
    )


@dataclass
class FileServer:
    """A real HTTP server on loopback serving test files, slow answers and a notification receiver."""

    port: int
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # path → (body, content type)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    fail_first_notifications: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def file_server() -> Iterator[FileServer]:
    state = FileServer(free_port())

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path.startswith("/slow"):
                time.sleep(URL_TIMEOUT_S * 3)
            entry = state.files.get(self.path.split("?")[0])
            if entry is None:
                self.send_error(404)
                return
            body, content_type = entry
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the service may stop reading early
                self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if state.fail_first_notifications > 0:
                state.fail_first_notifications -= 1
                self.send_error(503)
                return
            state.notifications.append(
                {"path": self.path, "body": json.loads(body), "authorization": self.headers.get("Authorization")}
            )
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

    server = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Backend:
    name: str
    env: dict[str, str]
    server: ServerProcess
    open_store: Callable[[], Any]
    landing_put: Callable[[str, bytes], None]


@pytest.fixture(scope="package", params=["local", pytest.param("s3")])
def backend(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    logs_dir: Path,
    file_server: FileServer,
) -> Iterator[Backend]:
    """The ingest service on a free port, once over a local folder and once over a bucket on moto; shared by the
    ingest suites, each writing datasets of its own names."""
    from scoreline.core.settings import StorageSettings
    from scoreline.data.storage import open_store

    if request.param == "local":
        root = tmp_path_factory.mktemp("ingest-store")
        env = {"SCORELINE_STORAGE_URI": f"file://{root}"}
    else:
        from minio import Minio

        moto = request.getfixturevalue("moto_s3")
        bucket = f"ingest-{uuid.uuid4().hex[:10]}"
        Minio(f"127.0.0.1:{moto.port}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False).make_bucket(
            bucket
        )
        env = {
            "SCORELINE_STORAGE_URI": f"s3://{bucket}",
            "SCORELINE_S3_ENDPOINT": moto.url,
            "SCORELINE_S3_ACCESS_KEY": S3_ACCESS_KEY,
            "SCORELINE_S3_SECRET_KEY": S3_SECRET_KEY,
        }
    env["SCORELINE_NOTIFY_URL"] = f"{file_server.url}/api/v2/dags/{{dag_id}}/dagRuns"
    env["SCORELINE_NOTIFY_TOKEN"] = "airflow-test-token"
    settings = StorageSettings(
        storage_uri=env["SCORELINE_STORAGE_URI"],
        s3_endpoint=env.get("SCORELINE_S3_ENDPOINT"),
        s3_access_key=env.get("SCORELINE_S3_ACCESS_KEY"),
        s3_secret_key=env.get("SCORELINE_S3_SECRET_KEY"),
    )
    server = ingest_server(env, logs_dir / f"ingest-{request.param}.log")
    with server.start(timeout_s=120):

        def landing_put(key: str, data: bytes) -> None:
            open_store(settings).put(key, data, "text/csv")

        yield Backend(request.param, env, server, lambda: open_store(settings), landing_put)
