"""One client per service, one method per endpoint (DESIGN.md §4 and each service's OpenAPI at /docs).

Write routes send the API key, admin routes the admin key; a key left unset sends no header, and the
service's 401 becomes a ``ServiceError`` saying a key is required.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx

from scoreline_client.errors import ServiceError
from scoreline_client.http import Key, ServiceHttp
from scoreline_client.models import (
    BatchPredictions,
    DatasetManifest,
    DatasetSummary,
    Ingested,
    Job,
    ModelVersions,
    PredictionSummary,
    PromotionDecision,
    PromotionHistory,
    ServedModels,
    TaskSchema,
)


def _seg(value: str) -> str:
    """One path segment, escaped."""
    return quote(str(value), safe="")


class _Client:
    service: str = ""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: Key = None,
        admin_key: Key = None,
        timeout_s: float = 30.0,
        attempts: int = 4,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        setting: str | None = None,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http = ServiceHttp(
            self.service,
            base_url,
            api_key=api_key,
            admin_key=admin_key,
            timeout_s=timeout_s,
            attempts=attempts,
            backoff_s=backoff_s,
            max_backoff_s=max_backoff_s,
            setting=setting,
            client=client,
            sleep=sleep,
        )

    @property
    def base_url(self) -> str:
        return self.http.base_url

    def healthz(self) -> dict[str, Any]:
        return self.http.get("/healthz")

    def readyz(self) -> dict[str, Any]:
        """The readiness answer, also when it is 503 (``{"status": "not ready", ...}``); tried once."""
        return self.http.json(self.http.request("GET", "/readyz", ok_statuses=(503,), attempts=1))

    def metrics(self) -> str:
        """Prometheus text exposition."""
        return self.http.request("GET", "/metrics").text


class IngestClient(_Client):
    """ingest (:8001): dataset versions from uploads, URLs and object-store events."""

    service = "ingest"

    def upload(
        self,
        task: str,
        dataset: str,
        content: bytes | Path,
        filename: str | None = None,
        *,
        content_type: str = "text/csv",
        timeout_s: float | None = None,
    ) -> Ingested:
        """``POST /v1/datasets/{task}/{dataset}`` with a file (bytes, or a path read for every attempt)."""
        filename = _upload_name(content, filename)
        response = self.http.request(
            "POST",
            f"/v1/datasets/{_seg(task)}/{_seg(dataset)}",
            auth="api",
            files={"file": (filename, content, content_type)},
            timeout_s=timeout_s,
        )
        return _ingested(self.http.json(response), response.status_code)

    def upload_files(
        self,
        task: str,
        dataset: str,
        files: Sequence[bytes | Path | tuple[str, bytes | Path]],
        *,
        append: bool = False,
        base_version: str | None = None,
        timeout_s: float | None = None,
    ) -> Ingested:
        """``POST /v1/datasets/{task}/{dataset}`` with several ``file`` parts: one version of all of them; with
        ``append`` (or ``base_version``) the union with the latest (or that) version, de-duplicated."""
        parts = []
        for item in files:
            name, content = item if isinstance(item, tuple) else (getattr(item, "name", None), item)
            if name is None:
                raise ValueError("a filename is needed for uploaded bytes: pass (filename, bytes)")
            media = "application/zip" if str(name).lower().endswith(".zip") else "text/csv"
            parts.append(("file", (str(name), content, media)))
        response = self.http.request(
            "POST",
            f"/v1/datasets/{_seg(task)}/{_seg(dataset)}",
            auth="api",
            files=parts,
            params=_append_params(append, base_version),
            timeout_s=timeout_s,
        )
        return _ingested(self.http.json(response), response.status_code)

    def pull_urls(
        self,
        task: str,
        dataset: str,
        urls: Sequence[str],
        *,
        append: bool = False,
        base_version: str | None = None,
        timeout_s: float | None = None,
    ) -> Ingested:
        """``POST /v1/datasets/{task}/{dataset}`` with ``{"urls"}``: several files pulled into one version."""
        response = self.http.request(
            "POST",
            f"/v1/datasets/{_seg(task)}/{_seg(dataset)}",
            auth="api",
            json={"urls": list(urls)},
            params=_append_params(append, base_version),
            timeout_s=timeout_s,
        )
        return _ingested(self.http.json(response), response.status_code)

    def pull_url(self, task: str, dataset: str, url: str, *, timeout_s: float | None = None) -> Ingested:
        """``POST /v1/datasets/{task}/{dataset}`` with ``{"url"}``: ingest downloads the file."""
        response = self.http.request(
            "POST", f"/v1/datasets/{_seg(task)}/{_seg(dataset)}", auth="api", json={"url": url}, timeout_s=timeout_s
        )
        return _ingested(self.http.json(response), response.status_code)

    def datasets(self) -> list[DatasetSummary]:
        """``GET /v1/datasets``: every (task, dataset) with its version count and latest manifest."""
        return [DatasetSummary.model_validate(item) for item in self.http.get("/v1/datasets")]

    def versions(self, task: str, dataset: str) -> list[DatasetManifest]:
        """``GET /v1/datasets/{task}/{dataset}/versions`` (404 when the dataset does not exist)."""
        body = self.http.get(f"/v1/datasets/{_seg(task)}/{_seg(dataset)}/versions")
        return [DatasetManifest.model_validate(item) for item in body]

    def latest_version(self, task: str, dataset: str) -> DatasetManifest | None:
        """The newest version by ``created_at``; None when the dataset does not exist or has none."""
        try:
            found = self.versions(task, dataset)
        except ServiceError as error:
            if error.status == 404:
                return None
            raise
        return max(found, key=lambda m: (m.created_at is not None, m.created_at or 0), default=None)

    def manifest(self, task: str, dataset: str, version: str) -> DatasetManifest:
        """``GET /v1/datasets/{task}/{dataset}/versions/{version}``."""
        path = f"/v1/datasets/{_seg(task)}/{_seg(dataset)}/versions/{_seg(version)}"
        return DatasetManifest.model_validate(self.http.get(path))

    def data(self, task: str, dataset: str, version: str, *, timeout_s: float | None = None) -> bytes:
        """``GET /v1/datasets/{task}/{dataset}/versions/{version}/data``: the canonical table as Parquet bytes."""
        path = f"/v1/datasets/{_seg(task)}/{_seg(dataset)}/versions/{_seg(version)}/data"
        return self.http.request("GET", path, timeout_s=timeout_s).content

    def object_store_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v1/events/object-store``: an S3/MinIO bucket notification; a result per record."""
        return self.http.post("/v1/events/object-store", auth="api", json=dict(event))


