"""Shared fixtures: real servers on free loopback ports, temporary buckets and stores.

The osmem (Elasticsearch stand-in) fixtures ``osmem_server`` / ``osmem_clone`` / ``osmem_url``
come from osmem-server's own pytest plugin.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scoreline_launcher.stack import LocalStack, resolve_keys

from tests.servers import (
    REPO,
    ServerProcess,
    free_port,
    loopback_stack_settings,
    mlflow_server,
    moto_server,
    port_open,
)

SHARED_DATA = REPO.parent / "shared" / "data"
# The project's own copy (data/international_results/, CC0), else the shared one.
BUNDLED_RESULTS = REPO / "data" / "international_results" / "results.csv"
INTERNATIONAL_RESULTS = (
    BUNDLED_RESULTS if BUNDLED_RESULTS.exists() else SHARED_DATA / "international_results" / "results.csv"
)
S3_ACCESS_KEY = "test-access-key"  # moto accepts any credentials
S3_SECRET_KEY = "test-secret-key"


@pytest.fixture(autouse=True)
def _isolated_scoreline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No SCORELINE_* variable from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("SCORELINE_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("server-logs")


@pytest.fixture(scope="session")
def moto_s3(logs_dir: Path) -> Iterator[ServerProcess]:
    """moto's S3 server (the MinIO stand-in), one per test session."""
    port = free_port()
    with moto_server(port, logs_dir / "moto.log").start(timeout_s=30) as server:
        yield server


@pytest.fixture
def s3_bucket(moto_s3: ServerProcess) -> str:
    """A fresh, empty bucket on the moto server."""
    from minio import Minio

    bucket = f"scoreline-{uuid.uuid4().hex[:12]}"
    client = Minio(f"127.0.0.1:{moto_s3.port}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)
    client.make_bucket(bucket)
    return bucket


@pytest.fixture
def s3_env(moto_s3: ServerProcess, s3_bucket: str) -> dict[str, str]:
    """SCORELINE_* variables that point a service at the fresh bucket on moto."""
    return {
        "SCORELINE_STORAGE_URI": f"s3://{s3_bucket}",
        "SCORELINE_S3_ENDPOINT": moto_s3.url,
        "SCORELINE_S3_ACCESS_KEY": S3_ACCESS_KEY,
        "SCORELINE_S3_SECRET_KEY": S3_SECRET_KEY,
    }


@pytest.fixture(scope="session")
def mlflow_sqlite(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[ServerProcess]:
    """The real ``mlflow server`` with SQLite and local proxied artifacts, one per session."""
    root = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    server = mlflow_server(port, f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts"), logs_dir / "mlflow.log")
    with server.start(timeout_s=180) as running:
        yield running


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """A fresh database on the machine's PostgreSQL (127.0.0.1:5432, trust auth), or a plain skip."""
    if not port_open(5432):
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432; this suite needs it (skipped, not passed)")
    import psycopg2

    name = f"scoreline_test_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """``make run``'s stack (``scoreline-launcher up``) on free ports in a temporary home, bootstrapped:
    match-outcome on the bundled real results, every other task simulated; ingested, trained, promoted and
    served. One per session."""
    # The simulated tasks get make run's full data: on a third of it the first esports-win and event-traffic
    # models tie with their logistic / seasonal-naive baselines and are (rightly) not promoted.
    settings = loopback_stack_settings(tmp_path_factory.mktemp("stack"), "test")
    stack = LocalStack(settings, resolve_keys(settings), say=lambda _: None)
    with stack.running():
        stack.bootstrap()
        yield stack


@pytest.fixture(scope="session")
def international_results() -> Path:
    if not INTERNATIONAL_RESULTS.exists():
        pytest.skip(f"the international results are not at {INTERNATIONAL_RESULTS} (skipped, not passed)")
    return INTERNATIONAL_RESULTS


@pytest.fixture(scope="session")
def recent_results_stack(tmp_path_factory: pytest.TempPathFactory, international_results: Path) -> Iterator[LocalStack]:
    """``make run``'s processes (dashboard included) serving match-outcome only, trained on the real international
    results since 2015 (a few minutes less than ``local_stack``'s four tasks on everything), judged against the base
    rates. One per session."""
    import pandas as pd

    from scoreline.tasks import get_task

    settings = loopback_stack_settings(tmp_path_factory.mktemp("recent-stack"), "recent", monitor_every_s=0)
    stack = LocalStack(settings, resolve_keys(settings), say=lambda _: None)
    task = get_task("match-outcome")
    results = pd.read_csv(international_results)
    recent = results[results["date"] >= "2015-01-01"].to_csv(index=False).encode()
    with stack.running():
        clients = stack.clients()
        manifest = clients.ingest.upload(task.id, task.default_dataset, recent, "results.csv", timeout_s=300).manifest
        job = clients.trainer.submit_job(task.id, task.default_dataset, manifest.version)
        assert clients.trainer.wait_for_job(job.id, timeout_s=900).status == "succeeded"
        decision = clients.trainer.decide(task.id, mode="auto", actor="test", baseline="base_rates")
        assert decision.decision == "promoted", decision
        clients.model_api.wait_until_served(task.id, decision.champion_version, timeout_s=120)
        yield stack


@pytest.fixture(scope="session")
def small_model() -> Any:
    """match-outcome from the real training pipeline on 3,000 simulated matches (seed 1, depth 3), trained once: the
    serving, model-api and dashboard suites read it and none changes it."""
    from tests.scoreline.serving.models import train_small

    return train_small(seed=1, max_depth=3)


# Simulated datasets, small trained models and a clean MLflow registry (registry, promotion, trainer suites).
from tests.mlflow_fixtures import (  # noqa: E402, F401
    clean_registry,
    good_result,
    simulated_catalog,
    simulated_table,
    weak_result,
)
