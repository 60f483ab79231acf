from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.player_investment.data import CANONICAL_COLUMNS, to_canonical
from tests.scoreline.tasks.zips import zipped

ROOKIE_HEADER = "Name;GP;MIN;PTS;FGM;FGA;FG%;3P Made;3PA;3P%;FTM;FTA;FT%;OREB;DREB;REB;AST;STL;BLK;TOV;TARGET_5Yrs\n"
ROOKIE_ROWS = (
    "Brandon Ingram;36;27.4;7.4;2.6;7.6;34.7;0.5;2.1;25.0;1.6;2.3;69.9;0.7;3.4;4.1;1.9;0.4;0.4;1.3;0.0\n"
    "Larry Johnson;82;37.2;19.2;7.5;15.3;49.0;0.1;0.3;22.7;4.1;5.0;82.9;3.9;7.0;11.0;3.6;1.0;0.6;1.9;0.0\n"
    "Larry Johnson;82;37.2;19.2;7.5;15.3;49.0;0.1;0.3;22.7;4.1;5.0;82.9;3.9;7.0;11.0;3.6;1.0;0.6;1.9;1.0\n"
    "Gary Payton*;82;27.4;7.2;3.2;7.0;45.0;0.0;0.2;7.7;0.8;1.2;71.1;1.3;1.6;3.0;6.4;2.0;0.2;2.2;1.0\n"
    "Michael Smith;65;9.5;5.0;2.1;4.4;47.6;0.0;0.4;7.1;0.8;1.0;82.8;0.6;0.9;1.5;1.2;0.1;0.0;0.8;0.0\n"
    "Michael Smith;82;21.2;6.9;2.7;5.0;54.2;0.0;0.0;;1.5;3.2;48.5;2.1;3.8;5.9;0.8;0.7;0.6;1.3;1.0\n"
    "Charles Smith;60;8.7;2.9;1.0;2.2;44.4;0.0;0.1;0.0;0.9;1.3;69.7;0.2;0.9;1.2;1.7;0.6;0.1;0.6;1.0\n"
    "Charles Smith;60;8.7;2.9;1.0;2.2;44.4;0.0;0.1;0.0;0.9;1.3;69.7;0.2;0.9;1.2;1.7;0.6;0.1;0.6;1.0\n"
    "Tony Bennett;75;11.4;3.7;1.5;3.5;42.3;0.3;1.2;;0.4;0.5;73.2;0.2;0.7;0.8;1.8;0.4;0.0;0.7;0.0\n"
)


def _problems(raw: str, filename: str = "f.csv") -> dict:
    with pytest.raises(ScorelineError) as caught:
        to_canonical(raw.encode(), filename)
    assert caught.value.code == ErrorCode.INVALID_INPUT
    return caught.value.details


def test_rookie_table_quirks() -> None:
    frame = to_canonical((ROOKIE_HEADER + ROOKIE_ROWS).encode(), "nba_logreg.csv")
    assert list(frame.columns) == list(CANONICAL_COLUMNS)
    assert frame.attrs["format"] == "rookie-table"
    players = frame["player"].tolist()
    # Larry Johnson: same stats, different labels → ambiguous, dropped; Charles Smith: exact duplicate → one row
    assert "Larry Johnson" not in players
    assert players.count("Charles Smith") == 1
    assert players.count("Michael Smith") == 2  # different stats: two players
    assert "Gary Payton" in players  # Hall of Fame mark removed
    notes = " ".join(frame.attrs["notes"])
    assert "exact duplicate" in notes and "different TARGET_5Yrs" in notes
    smith_no_threes = frame[(frame["player"] == "Michael Smith") & (frame["gp"] == 82)].iloc[0]
    assert smith_no_threes["fg3_pct"] == 0.0  # empty 3P% with no attempts → 0
    bennett = frame[frame["player"] == "Tony Bennett"].iloc[0]
    assert bennett["fg3_pct"] == pytest.approx(25.0)  # empty 3P% with attempts → made / attempts
    assert set(frame["target"]) == {0.0, 1.0}
    assert frame["rookie_season"].isna().all() and frame["age"].isna().all()
    assert (frame["censoring"] == "").all()


