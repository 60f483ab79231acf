"""Fixtures of the registry, promotion and trainer suites: simulated datasets, trained results, a clean registry.

Registered as shared fixtures by tests/conftest.py; heavy imports stay inside the fixtures.

Training is real but small: ~12k simulated matches, a "good" model and a "weak" one whose trees
cannot split (``min_child_weight`` larger than the data), which predicts base rates only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.servers import ServerProcess

if TYPE_CHECKING:
    import pandas as pd

    from scoreline.data.datasets import DatasetCatalog
    from scoreline.lifecycle.registry import Registry
    from scoreline.ml.training import TrainingResult

TASK = "match-outcome"
SIMULATED_MATCHES = 12_000
GOOD_PARAMS = {"learning_rate": 0.1}
WEAK_PARAMS = {"min_child_weight": 1e9, "learning_rate": 0.3}


def simulated_csv(n: int, seed: int) -> bytes:
    from scoreline.tasks import get_task

    raw, _truth = get_task(TASK).simulate(n, seed)
    return raw.to_csv(index=False).encode()


@pytest.fixture(scope="session")
def simulated_catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[DatasetCatalog, str]:
    """A local catalog holding one simulated match-outcome dataset; returns it and the version."""
    from scoreline.data.datasets import DatasetCatalog
    from scoreline.data.storage import LocalStore

    catalog = DatasetCatalog(LocalStore(tmp_path_factory.mktemp("store")))
    ingested = catalog.ingest(TASK, "simulated", simulated_csv(SIMULATED_MATCHES, seed=5), "simulated.csv")
    return catalog, ingested.manifest.version


@pytest.fixture(scope="session")
def simulated_table(simulated_catalog: tuple[DatasetCatalog, str]) -> pd.DataFrame:
    catalog, version = simulated_catalog
    return catalog.load(TASK, "simulated", version)


@pytest.fixture(scope="session")
def good_result(simulated_table: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    from scoreline.ml.training import train
    from scoreline.tasks import get_task

    return train(get_task(TASK), simulated_table, params=GOOD_PARAMS, artifacts_dir=tmp_path_factory.mktemp("good"))


@pytest.fixture(scope="session")
def weak_result(simulated_table: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    """A model that knows only the base rates: no Elo prior to boost from and no split allowed."""
    from scoreline.ml.training import train
    from scoreline.tasks.match_outcome import MatchOutcomeTask

    class WithoutPrior(MatchOutcomeTask):
        prior_features = ()

    return train(WithoutPrior(), simulated_table, params=WEAK_PARAMS, artifacts_dir=tmp_path_factory.mktemp("weak"))


@pytest.fixture
def clean_registry(mlflow_sqlite: ServerProcess) -> Registry:
    """The session's MLflow server with no ``scoreline-match-outcome`` registered model (suites share it)."""
    from scoreline.lifecycle.registry import Registry, model_name

    registry = Registry(mlflow_sqlite.url)
    if registry.versions(TASK) or registry.aliases(TASK):
        registry.client.delete_registered_model(model_name(TASK))
    return registry


def artifact_names(registry: Registry, run_id: str, path: str) -> set[str]:
    return {Path(info.path).name for info in registry.client.list_artifacts(run_id, path)}
