"""The Kubernetes Job's entry point (``python -m scoreline_trainer.run_job``) run as a local subprocess: it trains one
job, records it where the trainer reads job records, and fails a crashed or stopped job with its reason."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scoreline_trainer.jobs import Job, JobManager, read_job_record

from scoreline.data.datasets import DatasetCatalog
from scoreline.data.storage import LocalStore
from scoreline.tasks import get_task
from tests.mlflow_fixtures import TASK, simulated_csv
from tests.servers import REPO, VENV_BIN, ServerProcess

pytestmark = pytest.mark.slow

PLUGINS = "tests.crash_task:CrashOnTrainTask,tests.crash_task:SlowTrainTask"


def _job(task: str, dataset: str, version: str) -> Job:
    return Job(id=uuid.uuid4().hex, task=task, dataset=dataset, dataset_version=version, created_at=datetime.now(UTC))


def _env(store: Path, jobs: Path, mlflow_uri: str) -> dict[str, str]:
    return {
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "HOME": str(store.parent),
        "PYTHONPATH": str(REPO),  # the test-only task plug-ins
        "SCORELINE_TASK_PLUGINS": PLUGINS,
        "SCORELINE_STORAGE_URI": f"file://{store}",
        "SCORELINE_MLFLOW_URI": mlflow_uri,
        "SCORELINE_JOBS_DIR": str(jobs),
        "MPLBACKEND": "Agg",
    }


def _run_job(job: Job, env: dict[str, str], timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / "python"), "-m", "scoreline_trainer.run_job", "--job", job.model_dump_json()],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=timeout_s,
    )  # fmt: skip


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DatasetCatalog:
    monkeypatch.setenv("SCORELINE_TASK_PLUGINS", PLUGINS)
    return DatasetCatalog(LocalStore(tmp_path / "store"))


def test_a_job_trains_registers_and_is_recorded_where_the_trainer_reads_it(
    store: DatasetCatalog, tmp_path: Path, mlflow_sqlite: ServerProcess
) -> None:
    version = store.ingest(TASK, "simulated", simulated_csv(2_000, seed=4), "sim.csv").manifest.version
    job = _job(TASK, "simulated", version)
    jobs = tmp_path / "jobs"

    result = _run_job(job, _env(tmp_path / "store", jobs, mlflow_sqlite.url))

    assert result.returncode == 0, result.stderr[-3000:]
    recorded = read_job_record(jobs, job.id)
    assert recorded is not None and recorded.status == "succeeded", recorded
    assert recorded.model_version and recorded.run_id and recorded.metrics
    assert recorded.started_at is not None and recorded.finished_at is not None
    manager = JobManager(lambda *_: None, jobs)  # type: ignore[arg-type, return-value]
    manager.start()  # what the trainer does on start: load the records of jobs_dir
    assert manager.get(job.id).model_version == recorded.model_version


def test_a_native_crash_fails_the_job_with_its_cause(store: DatasetCatalog, tmp_path: Path) -> None:
    content, filename = get_task("crash-on-train").simulated_file(300, 3)
    version = store.ingest("crash-on-train", "sim", content, filename).manifest.version
    job = _job("crash-on-train", "sim", version)
    jobs = tmp_path / "jobs"

    result = _run_job(job, _env(tmp_path / "store", jobs, f"sqlite:///{tmp_path / 'never.db'}"))

    assert result.returncode == 1, result.stderr[-3000:]
    recorded = read_job_record(jobs, job.id)
    assert recorded is not None and recorded.status == "failed"
    assert "SIGABRT" in (recorded.error or "") and "native crash" in (recorded.error or ""), recorded.error


def test_sigterm_stops_the_training_and_records_the_job_cancelled(store: DatasetCatalog, tmp_path: Path) -> None:
    """``kubectl delete job`` (or the pod's deadline) sends SIGTERM."""
    content, filename = get_task("slow-on-train").simulated_file(300, 3)
    version = store.ingest("slow-on-train", "sim", content, filename).manifest.version
    job = _job("slow-on-train", "sim", version)
    jobs = tmp_path / "jobs"
    process = subprocess.Popen(
        [str(VENV_BIN / "python"), "-m", "scoreline_trainer.run_job", "--job", job.model_dump_json()],
        env=_env(tmp_path / "store", jobs, f"sqlite:///{tmp_path / 'never.db'}"), cwd=REPO,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            recorded = read_job_record(jobs, job.id)
            if recorded is not None and recorded.status == "running":
                break
            time.sleep(0.2)
        time.sleep(3)  # into the child's training
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)

    assert process.returncode == 1, stderr[-3000:]
    recorded = read_job_record(jobs, job.id)
    assert recorded is not None and (recorded.status, recorded.stage) == ("failed", "cancelled"), recorded


def test_an_unreadable_job_record_is_refused_with_what_was_expected() -> None:
    bad = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "scoreline_trainer.run_job", "--job", '{"task": "match-outcome"}'],
        cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "expected --job to be a trainer job record as JSON" in bad.stderr
