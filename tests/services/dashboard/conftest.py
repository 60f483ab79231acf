"""Dashboard test helpers: run a page with ``AppTest`` against services chosen by environment variables."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import scoreline_dashboard
from streamlit.testing.v1 import AppTest

from tests.servers import ServerProcess, free_port

PAGES = Path(scoreline_dashboard.__file__).parent / "screens"
ADMIN_KEY = "dashboard-test-admin-key"
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


@dataclass
class ServingStack:
    """A real MLflow server with a trained champion and a real model-api process serving it."""

    mlflow: ServerProcess
    model_api: ServerProcess
    prediction_log_dir: Path
    version: str

    def env(self, **closed: str) -> dict[str, str]:
        """SCORELINE_* for the dashboard: model-api and MLflow real, the rest on closed ports unless given."""
        return {
            "SCORELINE_MODEL_API_URL": self.model_api.url,
            "SCORELINE_MLFLOW_URI": self.mlflow.url,
            "SCORELINE_PREDICTION_LOG_DIR": str(self.prediction_log_dir),
            "SCORELINE_INGEST_URL": closed.get("ingest", f"http://127.0.0.1:{free_port()}"),
            "SCORELINE_TRAINER_URL": closed.get("trainer", f"http://127.0.0.1:{free_port()}"),
        }

    def teams(self) -> list[str]:
        return httpx.get(f"{self.model_api.url}/v1/match-outcome/schema", timeout=10).json()["teams"]


@pytest.fixture(scope="module")
def serving_stack(
    mlflow_sqlite: ServerProcess, tmp_path_factory: pytest.TempPathFactory, logs_dir: Path
) -> Iterator[ServingStack]:
    """A champion from the real training pipeline registered in the session's MLflow, served by model-api."""
    from scoreline.registry import CHAMPION, Registry, log_training
    from tests.scoreline.serving.models import TASK, train_small

    result = train_small(seed=11, max_depth=3)
    version = log_training(result, "simulated", "sim-dashboard", "test", mlflow_sqlite.url).version
    Registry(mlflow_sqlite.url).set_alias(TASK, CHAMPION, version)
    home = tmp_path_factory.mktemp("dashboard-model-api")
    port = free_port()
    model_api = ServerProcess(
        "model-api",
        [sys.executable, "-m", "scoreline_model_api"],
        port,
        health_path="/readyz",
        env={
            "SCORELINE_MLFLOW_URI": mlflow_sqlite.url,
            "SCORELINE_MODEL_API_PORT": str(port),
            "SCORELINE_MODEL_CACHE_DIR": str(home / "model-cache"),
            "SCORELINE_PREDICTION_LOG_DIR": str(home / "predictions"),
            "SCORELINE_PREDICTION_LOG_FLUSH_INTERVAL_S": "0.1",
            "SCORELINE_MODEL_POLL_INTERVAL_S": "0",
            "SCORELINE_ADMIN_KEY": ADMIN_KEY,
            "SCORELINE_MONITORING_DIR": str(home / "monitoring"),
            "SCORELINE_DRIFT_MIN_ROWS": "10",
            "SCORELINE_STORAGE_URI": f"file://{home / 'store'}",
        },
        log_path=logs_dir / f"dashboard-model-api-{port}.log",
    )
    with model_api.start(timeout_s=420, ready=_ready):  # the first load compiles the feature kernel
        yield ServingStack(mlflow_sqlite, model_api, home / "predictions", str(version))


def _ready(server: ServerProcess) -> bool:
    try:
        return httpx.get(server.url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