def test_rookie_table_variant_headers_fraction_percentages_and_no_target() -> None:
    header = "Player,GP,MIN,PTS,FGM,FGA,FG.,X3P.Made,X3PA,X3P.,FTM,FTA,FT.,OREB,DREB,REB,AST,STL,BLK,TOV,Season,Age\n"
    rows = "".join(
        f"P{i},{50 + i},{20 + i / 10},{8 + i / 10},3.0,7.0,0.{430 + i},0.5,1.5,0.333,1.0,1.4,0.71,1,2,3,2,1,0.5,1.2,"
        f"2004-05,{20 + i % 4}\n"
        for i in range(6)
    )
    frame = to_canonical((header + rows).encode(), "r.csv")
    assert frame["fg_pct"].between(40, 50).all()  # fractions scaled to 0-100
    assert frame["rookie_season"].tolist() == [2005] * 6
    assert frame["age"].notna().all()
    assert frame["target"].isna().all()


def test_rookie_table_missing_columns_say_what_was_expected() -> None:
    details = _problems("Name,GP,MIN,PTS\nA,10,10,5\n")
    columns = {p["column"] for p in details["problems"]}
    assert {"FGM", "FGA", "REB", "AST"} <= columns
    assert all("column" in p["expected"] for p in details["problems"])


def test_rookie_table_row_problems() -> None:
    rows = ROOKIE_ROWS.replace("Brandon Ingram;36;", "Brandon Ingram;abc;").replace(
        ";45.0;0.0;0.2;7.7;", ";145.0;0.0;0.2;7.7;"
    )
    details = _problems(ROOKIE_HEADER + rows)
    found = {(p["row"], p["column"]) for p in details["problems"]}
    assert (2, "GP") in found
    assert (5, "FG%") in found
    assert any("between 0 and 100" in p["expected"] for p in details["problems"])


def test_unrecognised_header_names_both_formats() -> None:
    details = _problems("a,b,c\n1,2,3\n")
    assert details["missing_for_rookie_table"] and details["missing_for_season_table"]


# ---- Basketball-Reference season tables -------------------------------------------------------------

BBREF_HEADER = "Season,Player,Pos,Age,Tm,G,GS,MP,FG,FGA,FG%,3P,3PA,3P%,FT,FTA,FT%,ORB,DRB,TRB,AST,STL,BLK,TOV,PF,PTS\n"


def _season_row(
    season: str, player: str, age: int, team: str, games: int, minutes: int, points: int, early: bool = False
) -> str:
    start = f"{season},{player},C,{age},{team},{games}"
    if early:  # 3P, GS, ORB/DRB, STL/BLK/TOV not recorded yet
        shots = f"{minutes},{points // 2},{points},0.5,NA,NA,NA,0,0,"
        return f"{start},NA,{shots},NA,NA,{games * 3},{games},NA,NA,NA,0,{points}\n"
    shots = f"{minutes},{points // 2},{points},0.5,{games // 10},{games // 5},0.5,{games // 4},{games // 3},0.75"
    boxes = f"{games},{games * 2},{games * 3},{games},{games // 3},{games // 5},{games // 2},{games * 2}"
    return f"{start},{games // 2},{shots},{boxes},{points}\n"


def _career(player: str, first: int, seasons: int, age: int, games: int = 60, early: bool = False) -> str:
    return "".join(
        _season_row(f"{y - 1}-{y % 100:02d}", player, age + k, "BOS", games, games * 20, games * 10, early and y < 1975)
        for k, y in enumerate(range(first, first + seasons))
    )


def _seasons_file(rows: str) -> pd.DataFrame:
    # the file spans 1999-00 .. 2023-24 thanks to an anchor career
    anchor = _career("Anchor Player", 2000, 25, 19)
    return to_canonical((BBREF_HEADER + anchor + rows).encode(), "seasons.csv")


def test_season_table_rookie_rows_labels_and_censoring() -> None:
    rows = (
        _career("Long Career", 2005, 7, 21)
        + _career("Short Career", 2005, 2, 22)
        + _career("Recent Starter", 2022, 3, 20)
        + _career("Recent Veteran", 2019, 6, 20)
        + _career("Recent Bust", 2015, 1, 23)
    )
    frame = _seasons_file(rows).set_index("player")
    assert frame.loc["Long Career", "target"] == 1.0
    assert frame.loc["Short Career", "target"] == 0.0
    assert np.isnan(frame.loc["Recent Starter", "target"]) and frame.loc["Recent Starter", "censoring"] == "recent"
    assert frame.loc["Recent Veteran", "target"] == 1.0  # five seasons already: known even though recent
    assert frame.loc["Recent Bust", "target"] == 0.0  # 2015 + 4 ≤ 2024: could have reached five seasons
    assert frame.loc["Anchor Player", "censoring"] == "left" and np.isnan(frame.loc["Anchor Player", "target"])
    long = frame.loc["Long Career"]
    assert long["rookie_season"] == 2005 and long["age"] == 21 and long["birth_year"] == 1984
    assert long["gp"] == 60 and long["min"] == pytest.approx(20.0) and long["pts"] == pytest.approx(10.0)
    assert long["fg_pct"] == pytest.approx(100 * 300 / 600)  # recomputed from totals, 0-100


