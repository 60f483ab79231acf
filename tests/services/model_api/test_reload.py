"""Hot reload against the real MLflow server: poll, admin call, signed webhook, a broken version,
MLflow stopped while serving and at start (cached champion)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import pytest
from mlflow.tracking import MlflowClient

from scoreline.serving.webhook import sign
from tests.scoreline.serving.models import TASK
from tests.servers import ServerProcess
from tests.services.model_api.conftest import (
    WEBHOOK_SECRET,
    ModelApiFactory,
    Versions,
    admin_headers,
    served_version,
)

pytestmark = pytest.mark.slow


def wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout_s}s")


def predict_version(server: ServerProcess, instance: dict) -> str:
    response = httpx.post(f"{server.url}/v1/{TASK}/predict", json={"instances": instance}, timeout=10)
    assert response.status_code == 200, response.text
    return response.headers["X-Model-Version"]


def test_poll_picks_up_a_new_champion(start_model_api: ModelApiFactory, versions: Versions) -> None:
    versions.promote(versions.first)
    server = start_model_api(model_poll_interval_s=0.5)
    assert served_version(server) == versions.first
    versions.promote(versions.second)
    wait_for(lambda: served_version(server) == versions.second)
    example = versions.results[versions.second].bundle.input_example[0]
    assert predict_version(server, example) == versions.second
    metrics = httpx.get(f"{server.url}/metrics", timeout=5).text
    assert f'scoreline_model_reloads_total{{outcome="swapped",task="{TASK}"}}' in metrics


def test_admin_reload_needs_the_admin_key(start_model_api: ModelApiFactory, versions: Versions) -> None:
    versions.promote(versions.first)
    server = start_model_api()
    versions.promote(versions.second)
    url = f"{server.url}/v1/admin/reload"
    assert httpx.post(url, timeout=10).status_code == 401
    assert httpx.post(url, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 403
    assert served_version(server) == versions.first
    response = httpx.post(url, headers=admin_headers(), timeout=60)
    assert response.status_code == 200, response.text
    (outcome,) = response.json()["outcomes"]
    assert (outcome["outcome"], outcome["previous"], outcome["version"]) == ("swapped", versions.first, versions.second)
    assert served_version(server) == versions.second


def _webhook(
    server: ServerProcess, body: bytes, *, secret: str = WEBHOOK_SECRET, signed: bool = True
) -> httpx.Response:
    delivery, stamp = str(uuid.uuid4()), str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-MLflow-Delivery-Id": delivery, "X-MLflow-Timestamp": stamp}
    if signed:
        headers["X-MLflow-Signature"] = sign(secret, delivery, stamp, body)
    return httpx.post(f"{server.url}/v1/webhooks/mlflow", content=body, headers=headers, timeout=10)


def test_webhook_signature_is_checked(start_model_api: ModelApiFactory, versions: Versions) -> None:
    versions.promote(versions.first)
    server = start_model_api()
    versions.promote(versions.second)
    body = (
        b'{"entity": "model_version_alias", "action": "created", "timestamp": "2026-01-01T00:00:00Z", '
        b'"data": {"name": "scoreline-match-outcome", "alias": "champion", "version": "'
        + versions.second.encode()
        + b'"}}'
    )
    assert _webhook(server, body, signed=False).status_code == 401
    assert _webhook(server, body, secret="not-the-secret").status_code == 403
    time.sleep(1.0)
    assert served_version(server) == versions.first  # neither call reloaded anything
    assert _webhook(server, body).status_code == 202
    wait_for(lambda: served_version(server) == versions.second)


def test_mlflow_registry_webhook_swaps_without_polling(
    start_model_api: ModelApiFactory, versions: Versions, serving_mlflow: ServerProcess
) -> None:
    versions.promote(versions.first)
    server = start_model_api()  # polling off: only the webhook can trigger the swap
    client = MlflowClient(tracking_uri=serving_mlflow.url, registry_uri=serving_mlflow.url)
    hook = client.create_webhook(
        name=f"model-api-{server.port}",
        url=f"{server.url}/v1/webhooks/mlflow",
        events=["model_version_alias.created"],
        secret=WEBHOOK_SECRET,
    )
    try:
        time.sleep(1.5)  # MLflow caches its webhook list for MLFLOW_WEBHOOK_CACHE_TTL (1 s here)
        versions.promote(versions.second)
        seconds = wait_for(lambda: served_version(server) == versions.second, timeout_s=30)
        assert seconds < 30
    finally:
        client.delete_webhook(hook.webhook_id)


def test_broken_version_is_refused_and_the_old_one_keeps_serving(
    start_model_api: ModelApiFactory, versions: Versions
) -> None:
    versions.promote(versions.first)
    server = start_model_api()
    example = versions.results[versions.first].bundle.input_example[0]
    try:
        versions.promote(versions.broken)
        response = httpx.post(f"{server.url}/v1/admin/reload", headers=admin_headers(), timeout=60)
        (outcome,) = response.json()["outcomes"]
        assert outcome["outcome"] == "failed"
        assert predict_version(server, example) == versions.first
        (model,) = httpx.get(f"{server.url}/v1/models", timeout=5).json()["models"]
        assert model["version"] == versions.first
        assert model["last_reload_error"]["version"] == versions.broken
        assert f"version {versions.broken} not served" in model["last_reload_error"]["message"]
        metrics = httpx.get(f"{server.url}/metrics", timeout=5).text
        assert f'scoreline_model_reloads_total{{outcome="failed",task="{TASK}"}} 1.0' in metrics
        assert f'scoreline_model_reload_error{{task="{TASK}"}} 1.0' in metrics
    finally:
        versions.promote(versions.first)


def test_mlflow_down_mid_run_and_at_start(
    start_model_api: ModelApiFactory, versions: Versions, serving_mlflow: ServerProcess
) -> None:
    versions.promote(versions.first)
    server = start_model_api(model_poll_interval_s=0.5)
    example = versions.results[versions.first].bundle.input_example[0]
    serving_mlflow.stop()
    try:
        time.sleep(1.5)  # a few failed polls
        assert predict_version(server, example) == versions.first
        (model,) = httpx.get(f"{server.url}/v1/models", timeout=5).json()["models"]
        assert "MLflow unreachable" in model["last_reload_error"]["message"]
        assert model["source"] == "mlflow"
        # A second instance started while MLflow is down serves the champion it finds in the shared cache.
        cold = start_model_api(model_poll_interval_s=0.5)
        (model,) = httpx.get(f"{cold.url}/v1/models", timeout=5).json()["models"]
        assert (model["version"], model["source"]) == (versions.first, "cache")
        assert "cached champion" in model["last_reload_error"]["message"]
        assert predict_version(cold, example) == versions.first
    finally:
        serving_mlflow.start(timeout_s=180)
    # MLflow is back: the cold instance confirms its champion and says so.
    wait_for(lambda: httpx.get(f"{cold.url}/v1/models", timeout=5).json()["models"][0]["source"] == "mlflow", 30)
    # ...and neither instance keeps saying "MLflow unreachable" once a later poll succeeded (the Models page
    # shows what /v1/models says).
    for instance in (server, cold):
        wait_for(
            lambda i=instance: (
                httpx.get(f"{i.url}/v1/models", timeout=5).json()["models"][0]["last_reload_error"] is None
            ),
            30,
        )
        (model,) = httpx.get(f"{instance.url}/v1/models", timeout=5).json()["models"]
        assert (model["version"], model["source"]) == (versions.first, "mlflow")
