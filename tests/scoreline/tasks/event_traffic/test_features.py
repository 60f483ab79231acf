from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scoreline.core.errors import ScorelineError
from scoreline.tasks import get_task
from scoreline.tasks.base import TrainingTable
from scoreline.tasks.event_traffic.features import FEATURE_COLUMNS, HORIZON

TASK = get_task("event-traffic")


@pytest.fixture(scope="module")
def canonical() -> pd.DataFrame:
    content, name = TASK.simulated_file(300, seed=8)
    return TASK.to_canonical(content, name)


@pytest.fixture(scope="module")
def table(canonical: pd.DataFrame) -> TrainingTable:
    return TASK.training_table(canonical)


def _rows_for(table: TrainingTable, sport: str, service: str, region: str, origin: str) -> pd.DataFrame:
    requests = table.requests
    mask = ((requests["sport"] == sport) & (requests["service"] == service) & (requests["region"] == region)
            & (requests["date"] == origin)).to_numpy()  # fmt: skip
    rows = table.features.loc[mask].sort_values("horizon")
    return rows.reset_index(drop=True)


def test_table_shape_dates_and_targets(canonical: pd.DataFrame, table: TrainingTable) -> None:
    assert list(table.features.columns) == list(FEATURE_COLUMNS)
    assert table.dates.dtype == np.dtype("datetime64[D]")
    assert (np.diff(table.dates.astype(np.int64)) >= 0).all()  # sorted by target date
    origins = table.requests["date"].to_numpy().astype("datetime64[D]")
    assert (table.dates - origins == table.features["horizon"].to_numpy().astype("timedelta64[D]")).all()
    traffic = canonical.loc[canonical["record"] == "traffic"]
    lookup = traffic.set_index(["sport", "service", "region", traffic["date"].dt.strftime("%Y-%m-%d")])["requests"]
    index = pd.MultiIndex.from_arrays([table.requests["sport"], table.requests["service"], table.requests["region"],
                                       table.dates.astype(str)])  # fmt: skip
    np.testing.assert_array_equal(lookup.reindex(index).to_numpy(), table.target)


def test_features_of_an_origin_do_not_change_when_later_data_is_removed(
    canonical: pd.DataFrame, table: TrainingTable
) -> None:
    origin = "2024-09-20"
    series = ("hockey", "streaming", "EU")
    full = _rows_for(table, *series, origin)
    assert len(full) == HORIZON
    # traffic after the origin goes away; the schedule (events, known ahead) stays
    late_traffic = (canonical["record"] == "traffic") & (canonical["date"] > pd.Timestamp(origin))
    cut_table = TASK.training_table(canonical.loc[~late_traffic.to_numpy()].reset_index(drop=True))
    # the cut table has no targets after the origin, so its features for this origin are built directly
    from scoreline.tasks.event_traffic.features import features, history_from_canonical

    history = history_from_canonical(canonical.loc[~late_traffic.to_numpy()].reset_index(drop=True))
    index = history.series_index(series)
    day = int(np.datetime64(origin, "D").astype(np.int64))
    cut = features(history, np.full(HORIZON, index), np.full(HORIZON, day), np.arange(1, HORIZON + 1))
    pd.testing.assert_frame_equal(cut, full)
    # and in the cut table, rows of earlier origins are the full table's rows (e.g. a week earlier, day 1..7)
    earlier = _rows_for(cut_table, *series, "2024-09-13").iloc[:7]
    pd.testing.assert_frame_equal(earlier, _rows_for(table, *series, "2024-09-13").iloc[:7])


def test_changing_traffic_after_the_origin_changes_nothing_before_it(
    canonical: pd.DataFrame, table: TrainingTable
) -> None:
    from scoreline.tasks.event_traffic.features import features, history_from_canonical

    origin = "2024-08-01"
    later = (canonical["record"] == "traffic") & (canonical["date"] > pd.Timestamp(origin))
    scrambled = canonical.copy()
    scrambled.loc[later, "requests"] = scrambled.loc[later, "requests"].to_numpy()[::-1] * 3.0
    history = history_from_canonical(scrambled)
    series = ("basketball", "scores", "NA")
    day = int(np.datetime64(origin, "D").astype(np.int64))
    rows = features(history, np.full(HORIZON, history.series_index(series)), np.full(HORIZON, day),
                    np.arange(1, HORIZON + 1))  # fmt: skip
    expected = _rows_for(table, *series, origin)  # horizon days whose target was an outage have no row
    assert len(expected) >= HORIZON - 3
    pd.testing.assert_frame_equal(rows.iloc[expected["horizon"].to_numpy(dtype=int) - 1].reset_index(drop=True),
                                  expected)  # fmt: skip


