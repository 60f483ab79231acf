from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from scoreline.core.errors import ScorelineError
from scoreline.tasks.event_traffic.data import gap_summary, stage_of, to_canonical
from tests.scoreline.tasks.zips import zipped

CALENDAR = """date,sport,competition,home_team,away_team,start_time,stage,home_rank,away_rank,mentions
2026-03-02,hockey,NHL,Oslo Wolves,Boston Bears,19:00,Regular Season,3,7,"12,000"
2026-03-02,hockey,NHL,Riga Owls,Tampere Foxes,7:30 PM,Playoffs,1,2,800
2026-03-03,Hockey,NHL,Oslo Wolves,Riga Owls,,Finals,,,
"""


def _problems(error: pytest.ExceptionInfo[ScorelineError]) -> list[dict]:
    return error.value.details["problems"]


def test_daily_traffic_with_synonym_headers_and_na_region() -> None:
    raw = b'Date,SPORT,Platform,Market,Visits\n2026-03-01,hockey,web,NA,100\n2026-03-02,hockey,web,NA,"1,250"\n'
    canonical = to_canonical(raw, "traffic.csv")
    assert canonical["record"].tolist() == ["traffic", "traffic"]
    assert canonical["region"].tolist() == ["NA", "NA"]  # North America, not a missing value
    assert canonical["requests"].tolist() == [100.0, 1250.0]
    assert canonical.attrs["gaps"]["missing_days"] == 0


def test_a_semicolon_file_reads_its_decimal_commas_and_keeps_the_na_region() -> None:
    raw = b"date;sport;service;region;requests\n2026-03-01;hockey;web;NA;100,5\n2026-03-02;hockey;web;NA;99\n"
    canonical = to_canonical(raw, "traffic.csv")
    assert canonical["region"].tolist() == ["NA", "NA"]
    assert canonical["requests"].tolist() == [100.5, 99.0]  # not 1005: the comma is the decimal mark there


def test_hourly_rows_are_summed_per_day_and_partial_days_reported() -> None:
    hours = pd.date_range("2026-03-01", periods=24 * 3, freq="h")
    frame = pd.DataFrame({"timestamp": hours.strftime("%Y-%m-%dT%H:%M:%S+01:00"), "sport": "hockey",
                          "service": "app", "region": "EU", "sessions": 2})  # fmt: skip
    frame = frame.iloc[:-20]  # the last day has only 4 hours
    canonical = to_canonical(frame.to_csv(index=False).encode(), "hourly.csv")
    assert canonical["requests"].tolist() == [48.0, 48.0]
    incomplete = canonical.attrs["gaps"]["incomplete_hourly_days"]
    assert [(d["date"], d["hours"]) for d in incomplete] == [("2026-03-03", 4)]


def test_duplicated_periods_are_rejected_with_their_rows() -> None:
    raw = (b"date,sport,service,region,requests\n2026-03-01,hockey,web,EU,100\n2026-03-02,hockey,web,EU,90\n"
           b"2026-03-01,hockey,web,EU,100\n2026-03-01,hockey,web,NA,7\n")  # fmt: skip
    with pytest.raises(ScorelineError) as error:
        to_canonical(raw, "traffic.csv")
    assert error.value.http_status == 422
    assert sorted(p["row"] for p in _problems(error)) == [2, 4]
    assert "more than once" in error.value.message


def test_duplicated_hours_are_rejected_not_summed() -> None:
    raw = (b"datetime,sport,service,region,views\n2026-03-01 10:00,hockey,web,EU,5\n"
           b"2026-03-01 11:00,hockey,web,EU,6\n2026-03-01 10:00,hockey,web,EU,5\n")  # fmt: skip
    with pytest.raises(ScorelineError) as error:
        to_canonical(raw, "traffic.csv")
    assert sorted(p["row"] for p in _problems(error)) == [2, 4]


