"""The predict front door: answers before Starlette's stack, under the edge's rules and the kit's HTTP metrics."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from scoreline_kit.http_metrics import HttpRecorder
from scoreline_model_api.fastpath import PredictFrontDoor
from scoreline_model_api.settings import ModelApiSettings

ROUTE = "/v1/{task}/predict"


def make_door(handle: Any, **settings: Any) -> tuple[PredictFrontDoor, CollectorRegistry, list[str]]:
    registry = CollectorRegistry()
    requests_total = Counter("req", "", ["service", "route", "method", "status"], registry=registry)
    latency = Histogram("lat", "", ["service", "route", "method"], registry=registry)
    passed: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        passed.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    door = PredictFrontDoor(
        inner, ROUTE, handle, ModelApiSettings(**settings), HttpRecorder("t", requests_total, latency)
    )
    return door, registry, passed


def call(door: PredictFrontDoor, path: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw_headers += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {"type": "http", "method": "POST", "path": path, "headers": raw_headers}
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(door(scope, receive, send))
    return sent[0]["status"], sent[1]["body"]


def count(registry: CollectorRegistry, status: str) -> float:
    value = registry.get_sample_value("req_total", {"service": "t", "route": ROUTE, "method": "POST", "status": status})
    return value or 0.0


def test_answers_predict_with_the_handler_and_counts_it_under_the_route_template() -> None:
    seen: list[tuple[str, bytes]] = []

    def handle(task: str, raw: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        seen.append((task, raw))
        return 200, b'{"predictions":[]}', []

    door, registry, passed = make_door(handle)
    assert call(door, "/v1/match-outcome/predict", b'{"instances":[]}') == (200, b'{"predictions":[]}')
    assert seen == [("match-outcome", b'{"instances":[]}')]
    assert count(registry, "200") == 1
    assert call(door, "/v1/models", b"{}")[0] == 204  # anything else goes to the app
    assert passed == ["/v1/models"]


def test_an_unexpected_handler_failure_is_a_500_json_error_not_a_dropped_connection() -> None:
    def handle(task: str, raw: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        raise RuntimeError("boom")

    door, registry, _ = make_door(handle)
    status, body = call(door, "/v1/match-outcome/predict", b"{}")
    assert status == 500
    assert json.loads(body)["error"]["code"] == "internal"
    assert count(registry, "500") == 1


def test_the_edge_rules_hold_before_the_handler_runs() -> None:
    def handle(task: str, raw: bytes) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        raise AssertionError("the handler must not see a refused request")

    door, _, _ = make_door(handle, max_json_bytes=100, max_json_depth=3)
    status, body = call(door, "/v1/match-outcome/predict", b'{"instances": [[[["deep"]]]]}')
    assert status == 422 and b"nested deeper than 3" in body
    assert call(door, "/v1/match-outcome/predict", b"[" + b" " * 200 + b"]")[0] == 413
    keyed, _, _ = make_door(handle, require_api_key_for_predictions=True, api_key="k" * 32)
    assert call(keyed, "/v1/match-outcome/predict", b"{}")[0] == 401
    assert call(keyed, "/v1/match-outcome/predict", b"{}", {"authorization": "Bearer wrong"})[0] == 403