def test_traded_player_total_row_is_used_and_team_rows_dropped() -> None:
    rows = (
        "2005-06,Traded Guy,SG,22,TOT,70,10,1400,200,450,0.444,10,30,0.333,50,70,0.714,20,80,100,90,30,5,40,100,460\n"
        "2005-06,Traded Guy,SG,22,BOS,30,5,600,90,200,0.45,5,15,0.333,20,30,0.667,10,30,40,40,10,2,20,40,205\n"
        "2005-06,Traded Guy,SG,22,LAL,40,5,800,110,250,0.44,5,15,0.333,30,40,0.75,10,50,60,50,20,3,20,60,255\n"
        "2006-07,Modern Trade,SG,22,2TM,50,10,1000,100,250,0.4,10,30,0.333,50,70,0.714,20,80,100,90,30,5,40,100,260\n"
        "2006-07,Modern Trade,SG,22,BOS,20,5,400,40,100,0.4,5,15,0.333,20,30,0.667,10,30,40,40,10,2,20,40,105\n"
        "2006-07,Modern Trade,SG,22,LAL,30,5,600,60,150,0.4,5,15,0.333,30,40,0.75,10,50,60,50,20,3,20,60,155\n"
        "2007-08,No Total,SG,22,BOS,20,5,400,40,100,0.4,5,15,0.333,20,30,0.667,10,30,40,40,10,2,20,40,105\n"
        "2007-08,No Total,SG,22,LAL,30,5,600,60,150,0.4,5,15,0.333,30,40,0.75,10,50,60,50,20,3,20,60,155\n"
    )
    frame = _seasons_file(rows).set_index("player")
    assert frame.loc["Traded Guy", "gp"] == 70
    assert frame.loc["Traded Guy", "pts"] == pytest.approx(460 / 70)
    assert frame.loc["Modern Trade", "gp"] == 50  # "2TM" is a total row too
    assert frame.loc["No Total", "gp"] == 50  # per-team rows without a total are summed once
    assert frame.loc["No Total", "pts"] == pytest.approx(260 / 50)


def test_no_team_column_total_row_first() -> None:
    header = "Year,Player,Age,Pos,G,GS,MP,FG,FGA,FG%,3P,3PA,3P%,FT,FTA,FT%,ORB,DRB,TRB,AST,STL,BLK,TOV,PF,PTS\n"
    rows = (
        "2000,Anchor Player,20,C,82,82,2000,300,600,0.5,0,0,,100,150,0.667,50,150,200,100,50,20,80,200,700\n"
        "2024,Anchor Player,44,C,82,82,2000,300,600,0.5,0,0,,100,150,0.667,50,150,200,100,50,20,80,200,700\n"
        "2010,A.J. Price,24,PG,83,11,1625,150,365,0.411,41,103,0.398,92,110,0.836,40,181,221,161,77,22,90,130,433\n"
        "2010,A.J. Price,24,PG,41,8,775,53,156,0.34,23,55,0.418,41,49,0.837,13,80,93,84,34,15,48,61,170\n"
        "2010,A.J. Price,24,PG,42,3,850,97,209,0.464,18,48,0.375,51,61,0.836,27,101,128,77,43,7,42,69,263\n"
    )
    frame = to_canonical((header + rows).encode(), "Seasons_Stats.csv").set_index("player")
    assert frame.loc["A.J. Price", "gp"] == 83
    assert frame.loc["A.J. Price", "rookie_season"] == 2010


def test_r_read_csv_headers_early_decades_and_season_formats() -> None:
    header = (
        "Season,Player,Pos,Age,Tm,G,GS,MP,FG,FGA,FG.,X3P,X3PA,X3P.,X2P,X2PA,X2P.,eFG.,FT,FTA,FT.,ORB,DRB,TRB,AST,STL,"
        "BLK,TOV,PF,PTS\n"
    )

    def row(season: str, player: str, age: int, early: bool) -> str:
        if early:
            stats = "NA,1200,200,450,0.444,NA,NA,NA,200,450,0.444,0.444,80,100,0.8,NA,NA,400,90,NA,NA,NA,150,480"
        else:
            stats = "30,1200,200,450,0.444,20,60,0.333,180,390,0.46,0.47,80,100,0.8,60,200,260,90,40,20,70,150,500"
        return f"{season},{player},C,{age},BOS,60,{stats}\n"

    rows = (
        row("1960-61", "Old Timer", 22, True)
        + "".join(row(f"{y - 1}-{y % 100:02d}", "Old Timer", 22 + y - 1961, True) for y in range(1962, 1967))
        + row("1961-1962", "Bob Early", 23, True)
        + row("1963", "Bob Early", 24, True)
        + row("1964.0", "Bob Early", 25, True)
        + row("2023-24", "Modern Kid", 19, False)
    )
    frame = to_canonical((header + rows).encode(), "r_export.csv").set_index("player")
    early = frame.loc["Bob Early"]
    assert early["rookie_season"] == 1962 and early["target"] == 0.0  # 3 seasons, 1962 + 4 ≤ 2024
    assert early["fg3m"] == 0.0 and early["fg3a"] == 0.0  # no three-point line yet
    assert np.isnan(early["oreb"]) and np.isnan(early["stl"]) and np.isnan(early["tov"])  # not recorded
    assert early["reb"] == pytest.approx(400 / 60)
    assert frame.loc["Modern Kid", "censoring"] == "recent"
    assert frame.loc["Old Timer", "censoring"] == "left"


