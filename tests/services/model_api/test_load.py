"""Load test on loopback (bounded: 20 s, 8 client threads): the champion is promoted 20 times while
requests flow. Every response is 2xx and comes entirely from one version, old or new."""

from __future__ import annotations

import threading
import time

import httpx
import numpy as np
import pytest

from tests.scoreline.serving.models import TASK
from tests.services.model_api.conftest import ModelApiFactory, Versions, admin_headers

pytestmark = pytest.mark.slow

DURATION_S = 20.0
PROMOTIONS = 20
CLIENTS = 8


def test_twenty_promotions_under_load_lose_nothing_and_never_mix(
    start_model_api: ModelApiFactory, versions: Versions
) -> None:
    versions.promote(versions.first)
    server = start_model_api(model_poll_interval_s=1.0)
    old, new = versions.first, versions.second
    instances = versions.results[old].bundle.input_example[:4]
    expected = {v: versions.results[v].bundle.predict_proba(instances).to_numpy() for v in (old, new)}
    assert not np.allclose(expected[old], expected[new], atol=1e-4)  # the two versions are distinguishable
    stop = threading.Event()
    results: list[tuple[int, str | None, str | None, np.ndarray | None]] = []
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            while not stop.is_set():
                response = http.post(f"/v1/{TASK}/predict", json={"instances": instances})
                body = response.json() if response.status_code == 200 else {}
                probabilities = (
                    np.array([[p["probabilities"][c] for c in ("home", "draw", "away")] for p in body["predictions"]])
                    if body
                    else None
                )
                versions_in_body = {p["model_version"] for p in body.get("predictions", [])} | {
                    body.get("model_version")
                }
                with lock:
                    results.append(
                        (
                            response.status_code,
                            response.headers.get("X-Model-Version"),
                            ",".join(sorted(v for v in versions_in_body if v)) or None,
                            probabilities,
                        )
                    )

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as admin:
            for i in range(PROMOTIONS):
                target = new if i % 2 == 0 else old
                versions.promote(target)
                if i % 2 == 0:  # half by admin call, half by the poller
                    admin.post("/v1/admin/reload", headers=admin_headers())
                time.sleep(max(0.0, (started + (i + 1) * DURATION_S / PROMOTIONS) - time.monotonic()))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        versions.promote(old)
    statuses = [status for status, *_ in results]
    assert len(results) > 100
    assert [s for s in statuses if not 200 <= s < 300] == []
    seen = set()
    for _, header, body_versions, probabilities in results:
        assert header in (old, new)
        assert body_versions == header  # one version for the whole response
        assert np.allclose(probabilities, expected[header], atol=1e-6)  # and its numbers are that version's
        seen.add(header)
    assert seen == {old, new}
    reloads = httpx.get(f"{server.url}/metrics", timeout=5).text
    assert f'scoreline_model_reloads_total{{outcome="swapped",task="{TASK}"}}' in reloads
