"""Training jobs: one worker thread per task takes its jobs one at a time, in submission order, and at most
``max_concurrent`` jobs train at once across tasks.

Training never runs on the event loop, nor in the service's process: a ``JobRunner`` runs it. The default
``ProcessRunner`` trains in a child process (spawned: a fresh interpreter), so a native crash (a segfault or
``abort()`` in a C extension) or an out-of-memory kill fails that job with the reason, not the trainer; it also
enforces the job timeout and cancellation (``DELETE /v1/jobs/{id}``) by terminating the child. A Kubernetes Job
runner can take its place (manifest template: deploy/k8s/trainer-job.template.yaml; its pod runs
``python -m scoreline_trainer.run_job``, which records the job in ``jobs_dir`` as this module does). A cancelled or
timed-out job is ``failed`` with the reason in ``error`` and ``stage`` ``cancelled`` / ``timed_out``.

Every status change is written to ``jobs_dir`` as one JSON
file per job, so a restart keeps the history: queued jobs are queued again, a job that was
running when the process died is marked failed (its MLflow run may exist, its version does not:
registration is the last step of a job).
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from scoreline.core.errors import ErrorCode, ScorelineError

log = logging.getLogger("scoreline.trainer.jobs")

JobStatus = Literal["queued", "running", "succeeded", "failed"]
Progress = Callable[[float, str], None]


class TuningBudget(BaseModel):
    trials: int = Field(ge=1, le=10_000, description="Optuna trials at most")
    seconds: float | None = Field(default=None, gt=0, le=86_400, description="wall-clock budget of the search")


@dataclass(frozen=True)
class JobLimits:
    """What one API key may ask of the trainer (``SCORELINE_MAX_TUNING_TRIALS``, ``_MAX_TUNING_SECONDS``,
    ``_MAX_ACTIVE_JOBS``)."""

    max_trials: int = 100
    max_seconds: float = 3600.0
    max_active: int = 4  # queued + running, across tasks


def check_limits(budget: TuningBudget | None, active_jobs: int, limits: JobLimits) -> None:
    """422 naming the maximum when a request asks for more trials, search time or jobs at once than allowed."""
    if budget is not None and budget.trials > limits.max_trials:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"tuning_budget.trials {budget.trials} is above the maximum of {limits.max_trials}",
            {"field": "tuning_budget.trials", "value": budget.trials, "maximum": limits.max_trials},
        )
    if budget is not None and budget.seconds is not None and budget.seconds > limits.max_seconds:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"tuning_budget.seconds {budget.seconds:g} is above the maximum of {limits.max_seconds:g}",
            {"field": "tuning_budget.seconds", "value": budget.seconds, "maximum": limits.max_seconds},
        )
    if active_jobs >= limits.max_active:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{active_jobs} jobs are already queued or running; the maximum is {limits.max_active} at once",
            {"active_jobs": active_jobs, "maximum": limits.max_active},
        )


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


class JobStopped(Exception):
    """The runner stopped the job on purpose (cancel, timeout); ``stage`` says which."""

    def __init__(self, message: str, stage: str) -> None:
        super().__init__(message)
        self.message = message
        self.stage = stage


class JobRunner(Protocol):
    """Runs one job to its outcome. ``cancelled`` is set when the job must stop (raise ``JobStopped``); any other
    exception fails the job with its message."""

    def run(self, job: Job, progress: Progress, cancelled: threading.Event) -> JobOutcome: ...


class InProcessRunner:
    """Runs the training function in the calling thread (tests, debugging); cannot stop a running job."""

    def __init__(self, train: Runner) -> None:
        self._train = train

    def run(self, job: Job, progress: Progress, cancelled: threading.Event) -> JobOutcome:
        return self._train(job, progress)


def _child(train: Runner, job: Job, conn: Connection) -> None:
    """The child process: train, sending progress and then the outcome (or the error) through the pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the trainer, which stops its children

    def progress(fraction: float, stage: str) -> None:
        conn.send(("progress", float(fraction), stage))

    try:
        outcome = train(job, progress)
    except BaseException as exc:  # everything a job raises is its failure reason
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        conn.send(("error", str(message), traceback.format_exc()))
    else:
        conn.send(("ok", outcome))
    finally:
        conn.close()