def test_shared_names_accents_and_hall_of_fame_marks() -> None:
    rows = (
        _career("Eddie Johnson", 2001, 6, 22)  # born 1979
        + _career("Eddie Johnson", 2005, 2, 21)  # born 1984: another player
        + _career("Nikola Jokić*", 2016, 4, 21)
        + "2020-21,Nikola Jokic,C,25,DEN,72,72,2488,732,1293,0.566,92,237,0.388,342,394,0.868,"
        "205,575,780,599,95,48,222,192,1898\n"
    )
    frame = _seasons_file(rows)
    eddies = frame[frame["player"] == "Eddie Johnson"].sort_values("rookie_season")
    assert eddies["rookie_season"].tolist() == [2001, 2005]
    assert eddies["target"].tolist() == [1.0, 0.0]
    assert eddies["birth_year"].tolist() == [1979, 1984]
    jokic = frame[frame["player"].str.startswith("Nikola")]
    assert len(jokic) == 1  # accents and the Hall of Fame mark do not split a player
    assert jokic.iloc[0]["player"] == "Nikola Jokić" and jokic.iloc[0]["target"] == 1.0
    assert "shared by different players" in " ".join(frame.attrs["notes"])


def test_modern_team_header_header_repeats_and_league_average() -> None:
    header = BBREF_HEADER.replace(",Tm,", ",Team,")
    rows = (
        _career("Anchor Player", 2000, 25, 19)
        + header  # a header row repeated inside the table, as copied from the site
        + _career("Somebody New", 2010, 5, 22)
        + "2010-11,League Average,,26,,50,25,1000,150,330,0.45,30,90,0.33,60,80,0.75,40,120,160,90,30,20,60,80,390\n"
    )
    frame = to_canonical((header + rows).encode(), "modern.csv")
    assert set(frame["player"]) == {"Anchor Player", "Somebody New"}


def test_season_table_row_problems_use_file_rows() -> None:
    rows = (
        _career("Anchor Player", 2000, 3, 19)
        + "20X5,Bad Season,C,22,BOS,60,30,1200,200,450,0.444,20,60,0.333,80,100,0.8,60,200,260,90,40,20,70,150,500\n"
    )
    with pytest.raises(ScorelineError) as caught:
        to_canonical((BBREF_HEADER + rows).encode(), "s.csv")
    problem = caught.value.details["problems"][0]
    assert problem["row"] == 5 and problem["column"] == "Season"
    assert "2004-05" in problem["expected"]


def test_per_game_season_table_becomes_totals() -> None:
    header = "Season,Player,Age,Tm,G,MP,FG,FGA,3P,3PA,FT,FTA,ORB,DRB,TRB,AST,STL,BLK,TOV,PTS\n"
    rows = "".join(
        f"{y - 1}-{y % 100:02d},Per Game {i},{20 + k},BOS,60,25.0,4.0,9.0,1.0,3.0,2.0,3.0,1.0,3.0,4.0,2.0,1.0,0.5,1.5,"
        "11.0\n"
        for i in range(3)
        for k, y in enumerate(range(2000 + i, 2006 + i))
    )
    frame = to_canonical((header + rows).encode(), "per_game.csv")
    assert "per-game season table" in " ".join(frame.attrs["notes"])
    labelled = frame[frame["censoring"] == ""]
    assert labelled["min"].tolist() == pytest.approx([25.0] * len(labelled))
    assert labelled["pts"].tolist() == pytest.approx([11.0] * len(labelled))


