"""Replay: play a real period forward, day by day, against the running services, for any task.

For each day of ``[start, end]`` that has rows in the source table:

1. the day's rows as serving requests (``Task.replay_requests``) go to model-api *before* their results are
   known, so they are logged like any prediction;
2. the day's results (``Task.raw_file`` of the day's canonical rows) are appended to a dataset through
   ingest, where live accuracy finds them (``catalog_results_loader`` reads the latest version of every
   dataset of the task and joins on ``Task.outcome_keys``);
3. every ``monitor_every`` days (and after the last) the trainer's monitor runs, so drift and live accuracy
   fill in while the replay goes; it first waits (up to ``log_wait_s``, while the count moves) until the
   prediction log holds every prediction of the replay so far, since the log is written behind the answers (its
   sink, Elasticsearch's refresh) and a monitor run at once saw only part of the last days.

The services are reached through a :class:`ReplayServices` (the CLI gives one over the typed client), and
the progress is reported to it after every day (the trainer keeps it for the dashboard's Monitoring page).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, Protocol

import pandas as pd
from pydantic import BaseModel, Field

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.base import Task

ReplayState = Literal["running", "done", "failed"]
MAX_INSTANCES = 500  # per predict call


class ReplayStatus(BaseModel):
    """A replay's progress, as the trainer keeps it (``PUT /v1/monitor/replays/{replay_id}``)."""

    replay_id: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
    task: str
    dataset: str = Field(description="the dataset the days' results are appended to")
    start: str = Field(description="first day, YYYY-MM-DD")
    end: str = Field(description="last day, YYYY-MM-DD")
    day: str | None = Field(default=None, description="the last day played")
    days_done: int = Field(default=0, ge=0)
    days_total: int = Field(ge=0)
    predictions: int = Field(default=0, ge=0, description="predictions logged so far")
    results: int = Field(default=0, ge=0, description="results ingested so far")
    dataset_version: str | None = None
    state: ReplayState = "running"
    error: str | None = None
    live: dict[str, Any] | None = Field(
        default=None, description="the last monitor run's summary: drift status and rows, live accuracy matched"
    )
    updated_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def fraction(self) -> float:
        return self.days_done / self.days_total if self.days_total else 1.0


class ReplayServices(Protocol):
    def predict(self, task: str, instances: list[dict[str, Any]]) -> int:
        """Ask model-api for these instances' predictions (logged); how many were answered."""
        ...

    def append_results(self, task: str, dataset: str, content: bytes, filename: str) -> str:
        """Append a raw results file to ``dataset`` through ingest; the new version."""
        ...

    def monitor(self, task: str) -> dict[str, Any]:
        """Run drift and live accuracy now for ``task``; the task's monitor result."""
        ...

    def logged(self, task: str, since: datetime) -> int:
        """How many of ``task``'s predictions the prediction log holds (searchable) from ``since`` on."""
        ...

    def report(self, status: ReplayStatus) -> None:
        """Keep the replay's progress where the dashboard reads it."""
        ...


@dataclass(frozen=True)
class ReplayDay:
    day: date
    rows: pd.DataFrame  # the day's canonical rows


def replay_days(task: Task, canonical: pd.DataFrame, start: date, end: date) -> list[ReplayDay]:
    """The days of ``[start, end]`` that have rows in ``canonical`` (by the task's date column), in order."""
    if task.date_column not in canonical.columns:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"task {task.id!r} has no dated rows to replay; expected a column {task.date_column!r}",
        )
    if end < start:
        raise ScorelineError(ErrorCode.INVALID_INPUT, f"the replay ends ({end}) before it starts ({start})")
    days = pd.to_datetime(canonical[task.date_column], errors="coerce").dt.date
    inside = canonical[(days >= start) & (days <= end)]
    grouped = inside.groupby(days[(days >= start) & (days <= end)], sort=True)
    return [ReplayDay(day=day, rows=rows.reset_index(drop=True)) for day, rows in grouped]


def _summary(result: Mapping[str, Any]) -> dict[str, Any]:
    drift = result.get("drift") or {}
    accuracy = result.get("accuracy") or {}
    return {
        "model_version": result.get("model_version"),
        "drift_status": result.get("status"),
        "drift_rows": drift.get("rows"),
        "alert": result.get("alert"),
        "predictions": accuracy.get("predictions"),
        "matched": accuracy.get("matched"),
        "accuracy_error": result.get("accuracy_error"),
    }


