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


def test_older_extra_leagues_max_and_avg_columns_are_closing_prices_too() -> None:
    """Older extra-leagues copies name the closing prices ``PH``, ``MaxH``, ``AvgH`` (newer: ``PSCH``, ``MaxCH``,
    ``AvgCH``); a row Pinnacle did not price takes the closing market average as its preferred odds."""
    older = (
        "Country,League,Season,Date,Time,Home,Away,HG,AG,Res,PH,PD,PA,MaxH,MaxD,MaxA,AvgH,AvgD,AvgA\n"
        "Argentina,Liga Profesional ,2012/2013,03/08/2012,23:00,Arsenal Sarandi,Union de Santa Fe,1,0,H,1.9,3.39,"
        "5.03,1.9,3.5,5.68,1.76,3.3,4.74\n"
        "China,Super League,2022,03/09/2022,12:30,Guangzhou City,Tianjin Jinmen Tiger,0,2,A,,,,6.1,4.4,2.5,3.88,3.56,"
        "1.98\n"
    )
    frame = to_canonical(older.encode(), "new_leagues.csv")
    assert frame["odds_maxc_home"].tolist() == [1.9, 6.1] and frame["odds_avgc_away"].tolist() == [4.74, 1.98]
    assert not {"odds_max_home", "odds_avg_home"} & set(frame.columns)
    assert frame["odds_home"].tolist() == [1.9, 3.88]  # Pinnacle closing, else the closing market average
    assert frame["competition"].tolist() == ["Argentina Liga Profesional", "China Super League"]
    # a file with both spellings keeps each as it is named
    both = older.replace("AvgH,AvgD,AvgA\n", "AvgH,AvgD,AvgA,AvgCH,AvgCD,AvgCA\n")
    both = both.replace("4.74\n", "4.74,1.8,3.2,4.5\n").replace("1.98\n", "1.98,3.9,3.5,2.0\n")
    frame = to_canonical(both.encode(), "new_leagues.csv")
    assert frame["odds_avg_away"].tolist() == [4.74, 1.98] and frame["odds_avgc_away"].tolist() == [4.5, 2.0]


# football-data.co.uk's fixtures.csv (the coming week's matches with their odds, no scores). Its header of the
# time names the half-time result ``FTR`` a second time.
FIXTURES = (
    "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,FTR,B365H,B365D,B365A,BbMxH,BbAvH,BbMxD,BbAvD,BbMxA,BbAvA\n"
    "E2,20/03/18,Northampton,Shrewsbury,,,,,,,4.5,3.25,2,4.65,4.25,3.4,3.24,2,1.92\n"
    "E3,20/03/18,Crewe,Forest Green,,,,,,,2.29,3.39,3.39,2.35,2.21,3.5,3.29,3.4,3.23\n"
)


def test_a_fixtures_file_is_refused_as_having_no_played_match() -> None:
    error = _refused(FIXTURES.encode(), "fixtures.csv")
    assert "2 fixture(s) not played yet" in error.message and "FTHG and FTAG" in error.message
    assert "expected at least one match with its score" in error.message
    assert error.details["unplayed_fixtures_dropped"] == 2


def test_a_header_naming_ftr_twice_reads_the_first_as_the_result() -> None:
    played = FIXTURES.replace("Shrewsbury,,,,,,,", "Shrewsbury,1,2,A,1,1,D,")
    played = played.replace("Green,,,,,,,", "Green,3,0,H,0,0,D,")
    frame = to_canonical(played.encode(), "E2.csv")
    assert frame["home_score"].tolist() == [1, 3] and frame["away_score"].tolist() == [2, 0]
    assert frame["odds_bbav_draw"].tolist() == [3.24, 3.29]  # BbMx/BbAv interleaved: each read by its name


def test_an_extra_leagues_fixtures_header_names_its_missing_score_columns() -> None:
    """new_league_fixtures.csv: the extra-leagues layout without HG, AG and Res."""
    raw = (
        "Country,League,Date,Time,Home,Away,PH,PD,PA,MaxH,MaxD,MaxA,AvgH,AvgD,AvgA\n"
        "Argentina,Liga Profesional,03/09/2022,19:30,Aldosivi,Sarmiento Junin,2.69,3.15,2.91,2.72,3.26,2.91,2.62,3.1,"
        "2.8\n,,,,,,,,,,,,,,\n"
    )
    error = _refused(raw.encode(), "new_league_fixtures.csv")
    assert [p["column"] for p in error.details["problems"]] == ["HG", "AG"]
    assert "extra leagues" in error.message and "a list of fixtures?" in error.message


def test_an_excel_workbook_is_refused_asking_for_csv() -> None:
    """An .xlsx (football-data.co.uk's all-euro-data workbooks) is a zip without a CSV in it."""
    workbook = zipped({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>",
                       "xl/worksheets/sheet1.xml": "<worksheet/>"})  # fmt: skip
    error = _refused(workbook, "all-euro-data-2019-2020.xlsx")
    assert "Excel workbook" in error.message and "expected a CSV file" in error.message


