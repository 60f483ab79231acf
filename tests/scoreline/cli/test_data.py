from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from scoreline.cli import build_app
from scoreline.cli.data import truth_path

runner = CliRunner()


def test_simulate_writes_data_and_truth(tmp_path: Path) -> None:
    out = tmp_path / "sim" / "matches.csv"
    result = runner.invoke(
        build_app(), ["simulate", "match-outcome", "--matches", "3000", "--seed", "4", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    side = truth_path(out)
    assert side == tmp_path / "sim" / "matches.truth.csv"
    data, truth = pd.read_csv(out), pd.read_csv(side)
    assert len(data) == len(truth) == 3000
    assert (
        out.read_text().splitlines()[0]
        == "date,home_team,away_team,home_score,away_score,tournament,city,country,neutral"
    )
    assert set(out.read_text().splitlines()[1].split(",")[-1:]) <= {"TRUE", "FALSE"}
    assert list(truth.columns) == ["p_home", "p_draw", "p_away"]
    assert (truth.sum(axis=1) - 1).abs().max() < 1e-9


def test_ingest_into_the_local_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORELINE_STORAGE_URI", f"file://{tmp_path / 'store'}")
    out = tmp_path / "m.csv"
    assert runner.invoke(build_app(), ["simulate", "match-outcome", "-n", "500", "--out", str(out)]).exit_code == 0
    first = runner.invoke(build_app(), ["ingest", "match-outcome", "sim", str(out)])
    assert first.exit_code == 0, first.output
    manifest = json.loads(first.stdout[first.stdout.index("{") :])
    assert manifest["rows"] == 500
    assert (tmp_path / "store" / manifest["data_key"]).is_file()
    listing = runner.invoke(build_app(), ["datasets"])
    assert json.loads(listing.stdout)[0]["latest"]["version"] == manifest["version"]


def test_ingest_reports_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORELINE_STORAGE_URI", f"file://{tmp_path / 'store'}")
    bad = tmp_path / "bad.csv"
    bad.write_text("date,home_team,away_team,home_score,away_score,tournament,city,country,neutral\n"
                   "2001-01-01,A,A,1,0,F,C,D,FALSE\n")  # fmt: skip
    result = runner.invoke(build_app(), ["ingest", "match-outcome", "sim", str(bad)])
    assert result.exit_code == 2
    assert "cannot play itself" in result.output
    assert not (tmp_path / "store" / "datasets").exists()
