"""What each step of a training DAG does, as plain functions over the services' HTTP APIs.

No Airflow import here: the DAG factory wires these into tasks, and they log what they decided and why.
Every call goes through ``scoreline_client`` (bounded retries with exponential backoff on connection
errors, timeouts, 408/425/429 and 5xx; any other 4xx fails at once as a ``ServiceError``).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from scoreline_client import ScorelineClients, ServiceError, ServiceHttp

from scoreline_dags.settings import OrchestrationSettings

log = logging.getLogger("scoreline.orchestration")

PROMOTED = "promoted"
REJECTED = "rejected"
PENDING_APPROVAL = "pending_approval"
UNCHANGED = "unchanged"
JOB_DONE = frozenset({"succeeded", "failed"})

__all__ = ["JOB_DONE", "PENDING_APPROVAL", "PROMOTED", "REJECTED", "UNCHANGED", "ServiceError", "Services"]


@dataclass(frozen=True)
class Services:
    """The service clients of one task run, built from ``OrchestrationSettings``."""

    settings: OrchestrationSettings

    @cached_property
    def clients(self) -> ScorelineClients:
        s = self.settings
        return ScorelineClients.build(
            ingest_url=s.ingest_url,
            trainer_url=s.trainer_url,
            model_api_url=s.model_api_url,
            api_key=s.api_key,
            admin_key=s.admin_key,
            **self.retry_policy,
        )

    @property
    def retry_policy(self) -> dict[str, Any]:
        s = self.settings
        return {"timeout_s": s.http_timeout_s, "attempts": s.http_attempts, "backoff_s": s.http_backoff_s}


def pull(
    services: Services, task: str, dataset: str, source_urls: list[str], requested_version: str | None
) -> dict[str, Any]:
    """Ask ingest to pull every configured URL, then settle on the dataset version to train on.

    The version named by the trigger (ingest's notifier puts it in the run's conf) wins; otherwise the
    last URL pulled, otherwise the latest version ingest already holds (None → the trainer picks).
    """
    pulled: list[dict[str, Any]] = []
    for url in source_urls:
        ingested = services.clients.ingest.pull_url(task, dataset, url)
        manifest = ingested.manifest
        pulled.append({"url": url, "version": manifest.version, "new": ingested.created, "rows": manifest.rows})
        log.info(
            "pull %s → %s version %s (%s rows)",
            url,
            "NEW" if ingested.created else "unchanged",
            manifest.version,
            manifest.rows,
        )
    version = requested_version
    if version:
        log.info("training on dataset version %s named by the trigger", version)
    elif pulled:
        version = pulled[-1]["version"]
        log.info("training on dataset version %s just pulled", version)
    else:
        version = latest_version(services, task, dataset)
        log.info("no source URL configured; training on the latest version ingest holds: %s", version)
    return {"task": task, "dataset": dataset, "version": version, "pulled": pulled}


def latest_version(services: Services, task: str, dataset: str) -> str | None:
    latest = services.clients.ingest.latest_version(task, dataset)
    return None if latest is None else latest.version


def tuning_budget(trials: int | None, seconds: float | None) -> dict[str, Any] | None:
    """The trainer's ``tuning_budget`` from the DAG params; None (no tuning) for no or zero trials."""
    if not trials:
        return None
    return {"trials": int(trials), **({"seconds": float(seconds)} if seconds else {})}


def job_key(
    task: str, dataset: str, version: str | None, holdout_start: str | None, tuning: dict[str, Any] | None = None
) -> str:
    """Stable key of "this training": the same task, data, window and tuning budget never trains twice."""
    raw = f"{task}|{dataset}|{version or 'latest'}|{holdout_start or ''}"
    if tuning:
        raw += f"|tuning {tuning.get('trials')}/{tuning.get('seconds')}"
    return "scoreline_train_job_" + hashlib.sha256(raw.encode()).hexdigest()[:16]