def test_gaps_are_reported_and_not_filled() -> None:
    raw = (b"date,sport,service,region,requests\n2026-03-01,hockey,web,EU,100\n2026-03-04,hockey,web,EU,90\n"
           b"2026-03-05,hockey,web,EU,\n2026-03-06,hockey,web,EU,95\n")  # fmt: skip
    canonical = to_canonical(raw, "traffic.csv")
    assert len(canonical) == 3  # the blank day stays missing too
    gaps = canonical.attrs["gaps"]
    assert gaps["missing_days"] == 3
    assert gaps["series"][0]["missing"] == ["2026-03-02", "2026-03-03", "2026-03-05"]
    assert gap_summary(canonical)["missing_days"] == 3  # also from the table alone (after Parquet)


def test_bad_cells_are_reported_with_row_column_and_expectation() -> None:
    raw = (b"date,sport,service,region,requests\n2026-03-01,hockey,web,EU,lots\n2026-13-45,hockey,web,EU,1\n"
           b"2026-03-03,,web,EU,-4\n")  # fmt: skip
    with pytest.raises(ScorelineError) as error:
        to_canonical(raw, "traffic.csv")
    found = {(p["row"], p["column"]) for p in _problems(error)}
    assert {(2, "requests"), (3, "date"), (4, "sport"), (4, "requests")} <= found
    assert all(p["expected"] for p in _problems(error))


def test_missing_columns_say_what_is_expected() -> None:
    with pytest.raises(ScorelineError) as error:
        to_canonical(b"day,sport,hits\n2026-03-01,hockey,4\n", "traffic.csv")
    assert {p["column"] for p in _problems(error)} == {"service", "region"}


@pytest.mark.parametrize(
    ("text", "stage"),
    [("Regular Season", "regular"), ("regular", "regular"), ("", "regular"), ("Playoffs", "playoff"),
     ("PLAYOFF", "playoff"), ("Semi-finals", "playoff"), ("Conference Finals", "playoff"), ("Final", "final"),
     ("Finals", "final"), ("Stanley Cup Final", "final"), ("2", "final"), ("friendly-ish", None)],
)  # fmt: skip
def test_stage_wordings(text: str, stage: str | None) -> None:
    assert stage_of(text) == stage


def test_zip_with_traffic_and_calendar() -> None:
    traffic = "date,sport,service,region,requests\n2026-03-01,hockey,web,EU,100\n2026-03-02,hockey,web,EU,120\n"
    raw = zipped({"export/traffic.csv": traffic, "export/calendar.csv": CALENDAR, "__MACOSX/._x.csv": "junk"})
    canonical = to_canonical(raw, "bundle.zip")
    events = canonical.loc[canonical["record"] == "event"]
    assert len(events) == 3
    assert events["stage"].tolist() == ["regular", "playoff", "final"]
    assert events["sport"].unique().tolist() == ["hockey"]  # "Hockey" is the traffic's "hockey"
    assert events["start_time"].tolist() == ["19:00", "19:30", None]
    assert events["mentions"].iloc[0] == 12000.0 and np.isnan(events["home_rank"].iloc[2])
    assert events["league"].iloc[0] == "NHL"


def test_calendar_with_a_bad_stage_and_rank_is_rejected() -> None:
    calendar = "date,sport,league,home_team,away_team,stage,home_rank,away_rank,mentions\n"
    calendar += "2026-03-02,hockey,NHL,A,B,exhibitionz,1,x,5\n"
    raw = zipped({"traffic.csv": "date,sport,service,region,requests\n2026-03-01,hockey,web,EU,1\n",
                  "calendar.csv": calendar})  # fmt: skip
    with pytest.raises(ScorelineError) as error:
        to_canonical(raw, "bundle.zip")
    assert {(p["row"], p["column"]) for p in _problems(error)} == {(2, "stage"), (2, "away_rank")}


def test_duplicated_events_are_rejected() -> None:
    calendar = CALENDAR + "2026-03-02,hockey,NHL,Oslo Wolves,Boston Bears,19:00,Regular Season,3,7,100\n"
    raw = zipped({"traffic.csv": "date,sport,service,region,requests\n2026-03-01,hockey,web,EU,1\n",
                  "calendar.csv": calendar})  # fmt: skip
    with pytest.raises(ScorelineError) as error:
        to_canonical(raw, "bundle.zip")
    assert sorted(p["row"] for p in _problems(error)) == [2, 5]