def test_season_table_with_blank_season_cells_reports_the_rows() -> None:
    """Seasons_Stats-style export whose Year column has blank cells (a spreadsheet's stray rows): a 422 naming
    the rows, not a crash of the repeated-header mask (a blank season cell compared as <NA>)."""
    header = "Year,Player,Age,Pos,G,GS,MP,FG,FGA,FG%,3P,3PA,3P%,FT,FTA,FT%,ORB,DRB,TRB,AST,STL,BLK,TOV,PF,PTS\n"
    rows = (
        "2000,Anchor Player,20,C,82,82,2000,300,600,0.5,0,0,,100,150,0.667,50,150,200,100,50,20,80,200,700\n"
        ",Lost Row,24,PG,41,8,775,53,156,0.34,23,55,0.418,41,49,0.837,13,80,93,84,34,15,48,61,170\n"
    )
    problems = _problems(header + rows, "Seasons_Stats.csv")["problems"]
    assert {(p["row"], p["column"]) for p in problems} == {(3, "Year")}


@pytest.mark.parametrize(
    ("header", "what"),
    [(ROOKIE_HEADER, "rookie table"), ("Season,Player,Pos,Age,Tm,G,GS,MP,FG,FGA,FT,FTA,TRB,AST,PTS\n", "season table")],
)
def test_header_only_file_is_a_clear_422(header: str, what: str) -> None:
    with pytest.raises(ScorelineError) as caught:
        to_canonical(header.encode(), "empty.csv")
    assert caught.value.code == ErrorCode.INVALID_INPUT
    assert f"the {what} has a header but no player rows" in caught.value.message


def test_rookie_table_spreadsheet_tail_of_bare_commas_is_dropped() -> None:
    raw = ROOKIE_HEADER.replace(";", ",") + ROOKIE_ROWS.replace(";", ",") + "," * 20 + "\n" + "," * 20 + "\n"
    frame = to_canonical(raw.encode(), "nba_logreg.csv")
    assert "Gary Payton" in frame["player"].tolist() and frame["player"].ne("").all()


BBREF_EXPORT_HEADER = (
    "Rk,Player,Pos,Age,Tm,G,GS,MP,FG,FGA,FG%,3P,3PA,3P%,2P,2PA,2P%,eFG%,FT,FTA,FT%,ORB,DRB,TRB,AST,STL,BLK,TOV,PF,PTS\n"
)


def _export_row(rank: int, player: str, age: int, team: str, games: int) -> str:
    """One season-totals row as Basketball-Reference's 'Get table as CSV' gives it (no season column)."""
    fg, fga, ft, fta = games * 4, games * 9, games * 2, games * 3
    return (
        f"{rank},{player},SG,{age},{team},{games},{games // 2},{games * 25},{fg},{fga},0.444,{games},{games * 3},"
        f"0.333,{fg - games},{fga - games * 3},0.5,0.5,{ft},{fta},0.667,{games},{games * 3},{games * 4},{games * 2},"
        f"{games // 2},{games // 4},{games},{games * 2},{2 * fg + games + ft}\n"
    )


def _export(season_end: int) -> str:
    rows = _export_row(1, "Veteran Guard", 30 + season_end - 2016, "BOS", 70)
    if season_end >= 2017:  # a 2017 rookie who plays five seasons, traded in his second
        age = 21 + season_end - 2017
        if season_end == 2018:
            rows += _export_row(2, "Rookie Star", age, "TOT", 60) + _export_row(2, "Rookie Star", age, "BOS", 25)
            rows += _export_row(2, "Rookie Star", age, "LAL", 35)
        else:
            rows += _export_row(2, "Rookie Star", age, "BOS", 60)
    if season_end in (2017, 2018):
        rows += _export_row(3, "Short Stay", 23 + season_end - 2017, "LAL", 20)
    return BBREF_EXPORT_HEADER + rows


def test_one_season_export_without_season_column_is_not_read_as_rookies() -> None:
    """Basketball-Reference's per-season export has no season column: read as a rookie table it made every
    veteran's season a 'rookie season'. The file's name gives the season, else a 422 says what is missing."""
    with pytest.raises(ScorelineError) as caught:
        to_canonical(_export(2018).encode(), "players.csv")
    assert caught.value.code == ErrorCode.INVALID_INPUT and "no Season column" in caught.value.message
    assert caught.value.details["problems"][0]["column"] == "Season"
    frame = to_canonical(_export(2018).encode(), "2017-2018 NBA Player Stats - Regular.csv")
    assert frame.attrs["format"] == "season-table"
    assert set(frame["rookie_season"]) == {2018}
    assert (frame["censoring"] == "left").all() and frame["target"].isna().all()  # one season: nothing is known


