"""``scoreline-launcher bootstrap`` (compose's one-shot ``bootstrap`` job) against services already running as local
processes: ``make run``'s stack (``LocalStack``) started without its own bootstrap, then the command as the job runs
it, configured only by ``SCORELINE_*`` variables. It registers the MLflow webhook, trains, promotes and reloads, and
leaves model-api ready; run again, it trains nothing."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from scoreline_launcher.stack import LocalStack, resolve_keys

from tests.servers import REPO, VENV_BIN, ServerProcess, loopback_stack_settings

pytestmark = pytest.mark.slow

# A simulated task at make run's scale (the session stack promotes it from the same seed): match-outcome would be
# trained on the bundled 49,520 real matches, minutes of training that prove nothing more about the job.
TASK = "player-investment"
WEBHOOK_SECRET = "bootstrap-test-webhook-secret"
MLFLOW_WEBHOOK_ENV = {  # what compose gives the MLflow server: webhooks to model-api over the private network
    "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
    "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": "Ym9vdHN0cmFwLXRlc3QtZmVybmV0LWtleS0zMmJ5dGU=",  # a Fernet key (32 bytes)
    "SCORELINE_WEBHOOK_SECRET": WEBHOOK_SECRET,  # model-api's
}


class ServicesOnly(LocalStack):
    """The local stack without the dashboard: the bootstrap job needs ingest, trainer, model-api and MLflow."""

    def servers(self) -> list[ServerProcess]:
        return [server for server in super().servers() if server.name != "dashboard"]


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    settings = loopback_stack_settings(tmp_path_factory.mktemp("bootstrap-stack"), "bootstrap")
    saved = {name: os.environ.get(name) for name in MLFLOW_WEBHOOK_ENV}
    os.environ.update(MLFLOW_WEBHOOK_ENV)  # the server processes inherit them
    try:
        stack = ServicesOnly(settings, resolve_keys(settings), say=lambda _: None)
        with stack.running():
            yield stack
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _bootstrap(stack: LocalStack, home: Path) -> subprocess.CompletedProcess[str]:
    s = stack.settings
    env = {
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "HOME": str(home),
        "SCORELINE_INGEST_URL": stack.url(s.ingest_port),
        "SCORELINE_TRAINER_URL": stack.url(s.trainer_port),
        "SCORELINE_MODEL_API_URL": stack.url(s.model_api_port),
        "SCORELINE_MLFLOW_URI": stack.url(s.mlflow_port),
        "SCORELINE_API_KEY": stack.keys.api_key,
        "SCORELINE_ADMIN_KEY": stack.keys.admin_key,
        "SCORELINE_WEBHOOK_URL": f"{stack.url(s.model_api_port)}/v1/webhooks/mlflow",
        "SCORELINE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SCORELINE_BOOTSTRAP_HOME": str(home),
        "SCORELINE_SIMULATION_SCALE": "1.0",  # as the session stack, where the task beats its baselines
        "COLUMNS": "200",
    }
    return subprocess.run(
        [str(VENV_BIN / "scoreline-launcher"), "bootstrap", "--task", TASK],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def test_the_bootstrap_job_brings_running_services_from_empty_to_serving(services: LocalStack, tmp_path: Path) -> None:
    model_api = services.url(services.settings.model_api_port)
    assert httpx.get(f"{model_api}/readyz").status_code == 503  # empty: nothing served yet
    first = _bootstrap(services, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"served: {TASK}" in first.stdout.replace("\n", " ")
    assert httpx.get(f"{model_api}/readyz").status_code == 200
    user = {"Authorization": f"Bearer {services.keys.api_key}"}  # the listing is a closed read
    served = {m["task"]: m for m in httpx.get(f"{model_api}/v1/models", headers=user).json()["models"]}
    assert served[TASK]["version"]

    mlflow = services.url(services.settings.mlflow_port)
    hooks = httpx.get(f"{mlflow}/api/2.0/mlflow/webhooks").json()["webhooks"]
    hook = next(h for h in hooks if h["name"] == "scoreline-model-api")
    assert hook["url"] == f"{model_api}/v1/webhooks/mlflow"
    assert hook["events"] == [{"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"}]

    again = _bootstrap(services, tmp_path)  # a restarted compose stack: nothing is trained twice
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already serves a champion" in again.stdout
    assert len(httpx.get(f"{mlflow}/api/2.0/mlflow/webhooks").json()["webhooks"]) == len(hooks)


def test_the_bootstrap_job_names_what_it_misses(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(VENV_BIN / "scoreline-launcher"), "bootstrap"],
        env={"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 2
    assert "SCORELINE_INGEST_URL" in result.stdout and "SCORELINE_ADMIN_KEY" in result.stdout
