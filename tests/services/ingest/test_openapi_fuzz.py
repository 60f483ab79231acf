"""Schemathesis over ingest's OpenAPI, against the real service (a local store with one real dataset) with
keys: at least 1,000 generated cases, no server error, every status documented, the bearer scheme declared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scoreline.data.datasets import DatasetCatalog
from scoreline.data.storage import LocalStore
from tests.mlflow_fixtures import TASK, simulated_csv
from tests.openapi_fuzz import assert_clean, fuzz
from tests.servers import ServerProcess
from tests.services.ingest.conftest import API_KEY, ingest_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[ServerProcess]:
    store = tmp_path_factory.mktemp("fuzz-ingest-store")
    DatasetCatalog(LocalStore(store)).ingest(TASK, "simulated", simulated_csv(300, seed=3), "sim.csv")
    env = {"SCORELINE_STORAGE_URI": f"file://{store}", "SCORELINE_PUBLIC_READS": "false"}
    with ingest_server(env, logs_dir / "ingest-fuzz.log").start(timeout_s=120) as server:
        yield server


def test_ingest_openapi_fuzz_finds_no_server_error_and_no_undocumented_status(ingest: ServerProcess) -> None:
    report = fuzz("ingest", ingest.url, {"api": API_KEY}, examples=90)
    assert_clean(report)