def test_zip_of_season_exports_named_by_season() -> None:
    files = {f"NBA_{year}_totals.csv": _export(year) for year in range(2016, 2023)}
    frame = to_canonical(zipped(files), "bbref.zip").set_index("player")
    assert frame.attrs["format"] == "season-table" and len(frame.attrs["files"]) == 7
    star = frame.loc["Rookie Star"]
    assert star["rookie_season"] == 2017 and star["target"] == 1.0 and star["gp"] == 60
    assert frame.loc["Short Stay", "target"] == 0.0
    assert frame.loc["Veteran Guard", "censoring"] == "left"


def test_zip_problems_name_the_file_and_its_row() -> None:
    bad = _export(2017).replace("Short Stay,SG,23,LAL,20", "Short Stay,SG,23,LAL,x")
    files = {"NBA_2016_totals.csv": _export(2016), "NBA_2017_totals.csv": bad}
    with pytest.raises(ScorelineError) as caught:
        to_canonical(zipped(files), "bbref.zip")
    problem = caught.value.details["problems"][0]
    assert (problem["file"], problem["row"], problem["column"]) == ("NBA_2017_totals.csv", 4, "G")
    assert "NBA_2017_totals.csv" in caught.value.message and "row 4, column 'G'" in caught.value.message


def test_semicolon_rookie_table_with_decimal_commas() -> None:
    """A rookie table saved by a spreadsheet in a decimal-comma locale: '7,2' points is 7.2, not 72 (the comma
    was stripped as a thousands separator, so in-range values were silently ten times too large)."""
    header = "Name;GP;MIN;PTS;FGM;FGA;FG%;3P Made;3PA;3P%;FTM;FTA;FT%;OREB;DREB;REB;AST;STL;BLK;TOV;TARGET_5Yrs\n"
    rows = (
        "Andrew Harrison;35;26,9;7,2;2;6,7;29,6;0,7;2,8;23,5;2,6;3,4;76,5;0,5;2;2,4;3,7;1,1;0,5;1,6;0\n"
        "Randy Woods;41;4,2;1,7;0,6;1,6;34,8;0,1;0,3;21,4;0,5;0,6;73,1;0,1;0,2;0,3;1;0,3;0;0,4;0\n"
    )
    frame = to_canonical((header + rows).encode("cp1252"), "nba_logreg.csv").set_index("player")
    assert frame.loc["Randy Woods", "min"] == 4.2 and frame.loc["Randy Woods", "pts"] == 1.7
    assert frame.loc["Andrew Harrison", "fg_pct"] == 29.6


def test_zip_of_exports_that_spell_the_season_differently() -> None:
    """One file with a 'Year' column (Seasons_Stats style), others named after their season: the joined table
    has one season column, not 'Year' for some rows and 'Season' for the others."""
    seasons_stats = "Year," + _export(2016).replace("\n", "\n2016,", 1)
    seasons_stats = seasons_stats.replace("Rk,", "", 1).replace("2016,1,", "2016,", 1)
    files = {"Seasons_Stats.csv": seasons_stats, **{f"NBA_{y}_totals.csv": _export(y) for y in range(2017, 2023)}}
    frame = to_canonical(zipped(files), "bbref.zip").set_index("player")
    assert frame.loc["Veteran Guard", "rookie_season"] == 2016
    assert frame.loc["Rookie Star", "target"] == 1.0


def test_zip_mixing_per_game_and_totals_files_with_and_without_team_columns() -> None:
    """Each season file is read on its own before the careers are joined: a per-game export is turned into
    totals by itself (joined with a totals file its rows were taken for totals), and a file without a team
    column keeps its own rule for traded players (its total row) although another file has team names."""
    header = "Year,Player,Age,Pos,G,GS,MP,FG,FGA,FG%,3P,3PA,3P%,FT,FTA,FT%,ORB,DRB,TRB,AST,STL,BLK,TOV,PF,PTS\n"
    totals = (
        "2016,Traded Rookie,21,PG,80,10,1600,200,450,0.444,20,60,0.333,80,100,0.8,20,100,120,200,40,5,80,100,500\n"
        "2016,Traded Rookie,21,PG,30,5,600,80,180,0.444,5,20,0.25,30,40,0.75,10,40,50,80,15,2,30,40,195\n"
        "2016,Traded Rookie,21,PG,50,5,1000,120,270,0.444,15,40,0.375,50,60,0.833,10,60,70,120,25,3,50,60,305\n"
    )
    per_game = BBREF_EXPORT_HEADER + (
        "1,Traded Rookie,PG,22,BOS,70,20,25.0,4.0,9.0,0.444,1.0,3.0,0.333,3.0,6.0,0.5,0.5,2.0,3.0,0.667,1.0,3.0,"
        "4.0,2.0,1.0,0.5,1.0,2.0,11.0\n"
    )
    files = {"Seasons_Stats.csv": header + totals, "NBA_2017_per_game.csv": per_game}
    frame = to_canonical(zipped(files), "mixed.zip")
    rookie = frame.set_index("player").loc["Traded Rookie"]
    assert rookie["rookie_season"] == 2016 and rookie["gp"] == 80  # the total row, not 80 + 30 + 50
    assert rookie["pts"] == 500 / 80
    notes = " ".join(frame.attrs["notes"])
    assert "NBA_2017_per_game.csv: per-game season table recognised" in notes


