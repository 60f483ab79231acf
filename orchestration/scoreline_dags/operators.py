"""Airflow pieces of the training DAG: a deferrable wait on a trainer job and the approval gate.

Waiting on a training job runs in the triggerer (one asyncio loop for every waiting job), so no worker
slot is held while XGBoost trains in the trainer service.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowSkipException
from airflow.triggers.base import BaseTrigger, TriggerEvent

from scoreline_dags import steps
from scoreline_dags.settings import OrchestrationSettings


class TrainerJobTrigger(BaseTrigger):
    """Polls ``GET /v1/jobs/{id}`` until the job succeeds or fails, or ``timeout_s`` passes."""

    def __init__(self, trainer_url: str, job_id: str, poll_interval_s: float, timeout_s: float) -> None:
        super().__init__()
        self.trainer_url = trainer_url
        self.job_id = job_id
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "trainer_url": self.trainer_url,
                "job_id": self.job_id,
                "poll_interval_s": self.poll_interval_s,
                "timeout_s": self.timeout_s,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = time.monotonic() + self.timeout_s
        url = f"{self.trainer_url.rstrip('/')}/v1/jobs/{self.job_id}"
        # The API key is read where the trigger runs (the triggerer's SCORELINE_API_KEY), never stored with it.
        key = OrchestrationSettings().api_key
        headers = {"Authorization": f"Bearer {key.get_secret_value()}"} if key is not None else {}
        async with httpx.AsyncClient(timeout=30.0, headers=headers) as client:
            while time.monotonic() < deadline:
                try:
                    response = await client.get(url)
                    if response.is_success:
                        job = response.json()
                        if job.get("status") in steps.JOB_DONE:
                            yield TriggerEvent({"job": job})
                            return
                    elif response.status_code < 500:
                        yield TriggerEvent({"error": f"GET {url} answered {response.status_code}: {response.text}"})
                        return
                except httpx.TransportError as exc:
                    # The trainer restarting is no reason to fail a long training; keep polling.
                    self.log.warning("trainer unreachable while waiting for job %s: %s", self.job_id, exc)
                await asyncio.sleep(self.poll_interval_s)
        yield TriggerEvent({"error": f"trainer job {self.job_id} not finished within {self.timeout_s:.0f}s"})


class WaitForTrainerJob(BaseOperator):
    """Defers until the trainer job (its id from the ``train`` task) is done; returns the finished job."""

    def __init__(self, *, start_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_task_id = start_task_id

    def execute(self, context: Context) -> dict[str, Any]:
        settings = OrchestrationSettings()
        job = context["ti"].xcom_pull(task_ids=self.start_task_id)
        if job.get("status") in steps.JOB_DONE:
            return steps.finished_job(job)
        self.log.info("waiting for trainer job %s in the triggerer (no worker slot held)", job["id"])
        self.defer(
            trigger=TrainerJobTrigger(
                trainer_url=settings.trainer_url,
                job_id=str(job["id"]),
                poll_interval_s=settings.train_poll_interval_s,
                timeout_s=settings.train_timeout_s,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        if "error" in event:
            raise steps.ServiceError("trainer", event["error"])
        return steps.finished_job(event["job"])


class PromotionApproval(ApprovalOperator):
    """Airflow's human-in-the-loop approval, asked only when the decision is ``pending_approval``."""

    def __init__(self, *, decide_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.decide_task_id = decide_task_id

    def execute(self, context: Context) -> Any:
        decision = context["ti"].xcom_pull(task_ids=self.decide_task_id) or {}
        if decision.get("decision") != steps.PENDING_APPROVAL:
            raise AirflowSkipException(f"no approval needed: decision is {decision.get('decision')}")
        self.log.info(
            "waiting for a human to approve version %s over champion %s",
            decision.get("challenger_version"),
            decision.get("champion_version"),
        )
        return super().execute(context)
