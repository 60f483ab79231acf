"""model-api with several worker processes on one socket, against the real MLflow server: every
worker serves the champion, a swap under load reaches all of them without a failed request or a
response mixing versions, a worker that dies is replaced, and SIGTERM stops them all."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.scoreline.serving.models import TASK
from tests.servers import ServerProcess
from tests.services.model_api.conftest import ModelApiFactory, Versions, admin_headers

pytestmark = pytest.mark.slow

CLASSES = ("home", "draw", "away")
REQUESTS = 300
MAX_REQUESTS = 5000  # the bound, should the swap take long
CLIENTS = 4


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout_s}s")


def workers(server: ServerProcess) -> list[dict]:
    return httpx.get(f"{server.url}/v1/models", timeout=10).json()["workers"]


def all_serve(server: ServerProcess, version: str) -> bool:
    listing = workers(server)
    return len(listing) == 2 and all(w["versions"].get(TASK) == version for w in listing)


def pid_running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def supervisor_pid(server: ServerProcess) -> int:
    """The guard starts model-api as its one child: the supervisor."""
    assert server.process is not None
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
    (child,) = children
    return int(child)


def test_two_workers_serve_the_champion(start_model_api: ModelApiFactory, versions: Versions) -> None:
    versions.promote(versions.first)
    server = start_model_api(model_api_workers=2)
    wait_for(lambda: all_serve(server, versions.first))
    listing = workers(server)
    assert sorted(w["worker"] for w in listing) == [0, 1]
    assert len({w["pid"] for w in listing}) == 2
    assert {w["versions"].get(TASK) for w in listing} == {versions.first}
    supervisor = supervisor_pid(server)
    for w in listing:  # forked by the supervisor, not a process of their own
        stat = Path(f"/proc/{w['pid']}/stat").read_text().rsplit(")", 1)[1].split()
        assert int(stat[1]) == supervisor
    models = httpx.get(f"{server.url}/v1/models", timeout=10).json()["models"]
    assert next(m for m in models if m["task"] == TASK)["version"] == versions.first  # the fields kept
    example = versions.results[versions.first].bundle.input_example[0]
    response = httpx.post(f"{server.url}/v1/{TASK}/predict", json={"instances": example}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["X-Model-Version"] == versions.first


def test_a_swap_under_load_reaches_every_worker_and_never_mixes(
    start_model_api: ModelApiFactory, versions: Versions
) -> None:
    versions.promote(versions.first)
    server = start_model_api(model_api_workers=2)
    wait_for(lambda: all_serve(server, versions.first))
    old, new = versions.first, versions.second
    examples = versions.results[old].bundle.input_example
    # Bodies of 1-3 instances in varying order: most are not memoized, so the workers do the full work.
    bodies = [[examples[(i + k) % len(examples)] for k in range(1 + i % 3)] for i in range(REQUESTS)]
    expected = {v: [versions.results[v].bundle.predict_proba(body).to_numpy() for body in bodies] for v in (old, new)}
    assert not np.allclose(expected[old][0], expected[new][0], atol=1e-4)  # the versions are distinguishable
    results: list[tuple[int, int, str, set[str], np.ndarray | None]] = []
    lock = threading.Lock()
    counter = iter(range(MAX_REQUESTS))
    swapped_at: list[int] = []  # how many responses had arrived when the reload returned

    def done() -> bool:
        # Traffic flows until the swap is over and every client sent a few more requests after it.
        return bool(swapped_at) and len(results) >= max(REQUESTS, swapped_at[0] + 10 * CLIENTS)

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            while not done():
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                body = bodies[i % REQUESTS]
                response = http.post(f"/v1/{TASK}/predict", json={"instances": body})
                payload = response.json() if response.status_code == 200 else {}
                in_body = {p["model_version"] for p in payload.get("predictions", [])} | {payload.get("model_version")}
                probabilities = (
                    np.array([[p["probabilities"][c] for c in CLASSES] for p in payload["predictions"]])
                    if payload
                    else None
                )
                with lock:
                    results.append(
                        (i, response.status_code, response.headers.get("X-Model-Version", ""), in_body, probabilities)
                    )
                time.sleep(0.005)  # a few seconds of traffic, not a flood

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(results) >= REQUESTS // 4, timeout_s=60)
    versions.promote(new)
    reload = httpx.post(f"{server.url}/v1/admin/reload", headers=admin_headers(), timeout=120)
    with lock:
        swapped_at.append(len(results))  # every request started after this point is answered by the new version
    for thread in threads:
        thread.join(timeout=120)

    assert reload.status_code == 200, reload.text
    (outcome,) = reload.json()["outcomes"]
    assert (outcome["outcome"], outcome["version"]) == ("swapped", new)
    assert len(results) >= REQUESTS
    failed = [(i, status) for i, status, *_ in results if status != 200]
    assert failed == []
    for i, _, header, in_body, probabilities in results:
        assert in_body == {header}, f"request {i} mixes versions: {in_body} (header {header})"
        assert header in (old, new)
        np.testing.assert_allclose(probabilities, expected[header][i % REQUESTS], atol=1e-6)
    seen = [header for _, _, header, _, _ in results]
    assert old in seen and new in seen  # the swap happened under load
    assert {header for _, _, header, _, _ in results[swapped_at[0] + CLIENTS :]} <= {new}
    listing = workers(server)
    assert len(listing) == 2 and {w["versions"].get(TASK) for w in listing} == {new}
    assert all(w["staged"] == {} for w in listing)


def test_a_dead_worker_is_replaced_and_sigterm_stops_all(start_model_api: ModelApiFactory, versions: Versions) -> None:
    versions.promote(versions.first)
    server = start_model_api(model_api_workers=2)
    wait_for(lambda: len(workers(server)) == 2)
    before = {w["worker"]: w["pid"] for w in workers(server)}
    os.kill(before[1], signal.SIGKILL)

    def replaced() -> bool:
        listing = {w["worker"]: w for w in workers(server)}  # one read: the supervisor may change it between two
        return (
            listing.keys() == {0, 1}
            and listing[1]["pid"] != before[1]
            and all(w["versions"].get(TASK) == versions.first for w in listing.values())
        )

    wait_for(replaced, timeout_s=60)
    after = {w["worker"]: w["pid"] for w in workers(server)}
    assert after[0] == before[0]
    supervisor = supervisor_pid(server)
    os.kill(supervisor, signal.SIGTERM)  # the supervisor alone, not the guard's process group
    wait_for(lambda: not pid_running(supervisor) and not any(pid_running(pid) for pid in after.values()))
    assert server.process is not None
    assert server.process.wait(timeout=15) == 0  # the guard reports the supervisor's clean exit
