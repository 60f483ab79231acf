from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.match_outcome.data import CANONICAL_COLUMNS, MAX_REPORTED_PROBLEMS, to_canonical

INTL_HEADER = "date,home_team,away_team,home_score,away_score,tournament,city,country,neutral\n"
INTL_ROWS = (
    "1872-11-30,Scotland,England,0,0,Friendly,Glasgow,Scotland,FALSE\n"
    "1873-03-08,England,Scotland,4,2,Friendly,London,England,FALSE\n"
    "2026-07-19,Spain,Argentina,1,0,FIFA World Cup,East Rutherford,United States,TRUE\n"
)
FD_HEADER = "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,B365H,B365D,B365A,PSH,PSD,PSA\n"


def _problems(raw: str, filename: str = "f.csv") -> dict:
    with pytest.raises(ScorelineError) as caught:
        to_canonical(raw.encode(), filename)
    assert caught.value.code == ErrorCode.INVALID_INPUT
    return caught.value.details


def test_international_format() -> None:
    frame = to_canonical((INTL_HEADER + INTL_ROWS).encode(), "results.csv")
    assert list(frame.columns) == list(CANONICAL_COLUMNS)
    assert frame.attrs["format"] == "international"
    assert frame["date"].dtype.kind == "M"
    assert frame["home_score"].tolist() == [0, 4, 1]
    assert frame["neutral"].tolist() == [False, False, True]
    assert frame["competition"].tolist() == ["Friendly", "Friendly", "FIFA World Cup"]
    assert frame["date"].iloc[2] == pd.Timestamp("2026-07-19")


def test_international_rows_are_sorted_by_date_and_whitespace_trimmed() -> None:
    rows = "2000-01-02, Spain ,Chile,1,1,Friendly,X,Y,False\n1999-05-01,Chile,Peru,2,0,Copa América,X,Y,true\n"
    frame = to_canonical((INTL_HEADER + rows).encode(), "r.csv")
    assert frame["date"].is_monotonic_increasing
    assert frame["home_team"].tolist() == ["Chile", "Spain"]
    assert frame["neutral"].tolist() == [True, False]


def test_real_international_file(international_results) -> None:
    raw = international_results.read_bytes()
    frame = to_canonical(raw, international_results.name)
    expected_rows = sum(1 for _ in international_results.open()) - 1
    assert len(frame) == expected_rows
    source = pd.read_csv(international_results)
    assert frame["home_score"].sum() == source["home_score"].sum()
    assert frame["neutral"].sum() == source["neutral"].sum()


def test_football_data_format_with_odds_and_trailing_empty_rows() -> None:
    rows = (
        "E0,11/08/2023,20:00,Burnley,Man City,0,3,A,0,2,A,8.0,5.25,1.33,8.4,5.6,1.37\n"
        "E0,12/08/23,12:30,Arsenal,Nott'm Forest,2,1,H,2,0,H,1.18,7.0,15.0,,,\n"
        "E0,12/08/2023,15:00,Bournemouth,West Ham,1,1,D,0,0,D,,,,2.6,3.5,2.8\n"
        ",,,,,,,,,,,,,,,,\n"
        ",,,,,,,,,,,,,,,,\n"
    )
    frame = to_canonical((FD_HEADER + rows).encode(), "E0.csv")
    assert frame.attrs["format"] == "football-data"
    assert len(frame) == 3
    assert frame["date"].dt.year.tolist() == [2023, 2023, 2023]
    assert frame["competition"].unique().tolist() == ["E0"]
    assert not frame["neutral"].any()
    # Bet365 preferred, Pinnacle as the fallback for a row without Bet365 odds
    assert frame[["odds_home", "odds_draw", "odds_away"]].to_numpy().tolist() == [
        [8.0, 5.25, 1.33],
        [1.18, 7.0, 15.0],
        [2.6, 3.5, 2.8],
    ]


def test_football_data_without_odds_or_div() -> None:
    raw = "Date,HomeTeam,AwayTeam,FTHG,FTAG\n01/02/1999,Leeds,Everton,1,0\n"
    frame = to_canonical(raw.encode(), "old.csv")
    assert "odds_home" not in frame.columns
    assert frame["competition"].tolist() == ["football-data"]
    assert frame["date"].iloc[0] == pd.Timestamp("1999-02-01")


def test_ftr_must_agree_with_scores() -> None:
    rows = "E0,11/08/2023,20:00,Burnley,Man City,0,3,H,0,2,A,8.0,5.25,1.33,8.4,5.6,1.37\n"
    details = _problems(FD_HEADER + rows)
    assert details["problems"] == [
        {"row": 2, "column": "FTR", "value": "H (score 0-3)", "expected": "H, D or A agreeing with FTHG and FTAG"}
    ]


