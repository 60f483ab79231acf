"""Training jobs: one worker thread per task runs its jobs one at a time, in submission order.

Training never runs on the event loop. Every status change is written to ``jobs_dir`` as one JSON
file per job, so a restart keeps the history: queued jobs are queued again, a job that was
running when the process died is marked failed (its MLflow run may exist, its version does not:
registration is the last step of a job).
"""

from __future__ import annotations

import logging
import threading
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from scoreline.core.errors import ErrorCode, ScorelineError

log = logging.getLogger("scoreline.trainer.jobs")

JobStatus = Literal["queued", "running", "succeeded", "failed"]
Progress = Callable[[float, str], None]


class TuningBudget(BaseModel):
    trials: int = Field(ge=1, le=10_000, description="Optuna trials at most")
    seconds: float | None = Field(default=None, gt=0, le=86_400, description="wall-clock budget of the search")


class Job(BaseModel):
    id: str
    task: str
    dataset: str
    dataset_version: str
    holdout_start: date | None = None
    tuning_budget: TuningBudget | None = None
    status: JobStatus = "queued"
    progress: float = 0.0
    stage: str = "queued"
    metrics: dict[str, float] = Field(default_factory=dict, description="holdout_<metric>, baseline_<b>_<metric>")
    holdout_window: dict[str, Any] | None = None
    run_id: str | None = None
    model_version: str | None = None
    error: str | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True)
class JobOutcome:
    metrics: dict[str, float]
    run_id: str
    model_version: str
    holdout_window: dict[str, Any]


Runner = Callable[[Job, Progress], JobOutcome]


def _now() -> datetime:
    return datetime.now(UTC)


class JobManager:
    def __init__(self, runner: Runner, jobs_dir: Path, *, max_queued_per_task: int = 20) -> None:
        self._runner = runner
        self._dir = Path(jobs_dir)
        self._max_queued = max_queued_per_task
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._queues: dict[str, deque[str]] = {}
        self._workers: dict[str, threading.Thread] = {}
        self._closed = False

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Load the job records of earlier runs and queue again what had not started."""
        self._dir.mkdir(parents=True, exist_ok=True)
        records = []
        for path in self._dir.glob("*.json"):
            try:
                records.append(Job.model_validate_json(path.read_text(encoding="utf-8")))
            except ValueError:
                log.warning("ignoring unreadable job record %s", path)
        for job in sorted(records, key=lambda j: j.created_at):
            if job.status == "running":
                job.status, job.finished_at = "failed", _now()
                job.error = "the trainer stopped while this job was running; no model version was registered"
                self._save(job)
            self._jobs[job.id] = job
            if job.status == "queued":
                self._queues.setdefault(job.task, deque()).append(job.id)
        with self._lock:
            for task in self._queues:
                self._ensure_worker(task)

    def close(self) -> None:
        """Stop taking jobs; a running job finishes in its (daemon) thread if the process lives on."""
        with self._lock:
            self._closed = True

    # ---- API ---------------------------------------------------------------------------------
    def submit(
        self,
        task: str,
        dataset: str,
        dataset_version: str,
        holdout_start: date | None,
        tuning_budget: TuningBudget | None,
    ) -> Job:
        with self._lock:
            if self._closed:
                raise ScorelineError(ErrorCode.UNAVAILABLE, "the trainer is shutting down; submit again later")
            waiting = len(self._queues.get(task, ()))
            if waiting >= self._max_queued:
                raise ScorelineError(
                    ErrorCode.CONFLICT,
                    f"{waiting} jobs of {task} are already queued (limit {self._max_queued}); wait for them",
                    {"task": task, "queued": waiting},
                    retry_after_s=60,
                )
            job = Job(
                id=uuid.uuid4().hex,
                task=task,
                dataset=dataset,
                dataset_version=dataset_version,
                holdout_start=holdout_start,
                tuning_budget=tuning_budget,
                created_at=_now(),
            )
            self._jobs[job.id] = job
            self._save(job)
            self._queues.setdefault(task, deque()).append(job.id)
            self._ensure_worker(task)
            return job.model_copy(deep=True)

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise ScorelineError(ErrorCode.NOT_FOUND, f"no job {job_id!r}", {"job_id": job_id})
            return job.model_copy(deep=True)

    def list_jobs(self, task: str | None = None, status: JobStatus | None = None, limit: int = 100) -> list[Job]:
        with self._lock:
            jobs = [
                j.model_copy(deep=True)
                for j in self._jobs.values()
                if (task is None or j.task == task) and (status is None or j.status == status)
            ]
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)[:limit]

    # ---- workers -----------------------------------------------------------------------------
    def _ensure_worker(self, task: str) -> None:
        """Called with the lock held."""
        worker = self._workers.get(task)
        if worker is None or not worker.is_alive():
            worker = threading.Thread(target=self._work, args=(task,), name=f"trainer-{task}", daemon=True)
            self._workers[task] = worker
            worker.start()

    def _work(self, task: str) -> None:
        while True:
            with self._lock:
                queue = self._queues.get(task)
                if self._closed or not queue:
                    self._workers.pop(task, None)
                    return
                job = self._jobs[queue.popleft()]
                job.status, job.started_at, job.stage = "running", _now(), "starting"
                self._save(job)
                snapshot = job.model_copy(deep=True)
            self._run(job, snapshot)

    def _run(self, job: Job, snapshot: Job) -> None:
        def progress(fraction: float, stage: str) -> None:
            with self._lock:
                job.progress = round(min(max(float(fraction), job.progress), 1.0), 4)
                job.stage = stage

        try:
            outcome = self._runner(snapshot, progress)
        except Exception as exc:
            message = exc.message if isinstance(exc, ScorelineError) else f"{type(exc).__name__}: {exc}"
            log.error("job %s (%s) failed: %s\n%s", job.id, job.task, message, traceback.format_exc())
            with self._lock:
                job.status, job.error, job.finished_at, job.stage = "failed", message, _now(), "failed"
                self._save(job)
            return
        with self._lock:
            job.status, job.progress, job.stage, job.finished_at = "succeeded", 1.0, "registered", _now()
            job.metrics = dict(outcome.metrics)
            job.run_id, job.model_version = outcome.run_id, outcome.model_version
            job.holdout_window = dict(outcome.holdout_window)
            self._save(job)

    def _save(self, job: Job) -> None:
        """Called with the lock held; writes the record atomically (temporary file, then rename)."""
        try:
            self._dir.mkdir(parents=True, exist_ok=True)
            target = self._dir / f"{job.id}.json"
            temporary = target.with_suffix(".json.tmp")
            temporary.write_text(job.model_dump_json(), encoding="utf-8")
            temporary.replace(target)
        except OSError as exc:  # the job itself goes on; only its record after a restart is at risk
            log.warning("could not write the record of job %s: %s", job.id, exc)
