"""football-data.co.uk files as they come: encodings over the whole file, ``2.0`` scores, trailing commas,
repeated headers, season-to-season column changes, every bookmaker's odds, zips of seasons."""

from __future__ import annotations

import numpy as np
import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.match_outcome.data import market_probabilities, to_canonical
from tests.scoreline.tasks.match_outcome import football_data_files as fd
from tests.scoreline.tasks.zips import zipped


def _refused(raw: bytes, filename: str = "E0.csv") -> ScorelineError:
    with pytest.raises(ScorelineError) as caught:
        to_canonical(raw, filename)
    assert caught.value.code == ErrorCode.INVALID_INPUT
    return caught.value


def test_a_latin1_byte_after_64_kib_makes_the_whole_file_cp1252() -> None:
    raw = fd.latin1_after_64k()
    position = raw.index("Málaga".encode("cp1252"))
    assert position > 65_536 and raw[:65_536].isascii()
    frame = to_canonical(raw, "SP1.csv")
    assert "Málaga" in set(frame["home_team"])
    assert not frame["home_team"].str.contains("\ufffd").any()
    assert frame.attrs["encoding"] == "cp1252"
    assert len(frame) == 380


def test_utf8_with_and_without_bom() -> None:
    text = fd.season(rounds=2).replace("Arsenal", "Arsénal")
    plain = to_canonical(text.encode(), "E0.csv")
    bom = to_canonical(b"\xef\xbb\xbf" + text.encode(), "E0.csv")
    assert plain.attrs["encoding"] == "utf-8" and bom.attrs["encoding"] == "utf-8-sig"
    assert "Arsénal" in set(bom["home_team"]) | set(bom["away_team"])
    assert plain.drop(columns=[]).equals(bom)


def test_scores_written_as_decimals_are_whole_numbers() -> None:
    frame = to_canonical(fd.season(rounds=3, decimal_scores=True).encode(), "E0.csv")
    reference = to_canonical(fd.season(rounds=3).encode(), "E0.csv")
    assert frame["home_score"].dtype == np.int64
    assert frame["home_score"].tolist() == reference["home_score"].tolist()
    assert frame.attrs["whole_numbers_written_as_decimals"] == 2 * 30


def test_a_fractional_score_is_refused_with_row_column_value_expected() -> None:
    lines = fd.season(rounds=1).splitlines()
    cells = lines[3].split(",")
    cells[5] = "2.5"
    lines[3] = ",".join(cells)
    error = _refused(("\n".join(lines) + "\n").encode())
    problem = error.details["problems"][0]
    assert (problem["row"], problem["column"], problem["value"]) == (4, "FTHG", "2.5")
    assert "whole number" in problem["expected"]


def test_trailing_empty_columns_and_blank_rows_are_dropped() -> None:
    text = fd.with_trailing_commas_and_blank_rows(fd.season(rounds=2))
    frame = to_canonical(text.encode(), "E0.csv")
    assert len(frame) == 20
    assert frame.attrs["blank_rows_dropped"] == 2


def test_header_rows_repeated_inside_concatenated_files_are_dropped() -> None:
    text = fd.concatenated(fd.season(first_year=2018, rounds=2, modern=False), fd.season(first_year=2019, rounds=2))
    frame = to_canonical(text.encode(), "E0-2018-2020.csv")
    assert len(frame) == 40
    assert frame.attrs["repeated_header_rows_dropped"] == 1
    assert frame["date"].dt.year.min() == 2018 and frame["date"].dt.year.max() == 2019


def test_rows_after_a_repeated_header_keep_their_file_row_numbers() -> None:
    second = fd.season(first_year=2019, rounds=1).splitlines()
    cells = second[2].split(",")
    cells[4] = ""  # no away team, in the second season's 2nd match
    second[2] = ",".join(cells)
    text = fd.concatenated(fd.season(first_year=2018, rounds=1), "\n".join(second) + "\n")
    problem = _refused(text.encode()).details["problems"][0]
    assert (problem["row"], problem["column"]) == (1 + 10 + 1 + 2, "AwayTeam")


