"""One training job to its end, outside the trainer service: what a Kubernetes Job's pod runs
(deploy/k8s/trainer-job.template.yaml) for a ``KubernetesJobRunner``.

    python -m scoreline_trainer.run_job --job '<the job record as JSON>'    (or --job @path/to/job.json)

The job trains in a child process of this one, exactly as under the trainer's ``ProcessRunner``: a native crash or an
out-of-memory kill of the child fails the job with its cause instead of leaving it "running". Every status change
(running, progress, succeeded or failed with the reason) is written to ``SCORELINE_JOBS_DIR/<id>.json`` in the
trainer's record format, where the trainer reads it (the shared volume). ``SIGTERM`` (``kubectl delete job``, the
pod's deadline) stops the child and records the job as cancelled. Exit status: 0 succeeded, 1 failed, 2 a job
record that cannot be read.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from scoreline_trainer.jobs import Job, JobRunner, ProcessRunner, attempt, write_job_record
from scoreline_trainer.settings import TrainerSettings
from scoreline_trainer.training import TrainJob

log = logging.getLogger("scoreline.trainer.run_job")
PROGRESS_WRITE_EVERY_S = 2.0  # progress changes are frequent; the record is rewritten at most this often


def parse_job(text: str) -> Job:
    """The job record from ``--job``: JSON, or ``@path`` to a file holding it."""
    if text.startswith("@"):
        text = Path(text[1:]).read_text(encoding="utf-8")
    return Job.model_validate_json(text)


def run_recorded(job: Job, runner: JobRunner, jobs_dir: Path, cancelled: threading.Event) -> Job:
    """Run ``job`` with ``runner``, recording it in ``jobs_dir`` as it goes; the finished job."""
    started = {"status": "running", "stage": "starting", "started_at": datetime.now(UTC), "error": None}
    job = job.model_copy(update=started)
    write_job_record(jobs_dir, job)
    last_write = time.monotonic()

    def progress(fraction: float, stage: str) -> None:
        nonlocal last_write
        job.progress = round(min(max(float(fraction), job.progress), 1.0), 4)
        job.stage = stage
        if time.monotonic() - last_write >= PROGRESS_WRITE_EVERY_S:
            write_job_record(jobs_dir, job)
            last_write = time.monotonic()

    result = attempt(runner, job.model_copy(deep=True), progress, cancelled)
    result.apply(job)
    write_job_record(jobs_dir, job)
    return job


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scoreline_trainer.run_job", description=__doc__.split("\n")[0])
    parser.add_argument("--job", required=True, help="the job record as JSON (id, task, dataset, dataset_version, "
                        "created_at, ...), or @file")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        job = parse_job(args.job)
    except (OSError, ValidationError) as exc:
        print(f"run_job: expected --job to be a trainer job record as JSON (or @file): {exc}", file=sys.stderr)
        return 2
    settings = TrainerSettings()
    cancelled = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: cancelled.set())
    runner = ProcessRunner(TrainJob(settings), timeout_s=settings.job_timeout_s)
    finished = run_recorded(job, runner, settings.jobs_dir, cancelled)
    log.info("job %s (%s): %s%s", finished.id, finished.task, finished.status,
             f": {finished.error}" if finished.error else f", model version {finished.model_version}")  # fmt: skip
    return 0 if finished.status == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
