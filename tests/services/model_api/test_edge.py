"""model-api's HTTP edge against a real uvicorn process: body size and nesting limits enforced while the body
arrives, the key checked before the body is parsed, predict only for JSON, closed reads, and no internal URL in
what public routes say. The process points at an MLflow that is not there (nothing is served), which is all the
edge needs."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from scoreline_model_api.routes.predict import example_instance

from scoreline.tasks import get_task
from tests.servers import ServerProcess, free_port
from tests.services.model_api.conftest import ADMIN_KEY, API_KEY, launch_model_api

TASK = "match-outcome"
MB = 1024 * 1024


@pytest.fixture(scope="module")
def edge_api(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[ServerProcess]:
    workdir = tmp_path_factory.mktemp("model-api-edge")
    dead_mlflow = f"http://127.0.0.1:{free_port()}"  # nothing listens: every reload fails with this URL
    server = launch_model_api(workdir, logs_dir, dead_mlflow, wait_ready=False, api_key=API_KEY, public_reads=False)
    yield server
    server.stop()


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _stream_body(port: int, path: str, total: int, headers: dict[str, str]) -> tuple[int, bytes, int]:
    """POST ``total`` bytes of a JSON-looking body in 1 MB chunks (chunked transfer encoding: no declared length,
    the server must count) over a raw socket, reading the answer as soon as it comes; (status, body, bytes sent
    before the answer arrived)."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    first = b'{"instances": [' + b" " * (MB - 15)
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        sock.settimeout(0.0)
        answer = b""
        pending = b""
        while sent < total or pending:
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(65536)
            if answer:
                break
            if not pending:
                data = (first if sent == 0 else b" " * MB)[: total - sent]
                pending = f"{len(data):x}\r\n".encode() + data + b"\r\n"
                sent += len(data)
            try:
                pending = pending[sock.send(pending) :]
            except BlockingIOError:
                time.sleep(0.001)
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(30)
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        head_part, _, body = answer.partition(b"\r\n\r\n")
        lengths = [h.split(b":")[1] for h in head_part.split(b"\r\n") if h.lower().startswith(b"content-length")]
        length = int(lengths[0])
        while len(body) < length:
            body += sock.recv(65536)
    return int(head_part.split()[1]), body, sent


def test_a_declared_length_over_the_limit_is_413_before_any_byte_is_read(edge_api: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", edge_api.port), timeout=10) as sock:
        sock.sendall(
            f"POST /v1/{TASK}/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {200 * MB}\r\n\r\n".encode()
        )
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:100]


def test_a_200_mb_predict_body_is_answered_413_and_rss_grows_at_most_50_mb(edge_api: ServerProcess) -> None:
    assert edge_api.process is not None
    pid = edge_api.process.pid
    before = _rss_bytes(pid)
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.monotonic()
    try:
        status, body, sent = _stream_body(
            edge_api.port, f"/v1/{TASK}/predict", 200 * MB, {"Content-Type": "application/json"}
        )
    finally:
        done.set()
        sampler.join()
    elapsed = time.monotonic() - started
    growth = peak[0] - before
    print(f"200 MB predict body: {status} after {elapsed:.2f} s, {sent / MB:.0f} MB sent, RSS +{growth / MB:.1f} MB")
    assert status == 413
    assert b'"too_large"' in body and b"SCORELINE_MAX_JSON_BYTES" in body
    assert growth <= 50 * MB
    assert sent < 200 * MB  # answered before the body was sent, not after reading it
    assert httpx.get(f"{edge_api.url}/healthz", timeout=5).status_code == 200