def test_serving_features_equal_training_features_for_the_same_origin(canonical: pd.DataFrame) -> None:
    # the state of data ending at an origin (schedule kept) answers what the full table's rows say for it
    origin = "2024-10-05"
    keep = ~((canonical["record"] == "traffic") & (canonical["date"] > pd.Timestamp(origin))).to_numpy()
    state = json.loads(json.dumps(TASK.serving_state(canonical.loc[keep].reset_index(drop=True))))
    full = TASK.training_table(canonical)
    requests = pd.DataFrame([
        {"sport": "hockey", "service": "streaming", "region": "EU", "date": None, "events": None},
        {"sport": "basketball", "service": "scores", "region": "APAC", "date": origin, "events": None},
        {"sport": "hockey", "service": "scores", "region": "NA", "date": "2024-10-01", "events": None},
    ])  # fmt: skip
    served = TASK.serving_features(state, requests)
    assert len(served) == 3 * HORIZON
    expected = pd.concat([_rows_for(full, "hockey", "streaming", "EU", origin),
                          _rows_for(full, "basketball", "scores", "APAC", origin),
                          _rows_for(full, "hockey", "scores", "NA", "2024-10-01")], ignore_index=True)  # fmt: skip
    pd.testing.assert_frame_equal(served, expected, rtol=1e-12)


def test_request_events_add_to_and_replace_calendar_events_for_that_request_only(canonical: pd.DataFrame) -> None:
    state = TASK.serving_state(canonical)
    last = state["series"]["hockey/streaming/EU"]["last_day"]
    target = str(np.datetime64(last) + 3)
    big = {"date": target, "home_team": "Home", "away_team": "Away", "stage": "Finals", "home_rank": 1,
           "away_rank": 2, "mentions": 500_000}  # fmt: skip
    requests = pd.DataFrame([
        {"sport": "hockey", "service": "streaming", "region": "EU", "date": None, "events": None},
        {"sport": "hockey", "service": "streaming", "region": "EU", "date": None, "events": [big]},
    ])  # fmt: skip
    served = TASK.serving_features(state, requests)
    plain, with_event = served.iloc[:HORIZON], served.iloc[HORIZON:].reset_index(drop=True)
    assert with_event.loc[2, "events"] == plain.loc[2, "events"] + 1
    assert with_event.loc[2, "max_stage"] == 2.0 and with_event.loc[2, "mentions_max"] == 500_000
    assert with_event.loc[1, "next_day_max_stage"] == 2.0
    pd.testing.assert_frame_equal(with_event.drop(index=[1, 2]), plain.drop(index=[1, 2]).reset_index(drop=True)
                                  .set_axis(with_event.drop(index=[1, 2]).index))  # fmt: skip
    # restating a calendar event replaces it instead of counting it twice
    listed = state["events"]
    position = next(i for i, d in enumerate(listed["date"]) if d > last and listed["sport"][i] == "hockey")
    restated = {"date": listed["date"][position], "home_team": listed["home_team"][position],
                "away_team": listed["away_team"][position], "stage": "playoff", "mentions": 1.0}  # fmt: skip
    day = int((np.datetime64(restated["date"]) - np.datetime64(last)).astype(int)) - 1
    again = TASK.serving_features(state, requests.iloc[:1].assign(events=[[restated]]))
    assert again.loc[day, "events"] == plain.loc[day, "events"]
    assert again.loc[day, "max_stage"] >= 1.0


