"""Training jobs in their own processes: a native crash fails the job with the reason and leaves the trainer
healthy; a job can be cancelled and times out; at most SCORELINE_MAX_CONCURRENT_JOBS train at once.

The trainer runs as a real process (``python -m scoreline_trainer``) with test-only task plug-ins
(tests/crash_task.py) that abort or sleep while building features, i.e. inside the job's child process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scoreline.data.datasets import DatasetCatalog
from scoreline.data.storage import LocalStore
from tests.servers import REPO, VENV_BIN, ServerProcess, free_port

pytestmark = pytest.mark.slow

PLUGINS = "tests.crash_task:CrashOnTrainTask,tests.crash_task:SlowTrainTask"
API_KEY = "jobs-test-api-key"
TIMEOUT_S = 20.0  # the cancel test stops its slow job within a few seconds of its start; this one waits it out
HEADERS = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def trainer(tmp_path_factory: pytest.TempPathFactory, logs_dir: Path) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("trainer-processes")
    store = root / "store"
    import os

    previous = os.environ.get("SCORELINE_TASK_PLUGINS")
    os.environ["SCORELINE_TASK_PLUGINS"] = PLUGINS  # so that this process's catalog knows the plug-in tasks
    try:
        from scoreline.tasks import get_task

        catalog = DatasetCatalog(LocalStore(store))
        for task_id in ("crash-on-train", "slow-on-train"):
            content, filename = get_task(task_id).simulated_file(400, 3)
            catalog.ingest(task_id, "sim", content, filename)
    finally:
        if previous is None:
            os.environ.pop("SCORELINE_TASK_PLUGINS", None)
        else:
            os.environ["SCORELINE_TASK_PLUGINS"] = previous
    port = free_port()
    env = {
        "SCORELINE_TRAINER_PORT": str(port),
        "SCORELINE_STORAGE_URI": f"file://{store}",
        "SCORELINE_MLFLOW_URI": f"sqlite:///{root / 'mlflow.db'}",  # never reached: the jobs die before
        "SCORELINE_API_KEY": API_KEY,
        "SCORELINE_ADMIN_KEY": "jobs-test-admin-key",
        "SCORELINE_JOBS_DIR": str(root / "jobs"),
        "SCORELINE_TASK_PLUGINS": PLUGINS,
        "SCORELINE_JOB_TIMEOUT_S": str(TIMEOUT_S),
        "SCORELINE_MAX_CONCURRENT_JOBS": "1",
        "PYTHONPATH": str(REPO),
        "MPLBACKEND": "Agg",
    }
    server = ServerProcess("trainer", [str(VENV_BIN / "python"), "-m", "scoreline_trainer"], port, env=env,
                           log_path=logs_dir / "trainer-processes.log", cwd=REPO)  # fmt: skip
    with server.start(timeout_s=120):
        yield server


def _submit(trainer: ServerProcess, task: str) -> str:
    response = httpx.post(f"{trainer.url}/v1/jobs", json={"task": task, "dataset": "sim"}, headers=HEADERS)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _job(trainer: ServerProcess, job_id: str) -> dict[str, Any]:
    return httpx.get(f"{trainer.url}/v1/jobs/{job_id}", headers=HEADERS).json()


def _wait(trainer: ServerProcess, job_id: str, status: set[str], timeout_s: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = _job(trainer, job_id)
        if job["status"] in status:
            return job
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} is still {_job(trainer, job_id)['status']} after {timeout_s}s")


def test_a_crashing_job_fails_with_the_reason_and_the_trainer_stays_healthy(trainer: ServerProcess) -> None:
    job = _wait(trainer, _submit(trainer, "crash-on-train"), {"succeeded", "failed"})
    assert job["status"] == "failed"
    assert "SIGABRT" in job["error"] and "native crash" in job["error"], job["error"]
    assert trainer.process is not None and trainer.process.poll() is None  # the service process lives on
    assert httpx.get(f"{trainer.url}/healthz").status_code == 200
    # and it still takes (and fails the same way) the next job
    again = _wait(trainer, _submit(trainer, "crash-on-train"), {"succeeded", "failed"})
    assert again["status"] == "failed" and "SIGABRT" in again["error"]


def test_jobs_are_cancelled_and_the_concurrency_limit_holds(trainer: ServerProcess) -> None:
    slow = _submit(trainer, "slow-on-train")
    _wait(trainer, slow, {"running"})
    waiting = _submit(trainer, "crash-on-train")  # another task: it waits for the one slot
    time.sleep(2.0)
    assert _job(trainer, waiting)["status"] == "queued"
    assert httpx.delete(f"{trainer.url}/v1/jobs/{slow}").status_code == 401  # a write route: the API key
    response = httpx.delete(f"{trainer.url}/v1/jobs/{slow}", headers=HEADERS)
    assert response.status_code == 200, response.text
    cancelled = _wait(trainer, slow, {"succeeded", "failed"}, timeout_s=30)
    assert (cancelled["status"], cancelled["stage"]) == ("failed", "cancelled")
    assert "cancelled" in cancelled["error"]
    assert _wait(trainer, waiting, {"succeeded", "failed"})["status"] == "failed"  # ran once the slot was free
    assert httpx.delete(f"{trainer.url}/v1/jobs/{slow}", headers=HEADERS).status_code == 409
    queued = _submit(trainer, "slow-on-train")
    second = _submit(trainer, "slow-on-train")  # same task: queued behind the first
    assert httpx.delete(f"{trainer.url}/v1/jobs/{second}", headers=HEADERS).status_code == 200
    assert _job(trainer, second)["stage"] == "cancelled"
    httpx.delete(f"{trainer.url}/v1/jobs/{queued}", headers=HEADERS)
    _wait(trainer, queued, {"failed"}, timeout_s=30)


def test_a_job_that_runs_too_long_times_out(trainer: ServerProcess) -> None:
    job = _wait(trainer, _submit(trainer, "slow-on-train"), {"succeeded", "failed"}, timeout_s=TIMEOUT_S + 60)
    assert (job["status"], job["stage"]) == ("failed", "timed_out")
    assert f"timed out after {TIMEOUT_S:g} s" in job["error"]
    assert httpx.get(f"{trainer.url}/healthz").status_code == 200
