"""The monitor's results loader reads what ingest stored: the latest version of every dataset of a task."""

from __future__ import annotations

from pathlib import Path

from scoreline.core.settings import StorageSettings
from scoreline.data.datasets import DatasetCatalog
from scoreline.data.storage import open_store
from scoreline.monitoring.service import catalog_results_loader
from scoreline.tasks import get_task


def _csv(matches: int, seed: int) -> bytes:
    raw, _ = get_task("match-outcome").simulate(matches, seed)
    return raw.to_csv(index=False).encode()


def test_results_are_the_latest_version_of_every_dataset(tmp_path: Path) -> None:
    settings = StorageSettings(storage_uri=f"file://{tmp_path}")
    catalog = DatasetCatalog(open_store(settings))
    catalog.ingest("match-outcome", "league-a", _csv(50, seed=1), "a.csv")
    catalog.ingest("match-outcome", "league-a", _csv(80, seed=2), "a.csv")  # newer version replaces the first
    catalog.ingest("match-outcome", "league-b", _csv(30, seed=3), "b.csv")

    results = catalog_results_loader(settings)("match-outcome")

    assert len(results) == 80 + 30
    assert {"date", "home_team", "away_team", "home_score", "away_score"} <= set(results.columns)


def test_no_datasets_give_an_empty_table(tmp_path: Path) -> None:
    settings = StorageSettings(storage_uri=f"file://{tmp_path}")
    assert catalog_results_loader(settings)("match-outcome").empty
