from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr
from scoreline_ingest.notify import DatasetEvent, Notifier, NotifySettings, train_dag_id

from tests.servers import free_port


class AirflowShapedReceiver:
    """A real HTTP server on loopback answering like Airflow 3's /auth/token and dagRuns routes."""

    def __init__(self) -> None:
        self.port = free_port()
        self.logins: list[dict[str, Any]] = []
        self.runs: list[dict[str, Any]] = []
        self.fail_next = 0
        self.seen_run_ids: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def receiver() -> Iterator[AirflowShapedReceiver]:
    state = AirflowShapedReceiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: Any) -> None:
            pass

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if self.path == "/auth/token":
                state.logins.append(payload)
                ok = payload == {"username": "admin", "password": "s3cret"}
                self._answer(201 if ok else 401, {"access_token": "jwt-1"} if ok else {"detail": "bad"})
                return
            if self.headers.get("Authorization") != "Bearer jwt-1":
                self._answer(401, {"detail": "unauthenticated"})
                return
            if state.fail_next > 0:
                state.fail_next -= 1
                self._answer(503, {"detail": "busy"})
                return
            if payload["dag_run_id"] in state.seen_run_ids:
                self._answer(409, {"detail": "exists"})
                return
            state.seen_run_ids.add(payload["dag_run_id"])
            state.runs.append({"path": self.path, **payload})
            self._answer(200, {"dag_run_id": payload["dag_run_id"]})

    server = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _settings(receiver: AirflowShapedReceiver, **overrides: Any) -> NotifySettings:
    values: dict[str, Any] = {
        "notify_url": f"{receiver.url}/api/v2/dags/{{dag_id}}/dagRuns",
        "notify_username": "admin",
        "notify_password": SecretStr("s3cret"),
        "notify_backoff_s": 0.05,
        "notify_retries": 4,
    }
    return NotifySettings(**(values | overrides))


def test_dag_id() -> None:
    assert train_dag_id("match-outcome") == "scoreline_train_match_outcome"


def test_triggers_the_training_dag_after_login_and_retries(receiver: AirflowShapedReceiver) -> None:
    receiver.fail_next = 2
    notifier = Notifier(_settings(receiver))
    notifier.submit(DatasetEvent("match-outcome", "results", "abc123abc123"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and notifier.sent == 0:
        time.sleep(0.05)
    notifier.stop()
    assert notifier.sent == 1 and notifier.failed == 0
    (run,) = receiver.runs
    assert run["path"] == "/api/v2/dags/scoreline_train_match_outcome/dagRuns"
    assert run["conf"] == {"task": "match-outcome", "dataset": "results", "version": "abc123abc123"}
    assert run["logical_date"] is None
    assert receiver.logins == [{"username": "admin", "password": "s3cret"}]


def test_a_repeated_announcement_is_accepted_once(receiver: AirflowShapedReceiver) -> None:
    notifier = Notifier(_settings(receiver))
    event = DatasetEvent("match-outcome", "results", "abc123abc123")
    notifier.submit(event)
    notifier.submit(event)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and notifier.sent < 2:
        time.sleep(0.05)
    notifier.stop()
    assert notifier.sent == 2  # the second is answered 409: already triggered, not an error
    assert len(receiver.runs) == 1


def test_failures_are_counted_never_raised(receiver: AirflowShapedReceiver) -> None:
    notifier = Notifier(_settings(receiver, notify_password=SecretStr("wrong"), notify_retries=2))
    notifier.submit(DatasetEvent("match-outcome", "results", "abc123abc123"))  # does not raise
    unreachable = Notifier(_settings(receiver, notify_url=f"http://127.0.0.1:{free_port()}/x", notify_retries=2))
    unreachable.submit(DatasetEvent("match-outcome", "results", "abc123abc123"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (notifier.failed == 0 or unreachable.failed == 0):
        time.sleep(0.05)
    notifier.stop()
    unreachable.stop()
    assert notifier.failed == 1 and unreachable.failed == 1
    assert receiver.runs == []


def test_disabled_without_url() -> None:
    notifier = Notifier(NotifySettings())
    assert not notifier.enabled
    notifier.submit(DatasetEvent("match-outcome", "results", "abc123abc123"))
    assert notifier.sent == notifier.failed == 0
