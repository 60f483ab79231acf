from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.esports_win import EsportsWinTask
from scoreline.tasks.esports_win.columns import STAT_COLUMNS, export_name
from scoreline.tasks.esports_win.simulator import simulate
from tests.scoreline.tasks.zips import zipped

TASK = EsportsWinTask()
FIFTEEN = ["blueWins", "blueWardsPlaced", "blueWardsDestroyed", "blueFirstBlood", "blueKills", "blueDeaths",
           "blueAssists", "blueEliteMonsters", "blueDragons", "blueTotalGold", "blueAvgLevel", "blueTotalExperience",
           "blueTotalMinionsKilled", "blueGoldDiff", "blueExperienceDiff"]  # fmt: skip


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return simulate(60, seed=3)[0]


def _csv(frame: pd.DataFrame, **kwargs: object) -> bytes:
    return frame.to_csv(index=False, **kwargs).encode()


def test_full_table_reads_every_column(raw: pd.DataFrame) -> None:
    canonical = TASK.to_canonical(_csv(raw), "high_diamond_ranked_10min.csv")
    assert list(canonical.columns) == ["game_id", "blue_wins", *STAT_COLUMNS]
    assert canonical.attrs["columns"] == list(STAT_COLUMNS)
    assert canonical["game_id"].tolist() == raw["gameId"].astype(str).tolist()
    np.testing.assert_array_equal(canonical["blue_total_gold"], raw["blueTotalGold"])
    np.testing.assert_allclose(canonical["red_avg_level"], raw["redAvgLevel"])


def test_fifteen_column_subset_without_game_id(raw: pd.DataFrame) -> None:
    canonical = TASK.to_canonical(_csv(raw[FIFTEEN]), "subset.csv")
    assert canonical.attrs["columns"] == [c for c in STAT_COLUMNS if export_name(c) in FIFTEEN]
    assert canonical.attrs["game_ids"] == "synthesized from row content"
    again = TASK.to_canonical(_csv(raw[FIFTEEN]), "subset.csv")
    assert canonical["game_id"].tolist() == again["game_id"].tolist()  # stable
    assert canonical["game_id"].is_unique
    table = TASK.training_table(canonical)
    assert (table.features["gold_diff"].to_numpy() == raw["blueGoldDiff"].to_numpy()).all()
    # red kills come from blue deaths, so the kill difference is known without red columns
    np.testing.assert_array_equal(table.features["kills_diff"], raw["blueKills"] - raw["blueDeaths"])


@pytest.mark.parametrize("words", [("TRUE", "FALSE"), ("True", "False"), ("1", "0")])
def test_boolean_spellings(raw: pd.DataFrame, words: tuple[str, str]) -> None:
    frame = raw.astype({"blueWins": object, "blueFirstBlood": object})
    for column in ("blueWins", "blueFirstBlood"):
        frame[column] = np.where(raw[column] == 1, words[0], words[1])
    canonical = TASK.to_canonical(_csv(frame), "bools.csv")
    np.testing.assert_array_equal(canonical["blue_wins"], raw["blueWins"])
    np.testing.assert_array_equal(canonical["blue_first_blood"], raw["blueFirstBlood"])


def test_semicolons_decimal_commas_bom_cp1252_and_header_case(raw: pd.DataFrame) -> None:
    frame = raw.rename(columns=str.lower)
    text = frame.to_csv(index=False, sep=";", decimal=",")
    for encoded in (b"\xef\xbb\xbf" + text.encode(), text.encode("cp1252")):
        canonical = TASK.to_canonical(encoded, "semicolons.csv")
        np.testing.assert_allclose(canonical["blue_avg_level"], raw["blueAvgLevel"])
        np.testing.assert_allclose(canonical["red_gold_per_min"], raw["redGoldPerMin"])


def test_bad_cells_are_422_with_row_and_column(raw: pd.DataFrame) -> None:
    frame = raw.astype(object)
    frame.loc[4, "blueKills"] = "many"
    frame.loc[9, "redAvgLevel"] = 31
    frame.loc[11, "blueWins"] = "maybe"
    with pytest.raises(ScorelineError) as error:
        TASK.to_canonical(_csv(frame), "bad.csv")
    assert error.value.code == ErrorCode.INVALID_INPUT
    found = {(p["row"], p["column"]) for p in error.value.details["problems"]}
    assert {(6, "blueKills"), (11, "redAvgLevel"), (13, "blueWins")} <= found
    assert error.value.details["count"] == 3


def test_missing_gold_columns_named(raw: pd.DataFrame) -> None:
    frame = raw.drop(columns=["blueTotalGold", "redTotalGold", "blueGoldDiff", "redGoldDiff", "blueGoldPerMin",
                              "redGoldPerMin"])  # fmt: skip
    with pytest.raises(ScorelineError) as error:
        TASK.to_canonical(_csv(frame), "nogold.csv")
    assert "blueTotalGold and redTotalGold, or blueGoldDiff" in error.value.message


def test_missing_label_named(raw: pd.DataFrame) -> None:
    with pytest.raises(ScorelineError) as error:
        TASK.to_canonical(_csv(raw.drop(columns=["blueWins"])), "nolabel.csv")
    assert "blueWins" in error.value.message


def test_unrelated_csv_and_binary_say_what_was_expected() -> None:
    with pytest.raises(ScorelineError) as error:
        TASK.to_canonical(b"date,home_team,away_team\n2020-01-01,A,B\n", "football.csv")
    assert error.value.code == ErrorCode.INVALID_INPUT and "10-minute team table" in error.value.message
    with pytest.raises(ScorelineError) as error:
        TASK.to_canonical(b"\x00\x01\x02binary", "x.bin")
    assert error.value.code == ErrorCode.UNSUPPORTED_MEDIA