def test_player_names_with_the_export_id_suffix() -> None:
    """Basketball-Reference's older CSV export writes 'Name\\id' (and '*' for the Hall of Fame): the name is the
    player's, the id tells apart two players of one name and one birth year."""
    header = BBREF_EXPORT_HEADER.replace("PTS\n", "PTS,Season\n")
    rows = "".join(
        _export_row(1, "Quincy Ray*\\rayqu01", 22 + k, "BOS", 40).replace("\n", f",{2018 + k}\n")
        + _export_row(2, "Quincy Ray\\rayqu02", 22 + k, "LAL", 60).replace("\n", f",{2018 + k}\n")
        for k in range(3)
    )
    frame = to_canonical((header + rows).encode(), "x.csv")
    assert frame["player"].tolist() == ["Quincy Ray", "Quincy Ray"]
    assert sorted(frame["gp"]) == [40.0, 60.0]  # two players, not one with both teams' games summed
    assert "the id after the backslash is used" in " ".join(frame.attrs["notes"])


def test_spaces_after_the_separators_and_blank_cells() -> None:
    """'Name, GP, MIN, ...' with a cell of spaces: the blank cell is a missing value (a 3P% computed from the
    attempts), not a non-number ' ' reported as bad."""
    raw = (ROOKIE_HEADER + ROOKIE_ROWS).replace(";", ", ").replace(", , ", ",   , ")
    frame = to_canonical(raw.encode(), "nba_logreg.csv")
    bennett = frame[frame["player"] == "Tony Bennett"].iloc[0]
    assert bennett["fg3_pct"] == pytest.approx(25.0)


def test_draft_export_with_a_group_header_line_is_a_clear_422() -> None:
    # Basketball-Reference's draft export: a line grouping the columns above the header, career stats per pick.
    raw = (
        ",,,,,,Totals,,,,Shooting,,,Per Game,,,,Advanced,,,,\n"
        "Rk,Pk,Tm,Player,College,Yrs,G,MP,PTS,TRB,AST,FG%,3P%,FT%,MP,PTS,TRB,AST,WS,WS/48,BPM,VORP\n"
        "1,1,MIN,Karl-Anthony Towns,Kentucky,9,593,20093,13653,6272,1827,.526,.398,.838,33.9,23.0,10.6,3.1,70.3,"
        ".168,4.4,27.4\n"
        "4,4,NYK,Kristaps Porziņģis,,8,428,13250,8370,3296,664,.454,.362,.838,31.0,19.6,7.7,1.6,32.5,.118,1.5,9.5\n"
    )
    with pytest.raises(ScorelineError) as caught:
        to_canonical(raw.encode(), "NBA_2015_draft.csv")
    assert caught.value.code == ErrorCode.INVALID_INPUT
    assert "draft table" in caught.value.message and "career totals" in caught.value.message
    assert caught.value.details["problems"][0]["row"] == 2  # the header is the file's second line


def test_a_group_header_line_above_a_season_table_is_skipped_and_rows_keep_file_numbers() -> None:
    # pandas writes a two-level header (group names, then the column names) when it saves such a table.
    header = "Unnamed: 0_level_0,Unnamed: 1_level_0,Unnamed: 2_level_0,Per Game,Per Game,Per Game,Per Game,Per Game,"
    header += "Per Game,Per Game,Per Game,Per Game\nSeason,Player,Age,G,MP,FG,FGA,FT,FTA,TRB,AST,PTS\n"
    rows = "".join(f"{2000 + k},Luka Dončić,{20 + k},70,35.0,9.0,20.0,6.0,8.0,8.0,8.0,28.0\n" for k in range(6))
    frame = to_canonical((header + rows).encode(), "per_game.csv")
    assert frame["player"].tolist() == ["Luka Dončić"] and frame["gp"].tolist() == [70.0]
    assert frame["pts"].iloc[0] == pytest.approx(28.0)
    with pytest.raises(ScorelineError) as caught:
        to_canonical((header + rows.replace(",70,", ",seventy,", 1)).encode(), "per_game.csv")
    assert caught.value.details["problems"][0]["row"] == 3  # the file's third line: two header lines above it
    assert "row 3" in caught.value.message


