"""The replay's generic parts, for every registered task: a day's rows become requests the request model
accepts and a raw file that reads back into the same rows; the period and the days played."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from scoreline.core.errors import ScorelineError
from scoreline.monitoring.replay import _instances, period, replay_days
from scoreline.tasks import get_task, task_ids


@pytest.mark.parametrize("task_id", task_ids())
def test_a_days_rows_become_valid_requests_and_a_raw_file_that_reads_back(task_id: str) -> None:
    task = get_task(task_id)
    raw, _ = task.simulate(40, seed=3)
    canonical = task.to_canonical(raw.to_csv(index=False).encode(), "sim.csv")
    content, filename = task.raw_file(canonical)
    again = task.to_canonical(content, filename)
    assert len(again) == len(canonical)
    assert list(again.columns) == list(canonical.columns)
    instances = _instances(task.replay_requests(canonical))
    assert len(instances) == len(canonical)
    for instance in instances[:5]:
        task.request_model.model_validate(instance)  # what model-api is sent validates


def test_days_and_period_follow_the_date_column() -> None:
    task = get_task(next(t for t in task_ids() if get_task(t).outcome_keys and get_task(t).date_column == "date"))
    raw, _ = task.simulate(200, seed=5)
    canonical = task.to_canonical(raw.to_csv(index=False).encode(), "sim.csv")
    dates = pd.to_datetime(canonical["date"]).dt.date
    first = sorted(set(dates))[len(set(dates)) // 2]
    start, end = period(first, None, 10, canonical, "date")
    assert (end - start).days == 9
    days = replay_days(task, canonical, start, end)
    assert [d.day for d in days] == sorted(d for d in set(dates) if start <= d <= end)
    assert sum(len(d.rows) for d in days) == int(((dates >= start) & (dates <= end)).sum())
    assert period(first, None, None, canonical, "date")[1] == max(dates)
    with pytest.raises(ScorelineError, match="not both"):
        period(first, date(2030, 1, 1), 3, canonical, "date")
    with pytest.raises(ScorelineError, match="before it starts"):
        replay_days(task, canonical, end, start)
