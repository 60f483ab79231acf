"""What each step of a training DAG does, as plain functions over the services' HTTP APIs.

No Airflow import here: the DAG factory wires these into tasks, and they log what they decided and why.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scoreline_dags.http import ServiceCallError, bearer, call
from scoreline_dags.settings import OrchestrationSettings

log = logging.getLogger("scoreline.orchestration")

PROMOTED = "promoted"
REJECTED = "rejected"
PENDING_APPROVAL = "pending_approval"
UNCHANGED = "unchanged"
JOB_DONE = frozenset({"succeeded", "failed"})


@dataclass(frozen=True)
class Services:
    settings: OrchestrationSettings

    def request(self, method: str, url: str, *, admin: bool = False, **kwargs: Any) -> Any:
        key = self.settings.admin_key if admin else self.settings.api_key
        response = call(
            method,
            url,
            headers=bearer(key),
            attempts=self.settings.http_attempts,
            backoff_s=self.settings.http_backoff_s,
            timeout_s=self.settings.http_timeout_s,
            **kwargs,
        )
        return response

    @property
    def ingest(self) -> str:
        return self.settings.ingest_url.rstrip("/")

    @property
    def trainer(self) -> str:
        return self.settings.trainer_url.rstrip("/")

    @property
    def model_api(self) -> str:
        return self.settings.model_api_url.rstrip("/")


def pull(
    services: Services, task: str, dataset: str, source_urls: list[str], requested_version: str | None
) -> dict[str, Any]:
    """Ask ingest to pull every configured URL, then settle on the dataset version to train on.

    The version named by the trigger (ingest's notifier puts it in the run's conf) wins; otherwise the
    last URL pulled, otherwise the latest version ingest already holds (None → the trainer picks).
    """
    pulled: list[dict[str, Any]] = []
    for url in source_urls:
        response = services.request("POST", f"{services.ingest}/v1/datasets/{task}/{dataset}", json={"url": url})
        manifest = response.json()
        is_new = response.status_code == 201
        pulled.append({"url": url, "version": manifest.get("version"), "new": is_new, "rows": manifest.get("rows")})
        log.info(
            "pull %s → %s version %s (%s rows)",
            url,
            "NEW" if is_new else "unchanged",
            manifest.get("version"),
            manifest.get("rows"),
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
    response = services.request(
        "GET", f"{services.ingest}/v1/datasets/{task}/{dataset}/versions", ok_statuses=frozenset({404})
    )
    if response.status_code == 404:
        return None
    body = response.json()
    versions = body.get("versions", body) if isinstance(body, dict) else body
    if not versions:
        return None
    # Newest last by created_at; entries are manifests (dicts) or bare version strings.
    entries = sorted(
        (v if isinstance(v, dict) else {"version": v, "created_at": ""} for v in versions),
        key=lambda manifest: str(manifest.get("created_at", "")),
    )
    return entries[-1]["version"]


def job_key(task: str, dataset: str, version: str | None, holdout_start: str | None) -> str:
    """Stable key of "this training": the same task, data and window never trains twice."""
    raw = f"{task}|{dataset}|{version or 'latest'}|{holdout_start or ''}"
    return "scoreline_train_job_" + hashlib.sha256(raw.encode()).hexdigest()[:16]


def start_training(
    services: Services,
    task: str,
    dataset: str,
    version: str | None,
    holdout_start: str | None,
    known_job_id: str | None,
) -> dict[str, Any]:
    """Start a trainer job, or reuse the one already started for the same key unless it failed."""
    if known_job_id:
        response = services.request("GET", f"{services.trainer}/v1/jobs/{known_job_id}", ok_statuses=frozenset({404}))
        if response.status_code != 404:
            job = response.json()
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
    body: dict[str, Any] = {"task": task, "dataset": dataset}
    if version:
        body["dataset_version"] = version
    if holdout_start:
        body["holdout_start"] = holdout_start
    job = services.request("POST", f"{services.trainer}/v1/jobs", json=body).json()
    log.info("started trainer job %s for %s on %s version %s", job.get("id"), task, dataset, version)
    return job


def job_status(services: Services, job_id: str) -> dict[str, Any]:
    return services.request("GET", f"{services.trainer}/v1/jobs/{job_id}").json()


def finished_job(job: dict[str, Any]) -> dict[str, Any]:
    """The job of a finished training, or an error naming why it failed."""
    if job.get("status") != "succeeded":
        raise ServiceCallError(f"trainer job {job.get('id')} ended {job.get('status')}: {job.get('error')}")
    log.info(
        "trainer job %s succeeded: model version %s, metrics %s",
        job.get("id"),
        job.get("model_version"),
        job.get("metrics"),
    )
    return job


def decide(services: Services, task: str, mode: str, actor: str) -> dict[str, Any]:
    decision = services.request(
        "POST", f"{services.trainer}/v1/promotions/{task}", admin=True, json={"mode": mode, "actor": actor}
    ).json()
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
        result = services.request(
            "POST",
            f"{services.trainer}/v1/promotions/{task}/approve",
            admin=True,
            json={"version": version, "actor": actor},
        ).json()
        log.info("approved by %s: version %s of %s is champion now", actor, version, task)
        return {"champion_version": str(result.get("champion_version") or version), "via": "approval"}
    if outcome == PROMOTED:
        log.info("the policy promoted version %s of %s in auto mode", decision.get("champion_version"), task)
        return {"champion_version": str(decision.get("champion_version")), "via": "policy"}
    log.info("nothing to promote: decision %s (%s)", outcome, decision.get("reason"))
    return None


def served_models(services: Services) -> dict[str, dict[str, Any]]:
    """Task id → what model-api reports serving for it (``GET /v1/models``: version, last reload error...)."""
    body = services.request("GET", f"{services.model_api}/v1/models").json()
    return {entry["task"]: entry for entry in body.get("models", [])}


def reload_and_wait(
    services: Services, task: str, expected_version: str, *, sleep: Callable[[float], None] = time.sleep
) -> str:
    """Make model-api reload and wait until it serves ``expected_version``; fail loudly if it never does."""
    answer = services.request("POST", f"{services.model_api}/v1/admin/reload?task={task}", admin=True).json()
    log.info("model-api reload of %s answered: %s", task, answer)
    deadline = time.monotonic() + services.settings.reload_timeout_s
    served: dict[str, Any] = {}
    while True:
        served = served_models(services).get(task, {})
        version = None if served.get("version") is None else str(served["version"])
        if version == expected_version:
            log.info("model-api serves version %s of %s", version, task)
            return version
        if time.monotonic() >= deadline:
            break
        sleep(services.settings.reload_poll_interval_s)
    raise ServiceCallError(
        f"model-api still serves version {served.get('version')} of {task} "
        f"{services.settings.reload_timeout_s:.0f}s after the reload; expected the new champion {expected_version}; "
        f"its last reload error: {served.get('last_reload_error')}"
    )


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


def post_webhook(services: Services, url: str, message: dict[str, Any]) -> None:
    call(
        "POST",
        url,
        json=message,
        attempts=services.settings.http_attempts,
        backoff_s=services.settings.http_backoff_s,
        timeout_s=services.settings.http_timeout_s,
    )
    log.info("posted the run summary to the webhook: %s", message["text"])