def test_unknown_series_and_unusable_origins_are_422s(canonical: pd.DataFrame) -> None:
    state = TASK.serving_state(canonical)
    with pytest.raises(ScorelineError) as error:
        TASK.serving_features(state, pd.DataFrame([{"sport": "hockey", "service": "radio", "region": "EU",
                                                    "date": None, "events": None}]))  # fmt: skip
    assert error.value.http_status == 422 and "hockey/streaming/EU" in error.value.details["problems"][0]["expected"]
    last = state["series"]["hockey/streaming/EU"]["last_day"]
    for date in (str(np.datetime64(last) + 1), "2020-01-01"):
        with pytest.raises(ScorelineError) as error:
            TASK.serving_features(state, pd.DataFrame([{"sport": "hockey", "service": "streaming", "region": "EU",
                                                        "date": date, "events": None}]))  # fmt: skip
        assert error.value.details["problems"][0]["column"] == "date"
    past_event = {"date": last, "home_team": "A", "away_team": "B"}
    with pytest.raises(ScorelineError):
        TASK.serving_features(state, pd.DataFrame([{"sport": "hockey", "service": "streaming", "region": "EU",
                                                    "date": None, "events": [past_event]}]))  # fmt: skip


def test_missing_days_leave_features_missing_not_filled(canonical: pd.DataFrame, table: TrainingTable) -> None:
    assert table.features["known_days_28"].min() < 28  # outages inside some windows
    assert table.features["value_origin"].notna().all()  # origins are known days
    assert table.features["lag_same_weekday"].isna().any()


def test_baselines_come_from_the_origins_data(table: TrainingTable) -> None:
    rows = np.arange(len(table))
    baselines = TASK.baselines(table, rows[:10], rows)
    features = table.features
    same = features["lag_same_weekday"].notna().to_numpy()
    np.testing.assert_array_equal(baselines["seasonal_naive"][same], features["lag_same_weekday"][same])
    np.testing.assert_array_equal(baselines["moving_average"], features["mean_7"])
    assert not np.isnan(baselines["seasonal_naive"]).any()


def test_request_model_outcomes_and_words(canonical: pd.DataFrame) -> None:
    state = TASK.serving_state(canonical)
    example = TASK.example_request(state, [])
    TASK.request_model.model_validate(example)
    assert set(TASK.entities(state)) == {"sport", "service", "region"}
    outcomes = TASK.outcomes(canonical)
    assert list(outcomes.columns[:4]) == ["sport", "service", "region", "date"]
    assert outcomes["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    words = TASK.describe({**example, "date": "2026-03-04"}, [100.0, 250.0, 120.0])
    assert words == "hockey/streaming/EU: 100 → 250 requests/day over the next 3 days (peak on 2026-03-06)" or (
        "→ 250 requests/day" in words and "2026-03-06" in words
    )


def test_a_state_cut_inside_the_history_serves_its_full_look_back_origins_as_training_does() -> None:
    # longer than the state keeps: the state starts after the series does, so the year-long features of an
    # origin must come from days the state still holds
    from scoreline.tasks.event_traffic.features import FULL_LOOKBACK, STATE_DAYS

    content, name = TASK.simulated_file(STATE_DAYS + 40, seed=9)
    canonical = TASK.to_canonical(content, name)
    state = json.loads(json.dumps(TASK.serving_state(canonical)))
    entry = state["series"]["hockey/streaming/EU"]
    assert entry["start"] > "2024-01-01"
    first = np.datetime64(entry["first_origin"])
    assert first == np.datetime64(entry["start"]) + FULL_LOOKBACK - 1
    full = TASK.training_table(canonical)
    origin = str(first + 3)
    served = TASK.serving_features(state, pd.DataFrame([{"sport": "hockey", "service": "streaming", "region": "EU",
                                                         "date": origin, "events": None}]))  # fmt: skip
    expected = _rows_for(full, "hockey", "streaming", "EU", origin)  # the horizon days with known traffic
    assert len(expected) >= 2
    assert expected["structural_ratio"].notna().all() and expected["weekday_profile_52w"].notna().all()
    rows = expected["horizon"].to_numpy(dtype=int) - 1
    pd.testing.assert_frame_equal(served.iloc[rows].reset_index(drop=True), expected, rtol=1e-9)
    with pytest.raises(ScorelineError):  # before it, the state lacks part of the look-back
        TASK.serving_features(state, pd.DataFrame([{"sport": "hockey", "service": "streaming", "region": "EU",
                                                    "date": str(first - 1), "events": None}]))  # fmt: skip
