"""Dashboard test helpers: run a page with ``AppTest`` against services chosen by environment variables."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import scoreline_dashboard
from streamlit.testing.v1 import AppTest

from scoreline.tasks import get_task
from tests.servers import ServerProcess, free_port

PAGES = Path(scoreline_dashboard.__file__).parent / "screens"
ADMIN_KEY = "dashboard-test-admin-key"
API_KEY = "dashboard-test-api-key"
PAGE_NAMES = ("predict", "batch", "models", "data", "monitoring")


@pytest.fixture
def run_page(monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """Run one page script with the given SCORELINE_* environment; the Streamlit cache starts empty."""
    import streamlit as st

    def run(name: str, env: dict[str, str], timeout_s: float = 60.0) -> AppTest:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        st.cache_data.clear()
        app = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=timeout_s)
        return app.run()

    return run


# A second served task of another kind (a forecast with entity fields sport/service/region), trained cheaply on
# its simulator, so the generic pages are exercised beyond one task's kind. Nothing in the dashboard names it.
SECOND_TASK = "event-traffic"


@dataclass
class ServingStack:
    """Real MLflow with trained champions, and real model-api, ingest and trainer processes around it."""

    mlflow: ServerProcess
    model_api: ServerProcess
    ingest: ServerProcess
    trainer: ServerProcess
    prediction_log_dir: Path
    version: str  # the first task's (match-outcome's) champion
    dataset_version: str
    versions: dict[str, str]  # champion version per served task

    def env(self) -> dict[str, str]:
        """SCORELINE_* for the dashboard pointing at these services (HTTP only: nothing else is given)."""
        return {
            "SCORELINE_MODEL_API_URL": self.model_api.url,
            "SCORELINE_INGEST_URL": self.ingest.url,
            "SCORELINE_TRAINER_URL": self.trainer.url,
            "SCORELINE_API_KEY": API_KEY,  # the services' reads are closed: the dashboard sends its key
        }

    def read(self, url: str, timeout: float = 30) -> httpx.Response:
        """A closed read (listing, catalogue, versions) with the API key."""
        return httpx.get(url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=timeout)

    def schema(self, task: str = "match-outcome") -> dict:
        return httpx.get(f"{self.model_api.url}/v1/{task}/schema", timeout=10).json()

    def teams(self) -> list[str]:
        return self.schema()["entities"]["home_team"]


def _train_second_task(tracking_uri: str) -> str:
    from scoreline.lifecycle.registry import CHAMPION, Registry, log_training
    from scoreline.ml.training import train
    from tests.scoreline.serving.models import mark_promoted

    task = get_task(SECOND_TASK)
    content, name = task.simulated_file(200, 5)
    result = train(task, task.to_canonical(content, name), params={"max_depth": 3, "learning_rate": 0.3}, seed=1)
    version = log_training(result, "simulated", "sim-dashboard", "test", tracking_uri).version
    mark_promoted(tracking_uri, SECOND_TASK, version)
    Registry(tracking_uri).set_alias(SECOND_TASK, CHAMPION, version)
    return str(version)


@pytest.fixture(scope="package")
def serving_stack(
    mlflow_sqlite: ServerProcess, small_model: Any, tmp_path_factory: pytest.TempPathFactory, logs_dir: Path
) -> Iterator[ServingStack]:
    """Champions from the real training pipeline registered in the session's MLflow and served by model-api;
    ingest holding one simulated dataset; the trainer on the same registry, reading model-api's prediction log.
    One for the dashboard suites (test_browser, test_pages): they read it and change no champion."""
    from scoreline.lifecycle.registry import CHAMPION, Registry, log_training
    from tests.scoreline.serving.models import TASK, mark_promoted

    version = log_training(small_model, "simulated", "sim-dashboard", "test", mlflow_sqlite.url).version
    mark_promoted(mlflow_sqlite.url, TASK, version)
    Registry(mlflow_sqlite.url).set_alias(TASK, CHAMPION, version)
    versions = {TASK: str(version), SECOND_TASK: _train_second_task(mlflow_sqlite.url)}
    home = tmp_path_factory.mktemp("dashboard-stack")
    shared = {
        "SCORELINE_MLFLOW_URI": mlflow_sqlite.url,
        "SCORELINE_STORAGE_URI": f"file://{home / 'store'}",
        "SCORELINE_API_KEY": API_KEY,
        "SCORELINE_ADMIN_KEY": ADMIN_KEY,
        "SCORELINE_PREDICTION_LOG_DIR": str(home / "predictions"),
    }

    def service(name: str, module: str, health: str, **env: str) -> ServerProcess:
        port = free_port()
        return ServerProcess(
            name,
            [sys.executable, "-m", module],
            port,
            health_path=health,
            env={**shared, f"SCORELINE_{name.upper().replace('-', '_')}_PORT": str(port), **env},
            log_path=logs_dir / f"dashboard-{name}-{port}.log",
        )

    model_api = service(
        "model-api",
        "scoreline_model_api",
        "/readyz",
        SCORELINE_MODEL_CACHE_DIR=str(home / "model-cache"),
        SCORELINE_PREDICTION_LOG_FLUSH_INTERVAL_S="0.1",
        SCORELINE_MODEL_POLL_INTERVAL_S="0",
        SCORELINE_MODEL_API_WORKERS="1",  # the pages need no second worker loading the same models
    )
    ingest = service("ingest", "scoreline_ingest", "/healthz")
    trainer = service(
        "trainer",
        "scoreline_trainer",
        "/healthz",
        SCORELINE_JOBS_DIR=str(home / "jobs"),
        SCORELINE_MONITORING_DIR=str(home / "monitoring"),
        SCORELINE_DRIFT_MIN_ROWS="10",
    )
    with (
        model_api.start(timeout_s=420, ready=_ready),  # the first load compiles the feature kernel
        ingest.start(timeout_s=120),
        trainer.start(timeout_s=120),
    ):
        _wait_until_served(model_api, versions)
        raw, _ = get_task(TASK).simulate(2_000, seed=3)
        upload = httpx.post(
            f"{ingest.url}/v1/datasets/{TASK}/simulated",
            files={"file": ("simulated.csv", raw.to_csv(index=False).encode(), "text/csv")},
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=120,
        )
        assert upload.status_code in (200, 201), upload.text
        yield ServingStack(
            mlflow_sqlite,
            model_api,
            ingest,
            trainer,
            home / "predictions",
            str(version),
            upload.json()["version"],
            versions,
        )


def _wait_until_served(model_api: ServerProcess, versions: dict[str, str], timeout_s: float = 300.0) -> None:
    from scoreline_client import ModelApiClient

    client = ModelApiClient(model_api.url, api_key=API_KEY, attempts=1)
    for task, version in versions.items():
        client.wait_until_served(task, version, timeout_s=timeout_s)


def _ready(server: ServerProcess) -> bool:
    try:
        return httpx.get(server.url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
