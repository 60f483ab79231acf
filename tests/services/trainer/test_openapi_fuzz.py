"""Schemathesis over the trainer's OpenAPI, against the real service (a local store with a real dataset, its
own MLflow tracking store), with keys: at least 1,000 generated cases, no server error, every status
documented, the bearer scheme declared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scoreline.data.datasets import DatasetCatalog
from scoreline.data.storage import LocalStore
from tests.mlflow_fixtures import TASK, simulated_csv
from tests.openapi_fuzz import assert_clean, fuzz
from tests.servers import VENV_BIN, ServerProcess, free_port
from tests.services.trainer.conftest import ADMIN_KEY, API_KEY

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trainer(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[ServerProcess]:
    """The trainer with reads closed (the default) and an MLflow store of its own: generated promotions must not
    touch the session's registry."""
    root = tmp_path_factory.mktemp("trainer-fuzz")
    DatasetCatalog(LocalStore(root / "store")).ingest(TASK, "simulated", simulated_csv(300, seed=3), "sim.csv")
    port = free_port()
    env = {
        "SCORELINE_TRAINER_PORT": str(port),
        "SCORELINE_STORAGE_URI": f"file://{root / 'store'}",
        "SCORELINE_MLFLOW_URI": f"sqlite:///{root / 'mlflow.db'}",
        "SCORELINE_API_KEY": API_KEY,
        "SCORELINE_ADMIN_KEY": ADMIN_KEY,
        "SCORELINE_JOBS_DIR": str(root / "jobs"),
        "SCORELINE_PREDICTION_LOG_DIR": str(root / "predictions"),
        "SCORELINE_MONITOR_EVERY_S": "0",
        "MPLBACKEND": "Agg",
    }
    argv = [str(VENV_BIN / "python"), "-m", "scoreline_trainer"]
    with ServerProcess("trainer", argv, port, env=env, log_path=logs_dir / "trainer-fuzz.log").start(120) as server:
        yield server


def test_trainer_openapi_fuzz_finds_no_server_error_and_no_undocumented_status(trainer: ServerProcess) -> None:
    report = fuzz("trainer", trainer.url, {"api": API_KEY, "admin": ADMIN_KEY}, examples=25)
    assert_clean(report)