def start_training(
    services: Services,
    task: str,
    dataset: str,
    version: str | None,
    holdout_start: str | None,
    known_job_id: str | None,
    tuning: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Start a trainer job, or reuse the one already started for the same key unless it failed."""
    trainer = services.clients.trainer
    if known_job_id:
        found = trainer.find_job(known_job_id)
        if found is not None:
            job = found.model_dump(mode="json")
            if job.get("status") != "failed":
                log.info(
                    "reusing trainer job %s (status %s) for dataset %s version %s: no duplicate model version",
                    known_job_id,
                    job.get("status"),
                    dataset,
                    version,
                )
                return job
            log.info(
                "previous job %s for this dataset version failed (%s); starting a new one",
                known_job_id,
                job.get("error"),
            )
    job = trainer.submit_job(task, dataset, version, holdout_start=holdout_start, tuning_budget=tuning).model_dump(
        mode="json"
    )
    log.info("started trainer job %s for %s on %s version %s", job.get("id"), task, dataset, version)
    return job


def job_status(services: Services, job_id: str) -> dict[str, Any]:
    return services.clients.trainer.job(job_id).model_dump(mode="json")


def finished_job(job: dict[str, Any]) -> dict[str, Any]:
    """The job of a finished training, or an error naming why it failed."""
    if job.get("status") != "succeeded":
        raise ServiceError("trainer", f"trainer job {job.get('id')} ended {job.get('status')}: {job.get('error')}")
    log.info(
        "trainer job %s succeeded: model version %s, metrics %s",
        job.get("id"),
        job.get("model_version"),
        job.get("metrics"),
    )
    return job


def decide(services: Services, task: str, mode: str, actor: str, margin: float | None = None) -> dict[str, Any]:
    """The trainer's promotion decision; ``margin`` None = the trainer's own setting."""
    decision = services.clients.trainer.decide(task, mode=mode, actor=actor, margin=margin).model_dump(mode="json")
    log.info(
        "promotion decision for %s (%s mode): %s — %s (champion %s, challenger %s, metrics %s)",
        task,
        mode,
        decision.get("decision"),
        decision.get("reason"),
        decision.get("champion_version"),
        decision.get("challenger_version"),
        decision.get("metrics"),
    )
    return decision


def promote(services: Services, task: str, decision: dict[str, Any], actor: str) -> dict[str, Any] | None:
    """Make the challenger the champion when the decision calls for it; None when nothing changes."""
    outcome = decision.get("decision")
    if outcome == PENDING_APPROVAL:
        version = decision.get("challenger_version")
        result = services.clients.trainer.approve(task, str(version), actor)
        log.info("approved by %s: version %s of %s is champion now", actor, version, task)
        return {"champion_version": str(result.champion_version or version), "via": "approval"}
    if outcome == PROMOTED:
        log.info("the policy promoted version %s of %s in auto mode", decision.get("champion_version"), task)
        return {"champion_version": str(decision.get("champion_version")), "via": "policy"}
    log.info("nothing to promote: decision %s (%s)", outcome, decision.get("reason"))
    return None


def reload_and_wait(services: Services, task: str, expected_version: str) -> str:
    """Make model-api reload and wait until every worker serves ``expected_version``; fail loudly if it never does."""
    model_api = services.clients.model_api
    answer = model_api.reload(task)
    log.info("model-api reload of %s answered: %s", task, answer)
    version = model_api.wait_until_served(
        task,
        expected_version,
        timeout_s=services.settings.reload_timeout_s,
        poll_s=services.settings.reload_poll_interval_s,
    )
    log.info("model-api serves version %s of %s", version, task)
    return version


def summary_message(dag_id: str, run_id: str, task: str, facts: dict[str, Any]) -> dict[str, Any]:
    """A Slack-compatible message (``text`` plus ``blocks``) summarising one run."""
    decision = facts.get("decision") or {}
    failed = facts.get("failed_tasks") or []
    headline = (
        f"Scoreline {task}: FAILED at {', '.join(failed)}"
        if failed
        else f"Scoreline {task}: {decision.get('decision', 'no decision')} — {decision.get('reason', '')}".rstrip(" —")
    )
    lines = [
        f"*run* `{dag_id}` / `{run_id}`",
        f"*dataset* {facts.get('dataset')} version {facts.get('dataset_version')}",
        f"*challenger* {decision.get('challenger_version')}  *champion* {decision.get('champion_version')}",
        f"*served* {facts.get('served_version')}",
    ]
    if decision.get("metrics"):
        lines.append(f"*metrics* {decision['metrics']}")
    return {
        "text": headline,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": headline[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        ],
    }


def alert_message(dag_id: str, run_id: str, summary: dict[str, Any]) -> dict[str, Any]:
    """A Slack-compatible message (``text`` plus ``blocks``) for a monitor run whose alert rule holds."""
    tasks = summary.get("tasks") or {}
    alerting = list(summary.get("alert_tasks") or [])
    headline = f"Scoreline monitor: drift alert for {', '.join(alerting)}; retraining"
    lines = [f"*run* `{dag_id}` / `{run_id}` (monitor run {summary.get('run_id')})"]
    lines += [f"*{task}* {(tasks.get(task) or {}).get('reason') or 'alert'}" for task in alerting]
    return {
        "text": headline,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": headline[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        ],
    }


def post_webhook(services: Services, url: str, message: dict[str, Any]) -> None:
    ServiceHttp("notify webhook", url, setting="SCORELINE_NOTIFY_WEBHOOK_URL", **services.retry_policy).request(
        "POST", url, json=message
    )
    log.info("posted the run summary to the webhook: %s", message["text"])