def describe_exit(code: int | None) -> str:
    if code is None:
        return "the training process did not exit"
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        cause = {
            "SIGKILL": "killed: most likely out of memory (the kernel's OOM killer) or a hard kill",
            "SIGABRT": "aborted: a native crash (abort() in a C extension)",
            "SIGSEGV": "crashed: segmentation fault in native code",
        }.get(name, "killed by a signal")
        return f"the training process died from {name} ({cause}); no model version was registered"
    return f"the training process exited with code {code} before reporting a result"


class ProcessRunner:
    """Trains each job in a spawned child process (``train`` must be importable: a module-level function or a
    picklable callable), with a timeout; cancellation and timeout terminate the child (SIGTERM, then SIGKILL)."""

    def __init__(self, train: Runner, *, timeout_s: float | None = None, grace_s: float = 5.0) -> None:
        self._train = train
        self._timeout_s = timeout_s
        self._grace_s = grace_s
        self._context = multiprocessing.get_context("spawn")

    def run(self, job: Job, progress: Progress, cancelled: threading.Event) -> JobOutcome:
        receive, send = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_child, args=(self._train, job, send), name=f"trainer-job-{job.id}", daemon=True
        )
        process.start()
        send.close()  # the child holds the sending end now: EOF here once it exits
        deadline = None if self._timeout_s is None else time.monotonic() + self._timeout_s
        try:
            while True:
                if cancelled.is_set():
                    self._stop(process)
                    raise JobStopped("cancelled: the training process was stopped on request", "cancelled")
                if deadline is not None and time.monotonic() > deadline:
                    self._stop(process)
                    raise JobStopped(f"timed out after {self._timeout_s:g} s; the training process was stopped",
                                     "timed_out")  # fmt: skip
                if receive.poll(0.2):
                    try:
                        message = receive.recv()
                    except EOFError:  # the child is gone without a result: a crash or a kill
                        process.join(10)
                        raise RuntimeError(describe_exit(process.exitcode)) from None
                    if message[0] == "progress":
                        progress(message[1], message[2])
                    elif message[0] == "ok":
                        process.join(10)
                        return message[1]
                    else:
                        log.error("job %s failed in its process:\n%s", job.id, message[2])
                        process.join(10)
                        raise RuntimeError(message[1])
                elif not process.is_alive() and not receive.poll(0):
                    process.join(1)
                    raise RuntimeError(describe_exit(process.exitcode))
        finally:
            receive.close()
            if process.is_alive():
                self._stop(process)

    def _stop(self, process: Any) -> None:
        process.terminate()
        process.join(self._grace_s)
        if process.is_alive():
            process.kill()
            process.join(5)


def _now() -> datetime:
    return datetime.now(UTC)