def _append_params(append: bool, base_version: str | None) -> dict[str, str]:
    params = {"append": "true"} if append else {}
    if base_version:
        params["base_version"] = base_version
    return params


def _ingested(body: dict[str, Any], status: int) -> Ingested:
    return Ingested(manifest=DatasetManifest.model_validate(body), created=status == 201)


class TrainerClient(_Client):
    """trainer (:8002): training jobs, registered versions, promotion decisions and the monitor."""

    service = "trainer"

    def submit_job(
        self,
        task: str,
        dataset: str,
        dataset_version: str | None = None,
        *,
        holdout_start: date | str | None = None,
        tuning_budget: Mapping[str, Any] | None = None,
    ) -> Job:
        """``POST /v1/jobs`` (202): queue a training job; the latest version when none is named."""
        body: dict[str, Any] = {"task": task, "dataset": dataset}
        if dataset_version:
            body["dataset_version"] = dataset_version
        if holdout_start:
            body["holdout_start"] = str(holdout_start)
        if tuning_budget:
            body["tuning_budget"] = dict(tuning_budget)
        return Job.model_validate(self.http.post("/v1/jobs", auth="api", json=body))

    def job(self, job_id: str) -> Job:
        """``GET /v1/jobs/{id}``: status, progress, metrics, run id, model version, error."""
        return Job.model_validate(self.http.get(f"/v1/jobs/{_seg(job_id)}"))

    def find_job(self, job_id: str) -> Job | None:
        """``job``, or None when the trainer does not know the id (404)."""
        try:
            return self.job(job_id)
        except ServiceError as error:
            if error.status == 404:
                return None
            raise

    def jobs(self, task: str | None = None, status: str | None = None, limit: int | None = None) -> list[Job]:
        """``GET /v1/jobs``, newest first as the trainer lists them."""
        body = self.http.get("/v1/jobs", params={"task": task, "status": status, "limit": limit})
        return [Job.model_validate(item) for item in body.get("jobs", [])]

    def wait_for_job(
        self,
        job_id: str,
        *,
        timeout_s: float = 3600.0,
        poll_s: float = 1.0,
        on_progress: Callable[[Job], None] | None = None,
    ) -> Job:
        """Poll the job until it succeeds or fails (either is returned), or raise after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            job = self.job(job_id)
            if on_progress is not None:
                on_progress(job)
            if job.done:
                return job
            if time.monotonic() >= deadline:
                raise ServiceError(
                    self.service,
                    f"trainer job {job_id} did not finish within {timeout_s:g} s (status {job.status})",
                    code="timeout",
                )
            self.http.sleep(poll_s)

    def decide(
        self,
        task: str,
        *,
        mode: Literal["auto", "manual"] | None = None,
        actor: str | None = None,
        margin: float | None = None,
        baseline: str | None = None,
        thresholds: dict[str, float] | None = None,
    ) -> PromotionDecision:
        """``POST /v1/promotions/{task}`` (admin): judge the challenger; promotes in auto mode. ``thresholds``:
        approval thresholds on its holdout, e.g. ``{"smape": 12}`` (the trainer's setting when None)."""
        fields = {"mode": mode, "actor": actor, "margin": margin, "baseline": baseline, "thresholds": thresholds}
        body = {k: v for k, v in fields.items() if v is not None}
        return PromotionDecision.model_validate(self.http.post(f"/v1/promotions/{_seg(task)}", auth="admin", json=body))

    def approve(self, task: str, version: str, actor: str) -> PromotionDecision:
        """``POST /v1/promotions/{task}/approve`` (admin): a person makes ``version`` the champion."""
        body = {"version": str(version), "actor": actor}
        return PromotionDecision.model_validate(
            self.http.post(f"/v1/promotions/{_seg(task)}/approve", auth="admin", json=body)
        )

    def rollback(self, task: str, actor: str | None = None) -> PromotionDecision:
        """``POST /v1/promotions/{task}/rollback`` (admin): the previous champion serves again."""
        body = {"actor": actor} if actor else {}
        return PromotionDecision.model_validate(
            self.http.post(f"/v1/promotions/{_seg(task)}/rollback", auth="admin", json=body)
        )

    def promotions(self, task: str) -> PromotionHistory:
        """``GET /v1/promotions/{task}`` (admin): aliases and the promotion events."""
        return PromotionHistory.model_validate(self.http.get(f"/v1/promotions/{_seg(task)}", auth="admin"))

    def model_versions(self, task: str) -> ModelVersions:
        """``GET /v1/models/{task}/versions``: every registered version with its aliases, holdout and baseline
        metrics and tags, newest first (empty when nothing is registered)."""
        return ModelVersions.model_validate(self.http.get(f"/v1/models/{_seg(task)}/versions"))

    def calibration(self, task: str, version: str) -> dict[str, Any]:
        """``GET /v1/models/{task}/versions/{version}/calibration``: ``{task, version, run_id, bins}``, the run's
        holdout calibration table (``class``, ``bin``, ``predicted``, ``observed``, ``count`` per bin)."""
        return self.http.get(f"/v1/models/{_seg(task)}/versions/{_seg(version)}/calibration")

    # ---- monitor (drift, live accuracy, prediction log reads) ----------------------------------------
    def monitor_run(
        self,
        tasks: list[str] | None = None,
        *,
        window_hours: float | None = None,
        accuracy_days: float | None = None,
        timeout_s: float | None = None,
    ) -> dict[str, Any]:
        """``POST /v1/monitor/runs`` (admin): drift and live accuracy of every champion now; the run
        (``run_id``, window, ``alert``, ``alert_tasks`` that need retraining, ``tasks`` with each task's result)."""
        fields = {"tasks": tasks, "window_hours": window_hours, "accuracy_days": accuracy_days}
        body = {k: v for k, v in fields.items() if v is not None}
        return self.http.post("/v1/monitor/runs", auth="admin", json=body, timeout_s=timeout_s)

    def drift(self, task: str | None = None, limit: int | None = None) -> dict[str, Any]:
        """``GET /v1/monitor/drift``: ``{source, results}``, the latest drift documents, newest first."""
        return self.http.get("/v1/monitor/drift", params={"task": task, "limit": limit})

    def accuracy(self, task: str | None = None, limit: int | None = None) -> dict[str, Any]:
        """``GET /v1/monitor/accuracy``: ``{source, results}``, live accuracy per model version and day (metrics
        by task kind, with the version's ``holdout_<metric>``), newest first."""
        return self.http.get("/v1/monitor/accuracy", params={"task": task, "limit": limit})

    def predictions(
        self,
        task: str,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """``GET /v1/monitor/predictions``: a task's newest logged predictions (``records``, newest first)."""
        params = {"task": task, "since": _instant(since), "until": _instant(until), "limit": limit}
        return self.http.get("/v1/monitor/predictions", params=params)

    def summary(
        self,
        task: str,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        bucket: Literal["minute", "hour", "day"] | None = None,
    ) -> PredictionSummary:
        """``GET /v1/monitor/summary``: count, latency percentiles, traffic per bucket, versions and the most
        requested entities of a task's predictions in a window."""
        params = {"task": task, "since": _instant(since), "until": _instant(until), "bucket": bucket}
        return PredictionSummary.model_validate(self.http.get("/v1/monitor/summary", params=params))

    def report_replay(self, status: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /v1/monitor/replays/{replay_id}`` (api key): a replay's progress, kept for the dashboard."""
        body = dict(status)
        path = f"/v1/monitor/replays/{_seg(str(body['replay_id']))}"
        return self.http.json(self.http.request("PUT", path, auth="api", json=body))

    def replays(self, task: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """``GET /v1/monitor/replays``: the latest replays' progress, newest first."""
        return list(self.http.get("/v1/monitor/replays", params={"task": task, "limit": limit})["replays"])

    # ---- scheduled predictions ---------------------------------------------------------------------
    def run_predictions(
        self, task: str, dataset: str | None = None, dataset_version: str | None = None, *, timeout_s: float = 600.0
    ) -> dict[str, Any]:
        """``POST /v1/predictions/{task}`` (api key): the champion predicts what the task asks for from the newest
        data; the stored run (``run_id``, ``rows``, ``model_version``, ``dataset_version``, ``data_key``)."""
        body = {k: v for k, v in {"dataset": dataset, "dataset_version": dataset_version}.items() if v}
        return self.http.post(f"/v1/predictions/{_seg(task)}", auth="api", json=body, timeout_s=timeout_s)

    def prediction_runs(self, task: str) -> list[dict[str, Any]]:
        """``GET /v1/predictions/{task}``: the task's scheduled prediction runs, newest first."""
        return list(self.http.get(f"/v1/predictions/{_seg(task)}")["runs"])

    def prediction_run_data(self, task: str, run_id: str) -> bytes:
        """``GET /v1/predictions/{task}/{run_id}/data``: the run's answers as CSV."""
        return self.http.request("GET", f"/v1/predictions/{_seg(task)}/{_seg(run_id)}/data").content


def _upload_name(content: bytes | Path, filename: str | None) -> str:
    """The name an uploaded file goes by: the given one, else the path's."""
    if filename is not None:
        return filename
    if not isinstance(content, Path):
        raise ValueError("a filename is needed for uploaded bytes")
    return content.name


def _instant(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


class ModelApiClient(_Client):
    """model-api (:8000): predictions from each task's champion, what is served and reloads (it only serves)."""

    service = "model-api"

    def predict(self, task: str, instances: list[Mapping[str, Any]] | Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v1/{task}/predict`` with ``{"instances": ...}`` (one instance or a list).

        The API key is sent when set (model-api may require it for predictions)."""
        payload = [dict(i) for i in instances] if isinstance(instances, list) else dict(instances)
        return self.http.post(f"/v1/{_seg(task)}/predict", auth="api", json={"instances": payload})

    def predict_batch(
        self,
        task: str,
        content: bytes | Path,
        filename: str | None = None,
        *,
        content_type: str = "text/csv",
        output: Literal["csv", "parquet"] | None = None,
        timeout_s: float | None = None,
    ) -> BatchPredictions:
        """``POST /v1/{task}/predict/batch``: a CSV or Parquet file in, the same table with predictions out."""
        filename = _upload_name(content, filename)
        response = self.http.request(
            "POST",
            f"/v1/{_seg(task)}/predict/batch",
            auth="api",
            files={"file": (filename, content, content_type)},
            params={"format": output},
            timeout_s=timeout_s,
        )
        return BatchPredictions(
            content=response.content,
            media_type=response.headers.get("content-type", "application/octet-stream"),
            model_version=response.headers.get("x-model-version"),
            model_name=response.headers.get("x-model-name"),
        )

    def models(self) -> ServedModels:
        """``GET /v1/models``: what each task serves, and its last reload error."""
        return ServedModels.model_validate(self.http.get("/v1/models"))

    def schema(self, task: str) -> TaskSchema:
        """``GET /v1/{task}/schema``: the instance's JSON schema, classes, known entities, an example."""
        return TaskSchema.model_validate(self.http.get(f"/v1/{_seg(task)}/schema"))

    def reload(self, task: str | None = None, *, force: bool = False, serve_unpromoted: bool = False) -> dict[str, Any]:
        """``POST /v1/admin/reload`` (admin): load the champion now (one task or all); ``serve_unpromoted``
        serves an alias target without Scoreline's tags or a promotion (the admin override)."""
        params = {
            "task": task,
            "force": "true" if force else None,
            "serve_unpromoted": "true" if serve_unpromoted else None,
        }
        return self.http.post("/v1/admin/reload", auth="admin", params=params)

    def wait_until_served(
        self, task: str, version: str | None = None, *, timeout_s: float = 60.0, poll_s: float = 0.5
    ) -> str:
        """Poll ``GET /v1/models`` until every worker serves ``task`` (at ``version`` when given); the version.

        The worker that answers may have swapped before the others (a first load is not held back for them), so
        its own version is not enough: a request right after could reach a worker still without it.
        Raises a ``ServiceError`` quoting model-api's last reload error when the deadline passes."""
        deadline = time.monotonic() + timeout_s
        while True:
            listing = self.models()
            served, everywhere = listing.get(task), listing.served_everywhere(task)
            current = None if everywhere is None else str(everywhere)
            if current is not None and (version is None or current == str(version)):
                return current
            if time.monotonic() >= deadline:
                wanted = f"version {version}" if version else "a model"
                error = None if served is None else served.last_reload_error
                raise ServiceError(
                    self.service,
                    f"model-api still serves {current or 'nothing'} for {task} {timeout_s:g} s later; expected "
                    f"{wanted}; its last reload error: {error}",
                    code="timeout",
                    details=error,
                )
            self.http.sleep(poll_s)


@dataclass(frozen=True)
class ScorelineClients:
    """The three service clients, built from base URLs and keys with the same retry policy."""

    ingest: IngestClient
    trainer: TrainerClient
    model_api: ModelApiClient

    @classmethod
    def build(
        cls,
        *,
        ingest_url: str,
        trainer_url: str,
        model_api_url: str,
        api_key: Key = None,
        admin_key: Key = None,
        **options: Any,
    ) -> ScorelineClients:
        """``options``: ``timeout_s``, ``attempts``, ``backoff_s``, ``max_backoff_s``, ``client``, ``sleep``."""
        keys = {"api_key": api_key, "admin_key": admin_key, **options}
        return cls(
            ingest=IngestClient(ingest_url, **keys),
            trainer=TrainerClient(trainer_url, **keys),
            model_api=ModelApiClient(model_api_url, **keys),
        )