def test_a_value_beyond_the_header_is_refused() -> None:
    lines = fd.season(rounds=1).splitlines()
    lines[2] += ",,surprise"
    problem = _refused(("\n".join(lines) + "\n").encode()).details["problems"][0]
    assert problem["row"] == 3 and problem["value"] == "surprise"
    assert "fields per row" in problem["expected"]


def test_two_digit_years_and_the_time_column() -> None:
    frame = to_canonical(fd.season(first_year=2020, rounds=1, four_digit_years=False).encode(), "E0.csv")
    assert frame["date"].dt.year.unique().tolist() == [2020]


def test_every_bookmakers_closing_odds_are_kept() -> None:
    frame = to_canonical(fd.season(rounds=1).encode(), "E0.csv")
    for book in ("b365", "ps", "avg", "max", "psc", "avgc", "b365c", "maxc"):
        for side in ("home", "draw", "away"):
            assert f"odds_{book}_{side}" in frame.columns
    assert frame["odds_psc_home"].notna().all()
    assert (frame["odds_home"] == frame["odds_b365_home"]).all()  # the preferred triple stays Bet365


def test_market_probabilities_prefer_pinnacle_closing_and_remove_the_margin() -> None:
    frame = to_canonical(fd.season(rounds=1).encode(), "E0.csv")
    market = market_probabilities(frame)
    inverse = 1.0 / frame[["odds_psc_home", "odds_psc_draw", "odds_psc_away"]].to_numpy()
    assert np.allclose(market, inverse / inverse.sum(axis=1, keepdims=True))
    assert np.allclose(market.sum(axis=1), 1.0)
    old = to_canonical(fd.season(first_year=2015, rounds=1, modern=False).encode(), "E0.csv")
    old_market = market_probabilities(old)  # no closing odds: Pinnacle pre-match
    inverse = 1.0 / old[["odds_ps_home", "odds_ps_draw", "odds_ps_away"]].to_numpy()
    assert np.allclose(old_market, inverse / inverse.sum(axis=1, keepdims=True))


def test_a_zip_of_seasons_with_different_columns_is_one_table() -> None:
    files = {
        "E0-1819.csv": fd.season(first_year=2018, rounds=4, modern=False),
        "E0-1920.csv": fd.season(first_year=2019, rounds=4),
        "SP1-1920.csv": fd.latin1_after_64k(),
        "E0-1920-again.csv": fd.season(first_year=2019, rounds=4),  # the same matches: de-duplicated
        "__MACOSX/._E0.csv": b"\x00\x05\x16\x07",
    }
    frame = to_canonical(zipped(files), "seasons.zip")
    assert len(frame) == 40 + 40 + 380
    assert frame.attrs["duplicates_dropped"] == 40
    assert frame.attrs["files"] == sorted(name for name in files if not name.startswith("__MACOSX"))
    old = frame["date"].dt.year == 2018
    assert frame.loc[old, "odds_psc_home"].isna().all() and frame.loc[old, "odds_bbav_home"].notna().all()
    assert frame.loc[~old, "odds_bbav_home"].isna().all()
    assert frame["date"].is_monotonic_increasing


def test_a_bad_file_inside_a_zip_is_named_with_its_row_column_value_expected() -> None:
    bad = fd.season(rounds=1).replace("11/08/2019", "31/02/2019", 1)
    error = _refused(zipped({"good.csv": fd.season(rounds=1), "bad.csv": bad}), "seasons.zip")
    problem = error.details["problems"][0]
    assert error.details["files"] == ["bad.csv"]
    assert problem["file"] == "bad.csv" and problem["column"] == "Date" and problem["value"] == "31/02/2019"
    assert problem["row"] == 3 and "dd/mm" in problem["expected"].replace("%d/%m", "dd/mm")
    assert "bad.csv" in error.message


