"""The trainer service as a real process: job lifecycle, queueing, failures, auth, errors, promotions."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from scoreline.lifecycle.registry import CHALLENGER, CHAMPION, Registry
from tests.mlflow_fixtures import TASK
from tests.services.trainer.conftest import Trainer, admin_headers, user_headers

pytestmark = pytest.mark.slow

JOB_TIMEOUT_S = 400


def wait_for(trainer: Trainer, job_id: str, statuses: tuple[str, ...] = ("succeeded", "failed")) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        job = httpx.get(f"{trainer.url}/v1/jobs/{job_id}", timeout=10).json()
        if job["status"] in statuses:
            return job
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} not {statuses} after {JOB_TIMEOUT_S}s: {job}")


def submit(trainer: Trainer, **body: Any) -> httpx.Response:
    return httpx.post(f"{trainer.url}/v1/jobs", json={"task": TASK, **body}, headers=user_headers(), timeout=30)


def test_jobs_run_one_at_a_time_and_register_challengers(trainer: Trainer, clean_registry: Registry):
    first = submit(trainer, dataset="simulated")
    second = submit(trainer, dataset="simulated", dataset_version=trainer.version)
    assert first.status_code == 202 and second.status_code == 202
    assert first.headers["location"].endswith(f"/v1/jobs/{first.json()['id']}")
    assert first.json()["dataset_version"] == trainer.version  # "latest" is resolved when the job is queued
    assert second.json()["status"] == "queued"

    running = wait_for(trainer, first.json()["id"], ("running", "succeeded"))
    assert running["status"] in ("running", "succeeded")
    if running["status"] == "running":
        assert httpx.get(f"{trainer.url}/v1/jobs/{second.json()['id']}").json()["status"] == "queued"

    done_first = wait_for(trainer, first.json()["id"])
    done_second = wait_for(trainer, second.json()["id"])
    assert done_first["status"] == done_second["status"] == "succeeded", (done_first["error"], done_second["error"])
    assert done_second["started_at"] >= done_first["finished_at"]
    assert done_first["progress"] == 1.0
    assert {"holdout_rps", "holdout_log_loss", "baseline_elo_rps", "baseline_base_rates_rps"} <= set(
        done_first["metrics"]
    )
    assert done_first["holdout_window"]["start"] < done_first["holdout_window"]["end"]

    versions = {v.version: v for v in clean_registry.versions(TASK)}
    assert set(versions) == {done_first["model_version"], done_second["model_version"]}
    assert versions[done_first["model_version"]].run_id == done_first["run_id"]
    assert clean_registry.aliases(TASK)[CHALLENGER] == done_second["model_version"]

    listed = httpx.get(f"{trainer.url}/v1/jobs", params={"task": TASK, "status": "succeeded"}).json()["jobs"]
    assert {done_first["id"], done_second["id"]} <= {job["id"] for job in listed}


def test_failed_training_leaves_a_failed_job_and_no_version(trainer: Trainer, clean_registry: Registry):
    response = submit(trainer, dataset="tiny")
    assert response.status_code == 202
    job = wait_for(trainer, response.json()["id"])
    assert job["status"] == "failed"
    assert "holdout" in job["error"]
    assert job["model_version"] is None
    assert clean_registry.versions(TASK) == []


def test_writes_need_the_api_key_and_promotions_the_admin_key(trainer: Trainer):
    body = {"task": TASK, "dataset": "simulated"}
    assert httpx.post(f"{trainer.url}/v1/jobs", json=body).status_code == 401
    wrong = httpx.post(f"{trainer.url}/v1/jobs", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "forbidden"
    as_user = httpx.post(f"{trainer.url}/v1/promotions/{TASK}", json={}, headers=user_headers())
    assert as_user.status_code == 403
    assert httpx.get(f"{trainer.url}/v1/promotions/{TASK}").status_code == 401


@pytest.mark.parametrize(
    ("body", "status", "where"),
    [
        ({"task": "curling", "dataset": "simulated"}, 404, "task"),
        ({"task": TASK, "dataset": "nothing-here"}, 404, "dataset"),
        ({"task": TASK, "dataset": "simulated", "dataset_version": "0" * 16}, 404, "version"),
        ({"task": TASK, "dataset": "simulated", "holdout_start": "last spring"}, 422, "holdout_start"),
        ({"task": TASK, "dataset": "simulated", "tuning_budget": {"trials": 0}}, 422, "trials"),
        ({"task": TASK, "dataset": "simulated", "tuning_budget": {"trials": 10_000}}, 422, "maximum of 100"),
        ({"task": TASK, "dataset": "simulated", "tuning_budget": {"trials": 5, "seconds": 86_400}}, 422, "maximum"),
        ({"task": TASK, "dataset": "Not A Slug!"}, 422, "dataset"),
        ({"task": TASK}, 422, "dataset"),
    ],
)
def test_bad_job_requests_are_4xx_with_json_errors(trainer: Trainer, body: dict, status: int, where: str):
    response = httpx.post(f"{trainer.url}/v1/jobs", json=body, headers=user_headers())
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert where in (error["message"] + str(error["details"]))


def test_unknown_job_is_404(trainer: Trainer):
    response = httpx.get(f"{trainer.url}/v1/jobs/does-not-exist")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_promotion_endpoints_decide_record_and_refuse(trainer: Trainer, clean_registry: Registry):
    nothing = httpx.post(f"{trainer.url}/v1/promotions/{TASK}", json={"actor": "ci"}, headers=admin_headers())
    assert nothing.status_code == 200 and nothing.json()["decision"] == "unchanged"

    job = wait_for(trainer, submit(trainer, dataset="simulated").json()["id"])
    assert job["status"] == "succeeded", job["error"]
    decided = httpx.post(
        f"{trainer.url}/v1/promotions/{TASK}",
        json={"mode": "manual", "actor": "ci", "baseline": "base_rates"},
        headers=admin_headers(),
        timeout=120,
    )
    assert decided.status_code == 200, decided.text
    decision = decided.json()
    assert decision["decision"] == "pending_approval", decision["reason"]
    assert decision["challenger_version"] == job["model_version"] and decision["champion_version"] is None

    approved = httpx.post(
        f"{trainer.url}/v1/promotions/{TASK}/approve",
        json={"version": job["model_version"], "actor": "alice"},
        headers=admin_headers(),
    )
    assert approved.status_code == 200 and approved.json()["decision"] == "promoted"
    assert clean_registry.aliases(TASK)[CHAMPION] == job["model_version"]

    history = httpx.get(f"{trainer.url}/v1/promotions/{TASK}", headers=admin_headers()).json()
    assert history["aliases"][CHAMPION] == job["model_version"]
    assert {(e["event"], e["by"]) for e in history["events"]} >= {("approved", "alice"), ("decision", "ci")}

    no_previous = httpx.post(f"{trainer.url}/v1/promotions/{TASK}/rollback", json={}, headers=admin_headers())
    assert no_previous.status_code == 409
    unknown = httpx.post(
        f"{trainer.url}/v1/promotions/{TASK}/approve", json={"version": "999", "actor": "a"}, headers=admin_headers()
    )
    assert unknown.status_code == 404
    bad_mode = httpx.post(f"{trainer.url}/v1/promotions/{TASK}", json={"mode": "yolo"}, headers=admin_headers())
    assert bad_mode.status_code == 422
    assert httpx.post(f"{trainer.url}/v1/promotions/curling", json={}, headers=admin_headers()).status_code == 404
