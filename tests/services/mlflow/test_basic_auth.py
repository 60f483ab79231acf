"""MLflow behind its basic-auth app, started by services/mlflow/entrypoint.sh as compose and Kubernetes start it.

Anonymous API calls are refused, ``/health`` stays open for the healthchecks, the admin from
``MLFLOW_AUTH_ADMIN_*`` gets in, and a client with ``MLFLOW_TRACKING_USERNAME``/``_PASSWORD`` (the bootstrap job
registering the webhook) passes the auth where one without them is refused.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from scoreline_launcher.remote import BootstrapSettings, RemoteStack

from tests.servers import REPO, ServerProcess, free_port

pytestmark = pytest.mark.slow
pytest.importorskip("flask_wtf", reason="MLflow's auth app needs mlflow[auth] (Flask-WTF), not in this environment")

ADMIN = "scoreline-admin"
PASSWORD = secrets.token_urlsafe(16)


@pytest.fixture(scope="module")
def mlflow_auth(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("mlflow-auth")
    port = free_port()
    env = {
        "MLFLOW_BACKEND_STORE_URI": f"sqlite:///{root / 'mlflow.db'}",
        "MLFLOW_ARTIFACTS_DESTINATION": str(root / "artifacts"),
        "MLFLOW_HOST": "127.0.0.1",
        "MLFLOW_PORT": str(port),
        "MLFLOW_WORKERS": "1",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        "MLFLOW_AUTH_ADMIN_USERNAME": ADMIN,
        "MLFLOW_AUTH_ADMIN_PASSWORD": PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_urlsafe(16),
    }
    server = ServerProcess("mlflow-auth", ["sh", str(REPO / "services/mlflow/entrypoint.sh")], port,
                           health_path="/health", env=env, log_path=logs_dir / "mlflow-auth.log", cwd=root)  # fmt: skip
    with server.start(timeout_s=240):
        yield server


def test_anonymous_calls_are_refused_and_the_admin_gets_in(mlflow_auth: ServerProcess) -> None:
    search = f"{mlflow_auth.url}/api/2.0/mlflow/experiments/search?max_results=5"
    assert httpx.get(f"{mlflow_auth.url}/health").status_code == 200  # the healthchecks need no credentials
    assert httpx.get(search).status_code == 401
    assert httpx.get(search, auth=(ADMIN, "wrong")).status_code == 401
    assert httpx.get(search, auth=(ADMIN, PASSWORD)).status_code == 200


@pytest.mark.parametrize("with_credentials", [False, True])
def test_the_bootstrap_job_registers_the_webhook_with_the_tracking_credentials(
    mlflow_auth: ServerProcess, monkeypatch: pytest.MonkeyPatch, with_credentials: bool
) -> None:
    for name, value in {"SCORELINE_INGEST_URL": "http://ingest:8001", "SCORELINE_TRAINER_URL": "http://trainer:8002",
                        "SCORELINE_MODEL_API_URL": "http://127.0.0.1:9", "SCORELINE_API_KEY": "k",
                        "SCORELINE_ADMIN_KEY": "a", "SCORELINE_MLFLOW_URI": mlflow_auth.url,
                        "SCORELINE_WEBHOOK_URL": "http://127.0.0.1:9/v1/webhooks/mlflow",
                        "SCORELINE_WEBHOOK_SECRET": "whsec"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    if with_credentials:
        monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", ADMIN)
        monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    stack = RemoteStack(BootstrapSettings(), say=lambda _: None)

    if not with_credentials:
        with pytest.raises(httpx.HTTPStatusError, match="401"):
            stack.register_webhook()
        return
    try:
        webhook_id = stack.register_webhook()
    except RuntimeError as exc:  # past the auth, MLflow may still refuse a loopback target: not a 401
        assert "(401)" not in str(exc) and "(403)" not in str(exc), exc
    else:
        assert webhook_id
