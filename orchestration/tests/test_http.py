"""Service calls (``scoreline_client``, as installed in Airflow's environment) retry transient failures with
exponential backoff and fail at once on a caller mistake.

Against a real HTTP server on loopback that answers a scripted sequence of statuses.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from scoreline_client import ServiceError, ServiceHttp


class ScriptedServer:
    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.arrivals: list[float] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.arrivals.append(time.monotonic())
                status = outer.statuses.pop(0) if outer.statuses else 200
                body = json.dumps(
                    {"error": {"code": "x", "message": f"status {status}"}} if status >= 400 else {"ok": 1}
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.base}/thing"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted() -> Iterator[type[ScriptedServer]]:
    servers: list[ScriptedServer] = []

    class Tracked(ScriptedServer):
        def __init__(self, statuses: list[int]) -> None:
            super().__init__(statuses)
            servers.append(self)

    yield Tracked
    for server in servers:
        server.close()


def _http(base: str, attempts: int, backoff_s: float) -> ServiceHttp:
    return ServiceHttp("trainer", base, attempts=attempts, backoff_s=backoff_s)


def test_transient_failures_are_retried_with_doubling_delays(scripted: type[ScriptedServer]) -> None:
    server = scripted([503, 502])

    assert _http(server.base, 4, 0.2).get("/thing") == {"ok": 1}

    assert len(server.arrivals) == 3
    first_wait, second_wait = (b - a for a, b in zip(server.arrivals, server.arrivals[1:], strict=False))
    assert first_wait >= 0.2 and second_wait >= 0.4


def test_a_refusal_is_not_retried_and_names_the_services_error(scripted: type[ScriptedServer]) -> None:
    server = scripted([422])

    with pytest.raises(ServiceError, match=r"rejected the request \(422\): status 422") as raised:
        _http(server.base, 4, 0.2).get("/thing")

    assert raised.value.status == 422
    assert raised.value.code == "x"
    assert raised.value.remote_message == "status 422"
    assert len(server.arrivals) == 1


def test_giving_up_after_every_attempt_says_why(scripted: type[ScriptedServer]) -> None:
    server = scripted([503, 503, 503])

    with pytest.raises(ServiceError, match=r"\(503\): status 503 \(gave up after 3 attempts\)") as raised:
        _http(server.base, 3, 0.05).get("/thing")
    assert raised.value.attempts == 3
    assert len(server.arrivals) == 3


def test_an_unreachable_service_is_retried_then_reported() -> None:
    from tests.conftest import free_port

    with pytest.raises(ServiceError, match=r"not reachable .*gave up after 2 attempts") as raised:
        _http(f"http://127.0.0.1:{free_port()}", 2, 0.05).get("/")
    assert raised.value.status is None
    assert raised.value.code == "unavailable"


def test_statuses_the_caller_handles_are_returned(scripted: type[ScriptedServer]) -> None:
    server = scripted([404])

    response = _http(server.base, 4, 0.2).request("GET", "/thing", ok_statuses=(404,))

    assert response.status_code == 404
