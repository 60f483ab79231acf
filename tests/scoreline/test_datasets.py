from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.data.datasets import DatasetCatalog, check_dataset_name, content_digest, safe_filename
from scoreline.data.storage import LocalStore, unavailable

TASK = "match-outcome"
HEADER = "date,home_team,away_team,home_score,away_score,tournament,city,country,neutral\n"
ROWS = (
    "2001-05-01,Chile,Peru,2,0,Copa América,Santiago,Chile,FALSE\n"
    "2001-05-03,Peru,Brazil,1,1,Friendly,Lima,Peru,FALSE\n"
    "2001-06-10,Brazil,Chile,3,1,Copa América,Lima,Peru,TRUE\n"
)
DATA = (HEADER + ROWS).encode()


@pytest.fixture
def catalog(tmp_path: Path) -> DatasetCatalog:
    return DatasetCatalog(LocalStore(tmp_path / "store"))


class FaultyStore(LocalStore):
    """Fault injection over the real local store: writes of keys ending in ``fail_suffix`` fail as an outage."""

    def __init__(self, root: Path, fail_suffix: str) -> None:
        super().__init__(root)
        self.fail_suffix = fail_suffix

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        if key.endswith(self.fail_suffix):
            raise unavailable(f"write {key}", ConnectionError("injected outage"))
        super().put(key, data, content_type)

    def put_if_absent(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> bool:
        if key.endswith(self.fail_suffix):
            raise unavailable(f"write {key}", ConnectionError("injected outage"))
        return super().put_if_absent(key, data, content_type)


def test_ingest_writes_raw_parquet_and_manifest(catalog: DatasetCatalog) -> None:
    result = catalog.ingest(TASK, "copa", DATA, "copa 2001.csv", source_kind="upload")
    manifest = result.manifest
    assert result.created
    assert len(manifest.version) == 12 and manifest.sha256.startswith(manifest.version)
    assert manifest.rows == 3
    assert manifest.columns[:3] == ["date", "home_team", "away_team"]
    assert manifest.source.format == "international"
    assert manifest.date_min == "2001-05-01" and manifest.date_max == "2001-06-10"
    keys = catalog.store.list()
    assert keys == sorted(
        [
            f"datasets/{TASK}/copa/{manifest.version}/data.parquet",
            f"datasets/{TASK}/copa/{manifest.version}/manifest.json",
            f"raw/{TASK}/copa/{manifest.version}/copa_2001.csv",
        ]
    )
    assert catalog.store.get(manifest.source.raw_key) == DATA


def test_load_returns_the_canonical_table(catalog: DatasetCatalog) -> None:
    version = catalog.ingest(TASK, "copa", DATA, "c.csv").manifest.version
    frame = catalog.load(TASK, "copa", version)
    assert frame["home_team"].tolist() == ["Chile", "Peru", "Brazil"]
    assert frame["home_score"].tolist() == [2, 1, 3]
    assert frame["neutral"].tolist() == [False, False, True]
    assert frame["date"].dtype.kind == "M"
    pd.testing.assert_frame_equal(catalog.load(TASK, "copa"), frame)


def test_same_content_same_version_even_when_formatted_differently(catalog: DatasetCatalog, tmp_path: Path) -> None:
    first = catalog.ingest(TASK, "copa", DATA, "a.csv")
    reformatted = (HEADER + ROWS).replace("\n", "\r\n").replace("FALSE", "False").encode()
    second = catalog.ingest(TASK, "copa", reformatted, "b.csv")
    path = tmp_path / "c.csv"
    path.write_bytes(DATA)
    third = catalog.ingest(TASK, "copa", path)
    assert first.created and not second.created and not third.created
    assert first.manifest.version == second.manifest.version == third.manifest.version
    assert second.manifest == first.manifest  # the stored manifest, unchanged
    assert len(catalog.versions(TASK, "copa")) == 1


def test_different_content_new_version_and_latest(catalog: DatasetCatalog) -> None:
    first = catalog.ingest(TASK, "copa", DATA, "a.csv").manifest
    more = DATA + b"2001-07-01,Peru,Chile,0,2,Friendly,Lima,Peru,FALSE\n"
    second = catalog.ingest(TASK, "copa", more, "b.csv").manifest
    assert first.version != second.version
    assert [m.version for m in catalog.versions(TASK, "copa")] == [first.version, second.version]
    assert catalog.latest(TASK, "copa").version == second.version
    assert catalog.manifest(TASK, "copa", first.version) == first
    summary = catalog.list_datasets()
    assert [(s.task, s.dataset, s.versions, s.latest.version) for s in summary] == [(TASK, "copa", 2, second.version)]


def test_racing_ingests_of_the_same_content_make_one_version(catalog: DatasetCatalog) -> None:
    results = []
    barrier = threading.Barrier(6)

    def run() -> None:
        barrier.wait()
        results.append(catalog.ingest(TASK, "race", DATA, "r.csv"))

    threads = [threading.Thread(target=run) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({r.manifest.version for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert len({r.manifest.created_at for r in results}) == 1
    assert len(catalog.store.list("datasets/")) == 2


@pytest.mark.parametrize("failing", ["data.parquet", "manifest.json", ".csv"])
def test_a_failed_write_leaves_no_visible_version(tmp_path: Path, failing: str) -> None:
    store = FaultyStore(tmp_path / "store", failing)
    catalog = DatasetCatalog(store)
    with pytest.raises(ScorelineError) as caught:
        catalog.ingest(TASK, "copa", DATA, "c.csv")
    assert caught.value.code == ErrorCode.UNAVAILABLE
    assert store.list() == []  # nothing partial: what was written before the failure is removed
    assert catalog.versions(TASK, "copa") == []
    store.fail_suffix = "never"
    assert catalog.ingest(TASK, "copa", DATA, "c.csv").created


def test_invalid_content_writes_nothing(catalog: DatasetCatalog) -> None:
    with pytest.raises(ScorelineError) as caught:
        catalog.ingest(TASK, "copa", HEADER.encode() + b"2001-05-01,Chile,Chile,2,0,X,Y,Z,FALSE\n", "bad.csv")
    assert caught.value.code == ErrorCode.INVALID_INPUT
    assert catalog.store.list() == []


@pytest.mark.parametrize("name", ["../etc", "a/b", "UPPER", "", "-lead", "x" * 64, "sp ace", "dot.name", "é"])
def test_dataset_names_must_be_slugs(catalog: DatasetCatalog, name: str) -> None:
    with pytest.raises(ScorelineError) as caught:
        catalog.ingest(TASK, name, DATA, "c.csv")
    assert caught.value.code == ErrorCode.INVALID_INPUT
    assert catalog.store.list() == []


def test_good_slugs_and_filenames() -> None:
    assert check_dataset_name("international-results_2024") == "international-results_2024"
    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("C:\\data\\E0 2023.csv") == "E0_2023.csv"
    assert safe_filename("") == "data.csv"
    assert safe_filename("..") == "data.csv"


def test_unknown_task_and_version(catalog: DatasetCatalog) -> None:
    with pytest.raises(ScorelineError) as caught:
        catalog.ingest("tiddlywinks", "copa", DATA, "c.csv")
    assert caught.value.code == ErrorCode.NOT_FOUND
    with pytest.raises(ScorelineError) as caught:
        catalog.manifest(TASK, "copa", "0123456789ab")
    assert caught.value.code == ErrorCode.NOT_FOUND
    with pytest.raises(ScorelineError) as caught:
        catalog.manifest(TASK, "copa", "../../x")
    assert caught.value.code == ErrorCode.NOT_FOUND


def test_digest_depends_on_values_and_order() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert content_digest(frame) == content_digest(frame.copy())
    assert content_digest(frame) != content_digest(frame.iloc[::-1].reset_index(drop=True))
    assert content_digest(frame) != content_digest(frame.assign(a=[1, 3]))
