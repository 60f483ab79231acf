"""Several files as one dataset version, and appending a season: union de-duplicated, lineage in the manifest."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.data.datasets import DatasetCatalog
from scoreline.data.storage import LocalStore
from tests.scoreline.tasks.match_outcome import football_data_files as fd

TASK = "match-outcome"


@pytest.fixture
def catalog(tmp_path: Path) -> DatasetCatalog:
    return DatasetCatalog(LocalStore(tmp_path / "store"))


def five_seasons() -> list[tuple[str, bytes]]:
    """Five real-format season files: one latin-1 (byte past 64 KiB), one with 2.0 scores, one old-style."""
    return [
        ("E0-1819.csv", fd.season("E0", 2018, rounds=6, modern=False).encode()),
        ("E0-1920.csv", fd.with_trailing_commas_and_blank_rows(fd.season("E0", 2019, rounds=6)).encode()),
        ("E0-2021.csv", fd.season("E0", 2020, rounds=6, decimal_scores=True).encode()),
        ("SP1-1920.csv", fd.latin1_after_64k()),
        ("E0-1718.csv", b"\xef\xbb\xbf" + fd.season("E0", 2017, rounds=6).encode()),
    ]


def test_five_files_make_one_version_whatever_their_order(catalog: DatasetCatalog) -> None:
    files = five_seasons()
    result = catalog.ingest_files(TASK, "epl", files)
    manifest = result.manifest
    assert result.created
    assert manifest.rows == 60 + 60 + 60 + 380 + 60
    assert [s.filename for s in manifest.sources] == [name for name, _ in files]
    assert manifest.lineage is not None and manifest.lineage.base_version is None
    assert manifest.lineage.files == [name for name, _ in files]
    assert manifest.notes["files"]["SP1-1920.csv"]["encoding"] == "cp1252"
    assert manifest.notes["files"]["E0-2021.csv"]["whole_numbers_written_as_decimals"] == 120
    for source in manifest.sources:
        assert catalog.store.get(source.raw_key) == dict(files)[source.filename]
    frame = catalog.load(TASK, "epl", manifest.version)
    assert "Málaga" in set(frame["home_team"])
    again = catalog.ingest_files(TASK, "epl", list(reversed(files)))
    assert (again.created, again.manifest.version) == (False, manifest.version)


def test_appending_a_season_gives_the_union_with_its_lineage(catalog: DatasetCatalog) -> None:
    first = catalog.ingest_files(TASK, "epl", five_seasons()).manifest
    next_season = fd.season("E0", 2021, rounds=6)
    overlap = fd.season("E0", 2020, rounds=6)  # last season again, re-downloaded: all duplicates
    appended = catalog.ingest_files(TASK, "epl", [("E0-2122.csv", next_season.encode()),
                                                  ("E0-2021.csv", overlap.encode())], append=True)  # fmt: skip
    manifest = appended.manifest
    assert appended.created and manifest.version != first.version
    assert manifest.rows == first.rows + 60
    lineage = manifest.lineage
    assert lineage is not None
    assert (lineage.base_version, lineage.base_rows, lineage.rows_read) == (first.version, first.rows, 120)
    assert (lineage.duplicates_dropped, lineage.rows_added) == (60, 60)
    assert lineage.dedupe_keys == ["date", "home_team", "away_team"]
    assert catalog.latest(TASK, "epl").version == manifest.version
    frame = catalog.load(TASK, "epl")
    assert not frame.duplicated(["date", "home_team", "away_team"]).any()
    assert frame["date"].is_monotonic_increasing
    # appending the same season again changes nothing: the same version
    again = catalog.ingest_files(TASK, "epl", [("E0-2122.csv", next_season.encode())], append=True)
    assert (again.created, again.manifest.version) == (False, manifest.version)


def test_append_to_an_empty_dataset_and_to_a_named_base(catalog: DatasetCatalog) -> None:
    first = catalog.ingest_files(TASK, "new", [("E0.csv", fd.season(rounds=2).encode())], append=True).manifest
    assert first.lineage is not None and first.lineage.base_version is None and first.rows == 20
    second = catalog.ingest_files(TASK, "new", [("E0b.csv", fd.season(first_year=2020, rounds=2).encode())],
                                  base_version=first.version).manifest  # fmt: skip
    assert second.rows == 40 and second.lineage is not None and second.lineage.base_version == first.version


def test_problems_of_every_file_are_reported_together_naming_the_file(catalog: DatasetCatalog) -> None:
    lines = fd.season(rounds=1).splitlines()
    cells = lines[1].split(",")
    cells[5] = "two"  # FTHG of the first match
    bad_score = "\n".join([*lines[:1], ",".join(cells), *lines[2:]]) + "\n"
    with pytest.raises(ScorelineError) as caught:
        catalog.ingest_files(TASK, "epl", [("good.csv", fd.season(rounds=1).encode()), ("bad.csv", bad_score.encode()),
                                           ("empty.csv", b"")])  # fmt: skip
    error = caught.value
    assert error.code == ErrorCode.INVALID_INPUT
    assert error.details["files"] == ["bad.csv", "empty.csv"]
    first = error.details["problems"][0]
    assert first["file"] == "bad.csv" and first["value"] == "two" and first["row"] is not None
    assert (first["row"], first["column"]) == (2, "FTHG") and "whole number" in first["expected"]
    assert catalog.list_datasets() == []  # nothing written