# A season file as R's write.csv re-saves it (public copies of the site's files often are): every text quoted, a
# row-number column with an empty name, ISO dates, NA for every empty cell (odds a bookmaker did not price) and
# the site's trailing empty row turned into a row of NAs. Values from the 2014/15 Premier League file.
R_RESAVED = (
    b'"","Div","Date","HomeTeam","AwayTeam","FTHG","FTAG","FTR","SJH","SJD","SJA","PSCH","PSCD","PSCA"\n'
    b'"1","E0",2014-09-20,"Aston Villa","Arsenal",0,3,"A",NA,NA,NA,5.18,3.77,1.78\n'
    b'"2","E0",2014-09-20,"Burnley","Sunderland",0,0,"D",2.55,3.2,3.12,2.6,3.23,3.08\n'
    b'"3","",NA,"","",NA,NA,"",NA,NA,NA,NA,NA,NA\n'
)


def test_a_file_re_saved_by_r_reads_as_the_original() -> None:
    frame = to_canonical(R_RESAVED, "E0-1415.csv")
    assert len(frame) == 2 and frame.attrs["blank_rows_dropped"] == 1
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == ["2014-09-20", "2014-09-20"]
    assert frame["odds_sj_home"].isna().tolist() == [True, False]  # NA is no price, not a bad price
    assert frame.attrs["odds_marked_missing"] == 3
    assert frame["odds_psc_home"].tolist() == [5.18, 2.6]
    assert np.isfinite(market_probabilities(frame)).all()


def test_na_where_a_score_belongs_is_still_refused() -> None:
    raw = R_RESAVED.replace(b'"Burnley","Sunderland",0,0', b'"Burnley","Sunderland",NA,0')
    problem = _refused(raw).details["problems"][0]
    assert (problem["row"], problem["column"], problem["value"]) == (3, "FTHG", "NA")
    assert "whole number" in problem["expected"]


def test_a_byte_order_mark_inside_concatenated_files_keeps_the_division() -> None:
    second = fd.season("E1", 2019, rounds=1).encode("utf-8-sig")  # glued on with ``cat``: its BOM mid-file
    raw = fd.season("E0", 2019, rounds=1).encode("utf-8-sig") + second
    frame = to_canonical(raw, "E0-E1.csv")
    assert frame.attrs["repeated_header_rows_dropped"] == 1
    assert sorted(set(frame["competition"])) == ["E0", "E1"]


def test_a_date_in_no_known_layout_names_the_layouts_expected() -> None:
    raw = fd.season(rounds=1).replace("11/08/2019", "08/11/2019 15:00", 1).encode()
    problem = _refused(raw).details["problems"][0]
    assert (problem["row"], problem["column"], problem["value"]) == (3, "Date", "08/11/2019 15:00")
    assert "%d/%m/%Y" in problem["expected"] and "%Y-%m-%d" in problem["expected"]


EXTRA_LEAGUES = (
    "Country,League,Season,Date,Time,Home,Away,HG,AG,Res,PSCH,PSCD,PSCA,MaxCH,MaxCD,MaxCA,AvgCH,AvgCD,AvgCA,"
    "BFECH,BFECD,BFECA\r\n"
    "Argentina,Liga Profesional,2012/2013,03/08/2012,23:00,Arsenal Sarandi,Union de Santa Fe,1,0,H,1.9,3.39,4.91,"
    "1.9,3.6,5,1.77,3.3,4.39,,,\r\n"
    "Argentina,Liga Profesional,2012/2013,04/08/2012,01:10,Velez Sarsfield,Argentinos Jrs,3,0,H,1.59,3.92,6.86,"
    "1.6,4,7,1.53,3.69,6.02,,,\r\n"
    "Argentina,Liga Profesional,2013/2014,04/08/2013,19:00,Racing Club,Atl. Rafaela,1,1,D,1.7,3.73,5.67,"
    "1.72,3.8,5.9,1.63,3.5,5.1,,,\r\n"
)