def test_the_1993_94_shape_unnamed_columns_then_short_rows_then_comma_rows() -> None:
    """The 1993/94 Premier League file: seven names and 21 empty ones, CRLF; rows of 28 fields give way to rows
    of 7 part way through the season; the file ends in rows of bare commas. Two-digit years are 19xx."""
    pad = "," * 21
    lines = [f"Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR{pad}", f"E0,14/08/93,Arsenal,Coventry,0,3,A{pad}",
             f"E0,01/01/94,Everton,West Ham,0,1,A{pad}", "E0,03/05/94,QPR,West Ham,0,0,D",
             "E0,08/05/94,Man United,Coventry,0,0,D", ",,,,,,", ",,,,,,"]  # fmt: skip
    frame = to_canonical(("\r\n".join(lines) + "\r\n").encode(), "E0-9394.csv")
    assert len(frame) == 4 and frame.attrs["blank_rows_dropped"] == 2
    assert frame["date"].dt.strftime("%Y-%m-%d").tolist() == ["1993-08-14", "1994-01-01", "1994-05-03", "1994-05-08"]
    assert frame["away_team"].tolist() == ["Coventry", "West Ham", "West Ham", "Coventry"]


def test_bookmakers_of_the_early_2000s_are_kept() -> None:
    """Files of the 2000s price Sporting Odds (``SOH``, 2003/04) and Stanleybet (``SYH``) beside Bet365."""
    raw = (
        "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,B365H,B365D,B365A,GBH,GBD,GBA,SOH,SOD,SOA,SYH,SYD,SYA\n"
        "E0,16/08/03,Arsenal,Everton,2,1,H,1.4,3.8,8.0,1.44,4.0,7.0,1.4,3.75,7.5,1.36,4.0,7.0\n"
    )
    frame = to_canonical(raw.encode(), "E0-0304.csv")
    assert frame["odds_so_away"].tolist() == [7.5] and frame["odds_sy_home"].tolist() == [1.36]
    assert frame["date"].dt.year.tolist() == [2003]


def test_seasons_glued_together_keep_each_files_encoding() -> None:
    """An older cp1252 season (a 0xA0 byte before a referee's name) glued with ``cat`` to a UTF-8 one with a
    byte-order mark: each part reads in its own encoding, so the UTF-8 names are not turned into "MÃ¡laga" and the
    BOM mid-file does not hide the second header's ``Div``."""
    old = "Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,Referee\r\nE0,19/08/95,Aston Villa,Man United,3,1,H,\xa0G Poll\r\n"
    new = (
        "\ufeffDiv,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,Referee\r\n"
        "SP2,16/08/2024,20:00,Málaga,Racing Ferrol,1,0,H,Tomás Pérez\r\n"
    )
    for raw, encoding in (
        (old.encode("cp1252") + new.encode("utf-8"), "utf-8+cp1252"),
        (new.encode("utf-8") + old.encode("cp1252"), "utf-8-sig+cp1252"),
    ):
        frame = to_canonical(raw, "glued.csv")
        assert frame["home_team"].tolist() == ["Aston Villa", "Málaga"]
        assert frame["competition"].tolist() == ["E0", "SP2"]
        assert frame.attrs["encoding"] == encoding and frame.attrs["repeated_header_rows_dropped"] == 1


def test_a_file_whose_first_line_is_a_match_says_the_header_is_missing() -> None:
    """Seasons glued together and shuffled, or cut from a longer file, can start with a match, not the header."""
    raw = "SC0,28/09/2019,15:00,Hamilton,Livingston,2,1,H,1,1,D\nSC0,08/04/16,Hearts,Aberdeen,2,1,H,1,1,D\n"
    error = _refused(raw.encode(), "SC0.csv")
    assert "the first line looks like a match, not column names" in error.message
    assert error.details["header"][:2] == ["SC0", "28/09/2019"]


# The 2026/27 Premier League header as the site serves it (UTF-8 with a BOM): expected goals, Betfred, BetVictor,
# Paddy Power and Sky Bet prices, and no Pinnacle columns. Odds below are made up.
HEADER_2627 = (
    "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,Referee,HxG,AxG,HS,AS,HST,AST,HF,AF,HC,AC,HY,AY,HR,"
    "AR,B365H,B365D,B365A,BFDH,BFDD,BFDA,BVH,BVD,BVA,BWH,BWD,BWA,PPH,PPD,PPA,SKBH,SKBD,SKBA,MaxH,MaxD,MaxA,AvgH,AvgD,"
    "AvgA,BFEH,BFED,BFEA,B365>2.5,B365<2.5,Max>2.5,Max<2.5,Avg>2.5,Avg<2.5,BFE>2.5,BFE<2.5,AHh,B365AHH,B365AHA,"
    "MaxAHH,MaxAHA,AvgAHH,AvgAHA,BFEAHH,BFEAHA,B365CH,B365CD,B365CA,BFDCH,BFDCD,BFDCA,BVCH,BVCD,BVCA,BWCH,BWCD,BWCA,"
    "PPCH,PPCD,PPCA,SKBCH,SKBCD,SKBCA,MaxCH,MaxCD,MaxCA,AvgCH,AvgCD,AvgCA,BFECH,BFECD,BFECA,B365C>2.5,B365C<2.5,"
    "MaxC>2.5,MaxC<2.5,AvgC>2.5,AvgC<2.5,BFEC>2.5,BFEC<2.5,AHCh,B365CAHH,B365CAHA,MaxCAHH,MaxCAHA,AvgCAHH,AvgCAHA,"
    "BFECAHH,BFECAHA"
)