def test_combined_single_file_with_a_record_column_round_trips_through_parquet() -> None:
    raw = (b"record,date,sport,service,region,requests,home_team,away_team,stage\n"
           b"traffic,2026-03-01,hockey,web,EU,100,,,\nevent,2026-03-02,hockey,,,,Oslo,Riga,Playoffs\n"
           b"traffic,2026-03-02,hockey,web,EU,110,,,\n")  # fmt: skip
    canonical = to_canonical(raw, "combined.csv")
    assert canonical["record"].tolist() == ["traffic", "traffic", "event"]
    buffer = io.BytesIO()
    canonical.to_parquet(buffer)
    back = pd.read_parquet(io.BytesIO(buffer.getvalue()))

    def plain(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.astype(object).where(frame.notna(), None)

    pd.testing.assert_frame_equal(plain(back), plain(canonical))


def test_combined_file_without_record_column_splits_by_content() -> None:
    raw = (b"date,sport,service,region,requests,home_team,away_team\n2026-03-01,hockey,web,EU,100,,\n"
           b"2026-03-01,hockey,,,,Oslo,Riga\n2026-03-02,hockey,web,EU,,,\n")  # fmt: skip
    with pytest.raises(ScorelineError) as error:
        to_canonical(raw, "combined.csv")
    assert [p["row"] for p in _problems(error)] == [4]  # neither requests nor teams


def test_spreadsheet_tail_of_bare_commas_and_header_only_file() -> None:
    raw = b"date,sport,service,region,requests\n2026-03-01,hockey,web,EU,100\n2026-03-02,hockey,web,EU,120\n"
    raw += b",,,,\n,,,,\n"
    assert to_canonical(raw, "traffic.csv")["requests"].tolist() == [100.0, 120.0]
    with pytest.raises(ScorelineError) as caught:
        to_canonical(b"date,sport,service,region,requests\n", "traffic.csv")
    assert "no traffic rows in 'traffic.csv'" in caught.value.message


@pytest.mark.parametrize(
    ("dates", "expected"),
    [
        (["3/1/2026", "3/2/2026", "3/13/2026"], ["2026-03-01", "2026-03-02", "2026-03-13"]),  # US export
        (["01/03/2026", "02/03/2026", "13/03/2026"], ["2026-03-01", "2026-03-02", "2026-03-13"]),  # day first
        (["01.03.26", "02.03.26"], ["2026-03-01", "2026-03-02"]),
    ],
)
def test_slash_dates_are_read_in_one_order_for_the_whole_column(dates: list[str], expected: list[str]) -> None:
    """'3/1/2026' and '3/13/2026' in one US-style file were read in different orders (3 January, 13 March)."""
    rows = "".join(f"{d},hockey,web,EU,{100 + i}\n" for i, d in enumerate(dates))
    raw = "date,sport,service,region,requests\n" + rows
    canonical = to_canonical(raw.encode(), "traffic.csv")
    assert canonical["date"].dt.strftime("%Y-%m-%d").tolist() == expected


def test_dates_in_both_orders_in_one_column_are_reported() -> None:
    raw = b"date,sport,service,region,requests\n13/03/2026,hockey,web,EU,100\n3/14/2026,hockey,web,EU,120\n"
    with pytest.raises(ScorelineError) as caught:
        to_canonical(raw, "traffic.csv")
    assert [(p["row"], p["column"], p["value"]) for p in _problems(caught)] == [(3, "date", "3/14/2026")]


def test_rows_ending_in_separators_the_header_lacks() -> None:
    raw = b"date,sport,service,region,requests\n2026-03-01,hockey,web,EU,100,,\n2026-03-02,hockey,web,EU,120,,\n"
    canonical = to_canonical(raw, "traffic.csv")
    assert canonical["sport"].tolist() == ["hockey", "hockey"] and canonical["requests"].tolist() == [100.0, 120.0]


# The Wikipedia web traffic table (Kaggle): one row per page, one column per day, blank before a page existed.
WIKI = """Page,2015-07-01,2015-07-02,2015-07-03
2NE1_zh.wikipedia.org_all-access_spider,18.0,11.0,5.0
Manchester_United_F.C._en.wikipedia.org_desktop_all-agents,6012.0,,6230.0
5566_zh.wikipedia.org_all-access_spider,,,
"""


def test_a_wide_table_of_pages_by_day_is_one_series_per_page() -> None:
    canonical = to_canonical(WIKI.encode(), "train_1.csv")
    united = canonical[canonical["sport"] == "Manchester_United_F.C."]
    assert united["service"].unique().tolist() == ["desktop_all-agents"]
    assert united["region"].unique().tolist() == ["en.wikipedia.org"]
    assert united["requests"].tolist() == [6012.0, 6230.0]  # the blank day is missing, not zero
    assert canonical.attrs["gaps"]["missing_days"] >= 1
    assert set(canonical["sport"]) >= {"2NE1", "Manchester_United_F.C."}
    with pytest.raises(ScorelineError) as error:
        to_canonical(WIKI.replace("11.0", "many").encode(), "train_1.csv")
    assert [(p["row"], p["column"], p["value"]) for p in _problems(error)] == [(2, "2015-07-02", "many")]


@pytest.mark.parametrize("header", ["date,value", "ds,y", "Date,Visits"])
def test_a_single_series_long_table_without_series_columns(header: str) -> None:
    canonical = to_canonical(f"{header}\n2016-09-01,1523\n2016-09-02,1800\n".encode(), "daily.csv")
    assert canonical["requests"].tolist() == [1523.0, 1800.0]
    assert canonical[["sport", "service", "region"]].drop_duplicates().to_numpy().tolist() == [["all", "all", "all"]]


def test_daily_website_visitors_export_reads_page_loads_with_thousands_commas() -> None:
    # Kaggle's daily-website-visitors.csv: no plain requests header, several counts, US dates, quoted "2,146".
    raw = (
        b"Row,Day,Day.Of.Week,Date,Page.Loads,Unique.Visits,First.Time.Visits,Returning.Visits\n"
        b'1,Sunday,1,9/14/2014,"2,146","1,582","1,430",152\n'
        b'2,Monday,2,9/15/2014,"3,621","2,528","2,297",231\n'
    )
    canonical = to_canonical(raw, "daily-website-visitors.csv")
    assert canonical["date"].dt.strftime("%Y-%m-%d").tolist() == ["2014-09-14", "2014-09-15"]
    assert canonical["requests"].tolist() == [2146.0, 3621.0]
    assert canonical.attrs["requests_column"] == {"daily-website-visitors.csv": "Page.Loads"}
    only_visits = b"Date,Unique.Visits,Returning.Visits\n2014-09-14,1582,152\n"
    assert to_canonical(only_visits, "visits.csv")["requests"].tolist() == [1582.0]


def test_a_fixture_list_without_sport_in_a_zip_takes_the_sport_of_one_sport_traffic() -> None:
    # football-data.co.uk's E0.csv: one league's fixtures (Div, Date day-first, Time, HomeTeam, AwayTeam, ...).
    fixtures = (
        "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,Referee,HS,AS\n"
        "E0,11/08/2023,20:00,Burnley,Man City,0,3,A,C Pawson,6,17\n"
        "E0,12/08/2023,12:30,Arsenal,Nott'm Forest,2,1,H,M Oliver,15,6\n"
    )
    traffic = "date,sport,service,region,requests\n2023-08-11,football,app,uk,1000\n2023-08-12,football,app,uk,1900\n"
    canonical = to_canonical(zipped({"traffic.csv": traffic, "E0.csv": fixtures}), "bundle.zip")
    events = canonical.loc[canonical["record"] == "event"]
    assert events["sport"].tolist() == ["football", "football"] and events["league"].tolist() == ["E0", "E0"]
    assert events["date"].dt.strftime("%Y-%m-%d").tolist() == ["2023-08-11", "2023-08-12"]
    assert events["start_time"].tolist() == ["20:00", "12:30"]
    two_sports = traffic + "2023-08-11,hockey,app,uk,50\n"
    with pytest.raises(ScorelineError) as error:
        to_canonical(zipped({"traffic.csv": two_sports, "E0.csv": fixtures}), "bundle.zip")
    assert "lacks sport" in error.value.message and "has 2" in error.value.message