def test_an_extra_leagues_file_reads_home_away_hg_ag_and_its_closing_odds() -> None:
    frame = to_canonical(EXTRA_LEAGUES.encode(), "ARG.csv")
    assert list(frame["home_team"]) == ["Arsenal Sarandi", "Velez Sarsfield", "Racing Club"]
    assert list(frame["home_score"]) == [1, 3, 1] and list(frame["away_score"]) == [0, 0, 1]
    assert set(frame["competition"]) == {"Argentina Liga Profesional"}
    assert frame["odds_psc_home"].tolist() == [1.9, 1.59, 1.7]
    market = market_probabilities(frame)
    assert np.allclose(market.sum(axis=1), 1.0) and market[1, 0] > market[1, 2]


def test_an_extra_leagues_problem_names_the_files_own_column() -> None:
    error = _refused(EXTRA_LEAGUES.replace(",3,0,H,", ",x,0,H,").encode(), "ARG.csv")
    first = error.details["problems"][0]
    assert (first["row"], first["column"], first["value"]) == (3, "HG", "x")
    assert "'HG'" in error.message


def test_older_extra_leagues_pinnacle_columns_are_its_closing_prices() -> None:
    older = EXTRA_LEAGUES.replace("PSCH,PSCD,PSCA", "PH,PD,PA")
    frame = to_canonical(older.encode(), "ARG.csv")
    assert frame["odds_psc_away"].tolist() == [4.91, 6.86, 5.67]


def test_a_fixture_not_played_yet_is_dropped() -> None:
    """A season file taken mid-season may list coming fixtures with empty scores and result."""
    raw = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR\nE0,15/08/2026,Arsenal,Everton,2,0,H\n"
    raw += "E0,23/08/2026,Chelsea,Arsenal,,,\n"
    frame = to_canonical(raw.encode(), "E0.csv")
    assert len(frame) == 1 and frame.attrs["unplayed_fixtures_dropped"] == 1


def test_older_headers_naming_the_teams_ht_at_and_the_score_hg_ag_res() -> None:
    """Older season files name the teams ``HT,AT`` (some also ``HG,AG,Res``); problems name the file's columns."""
    older = "Div,Date,HT,AT,FTHG,FTAG,FTR\nE0,14/08/93,Arsenal,Coventry,0,3,A\nE0,14/08/93,Chelsea,Blackburn,1,2,A\n"
    frame = to_canonical(older.encode(), "E0.csv")
    assert frame["home_team"].tolist() == ["Arsenal", "Chelsea"] and frame["away_score"].tolist() == [3, 2]
    short = "Div,Date,HT,AT,HG,AG,Res\nG1,17/08/2024,PAOK,AEK,1,1,D\nG1,18/08/2024,Olympiakos,Panathinaikos,2,0,H,,,,\n"
    assert to_canonical(short.encode(), "G1.csv")["home_score"].tolist() == [1, 2]
    problem = _refused(short.replace(",2,0,H", ",2,0,A").encode(), "G1.csv").details["problems"][0]
    assert (problem["row"], problem["column"]) == (3, "Res")
    problem = _refused(older.replace("Chelsea", "").encode()).details["problems"][0]
    assert (problem["row"], problem["column"]) == (3, "HT")


def test_values_under_the_headers_unnamed_trailing_columns_are_ignored() -> None:
    """Serie B 2003/04 has a header ending in unnamed columns and rows with unnamed statistics past it: the named
    columns read as they are; without unnamed header columns a value past the header is still refused."""
    raw = (
        "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,,,\n"
        "I2,12/10/03,Atalanta,Triestina,4,1,H,,,,,3,0,,2,0\n"
        "I2,12/10/03,Genoa,Verona,1,1,D,,,\n"
    )
    frame = to_canonical(raw.encode(), "I2.csv")
    assert frame["home_team"].tolist() == ["Atalanta", "Genoa"] and frame["home_score"].tolist() == [4, 1]
    assert frame.attrs["rows_with_unnamed_fields_ignored"] == 1
    problem = _refused(raw.replace(",,,\n", "\n", 1).encode(), "I2.csv").details["problems"][0]
    assert problem["row"] == 2 and "fields per row" in problem["expected"]
