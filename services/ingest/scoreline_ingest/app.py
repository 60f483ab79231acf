"""The ingest service: a thin HTTP shell over ``scoreline.data.datasets`` (DESIGN.md §3-4)."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote_plus

from fastapi import Depends, FastAPI, Query, Request, Response
from prometheus_client import Counter
from pydantic import BaseModel, Field
from scoreline_kit.app import create_app as create_service_app
from scoreline_kit.app import require_api_key
from starlette.concurrency import run_in_threadpool

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.core.filenames import content_disposition
from scoreline.core.outbound import without_fetched_content
from scoreline.data.datasets import DatasetCatalog, DatasetManifest, DatasetSummary, IngestResult, check_dataset_name
from scoreline.data.storage import S3Store, open_store
from scoreline.tasks import get_task
from scoreline_ingest.fetch import download
from scoreline_ingest.notify import DatasetEvent, Notifier
from scoreline_ingest.settings import IngestSettings
from scoreline_ingest.upload import discard, receive_uploads

PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"

log = logging.getLogger("scoreline.ingest")
LANDING_PREFIX = "landing/"


class UrlIngestRequest(BaseModel):
    """One URL, or several pulled into one version (e.g. football-data.co.uk seasons)."""

    url: str | None = Field(
        default=None, description="http(s) URL of a CSV file to pull", examples=["https://example.org/results.csv"]
    )
    urls: list[str] | None = Field(
        default=None,
        description="several http(s) URLs pulled into one dataset version",
        examples=[["https://www.football-data.co.uk/mmz4281/2324/E0.csv"]],
        max_length=100,
    )

    def all_urls(self) -> list[str]:
        found = ([self.url] if self.url else []) + list(self.urls or [])
        if not found:
            raise ValueError("no url")
        return found


class EventRecordResult(BaseModel):
    key: str
    outcome: Literal["created", "exists", "ignored", "rejected"]
    reason: str | None = None
    manifest: DatasetManifest | None = None
    error: dict[str, Any] | None = None


class EventResponse(BaseModel):
    results: list[EventRecordResult]


_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "one or several files (repeat the 'file' field), e.g. season CSVs or a zip",
                        }
                    },
                    "required": ["file"],
                }
            },
            "application/json": {"schema": UrlIngestRequest.model_json_schema()},
        },
    }
}


def create_app(settings: IngestSettings | None = None) -> FastAPI:
    settings = settings or IngestSettings()
    notifier = Notifier(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        notifier.start()
        try:
            yield
        finally:
            notifier.stop()

    app = create_service_app("ingest", lifespan=lifespan)
    app.state.settings = settings
    app.state.notifier = notifier
    store = open_store(settings)
    catalog = DatasetCatalog(store)
    app.state.catalog = catalog
    writer = Depends(require_api_key(lambda: settings.api_key))

    registry = app.state.metrics_registry
    versions_total = Counter(
        "scoreline_ingest_versions_total", "Ingests by outcome", ["task", "outcome"], registry=registry
    )
    rows_total = Counter("scoreline_ingest_rows_total", "Canonical rows of new versions", ["task"], registry=registry)
    rejected_total = Counter(
        "scoreline_ingest_rejected_total", "Ingests refused, by error code", ["code"], registry=registry
    )

    async def run_ingest(
        task: str,
        dataset: str,
        path: Path | list[tuple[str, Path]],
        filename: str,
        kind: Any,
        url: str | list[str | None] | None,
        append: bool = False,
        base_version: str | None = None,
    ) -> IngestResult:
        try:
            if isinstance(path, list):
                result = await run_in_threadpool(
                    lambda: catalog.ingest_files(
                        task, dataset, path, append=append, base_version=base_version, source_kind=kind,
                        source_urls=url if isinstance(url, list) else None,
                    )
                )  # fmt: skip
            else:
                result = await run_in_threadpool(
                    catalog.ingest, task, dataset, path, filename, source_kind=kind, source_url=url
                )
        except ScorelineError as exc:
            rejected_total.labels(exc.code.value).inc()
            if kind == "url" and exc.http_status < 500:
                raise without_fetched_content(exc) from exc
            raise
        versions_total.labels(task, "created" if result.created else "exists").inc()
        if result.created:
            rows_total.labels(task).inc(result.manifest.rows)
            notifier.submit(DatasetEvent(task, dataset, result.manifest.version))
        return result

    def staging_file() -> Path:
        if settings.staging_dir is not None:
            settings.staging_dir.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(prefix="pull-", suffix=".part", dir=settings.staging_dir, delete=False)  # noqa: SIM115
        handle.close()
        return Path(handle.name)

    @app.post(
        "/v1/datasets/{task}/{dataset}",
        response_model=DatasetManifest,
        status_code=201,
        dependencies=[writer],
        openapi_extra=_BODY_DOC,
        tags=["datasets"],
        summary="Ingest files (multipart field 'file', repeatable; a zip) or URLs (JSON {'url'} or {'urls'})",
        description="Several files or URLs become one version. With `append=true` the version is the union "
        "of the dataset's latest version (or `base_version`) and the new files, de-duplicated by the task's "
        "keys (match-outcome: date, home team, away team); the manifest's `lineage` records it.",
        responses={200: {"description": "this content was already stored: the existing version"}},
    )
    async def ingest(
        task: str,
        dataset: str,
        request: Request,
        response: Response,
        append: bool = Query(False, description="extend the latest version (or base_version) with these files"),
        base_version: str | None = Query(None, description="the version to extend (implies append)"),
    ) -> DatasetManifest:
        get_task(task)
        check_dataset_name(dataset)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type == "application/json":
            try:
                body = UrlIngestRequest.model_validate_json(await request.body())
                urls = body.all_urls()
            except ValueError as exc:
                raise ScorelineError(
                    ErrorCode.INVALID_INPUT,
                    'invalid JSON body; expected {"url": "http(s)://..."} or {"urls": ["http(s)://...", ...]}',
                    {"field": "url", "expected": "an object with a 'url' string or a 'urls' list"},
                ) from exc
            paths: list[Path] = []
            try:
                fetched_files: list[tuple[str, Path]] = []
                for url in urls:
                    path = staging_file()
                    paths.append(path)
                    fetched = await run_in_threadpool(download, url, path, policy=settings.fetch_policy())
                    fetched_files.append((fetched.filename, path))
                if len(urls) == 1 and not append and base_version is None:
                    result = await run_ingest(task, dataset, paths[0], fetched_files[0][0], "url", urls[0])
                else:
                    result = await run_ingest(task, dataset, fetched_files, "", "url", list(urls), append, base_version)
            finally:
                for path in paths:
                    discard(path)
        else:
            staged = await receive_uploads(request, settings.staging_dir, settings.max_upload_bytes)
            try:
                if len(staged) == 1 and not append and base_version is None:
                    result = await run_ingest(task, dataset, staged[0].path, staged[0].filename, "upload", None)
                else:
                    files = [(item.filename, item.path) for item in staged]
                    result = await run_ingest(task, dataset, files, "", "upload", None, append, base_version)
            finally:
                for item in staged:
                    discard(item.path)
        response.status_code = 201 if result.created else 200
        return result.manifest

    @app.get("/v1/datasets", response_model=list[DatasetSummary], tags=["datasets"])
    async def list_datasets() -> list[DatasetSummary]:
        return await run_in_threadpool(catalog.list_datasets)

    @app.get("/v1/datasets/{task}/{dataset}/versions", response_model=list[DatasetManifest], tags=["datasets"])
    async def versions(task: str, dataset: str) -> list[DatasetManifest]:
        return await run_in_threadpool(catalog.versions, task, dataset)

    @app.get("/v1/datasets/{task}/{dataset}/versions/{version}", response_model=DatasetManifest, tags=["datasets"])
    async def manifest(task: str, dataset: str, version: str) -> DatasetManifest:
        return await run_in_threadpool(catalog.manifest, task, dataset, version)

    @app.get(
        "/v1/datasets/{task}/{dataset}/versions/{version}/data",
        response_class=Response,
        responses={200: {"content": {PARQUET_MEDIA_TYPE: {}}, "description": "the canonical table as Parquet"}},
        tags=["datasets"],
    )
    async def data(task: str, dataset: str, version: str) -> Response:
        content = await run_in_threadpool(catalog.data_file, task, dataset, version)
        return Response(
            content,
            media_type=PARQUET_MEDIA_TYPE,
            headers={"Content-Disposition": content_disposition(f"{task}-{dataset}-{version}.parquet")},
        )

    @app.post(
        "/v1/events/object-store",
        response_model=EventResponse,
        dependencies=[writer],
        tags=["datasets"],
        summary="S3/MinIO bucket notification: ingest objects put under landing/<task>/<dataset>/",
    )
    async def object_store_event(event: dict[str, Any]) -> EventResponse:
        records = event.get("Records")
        if not isinstance(records, list) or not records:
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                "expected an S3 bucket notification with a non-empty 'Records' list",
                {"field": "Records", "expected": "[{s3: {bucket: {name}, object: {key}}}]"},
            )
        results = []
        for index, record in enumerate(records):
            results.append(await _handle_record(index, record))
        return EventResponse(results=results)

    async def _handle_record(index: int, record: Any) -> EventRecordResult:
        try:
            bucket = record["s3"]["bucket"]["name"]
            key = unquote_plus(record["s3"]["object"]["key"])
        except (KeyError, TypeError) as exc:
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                f"record {index} has no s3.bucket.name / s3.object.key; expected an S3 event record",
                {"field": f"Records.{index}", "expected": "{s3: {bucket: {name}, object: {key}}}"},
            ) from exc
        event_name = str(record.get("eventName", "s3:ObjectCreated:Put"))
        if "ObjectCreated" not in event_name:
            return EventRecordResult(key=key, outcome="ignored", reason=f"event {event_name} is not a creation")
        if isinstance(store, S3Store) and bucket != store.bucket:
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                f"record {index} is about bucket {bucket!r}; this service reads bucket {store.bucket!r}",
                {"field": f"Records.{index}.s3.bucket.name", "value": bucket, "expected": store.bucket},
            )
        parts = key.split("/")
        if not key.startswith(LANDING_PREFIX) or len(parts) < 4 or not parts[-1]:
            return EventRecordResult(key=key, outcome="ignored", reason="not under landing/<task>/<dataset>/")
        task, dataset, filename = parts[1], parts[2], parts[-1]
        path = staging_file()
        try:
            get_task(task)
            check_dataset_name(dataset)
            await run_in_threadpool(store.get_file, key, path)
            result = await run_ingest(task, dataset, path, filename, "object-store", f"{store.uri}/{key}")
        except ScorelineError as exc:
            if exc.code == ErrorCode.UNAVAILABLE:
                raise  # 503: the sender retries later, so the landed file is not lost
            return EventRecordResult(key=key, outcome="rejected", error=exc.to_payload()["error"])
        finally:
            discard(path)
        return EventRecordResult(key=key, outcome="created" if result.created else "exists", manifest=result.manifest)

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> dict[str, str]:
        await run_in_threadpool(store.check)
        return {"status": "ready"}  # public: the store's address stays internal

    return app
