"""``scoreline ingest`` with several season files and ``--append``, into the local store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from scoreline.cli import build_app
from scoreline.core.settings import StorageSettings
from scoreline.data.datasets import DatasetCatalog
from scoreline.data.storage import open_store
from tests.scoreline.tasks.match_outcome import football_data_files as fd

runner = CliRunner()


def test_several_files_then_an_appended_season(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORELINE_STORAGE_URI", f"file://{tmp_path / 'store'}")
    seasons = []
    for year in (2018, 2019):
        path = tmp_path / f"E0-{year}.csv"
        path.write_text(fd.season("E0", year, rounds=4, modern=year >= 2019))
        seasons.append(str(path))
    first = runner.invoke(build_app(), ["ingest", "match-outcome", "epl", *seasons])
    assert first.exit_code == 0, first.output
    assert "new version, 80 rows" in first.output
    latin1 = tmp_path / "SP1.csv"
    latin1.write_bytes(fd.latin1_after_64k())
    appended = runner.invoke(build_app(), ["ingest", "match-outcome", "epl", str(latin1), "--append"])
    assert appended.exit_code == 0, appended.output
    assert "380 rows added" in appended.output
    catalog = DatasetCatalog(open_store(StorageSettings()))
    latest = catalog.latest("match-outcome", "epl")
    assert latest.rows == 460 and latest.lineage is not None and latest.lineage.files == ["SP1.csv"]