class JobManager:
    def __init__(
        self,
        runner: JobRunner | Runner,
        jobs_dir: Path,
        *,
        max_queued_per_task: int = 20,
        max_concurrent: int = 1,
        limits: JobLimits | None = None,
    ) -> None:
        self._limits = limits or JobLimits()
        self._runner: JobRunner = runner if hasattr(runner, "run") else InProcessRunner(runner)  # type: ignore[arg-type]
        self._dir = Path(jobs_dir)
        self._max_queued = max_queued_per_task
        self._slots = threading.BoundedSemaphore(max(1, max_concurrent))
        self._cancel: dict[str, threading.Event] = {}
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
            active = sum(j.status in ("queued", "running") for j in self._jobs.values())
            check_limits(tuning_budget, active, self._limits)
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

    def cancel(self, job_id: str, reason: str = "cancelled on request") -> Job:
        """A queued job leaves its queue; a running one has its process stopped. Finished jobs: 409."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise ScorelineError(ErrorCode.NOT_FOUND, f"no job {job_id!r}", {"job_id": job_id})
            if job.status in ("succeeded", "failed"):
                raise ScorelineError(
                    ErrorCode.CONFLICT, f"job {job_id} already {job.status}", {"job_id": job_id, "status": job.status}
                )
            if job.status == "queued":
                queue = self._queues.get(job.task)
                if queue is not None and job_id in queue:
                    queue.remove(job_id)
                job.status, job.stage, job.error, job.finished_at = "failed", "cancelled", reason, _now()
                self._save(job)
            else:
                self._cancel.setdefault(job_id, threading.Event()).set()
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
                job_id = queue[0]
            with self._slots:  # at most max_concurrent jobs train at once, whatever their task
                with self._lock:
                    if self._closed or not queue or queue[0] != job_id:
                        continue  # cancelled (or shut down) while waiting for a slot
                    job = self._jobs[queue.popleft()]
                    job.status, job.started_at, job.stage = "running", _now(), "starting"
                    self._save(job)
                    snapshot = job.model_copy(deep=True)
                    cancelled = self._cancel.setdefault(job.id, threading.Event())
                try:
                    self._run(job, snapshot, cancelled)
                finally:
                    with self._lock:
                        self._cancel.pop(job.id, None)

    def _run(self, job: Job, snapshot: Job, cancelled: threading.Event) -> None:
        def progress(fraction: float, stage: str) -> None:
            with self._lock:
                job.progress = round(min(max(float(fraction), job.progress), 1.0), 4)
                job.stage = stage

        result = attempt(self._runner, snapshot, progress, cancelled)
        with self._lock:
            result.apply(job)
            self._save(job)

    def _save(self, job: Job) -> None:
        """Called with the lock held."""
        write_job_record(self._dir, job)


@dataclass(frozen=True)
class JobResult:
    """How one run of a job ended: the outcome, or the status fields of a failure."""

    outcome: JobOutcome | None = None
    error: str | None = None
    stage: str = "failed"

    def apply(self, job: Job) -> None:
        job.finished_at = _now()
        if self.outcome is None:
            job.status, job.error, job.stage = "failed", self.error, self.stage
            return
        job.status, job.progress, job.stage = "succeeded", 1.0, "registered"
        job.metrics = dict(self.outcome.metrics)
        job.run_id, job.model_version = self.outcome.run_id, self.outcome.model_version
        job.holdout_window = dict(self.outcome.holdout_window)


def attempt(runner: JobRunner, job: Job, progress: Progress, cancelled: threading.Event) -> JobResult:
    """Run ``job`` with ``runner``; a stop (cancel, timeout) or any exception becomes a failed result with its
    reason. Shared by the trainer's ``JobManager`` and the one-job entry point of a Kubernetes Job (run_job)."""
    try:
        return JobResult(outcome=runner.run(job, progress, cancelled))
    except JobStopped as exc:
        log.warning("job %s (%s) stopped: %s", job.id, job.task, exc.message)
        return JobResult(error=exc.message, stage=exc.stage)
    except Exception as exc:
        message = exc.message if isinstance(exc, ScorelineError) else f"{type(exc).__name__}: {exc}"
        log.error("job %s (%s) failed: %s\n%s", job.id, job.task, message, traceback.format_exc())
        return JobResult(error=message)


def job_record_path(jobs_dir: Path, job_id: str) -> Path:
    return Path(jobs_dir) / f"{job_id}.json"


def write_job_record(jobs_dir: Path, job: Job) -> None:
    """The job's record in ``jobs_dir`` (what the trainer loads on start), written atomically: a temporary file,
    then a rename. A failed write is logged: the job goes on, only its record after a restart is at risk."""
    try:
        target = job_record_path(jobs_dir, job.id)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(".json.tmp")
        temporary.write_text(job.model_dump_json(), encoding="utf-8")
        temporary.replace(target)
    except OSError as exc:
        log.warning("could not write the record of job %s: %s", job.id, exc)


def read_job_record(jobs_dir: Path, job_id: str) -> Job | None:
    """The recorded job, None when there is no (readable) record yet."""
    try:
        return Job.model_validate_json(job_record_path(jobs_dir, job_id).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
