from __future__ import annotations

import numpy as np
import pandas as pd

from scoreline.tasks import get_task
from scoreline.tasks.event_traffic.simulator import CALENDAR_AHEAD, simulate, simulate_parts


def test_parts_cover_every_series_day_and_outages_are_missing_days() -> None:
    traffic, calendar, truth = simulate_parts(320, seed=3)
    series = truth.groupby(["sport", "service", "region"]).size()
    assert len(series) == 12 and (series == 320).all()
    assert len(traffic) == int(truth["observed"].sum()) < len(truth)  # outages dropped from the file
    assert calendar["date"].max() > traffic["date"].max()  # the schedule runs ahead of the traffic
    last = pd.Timestamp(traffic["date"].max())
    assert (pd.to_datetime(calendar["date"]) - last).dt.days.max() <= CALENDAR_AHEAD


def test_event_days_lift_traffic_more_for_bigger_stages() -> None:
    _, calendar, truth = simulate_parts(730, seed=4)
    truth = truth.assign(day=pd.to_datetime(truth["date"]))
    stage_by_day = calendar.assign(code=calendar["stage"].map({"Regular Season": 0, "Playoffs": 1, "Final": 2}))
    stage_by_day = stage_by_day.groupby(["sport", "date"])["code"].max().rename("stage").reset_index()
    merged = truth.merge(stage_by_day, on=["sport", "date"], how="left")
    # compare each day with the same series' expectation a week earlier (same weekday, near season)
    merged = merged.sort_values(["sport", "service", "region", "day"])
    merged["ratio"] = merged["expected"] / merged.groupby(["sport", "service", "region"])["expected"].shift(7)
    mean_by_stage = merged.groupby(merged["stage"].fillna(-1))["ratio"].mean()
    assert mean_by_stage[2.0] > mean_by_stage[1.0] > mean_by_stage[0.0]


def test_simulate_is_the_combined_file_with_row_aligned_truth_and_seeded() -> None:
    raw, truth = simulate(120, seed=5)
    again, _ = simulate(120, seed=5)
    pd.testing.assert_frame_equal(raw, again)
    assert len(raw) == len(truth)
    is_traffic = raw["record"] == "traffic"
    assert truth["expected"][is_traffic].notna().all() and truth["expected"][~is_traffic].isna().all()
    ratio = raw["requests"][is_traffic] / truth["expected"][is_traffic]
    assert 0.9 < float(np.median(ratio)) < 1.1


def test_simulated_file_is_a_zip_the_adapter_accepts() -> None:
    task = get_task("event-traffic")
    content, name = task.simulated_file(150, seed=6)
    assert name.endswith(".zip")
    canonical = task.to_canonical(content, name)
    assert set(canonical["record"]) == {"traffic", "event"}
    assert canonical.attrs["gaps"]["missing_days"] > 0
    # the combined file gives the same canonical table
    raw, _ = task.simulate(150, seed=6)
    combined = task.to_canonical(raw.to_csv(index=False).encode(), "combined.csv")
    pd.testing.assert_frame_equal(combined, canonical)
