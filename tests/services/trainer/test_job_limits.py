"""Tuning budgets and jobs at once are bounded: beyond the configured maxima a submit is a 422 naming the maximum."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from scoreline_trainer.jobs import Job, JobLimits, JobManager, JobOutcome, TuningBudget
from scoreline_trainer.settings import TrainerSettings

from scoreline.core.errors import ErrorCode, ScorelineError

LIMITS = JobLimits(max_trials=50, max_seconds=600, max_active=2)


@pytest.fixture
def manager(tmp_path: Path):
    release = threading.Event()

    def train(job: Job, progress) -> JobOutcome:  # type: ignore[no-untyped-def]
        release.wait(10)
        return JobOutcome({}, "run", "1", {})

    jobs = JobManager(train, tmp_path, limits=LIMITS)
    jobs.start()
    yield jobs
    release.set()
    jobs.close()


def _refused(manager: JobManager, budget: TuningBudget | None, task: str = "match-outcome") -> ScorelineError:
    with pytest.raises(ScorelineError) as caught:
        manager.submit(task, "simulated", "v1", None, budget)
    assert caught.value.code is ErrorCode.INVALID_INPUT and caught.value.http_status == 422
    return caught.value


def test_more_trials_than_the_maximum_are_refused_with_the_maximum(manager: JobManager) -> None:
    error = _refused(manager, TuningBudget(trials=10_000))
    assert "maximum of 50" in error.message and error.details["maximum"] == 50


def test_a_longer_search_than_the_maximum_is_refused_with_the_maximum(manager: JobManager) -> None:
    error = _refused(manager, TuningBudget(trials=10, seconds=86_400))
    assert "maximum of 600" in error.message


def test_more_jobs_at_once_than_the_maximum_are_refused(manager: JobManager) -> None:
    manager.submit("match-outcome", "simulated", "v1", None, TuningBudget(trials=50, seconds=600))
    manager.submit("esports-win", "simulated", "v1", None, None)
    error = _refused(manager, None, task="event-traffic")
    assert "maximum is 2 at once" in error.message


def test_the_maxima_are_settings() -> None:
    settings = TrainerSettings(max_tuning_trials=7, max_tuning_seconds=30, max_active_jobs=3)
    assert (settings.max_tuning_trials, settings.max_tuning_seconds, settings.max_active_jobs) == (7, 30.0, 3)
    assert TrainerSettings().max_tuning_trials < 10_000 and TrainerSettings().max_tuning_seconds < 86_400