def test_repeated_game_dropped_conflicting_reported(raw: pd.DataFrame) -> None:
    doubled = pd.concat([raw, raw.iloc[[0]]], ignore_index=True)
    assert len(TASK.to_canonical(_csv(doubled), "x.csv")) == len(raw)
    conflicting = doubled.copy()
    conflicting.loc[len(raw), "blueKills"] += 1
    with pytest.raises(ScorelineError) as error:
        TASK.to_canonical(_csv(conflicting), "x.csv")
    assert error.value.details["problems"][0]["row"] == len(raw) + 2


LOL_HEADER = (
    "gameId,blueWins,blueWardsPlaced,blueFirstBlood,blueKills,blueTotalGold,redWardsPlaced,redKills,redTotalGold\n"
)
LOL_ROWS = "4519157822,0,28,1,9,17210,15,6,16567\n4523371949,1,12,0,5,14712,12,5,17620\n"


def test_spreadsheet_tail_of_bare_commas_is_not_read_as_games() -> None:
    """A table saved from a spreadsheet ends with rows of separators only (and empty header columns): they are
    not games missing every value."""
    tail = ",,,,,,,,,,\n" * 3
    wide = LOL_HEADER.replace("\n", ",,\n") + LOL_ROWS.replace("\n", ",,\n") + tail
    canonical = TASK.to_canonical(wide.encode(), "high_diamond_ranked_10min.csv")
    assert canonical["game_id"].tolist() == ["4519157822", "4523371949"]
    assert canonical["blue_wins"].tolist() == [0, 1]


def test_header_only_table_is_a_clear_422() -> None:
    with pytest.raises(ScorelineError) as caught:
        TASK.to_canonical(LOL_HEADER.encode(), "high_diamond_ranked_10min.csv")
    assert caught.value.code == ErrorCode.INVALID_INPUT
    assert "has a header but no games" in caught.value.message


def test_zip_of_several_tables_is_one_table_of_their_games() -> None:
    """A zip of several 10-minute tables (e.g. one per region) was sent to the Riot JSON reader: 'expected a JSON
    or JSON Lines file'. Now their games are one table, a game in two files once, problems name the file."""
    more = "4521474530,0,15,0,7,16113,15,11,17285\n"
    first_row = LOL_ROWS.splitlines(keepends=True)[0]
    canonical = TASK.to_canonical(zipped({"euw.csv": LOL_HEADER + LOL_ROWS, "kr.csv": LOL_HEADER + more + first_row}),
                                  "games.zip")  # fmt: skip
    assert sorted(canonical["game_id"]) == ["4519157822", "4521474530", "4523371949"]
    assert canonical.attrs["files"] == ["euw.csv", "kr.csv"] and canonical.attrs["dropped_repeats"] == 1
    bad = LOL_HEADER + more.replace("15,", "x,", 1)
    with pytest.raises(ScorelineError) as caught:
        TASK.to_canonical(zipped({"euw.csv": LOL_HEADER + LOL_ROWS, "kr.csv": bad}), "games.zip")
    problem = caught.value.details["problems"][0]
    assert (problem["file"], problem["row"], problem["column"]) == ("kr.csv", 2, "blueWardsPlaced")


def test_end_of_game_table_is_not_taken_for_the_state_at_ten_minutes() -> None:
    """A ranked-games export of end-of-game statistics (gameDuration, blueWins, blueTotalGold ~50,000, levels
    ~15) has every required column: read as the state at 10:00 it would train on the outcome itself."""
    header = "gameId,gameDuration,blueWins,blueFirstBlood,blueKills,blueTotalGold,blueAvgLevel,redKills,redTotalGold\n"
    rows = "4247263043,1323,0,1,16,49620,14.6,25,56711\n4247155821,1317,1,0,23,53469,15.2,13,45843\n"
    with pytest.raises(ScorelineError) as caught:
        TASK.to_canonical((header + rows).encode(), "Challenger_Ranked_Games.csv")
    assert caught.value.code == ErrorCode.INVALID_INPUT
    assert "looks like end-of-game statistics: median blueTotalGold is 51,544.5" in caught.value.message
    assert caught.value.details["problems"][0]["column"] == "blueTotalGold"


def test_rows_ending_in_separators_the_header_lacks() -> None:
    """Every row ends in ',,' but the header does not: pandas took the first two fields for an index and shifted
    every column (blueWins read from blueWardsPlaced); empty extra fields are cut, a value there is reported."""
    wide = LOL_HEADER + LOL_ROWS.replace("\n", ",,\n")
    canonical = TASK.to_canonical(wide.encode(), "high_diamond_ranked_10min.csv")
    assert canonical["game_id"].tolist() == ["4519157822", "4523371949"]
    assert canonical["blue_wins"].tolist() == [0, 1] and canonical["blue_total_gold"].tolist() == [17210, 14712]
    first, second = LOL_ROWS.splitlines()
    with pytest.raises(ScorelineError) as caught:
        TASK.to_canonical(f"{LOL_HEADER}{first},,\n{second},x\n".encode(), "t.csv")
    assert caught.value.details["problems"][0]["row"] == 3 and caught.value.details["problems"][0]["value"] == "x"


def test_game_ids_written_with_thousands_separators() -> None:
    """Re-saved from a spreadsheet with a number format, gameId 4519157822 reads '4,519,157,822'."""
    grouped = LOL_ROWS.replace("4519157822,", '"4,519,157,822",').replace("4523371949,", '"4,523,371,949",')
    canonical = TASK.to_canonical((LOL_HEADER + grouped).encode(), "high_diamond_ranked_10min.csv")
    assert canonical["game_id"].tolist() == ["4519157822", "4523371949"]