def test_rows_empty_but_for_the_saved_index_are_skipped() -> None:
    # Kaggle's Seasons_Stats.csv was saved with pandas' index (a blank header) and has rows holding only it.
    header = ",Year,Player,Pos,Age,Tm,G,GS,MP,FG,FGA,FT,FTA,TRB,AST,PTS\n"
    rows = "".join(
        f"{k},{1951 + k}.0,Bob Cousy*,PG,{22 + k}.0,BOS,69.0,,{2400 + k}.0,401.0,1138.0,276.0,365.0,474.0,341.0,"
        "1078.0\n"
        for k in range(6)
    )
    frame = to_canonical((header + rows + "312,,,,,,,,,,,,,,,\n").encode(), "Seasons_Stats.csv")
    assert frame["player"].tolist() == ["Bob Cousy"] and frame.attrs["notes"][0] == "1 empty row(s) skipped"
    details = _problems(header + rows + "312,1957.0,,PG,28.0,BOS,69.0,,2400.0,1,2,1,1,1,1,3\n")
    assert details["problems"][0] == {"row": 8, "column": "Player", "value": None, "expected": "a player name"}


def test_year_drafted_is_the_season_before_the_rookie_season() -> None:
    # Kaggle's "NBA Rookies by Year": the draft year instead of a season, no label, an extra EFF column.
    header = "Name,Year Drafted,GP,MIN,PTS,FGM,FGA,FG%,3P Made,3PA,3P%,FTM,FTA,FT%,OREB,DREB,REB,AST,STL,BLK,TOV,EFF\n"
    rows = (
        "Brandon Ingram,2016,36,27.4,7.4,2.6,7.6,34.7,0.5,2.1,25,1.6,2.3,69.9,0.7,3.4,4.1,1.9,0.4,0.4,1.3,7.3\n"
        "Karl-Anthony Towns,2015,82,32,18.3,7.6,14.1,54.2,0.4,1.1,34.1,2.7,3.4,81.1,2.8,7.7,10.5,2,0.7,1.7,2.2,23.8\n"
        "Tarik Black,Undrafted,63,19,6,2.5,4.3,57.5,0,0,0,1,1.9,55.1,2.3,3.6,5.8,0.7,0.3,0.4,0.8,9.8\n"
    )
    frame = to_canonical((header + rows).encode(), "NBA Rookies by Year.csv").set_index("player")
    seasons = frame["rookie_season"].astype("float64")
    assert seasons.fillna(0).to_dict() == {"Tarik Black": 0, "Karl-Anthony Towns": 2016, "Brandon Ingram": 2017}
    assert frame["target"].isna().all()
    details = _problems(header + rows.replace("2015,", "twenty,", 1))
    assert details["problems"][0]["row"] == 3 and details["problems"][0]["column"] == "Year Drafted"


def test_an_advanced_export_next_to_the_totals_in_a_zip_is_skipped() -> None:
    # Basketball-Reference's advanced table (PER, TS%, ..., WS, BPM) has no box score: nothing for the rookie model.
    advanced = (
        "Rk,Player,Pos,Age,Tm,G,MP,PER,TS%,3PAr,FTr,USG%,,OWS,DWS,WS,WS/48,,OBPM,DBPM,BPM,VORP\n"
        "1,Alex Abrines\\abrinal01,SG,24,OKC,75,1134,9.0,.567,.759,.158,12.7,,1.3,1.0,2.2,.094,,-0.2,-0.5,-0.7,0.4\n"
    )
    totals = (
        "Rk,Player,Pos,Age,Tm,G,GS,MP,FG,FGA,3P,3PA,FT,FTA,ORB,DRB,TRB,AST,STL,BLK,TOV,PF,PTS\n"
        "1,Alex Abrines\\abrinal01,SG,24,OKC,75,8,1134,115,291,84,221,39,46,26,88,114,28,38,8,25,124,353\n"
    )
    frame = to_canonical(zipped({"NBA_2018_totals.csv": totals, "NBA_2018_advanced.csv": advanced}), "2018.zip")
    assert frame["player"].tolist() == ["Alex Abrines"] and frame.attrs["skipped_files"] == ["NBA_2018_advanced.csv"]
    with pytest.raises(ScorelineError) as caught:
        to_canonical(zipped({"NBA_2018_advanced.csv": advanced}), "2018.zip")
    assert "advanced-stats" in caught.value.message and "per-game or totals" in caught.value.message