def test_a_chunked_predict_body_over_the_limit_is_413_while_it_streams(edge_api: ServerProcess) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"instances": ['
        for _ in range(12):  # 12 MB, over the 8 MB default
            yield b" " * MB

    response = httpx.post(
        f"{edge_api.url}/v1/{TASK}/predict", content=chunks(), headers={"Content-Type": "application/json"}, timeout=30
    )
    assert response.status_code == 413
    assert response.json()["error"]["details"]["max_bytes"] == 8 * MB


def test_predict_json_nested_a_thousand_levels_is_422_not_a_recursion_error(edge_api: ServerProcess) -> None:
    deep = b'{"instances": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    response = httpx.post(
        f"{edge_api.url}/v1/{TASK}/predict", content=deep, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code == 422
    assert "nested deeper than 64" in response.json()["error"]["message"]
    # brackets inside strings are not nesting
    quoted = b'{"instances": {"home_team": "' + b"[" * 500 + b'"}}'
    response = httpx.post(
        f"{edge_api.url}/v1/{TASK}/predict", content=quoted, headers={"Content-Type": "application/json"}, timeout=10
    )
    assert response.status_code != 500
    assert "nested" not in response.json()["error"]["message"]  # past the edge: the prediction service answers


def test_predict_refuses_text_plain_with_415(edge_api: ServerProcess) -> None:
    response = httpx.post(
        f"{edge_api.url}/v1/{TASK}/predict",
        content=b'{"instances": {}}',
        headers={"Content-Type": "text/plain"},
        timeout=10,
    )
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]["message"]
    batch = httpx.post(
        f"{edge_api.url}/v1/{TASK}/predict/batch", content=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"}
    )
    assert batch.status_code == 415
    assert "multipart/form-data" in batch.json()["error"]["message"]


def test_predict_refuses_a_compressed_body_with_415(edge_api: ServerProcess) -> None:
    """The predict front door applies the edge's rules: a gzip header on a plain body was answered 200."""
    response = httpx.post(
        f"{edge_api.url}/v1/{TASK}/predict",
        content=b'{"instances": {}}',
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=10,
    )
    assert response.status_code == 415
    assert "Content-Encoding" in response.text and "uncompressed" in response.json()["error"]["message"]


def test_malformed_json_without_a_key_is_401_not_422(edge_api: ServerProcess) -> None:
    response = httpx.post(
        f"{edge_api.url}/v1/admin/reload", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 401


def test_model_listing_is_a_closed_read_and_schema_health_and_docs_stay_public(edge_api: ServerProcess) -> None:
    assert httpx.get(f"{edge_api.url}/v1/models", timeout=5).status_code == 401
    assert httpx.get(f"{edge_api.url}/metrics", timeout=5).status_code == 401
    for path in (f"/v1/{TASK}/schema", "/healthz", "/openapi.json", "/docs"):
        assert httpx.get(f"{edge_api.url}{path}", timeout=5).status_code == 200, path
    keyed = httpx.get(f"{edge_api.url}/v1/models", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5)
    assert keyed.status_code == 200
    admin = httpx.get(f"{edge_api.url}/v1/models", headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=5)
    assert admin.status_code == 200


def test_reload_errors_do_not_show_the_mlflow_url(edge_api: ServerProcess) -> None:
    mlflow_port = edge_api.env["SCORELINE_MLFLOW_URI"].rsplit(":", 1)[1]
    deadline = time.monotonic() + 30
    listing: dict = {}
    while time.monotonic() < deadline:
        listing = httpx.get(
            f"{edge_api.url}/v1/models", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=5
        ).json()
        if any(m["last_reload_error"] for m in listing["models"]):
            break
        time.sleep(0.2)
    errors = [m["last_reload_error"]["message"] for m in listing["models"] if m["last_reload_error"]]
    assert errors and all("MLflow unreachable" in e for e in errors)
    assert not any(mlflow_port in e for e in errors)
    instance = example_instance(get_task(TASK).request_model)
    predict = httpx.post(f"{edge_api.url}/v1/{TASK}/predict", json={"instances": instance}, timeout=10)
    assert predict.status_code == 503
    assert mlflow_port not in predict.text and "http://" not in predict.text


def test_openapi_declares_the_bearer_scheme_and_each_operations_security(edge_api: ServerProcess) -> None:
    schema = httpx.get(f"{edge_api.url}/openapi.json", timeout=5).json()
    assert schema["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    paths = schema["paths"]
    assert paths["/v1/models"]["get"]["security"] == [{"bearerAuth": []}]
    assert paths["/v1/admin/reload"]["post"]["security"] == [{"bearerAuth": []}]
    assert paths["/v1/{task}/predict"]["post"]["security"] == []
    assert paths["/healthz"]["get"]["security"] == []
    assert {"413", "415", "422"} <= set(paths["/v1/{task}/predict"]["post"]["responses"])
