"""The replay's generic parts, for every registered task: a day's rows become requests the request model
accepts and a raw file that reads back into the same rows; the period and the days played."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pandas as pd
import pytest

from scoreline.core.errors import ScorelineError
from scoreline.monitoring.replay import ReplayStatus, _instances, period, replay, replay_days
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


class LaggingLog:
    """In-memory stand-in for the services (a fake: the real ones are tests/scoreline/cli/test_replay.py's stack):
    predictions reach the log ``lag`` polls after they are made, as behind a sink and Elasticsearch's refresh;
    ``lag=None``: logging off, they never do."""

    def __init__(self, lag: int | None) -> None:
        self.lag = lag
        self.made = 0
        self.visible = 0
        self.polls_left = 0
        self.polls = 0
        self.seen_by_monitor: list[int] = []

    def predict(self, task: str, instances: list[dict[str, Any]]) -> int:
        self.made += len(instances)
        self.polls_left = self.lag
        return len(instances)

    def append_results(self, task: str, dataset: str, content: bytes, filename: str) -> str:
        return "v1"

    def logged(self, task: str, since: datetime) -> int:
        self.polls += 1
        if self.lag is not None:
            self.polls_left -= 1
            if self.polls_left <= 0:
                self.visible = self.made
        return self.visible

    def monitor(self, task: str) -> dict[str, Any]:
        self.seen_by_monitor.append(self.visible)
        return {"status": "ok", "drift": {"rows": self.visible}, "accuracy": {"predictions": self.visible}}

    def report(self, status: ReplayStatus) -> None:
        pass


def _week(task_id: str = "match-outcome") -> tuple[Any, pd.DataFrame, date, date]:
    task = get_task(task_id)
    raw, _ = task.simulate(400, seed=5)
    canonical = task.to_canonical(raw.to_csv(index=False).encode(), "sim.csv")
    dates = sorted(set(pd.to_datetime(canonical["date"]).dt.date))
    middle = len(dates) // 2
    return task, canonical, dates[middle], dates[middle + 9]  # ten days with matches: monitored after 7 and at the end


def test_the_monitor_runs_once_the_log_holds_the_replays_predictions() -> None:
    """A monitor run right after the last day saw part of it (drift on 105 of 161 predictions in CI)."""
    task, canonical, start, end = _week()
    services = LaggingLog(lag=4)
    ticks = iter(range(10_000))
    status = replay(task, canonical, start, end, services, clock=lambda: float(next(ticks)), sleep=lambda _: None)
    assert status.predictions > 0
    assert services.seen_by_monitor and services.seen_by_monitor[-1] == status.predictions
    assert status.live is not None and status.live["drift_rows"] == status.predictions


def test_a_log_that_never_fills_is_waited_on_once_and_briefly() -> None:
    task, canonical, start, end = _week()
    services = LaggingLog(lag=None)
    clock = iter(range(10_000))
    status = replay(task, canonical, start, end, services, clock=lambda: float(next(clock)), sleep=lambda _: None)
    assert services.seen_by_monitor == [0, 0]
    assert status.state == "done"
    assert services.polls <= 7  # gave up when the count stood still for 5 s, and did not wait the second time