@pytest.mark.parametrize(
    ("row", "column", "value", "expected_fragment"),
    [
        ("1873-13-08,England,Scotland,4,2,Friendly,L,E,FALSE", "date", "1873-13-08", "a date"),
        ("yesterday,England,Scotland,4,2,Friendly,L,E,FALSE", "date", "yesterday", "a date"),
        ("1873-02-30,England,Scotland,4,2,Friendly,L,E,FALSE", "date", "1873-02-30", "a date"),
        ("1873-3-08,England,Scotland,4,2,Friendly,L,E,FALSE", "date", "1873-3-08", "a date"),
        ("1873-03-08,England,Scotland,-4,2,Friendly,L,E,FALSE", "home_score", -4, "non-negative"),
        ("1873-03-08,England,Scotland,4,2.5,Friendly,L,E,FALSE", "away_score", "2.5", "whole number"),
        ("1873-03-08,England,Scotland,four,2,Friendly,L,E,FALSE", "home_score", "four", "whole number"),
        ("1873-03-08,England,England,4,2,Friendly,L,E,FALSE", "home_team", "England vs England", "cannot play itself"),
        ("1873-03-08,,Scotland,4,2,Friendly,L,E,FALSE", "home_team", None, "a team name"),
        ("1873-03-08,England,Scotland,4,2,Friendly,L,E,maybe", "neutral", "maybe", "TRUE or FALSE"),
        ("1873-03-08,England,Scotland,4,2,,L,E,FALSE", "tournament", None, "a tournament name"),
    ],
)
def test_each_bad_value_is_reported_with_row_column_value_expected(
    row: str, column: str, value: object, expected_fragment: str
) -> None:
    details = _problems(INTL_HEADER + INTL_ROWS + row + "\n")
    assert details["total"] == 1
    (problem,) = details["problems"]
    assert problem["row"] == 5  # header is row 1, three good rows before
    assert problem["column"] == column
    assert problem["value"] == value
    assert expected_fragment in problem["expected"]


def test_several_problems_in_one_row_are_each_reported_once() -> None:
    details = _problems(INTL_HEADER + "1873-03-32,England,England,-4,x,Friendly,L,E,FALSE\n")
    columns = sorted(p["column"] for p in details["problems"])
    assert columns == ["away_score", "date", "home_score", "home_team"]
    assert details["total"] == 4


def test_first_50_problems_and_the_total() -> None:
    bad_rows = "".join(f"2001-01-{1 + i % 28:02d},A{i},B{i},x,1,Friendly,C,D,FALSE\n" for i in range(120))
    details = _problems(INTL_HEADER + INTL_ROWS + bad_rows)
    assert details["total"] == 120
    assert len(details["problems"]) == MAX_REPORTED_PROBLEMS
    assert [p["row"] for p in details["problems"]] == list(range(5, 5 + MAX_REPORTED_PROBLEMS))


def test_problem_rows_count_from_the_file_even_after_dropped_blank_rows() -> None:
    rows = (
        "E0,11/08/2023,20:00,Burnley,Man City,0,3,A,0,2,A,8.0,5.25,1.33,8.4,5.6,1.37\n"
        ",,,,,,,,,,,,,,,,\n"
        "E0,12/08/2023,12:30,Arsenal,Arsenal,2,1,H,2,0,H,1.18,7.0,15.0,,,\n"
    )
    details = _problems(FD_HEADER + rows)
    assert [(p["row"], p["column"]) for p in details["problems"]] == [(4, "HomeTeam")]


def test_odds_must_be_decimal_above_one() -> None:
    rows = "E0,11/08/2023,20:00,Burnley,Man City,0,3,A,0,2,A,0.5,5.25,1.33,8.4,5.6,1.37\n"
    details = _problems(FD_HEADER + rows)
    assert details["problems"][0]["column"] == "B365H"
    assert details["problems"][0]["value"] == "0.5"


def test_wrong_or_missing_columns() -> None:
    details = _problems("date,home,away,hs,as\n2020-01-01,A,B,1,0\n")
    missing = {p["column"] for p in details["problems"]}
    assert {"home_team", "away_team", "home_score", "away_score", "tournament", "neutral"} <= missing
    assert all(p["row"] == 1 for p in details["problems"])


def test_empty_and_header_only_files() -> None:
    assert _problems("")["total"] == 1
    assert _problems("   \n\n")["total"] == 1
    assert "no matches" in _message(INTL_HEADER)


def _message(raw: str) -> str:
    with pytest.raises(ScorelineError) as caught:
        to_canonical(raw.encode(), "f.csv")
    return caught.value.message


def test_binary_garbage_is_unsupported_media() -> None:
    garbage = bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))
    with pytest.raises(ScorelineError) as caught:
        to_canonical(b"\x89PNG\r\n\x1a\n" + garbage, "x.png")
    assert caught.value.code == ErrorCode.UNSUPPORTED_MEDIA


def test_ragged_csv_is_invalid_input() -> None:
    details = _problems(INTL_HEADER + "1873-03-08,England,Scotland,4\n")
    assert details["total"] >= 1


