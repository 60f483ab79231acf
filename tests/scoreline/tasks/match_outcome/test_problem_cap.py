"""A 20 MB match file whose every row is invalid answers a 422 in seconds, listing the first 50 problems and a
count, instead of collecting a problem per row (minutes and hundreds of MB before)."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoreline.core.errors import ScorelineError
from scoreline.data.datasets import DatasetCatalog
from scoreline.data.storage import LocalStore

HEADER = "date,home_team,away_team,home_score,away_score,tournament,city,country,neutral\n"


@pytest.mark.parametrize(
    "row",
    [
        pytest.param("2001-01-01,Chile,Chile,1,0,Friendly,S,C,FALSE\n", id="team-plays-itself"),
        pytest.param("2001-01-01,Chile,Peru,x,y,Friendly,S,C,maybe\n", id="unparseable"),
    ],
)
def test_a_20_mb_all_invalid_file_is_a_fast_422_with_50_problems_and_a_count(tmp_path: Path, row: str) -> None:
    data = (HEADER + row * (20_000_000 // len(row))).encode()
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    catalog = DatasetCatalog(LocalStore(tmp_path / "store"))
    with pytest.raises(ScorelineError) as caught:
        catalog.ingest("match-outcome", "bad", path, "bad.csv")
    details = caught.value.details
    assert caught.value.http_status == 422
    assert len(details["problems"]) == 50
    assert details["count"] >= 50
    assert details["complete"] is False  # early exit: the rest was not checked
    assert "rows were not checked" in caught.value.message
