"""model-api fixtures: its own real MLflow server (webhooks to loopback allowed, stoppable), models
from the real training pipeline, and model-api as a real uvicorn process on a free port."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from scoreline.lifecycle.registry import CHAMPION, Registry, log_training
from scoreline.ml.training import TrainingResult
from tests.scoreline.serving.models import TASK, mark_promoted, register_unloadable_version, train_small
from tests.servers import ServerProcess, free_port, mlflow_server

ADMIN_KEY = "test-admin-key"
API_KEY = "test-api-key"
WEBHOOK_SECRET = "test-webhook-secret"


@pytest.fixture(scope="session")
def serving_mlflow(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[ServerProcess]:
    """A real MLflow server of this suite alone: tests stop and restart it, and it may call webhooks on loopback."""
    root = tmp_path_factory.mktemp("serving-mlflow")
    env = {
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_CACHE_TTL": "1",
    }
    server = mlflow_server(
        free_port(), f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts"), logs_dir / "serving-mlflow.log", env
    )
    with server.start(timeout_s=180) as running:
        yield running


@dataclass
class Versions:
    registry: Registry
    first: str
    second: str
    broken: str
    results: dict[str, TrainingResult]

    def promote(self, version: str) -> None:
        """What a promotion does: the version passed it, and the alias points at it."""
        mark_promoted(self.registry.tracking_uri, TASK, version)
        self.registry.set_alias(TASK, CHAMPION, version)


@pytest.fixture(scope="session")
def versions(serving_mlflow: ServerProcess, small_model: TrainingResult) -> Versions:
    """Two good versions and a broken one registered in the suite's MLflow; champion = the first (the session's
    ``small_model``)."""
    first, second = small_model, train_small(seed=2, max_depth=5)
    registered = {}
    for label, result in (("first", first), ("second", second)):
        registered[label] = log_training(result, "simulated", f"sim-{label}", "test", serving_mlflow.url).version
    registered["broken"] = register_unloadable_version(serving_mlflow.url)
    registry = Registry(serving_mlflow.url)
    found = Versions(
        registry,
        registered["first"],
        registered["second"],
        registered["broken"],
        {registered["first"]: first, registered["second"]: second},
    )
    found.promote(found.first)
    return found


ModelApiFactory = Callable[..., ServerProcess]


def launch_model_api(
    workdir: Path, logs_dir: Path, mlflow_url: str, *, wait_ready: bool = True, **settings: object
) -> ServerProcess:
    """Start model-api as a real process; keyword arguments become SCORELINE_* settings."""
    port = free_port()
    env = {
        "SCORELINE_MLFLOW_URI": mlflow_url,
        "SCORELINE_MODEL_API_PORT": str(port),
        "SCORELINE_MODEL_CACHE_DIR": str(workdir / "model-cache"),
        "SCORELINE_PREDICTION_LOG_DIR": str(workdir / "predictions"),
        "SCORELINE_PREDICTION_LOG_FLUSH_INTERVAL_S": "0.1",
        "SCORELINE_ADMIN_KEY": ADMIN_KEY,
        "SCORELINE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "SCORELINE_MODEL_POLL_INTERVAL_S": "0",
        "SCORELINE_MODEL_TASKS": f'["{TASK}"]',  # ready once the one task these tests register is served
        "SCORELINE_PUBLIC_READS": "true",  # closed reads (the default) are test_edge's subject
        "SCORELINE_MODEL_API_WORKERS": "1",  # one process unless a test asks for more (test_workers)
    }
    env.update({f"SCORELINE_{name.upper()}": str(value) for name, value in settings.items()})
    server = ServerProcess(
        "model-api",
        [sys.executable, "-m", "scoreline_model_api"],
        port,
        env=env,
        log_path=logs_dir / f"model-api-{port}.log",
    )
    return server.start(timeout_s=300, ready=_ready if wait_ready else None)  # a busy machine loads slowly


@pytest.fixture
def start_model_api(tmp_path: Path, logs_dir: Path, serving_mlflow: ServerProcess) -> Iterator[ModelApiFactory]:
    """Start model-api processes that share this test's work folder; all stopped after the test."""
    started: list[ServerProcess] = []

    def start(**settings: object) -> ServerProcess:
        server = launch_model_api(tmp_path, logs_dir, serving_mlflow.url, **settings)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _ready(server: ServerProcess) -> bool:
    try:
        return httpx.get(server.url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def served_version(server: ServerProcess) -> str | None:
    models = httpx.get(server.url + "/v1/models", timeout=5).json()["models"]
    return next(m["version"] for m in models if m["task"] == TASK)


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}
