"""The trainer as a real process (``python -m scoreline_trainer``) on a free port, with the session's MLflow."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from scoreline.data.datasets import DatasetCatalog
from scoreline.data.storage import LocalStore
from tests.mlflow_fixtures import TASK, simulated_csv
from tests.servers import VENV_BIN, ServerProcess, free_port

API_KEY = "trainer-test-api-key"
ADMIN_KEY = "trainer-test-admin-key"
SERVICE_MATCHES = 3_000  # a job trains in seconds
TOO_FEW_MATCHES = 30  # ingestible, but too short for a holdout: training fails


@dataclass(frozen=True)
class Trainer:
    server: ServerProcess
    store: Path
    version: str  # of dataset "simulated"
    tiny_version: str  # of dataset "tiny"

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def trainer(
    tmp_path_factory: pytest.TempPathFactory, mlflow_sqlite: ServerProcess, logs_dir: Path
) -> Iterator[Trainer]:
    root = tmp_path_factory.mktemp("trainer")
    store = root / "store"
    catalog = DatasetCatalog(LocalStore(store))
    version = catalog.ingest(TASK, "simulated", simulated_csv(SERVICE_MATCHES, seed=9), "sim.csv").manifest.version
    tiny = catalog.ingest(TASK, "tiny", simulated_csv(TOO_FEW_MATCHES, seed=2), "tiny.csv").manifest.version
    port = free_port()
    env = {
        "SCORELINE_TRAINER_PORT": str(port),
        "SCORELINE_STORAGE_URI": f"file://{store}",
        "SCORELINE_MLFLOW_URI": mlflow_sqlite.url,
        "SCORELINE_API_KEY": API_KEY,
        "SCORELINE_ADMIN_KEY": ADMIN_KEY,
        "SCORELINE_JOBS_DIR": str(root / "jobs"),
        "MPLBACKEND": "Agg",
        "SCORELINE_PUBLIC_READS": "true",  # closed reads (the default) are test_edge's subject
    }
    argv = [str(VENV_BIN / "python"), "-m", "scoreline_trainer"]
    server = ServerProcess("trainer", argv, port, env=env, log_path=logs_dir / "trainer.log")
    with server.start(timeout_s=120):
        yield Trainer(server, store, version, tiny)


def user_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_KEY}"}


def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}