def test_the_2026_27_layout_keeps_its_new_bookmakers_and_prices_the_market_without_pinnacle() -> None:
    width = HEADER_2627.count(",") + 1
    pre, close = ["1.2,7.0,13.0"] * 9, ["1.25,6.5,12.0"] * 9  # B365 BFD BV BW PP SKB Max Avg BFE
    row = (
        "E0,21/08/2026,20:00,Arsenal,Coventry,3,0,H,2,0,H,M Oliver,2.41,0.37,20,4,9,1,8,11,9,2,1,2,0,0,"
        + ",".join(pre) + ",1.57,2.38,1.6,2.45,1.55,2.36,1.6,2.5,-2,2.03,1.78,2.1,1.85,2.0,1.8,2.05,1.85,"
        + ",".join(close) + ",1.5,2.6,1.55,2.7,1.5,2.55,1.55,2.7,-2,1.9,1.95,2.0,2.0,1.9,1.9,1.95,1.95"
    )  # fmt: skip
    assert row.count(",") + 1 == width
    frame = to_canonical(("\ufeff" + HEADER_2627 + "\r\n" + row + "\r\n").encode(), "E0-2627.csv")
    assert frame.attrs["encoding"] == "utf-8-sig" and frame["competition"].tolist() == ["E0"]
    for book in ("bfd", "bv", "pp", "skb", "bfdc", "bvc", "ppc", "skbc", "bfe", "bfec"):
        assert f"odds_{book}_home" in frame.columns
    assert frame["odds_skbc_away"].tolist() == [12.0] and frame["odds_bfd_draw"].tolist() == [7.0]
    assert not any(column.startswith("odds_ps") for column in frame.columns)
    inverse = 1.0 / np.array([1.25, 6.5, 12.0])
    assert np.allclose(market_probabilities(frame)[0], inverse / inverse.sum())  # the closing market average


def test_a_match_repeated_by_overlapping_seasons_is_kept_once_or_refused_if_its_scores_differ() -> None:
    """A season file downloaded in March glued to the same season downloaded in May repeats every match played by
    March: kept once (as the files of a zip are), not counted twice in training. A repeat with another score is
    no repeat but a conflict, refused with both rows."""
    march = fd.season(first_year=2019, rounds=2)
    may = fd.season(first_year=2019, rounds=3)
    frame = to_canonical(fd.concatenated(march, may).encode(), "E0-1920.csv")
    assert len(frame) == 30 and frame.attrs["duplicate_matches_dropped"] == 20
    assert not frame.duplicated(["date", "home_team", "away_team"]).any()
    lines = may.splitlines()
    cells = lines[3].split(",")
    cells[5], cells[7] = "9", "H"  # the same match, another score
    lines[3] = ",".join(cells)
    error = _refused(fd.concatenated(march, "\n".join(lines) + "\n").encode())
    problem = error.details["problems"][0]
    assert (problem["row"], problem["column"]) == (4, "FTHG")
    assert problem["value"].endswith(f"(row {1 + 20 + 1 + 3}: 9-{cells[6]})")
    assert "one score per match" in problem["expected"]


def test_excel_unicode_text_utf16_tab_separated_with_decimal_commas_is_read() -> None:
    """Excel's "Unicode Text" export: UTF-16 with a byte-order mark, tab-separated, decimal commas in its locale."""
    text = (
        "Div\tDate\tHomeTeam\tAwayTeam\tFTHG\tFTAG\tFTR\tB365H\tB365D\tB365A\r\n"
        "SP1\t16/08/2024\tMálaga\tBetis\t1\t0\tH\t2,5\t3,2\t2,9\r\n"
    )
    frame = to_canonical(b"\xff\xfe" + text.encode("utf-16-le"), "SP1.txt")
    assert frame["home_team"].tolist() == ["Málaga"] and frame["odds_b365_draw"].tolist() == [3.2]
    assert frame.attrs["encoding"] == "utf-16"
    assert _refused(b"\xff\xfe" + "Div,Date".encode("utf-16-le") + b"\x00", "E0.csv").message.startswith(
        "'E0.csv' starts with a UTF-16 byte-order mark but is not UTF-16 text"
    )


def test_an_excel_97_workbook_is_unsupported_media_naming_csv() -> None:
    with pytest.raises(ScorelineError) as caught:
        to_canonical(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), "all-euro-data-2002-2003.xls")
    assert caught.value.code == ErrorCode.UNSUPPORTED_MEDIA
    assert "Excel 97-2003 workbook" in caught.value.message and "expected a CSV text file" in caught.value.message