def test_simulated_data_round_trips() -> None:
    from scoreline.tasks.match_outcome.simulator import simulate

    raw, _ = simulate(2_000, seed=5)
    frame = to_canonical(raw.to_csv(index=False).encode(), "sim.csv")
    assert len(frame) == 2_000
    assert frame["home_score"].sum() == raw["home_score"].sum()
    assert frame["neutral"].sum() == raw["neutral"].sum()


def test_international_header_with_spaces_after_the_commas() -> None:
    """``date, home_team, ...`` (a hand-edited or re-exported header) is read, not a crash of the CSV reader."""
    header = INTL_HEADER.replace(",", ", ")
    rows = INTL_ROWS.replace(",", ", ")
    frame = to_canonical((header + rows).encode(), "results.csv")
    assert frame["home_team"].tolist() == ["Scotland", "England", "Spain"]
    assert frame["home_score"].tolist() == [0, 4, 1]


def test_international_blank_comma_rows_and_repeated_header_are_dropped_rows_stay_true() -> None:
    """A spreadsheet's ``,,,,`` tail and a second copy's header (files glued with ``cat``) are not matches; a
    problem after them still names its row in the file."""
    raw = INTL_HEADER + INTL_ROWS + INTL_HEADER + "2001-01-01,Peru,Chile,1,0,Friendly,Lima,Peru,FALSE\n"
    frame = to_canonical((raw + ",,,,,,,,\n,,,,,,,,\n").encode(), "results.csv")
    assert len(frame) == 4
    assert frame.attrs["blank_rows_dropped"] == 2 and frame.attrs["repeated_header_rows_dropped"] == 1
    bad = raw + ",,,,,,,,\n2002-02-02,Peru,Chile,x,0,Friendly,Lima,Peru,FALSE\n"
    details = _problems(bad)
    assert [(p["row"], p["column"]) for p in details["problems"]] == [(8, "home_score")]


def test_semicolon_football_data_with_decimal_commas_and_tab_separated_international() -> None:
    """Season files re-saved by a spreadsheet in a decimal-comma locale (``;`` between fields, odds ``1,53``),
    and tab-separated copies, read as the comma originals."""
    rows = (
        "E0;11/08/2017;Arsenal;Leicester;4;3;H;2;2;D;1,53;4,5;6,5\n"
        "E0;12/08/2017;Brighton;Man City;0;2;A;0;0;D;11;5,5;1,33\n"
    )
    header = "Div;Date;HomeTeam;AwayTeam;FTHG;FTAG;FTR;HTHG;HTAG;HTR;B365H;B365D;B365A\n"
    frame = to_canonical((header + rows).encode("cp1252"), "E0.csv")
    assert frame["home_team"].tolist() == ["Arsenal", "Brighton"]
    assert frame["odds_home"].tolist() == [1.53, 11.0] and frame["odds_draw"].tolist() == [4.5, 5.5]
    tabbed = (INTL_HEADER + INTL_ROWS).replace(",", "\t")
    assert to_canonical(tabbed.encode(), "results.tsv")["away_team"].tolist() == ["England", "Scotland", "Argentina"]


def test_football_data_dates_re_saved_with_dashes_or_dots() -> None:
    """Copies of season files re-saved by spreadsheets write 16-08-2003 or 16.08.03 (still day first)."""
    rows = (
        "E0,16-08-2003,Arsenal,Everton,2,1,H,1,0,H,1.4,3.8,8\n"
        "E0,17.08.03,Leeds,Newcastle,2,2,D,1,1,D,2.75,3.25,2.375\n"
        "E0,04-10-03,Fulham,Leicester,2,0,H,1,0,H,1.61,3.6,5\n"
    )
    header = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,B365H,B365D,B365A\n"
    frame = to_canonical((header + rows).encode(), "epl0304.csv")
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == ["2003-08-16", "2003-08-17", "2003-10-04"]


def test_international_fixtures_not_played_yet_are_dropped_one_missing_score_is_still_refused() -> None:
    """The international results file ends with the coming matches, their scores ``NA`` (as published during
    Euro 2024); they are not results. A row with one score only is still a problem, named by its file row."""
    coming = (
        "2024-07-10,Netherlands,England,1,2,UEFA Euro,Dortmund,Germany,TRUE\n"
        "2024-07-13,Canada,Uruguay,NA,NA,Copa América,Charlotte,United States,TRUE\n"
        "2024-07-14,Spain,England,NA,NA,UEFA Euro,Berlin,Germany,TRUE\n"
    )
    frame = to_canonical((INTL_HEADER + INTL_ROWS + coming).encode(), "results.csv")
    assert len(frame) == 4 and frame.attrs["unplayed_fixtures_dropped"] == 2
    assert "Uruguay" not in set(frame["away_team"])
    half = coming + "2024-07-15,Peru,Chile,NA,1,Friendly,Lima,Peru,FALSE\n"
    details = _problems(INTL_HEADER + INTL_ROWS + half)
    assert [(p["row"], p["column"]) for p in details["problems"]] == [(8, "home_score")]