def replay(
    task: Task,
    canonical: pd.DataFrame,
    start: date,
    end: date,
    services: ReplayServices,
    *,
    dataset: str = "replay",
    monitor_every: int = 7,
    replay_id: str | None = None,
    on_day: Callable[[ReplayStatus], None] | None = None,
    log_wait_s: float = 60.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReplayStatus:
    """Play ``[start, end]`` of ``canonical`` forward (see the module's docstring); the final status.

    ``on_day`` sees the status after every calendar day of the period (a progress bar)."""
    if not task.outcome_keys:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT, f"task {task.id!r} has no outcome join (outcome_keys); nothing to replay"
        )
    played = {d.day: d for d in replay_days(task, canonical, start, end)}
    calendar = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    status = ReplayStatus(
        replay_id=replay_id or uuid.uuid4().hex[:12],
        task=task.id,
        dataset=dataset,
        start=start.isoformat(),
        end=end.isoformat(),
        days_total=len(calendar),
    )
    services.report(status)
    started_at = datetime.now(UTC) - timedelta(seconds=1)  # the log's timestamps are its own clock's (ms)
    since_monitor = 0
    wait_for_log = log_wait_s > 0
    try:
        for number, day in enumerate(calendar, start=1):
            found = played.get(day)
            if found is not None:
                requests = task.replay_requests(found.rows)
                instances = _instances(requests)
                for chunk in range(0, len(instances), MAX_INSTANCES):
                    status.predictions += services.predict(task.id, instances[chunk : chunk + MAX_INSTANCES])
                content, filename = task.raw_file(found.rows)
                status.dataset_version = services.append_results(
                    task.id, dataset, content, f"{day.isoformat()}-{filename}"
                )
                status.results += len(found.rows)
                since_monitor += 1
            if since_monitor and (since_monitor >= monitor_every or number == len(calendar)):
                if wait_for_log:
                    in_log = _await_logged(services, task.id, started_at, status.predictions, log_wait_s, clock, sleep)
                    wait_for_log = bool(in_log)  # a log holding none of them (off, unreadable): not waited on again
                status.live = _summary(services.monitor(task.id))
                since_monitor = 0
            status.day, status.days_done = day.isoformat(), number
            status.updated_at = datetime.now(UTC).isoformat()
            if found is not None or number == len(calendar):
                services.report(status)
            if on_day is not None:
                on_day(status)
    except Exception as error:
        status.state, status.error = "failed", getattr(error, "message", None) or f"{type(error).__name__}: {error}"
        status.updated_at = datetime.now(UTC).isoformat()
        _report_quietly(services, status)
        raise
    status.state = "done"
    status.updated_at = datetime.now(UTC).isoformat()
    services.report(status)
    return status


def _await_logged(
    services: ReplayServices,
    task: str,
    since: datetime,
    predictions: int,
    timeout_s: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    stall_s: float = 5.0,
) -> int | None:
    """Poll until the log holds ``predictions`` records of ``task`` from ``since`` on; give up after ``timeout_s``,
    or when the count has not moved for ``stall_s`` (logging off, the log down), or when it cannot be read (None).
    The monitor then runs on what is there: a log that is behind or down degrades the run, it does not stop the
    replay. How many records the log holds."""
    deadline = clock() + timeout_s
    last, moved_at = -1, clock()
    while True:
        try:
            found = services.logged(task, since)
        except Exception:  # the count is a courtesy: the monitor run says what is wrong with the log
            return None
        now = clock()
        if found != last:
            last, moved_at = found, now
        if found >= predictions or now >= deadline or now - moved_at >= stall_s:
            return found
        sleep(0.5)


def _report_quietly(services: ReplayServices, status: ReplayStatus) -> None:
    with contextlib.suppress(Exception):  # the replay's own error is the one to raise
        services.report(status)


def _instances(requests: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-able request dicts: dates as YYYY-MM-DD, missing values left out (the request model's defaults)."""
    records: list[dict[str, Any]] = []
    for row in requests.to_dict(orient="records"):
        instance: dict[str, Any] = {}
        for key, value in row.items():
            if value is None or (not isinstance(value, str | Sequence) and pd.isna(value)):
                continue
            if isinstance(value, pd.Timestamp | datetime):
                value = value.date().isoformat()
            elif isinstance(value, date):
                value = value.isoformat()
            elif hasattr(value, "item"):
                value = value.item()
            instance[str(key)] = value
        records.append(instance)
    return records


def period(
    start: date, end: date | None, days: int | None, canonical: pd.DataFrame, date_column: str
) -> tuple[date, date]:
    """The replayed period: ``end`` if given, else ``days`` days from ``start``, else through the data's last day."""
    if end is not None and days is not None:
        raise ScorelineError(ErrorCode.INVALID_INPUT, "give the period's end or its length in days, not both")
    if days is not None:
        if days < 1:
            raise ScorelineError(ErrorCode.INVALID_INPUT, f"--days must be at least 1, got {days}")
        return start, start + timedelta(days=days - 1)
    if end is not None:
        return start, end
    last = pd.to_datetime(canonical[date_column], errors="coerce").max()
    if pd.isna(last):
        raise ScorelineError(ErrorCode.INVALID_INPUT, "the replayed table has no dates")
    return start, max(start, last.date())
