"""Immutable, content-addressed dataset versions in the object store (DESIGN.md §4).

Layout per version::

    raw/<task>/<dataset>/<version>/<original-file>        the bytes as received
    datasets/<task>/<dataset>/<version>/data.parquet      the canonical table
    datasets/<task>/<dataset>/<version>/manifest.json     written last: without it the version does not exist

The version is a prefix of the SHA-256 of the canonical content (not of the raw bytes), so the same
matches ingested twice, even from differently formatted files, give the same version.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.core.filenames import safe_filename
from scoreline.data.storage import ObjectStore
from scoreline.tasks import get_task
from scoreline.tasks.tabular import files_error, union_rows

VERSION_LENGTH = 12
MANIFEST_SCHEMA_VERSION = 1
DATASET_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

Progress = Callable[[str, float], None]


class DatasetSource(BaseModel):
    kind: Literal["upload", "url", "object-store", "cli", "api"] = "api"
    filename: str
    url: str | None = None
    raw_key: str = ""
    raw_sha256: str = ""
    raw_bytes: int = 0
    format: str | None = None  # the raw format the task detected, e.g. "international"


class DatasetLineage(BaseModel):
    """How a version made of several files, or appended to another version, came to be."""

    base_version: str | None = Field(default=None, description="the version this one extends (append), if any")
    base_rows: int = 0
    files: list[str] = Field(default_factory=list, description="the files read into this version, in order")
    rows_read: int = Field(default=0, description="canonical rows of the files, before de-duplication")
    duplicates_dropped: int = 0
    rows_added: int = Field(default=0, description="rows not in the base version")
    dedupe_keys: list[str] = Field(default_factory=list)


class DatasetManifest(BaseModel):
    task: str
    dataset: str
    version: str
    sha256: str = Field(description="SHA-256 of the canonical content; the version is its prefix")
    rows: int
    columns: list[str]
    dtypes: dict[str, str]
    source: DatasetSource
    created_at: datetime
    schema_version: int = MANIFEST_SCHEMA_VERSION
    data_key: str
    date_min: str | None = None
    date_max: str | None = None
    notes: dict[str, Any] = Field(
        default_factory=dict,
        description="what the task's adapter reports about the file: columns used, rows dropped or repaired, ...",
    )
    sources: list[DatasetSource] = Field(
        default_factory=list, description="every file of a several-file or appended ingest (``source`` is the first)"
    )
    lineage: DatasetLineage | None = None


def adapter_notes(attrs: Mapping[str, Any], limit: int = 50) -> dict[str, Any]:
    """The JSON-able part of a canonical frame's ``attrs`` (lists cut to ``limit`` items), for the manifest."""
    notes: dict[str, Any] = {}
    for key, value in attrs.items():
        if key == "format":
            continue
        if isinstance(value, list | tuple):
            value = list(value)[:limit]
        try:
            json.dumps(value, default=str)
        except (TypeError, ValueError):
            continue
        notes[str(key)] = json.loads(json.dumps(value, default=str))
    return notes


class DatasetSummary(BaseModel):
    task: str
    dataset: str
    versions: int
    latest: DatasetManifest


class IngestResult(BaseModel):
    manifest: DatasetManifest
    created: bool  # False when this content was already stored under the same version


def check_dataset_name(dataset: str) -> str:
    if not DATASET_SLUG.match(dataset):
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"invalid dataset name {dataset!r}: expected a slug of lowercase letters, digits, '-' and '_' "
            "(1-63 characters, starting with a letter or digit)",
            {"field": "dataset", "value": dataset[:200], "expected": DATASET_SLUG.pattern},
        )
    return dataset


def check_version(version: str) -> str:
    if not re.fullmatch(rf"[0-9a-f]{{{VERSION_LENGTH}}}", version):
        raise ScorelineError(
            ErrorCode.NOT_FOUND,
            f"no version {version!r}: versions are {VERSION_LENGTH} lowercase hex characters",
            {"version": version[:100]},
        )
    return version


def _column_digest(column: pd.Series) -> bytes:
    digest = hashlib.sha256()
    if pd.api.types.is_string_dtype(column.dtype) or column.dtype == object:
        text = pa.array(column, type=pa.string(), from_pandas=True)
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        _, offsets_buffer, data_buffer = text.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[text.offset : text.offset + len(text) + 1]
        digest.update((offsets - offsets[0]).tobytes())
        if data_buffer is not None:
            digest.update(memoryview(data_buffer)[offsets[0] : offsets[-1]])
        digest.update(np.asarray(text.is_null()).tobytes())
    else:
        digest.update(np.ascontiguousarray(column.to_numpy()).tobytes())
    return digest.digest()


def content_digest(canonical: pd.DataFrame) -> str:
    """SHA-256 of the canonical table: column names and dtypes, then every column's values in order.

    Numbers, booleans and dates are hashed as their fixed-width machine values; text as its UTF-8
    bytes with the value boundaries, so ``["ab", "c"]`` and ``["a", "bc"]`` differ. Columns are
    hashed in parallel (hashlib releases the GIL) and their digests combined.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps([[str(c), str(t)] for c, t in canonical.dtypes.items()]).encode())
    digest.update(len(canonical).to_bytes(8, "little"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        for column_digest in pool.map(_column_digest, (canonical[name] for name in canonical.columns)):
            digest.update(column_digest)
    return digest.hexdigest()


def _parquet_bytes(canonical: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(canonical, preserve_index=False)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


_locks_guard = threading.Lock()
_version_locks: dict[tuple[str, str, str, str], threading.Lock] = {}


def _version_lock(store: ObjectStore, task: str, dataset: str, version: str) -> threading.Lock:
    """One lock per version in this process, so concurrent ingests of the same content write it once."""
    with _locks_guard:
        return _version_locks.setdefault((store.uri, task, dataset, version), threading.Lock())


class DatasetCatalog:
    """Versioned datasets of every task in one object store."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    # ---- keys ----------------------------------------------------------------------------
    @staticmethod
    def data_key(task: str, dataset: str, version: str) -> str:
        return f"datasets/{task}/{dataset}/{version}/data.parquet"

    @staticmethod
    def manifest_key(task: str, dataset: str, version: str) -> str:
        return f"datasets/{task}/{dataset}/{version}/manifest.json"

    @staticmethod
    def raw_key(task: str, dataset: str, version: str, filename: str) -> str:
        return f"raw/{task}/{dataset}/{version}/{safe_filename(filename)}"

    # ---- writing -------------------------------------------------------------------------
    def ingest(
        self,
        task: str,
        dataset: str,
        raw: bytes | Path,
        filename: str | None = None,
        *,
        source_kind: Literal["upload", "url", "object-store", "cli", "api"] = "api",
        source_url: str | None = None,
        progress: Progress | None = None,
    ) -> IngestResult:
        """Validate ``raw`` into the task's canonical table and store it as a version (if new).

        Bad content raises ``ScorelineError(INVALID_INPUT)`` before anything is written. A storage
        failure raises ``ScorelineError(UNAVAILABLE)`` and leaves no manifest, so no visible version.
        """
        report = progress or (lambda _stage, _fraction: None)
        get_task(task)  # unknown task: 404 before reading anything
        check_dataset_name(dataset)
        filename = safe_filename(filename or (raw.name if isinstance(raw, Path) else None))
        raw_path = raw if isinstance(raw, Path) else None
        raw_bytes = raw.read_bytes() if isinstance(raw, Path) else raw

        report("validating", 0.05)
        pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="scoreline-ingest")
        try:
            # The raw file's hash runs beside validation; hashlib and Arrow both release the GIL.
            raw_sha256 = pool.submit(lambda: hashlib.sha256(raw_bytes).hexdigest())
            return self._validate_and_store(
                task, dataset, raw_bytes, raw_path, filename, raw_sha256, pool, source_kind, source_url, report
            )
        finally:
            pool.shutdown(wait=True)

    def _validate_and_store(
        self,
        task: str,
        dataset: str,
        raw_bytes: bytes,
        raw_path: Path | None,
        filename: str,
        raw_sha256: Future[str],
        pool: ThreadPoolExecutor,
        source_kind: Literal["upload", "url", "object-store", "cli", "api"],
        source_url: str | None,
        report: Progress,
    ) -> IngestResult:
        task_impl = get_task(task)
        canonical = task_impl.to_canonical(raw_bytes, filename)
        report("hashing", 0.55)
        parquet = pool.submit(_parquet_bytes, canonical)  # encoded while the digest is computed
        sha256 = content_digest(canonical)
        version = sha256[:VERSION_LENGTH]

        existing = self._manifest_or_none(task, dataset, version)
        if existing is not None:
            report("done", 1.0)
            return IngestResult(manifest=existing, created=False)

        with _version_lock(self.store, task, dataset, version):
            existing = self._manifest_or_none(task, dataset, version)
            if existing is not None:
                report("done", 1.0)
                return IngestResult(manifest=existing, created=False)
            raw_key = self.raw_key(task, dataset, version, filename)
            data_key = self.data_key(task, dataset, version)
            manifest = DatasetManifest(
                task=task,
                dataset=dataset,
                version=version,
                sha256=sha256,
                rows=len(canonical),
                columns=list(canonical.columns),
                dtypes={c: str(t) for c, t in canonical.dtypes.items()},
                source=DatasetSource(
                    kind=source_kind,
                    filename=filename,
                    url=source_url,
                    raw_key=raw_key,
                    raw_sha256=raw_sha256.result(),
                    raw_bytes=len(raw_bytes),
                    format=canonical.attrs.get("format"),
                ),
                created_at=datetime.now(UTC),
                data_key=data_key,
                notes=adapter_notes(canonical.attrs),
                **_date_range(canonical, task_impl.date_column),
            )
            try:
                report("writing raw file and parquet", 0.7)
                # Both objects are written side by side; neither is visible as a version until the manifest.
                if raw_path is not None:
                    raw_write = pool.submit(self.store.put_file, raw_key, raw_path, "text/csv")
                else:
                    raw_write = pool.submit(self.store.put, raw_key, raw_bytes, "text/csv")
                parquet_write = pool.submit(
                    lambda: self.store.put(data_key, parquet.result(), "application/vnd.apache.parquet")
                )
                wait([raw_write, parquet_write])
                raw_write.result()
                parquet_write.result()
                report("writing manifest", 0.95)
                payload = manifest.model_dump_json(indent=2).encode()
                created = self.store.put_if_absent(
                    self.manifest_key(task, dataset, version), payload, "application/json"
                )
            except BaseException:
                # Without a manifest the version is invisible already; also drop what this attempt wrote.
                for key in (raw_key, data_key):
                    with contextlib.suppress(Exception):
                        self.store.delete(key)
                raise
        report("done", 1.0)
        if not created:
            return IngestResult(manifest=self.manifest(task, dataset, version), created=False)
        return IngestResult(manifest=manifest, created=True)

    def ingest_files(
        self,
        task: str,
        dataset: str,
        files: Sequence[tuple[str, bytes | Path]],
        *,
        append: bool = False,
        base_version: str | None = None,
        source_kind: Literal["upload", "url", "object-store", "cli", "api"] = "api",
        source_urls: Sequence[str | None] | None = None,
    ) -> IngestResult:
        """Several files as one version, optionally appended to a version of the dataset.

        Every file is read by the task's adapter; the union is de-duplicated by the task's ``outcome_keys``
        (e.g. date, home and away team; a later file's row wins) and sorted, so the same rows in any file
        order give the same version. ``append`` extends ``base_version`` (default: the latest version; none
        yet is a plain ingest). Problems of every file are reported together, each naming its file.
        One file without append is ``ingest``."""
        get_task(task)
        check_dataset_name(dataset)
        if not files:
            raise ScorelineError(ErrorCode.INVALID_INPUT, "no file to ingest; expected at least one file")
        urls = list(source_urls) if source_urls is not None else [None] * len(files)
        if len(files) == 1 and not append and base_version is None:
            name, content = files[0]
            return self.ingest(task, dataset, content, name, source_kind=source_kind, source_url=urls[0])
        task_impl = get_task(task)
        names = _unique_names([safe_filename(name) for name, _ in files])
        contents = [content.read_bytes() if isinstance(content, Path) else content for _, content in files]
        frames, failures = [], []
        for name, content in zip(names, contents, strict=True):
            try:
                frames.append(task_impl.to_canonical(content, name))
            except ScorelineError as exc:
                if exc.code not in (ErrorCode.INVALID_INPUT, ErrorCode.UNSUPPORTED_MEDIA):
                    raise
                failures.append((name, exc))
        if failures:
            raise files_error(failures, len(files))
        base: DatasetManifest | None = None
        if append or base_version is not None:
            base = self.manifest(task, dataset, base_version) if base_version else self._latest_or_none(task, dataset)
        keys = [k for k in task_impl.outcome_keys if all(k in f.columns for f in frames)]
        base_frame = self.load(task, dataset, base.version) if base is not None else None
        tables = ([base_frame] if base_frame is not None else []) + frames
        canonical, _ = union_rows(tables, keys, task_impl.date_column)
        rows_read = sum(len(f) for f in frames)
        base_rows = len(base_frame) if base_frame is not None else 0
        notes: dict[str, Any] = {}
        for name, frame in zip(names, frames, strict=True):
            file_notes = adapter_notes(frame.attrs)
            if frame.attrs.get("format"):
                file_notes["format"] = frame.attrs["format"]
            notes[name] = file_notes
        lineage = DatasetLineage(
            base_version=base.version if base is not None else None,
            base_rows=base_rows,
            files=names,
            rows_read=rows_read,
            duplicates_dropped=base_rows + rows_read - len(canonical),
            rows_added=len(canonical) - base_rows,
            dedupe_keys=keys,
        )
        formats = sorted({str(f.attrs.get("format")) for f in frames if f.attrs.get("format")})
        sha256 = content_digest(canonical)
        version = sha256[:VERSION_LENGTH]
        existing = self._manifest_or_none(task, dataset, version)
        if existing is not None:
            return IngestResult(manifest=existing, created=False)
        with _version_lock(self.store, task, dataset, version):
            existing = self._manifest_or_none(task, dataset, version)
            if existing is not None:
                return IngestResult(manifest=existing, created=False)
            sources = [
                DatasetSource(
                    kind=source_kind,
                    filename=name,
                    url=url,
                    raw_key=self.raw_key(task, dataset, version, name),
                    raw_sha256=hashlib.sha256(content).hexdigest(),
                    raw_bytes=len(content),
                    format=frame.attrs.get("format"),
                )
                for name, content, url, frame in zip(names, contents, urls, frames, strict=True)
            ]
            data_key = self.data_key(task, dataset, version)
            manifest = DatasetManifest(
                task=task,
                dataset=dataset,
                version=version,
                sha256=sha256,
                rows=len(canonical),
                columns=list(canonical.columns),
                dtypes={c: str(t) for c, t in canonical.dtypes.items()},
                source=sources[0].model_copy(update={"format": "+".join(formats) or None}),
                sources=sources,
                lineage=lineage,
                created_at=datetime.now(UTC),
                data_key=data_key,
                notes={"files": notes},
                **_date_range(canonical, task_impl.date_column),
            )
            written: list[str] = []
            try:
                for source, content in zip(sources, contents, strict=True):
                    written.append(source.raw_key)
                    self.store.put(source.raw_key, content, _media_type(source.filename))
                written.append(data_key)
                self.store.put(data_key, _parquet_bytes(canonical), "application/vnd.apache.parquet")
                payload = manifest.model_dump_json(indent=2).encode()
                created = self.store.put_if_absent(
                    self.manifest_key(task, dataset, version), payload, "application/json"
                )
            except BaseException:
                for key in written:
                    with contextlib.suppress(Exception):
                        self.store.delete(key)
                raise
        if not created:
            return IngestResult(manifest=self.manifest(task, dataset, version), created=False)
        return IngestResult(manifest=manifest, created=True)

    def _latest_or_none(self, task: str, dataset: str) -> DatasetManifest | None:
        versions = self.versions(task, dataset)
        return versions[-1] if versions else None

    # ---- reading -------------------------------------------------------------------------
    def _manifest_or_none(self, task: str, dataset: str, version: str) -> DatasetManifest | None:
        try:
            return self.manifest(task, dataset, version)
        except ScorelineError as exc:
            if exc.code == ErrorCode.NOT_FOUND:
                return None
            raise

    def manifest(self, task: str, dataset: str, version: str) -> DatasetManifest:
        get_task(task)
        check_dataset_name(dataset)
        check_version(version)
        try:
            payload = self.store.get(self.manifest_key(task, dataset, version))
        except ScorelineError as exc:
            if exc.code == ErrorCode.NOT_FOUND:
                raise ScorelineError(
                    ErrorCode.NOT_FOUND,
                    f"no version {version} of dataset {task}/{dataset}",
                    {"task": task, "dataset": dataset, "version": version},
                ) from exc
            raise
        return DatasetManifest.model_validate_json(payload)

    def versions(self, task: str, dataset: str) -> list[DatasetManifest]:
        """Every version of the dataset, oldest first."""
        get_task(task)
        check_dataset_name(dataset)
        keys = [k for k in self.store.list(f"datasets/{task}/{dataset}/") if k.endswith("/manifest.json")]
        manifests = [DatasetManifest.model_validate_json(self.store.get(k)) for k in keys]
        return sorted(manifests, key=lambda m: (m.created_at, m.version))

    def latest(self, task: str, dataset: str) -> DatasetManifest:
        versions = self.versions(task, dataset)
        if not versions:
            raise ScorelineError(
                ErrorCode.NOT_FOUND, f"dataset {task}/{dataset} has no versions", {"task": task, "dataset": dataset}
            )
        return versions[-1]

    def list_datasets(self) -> list[DatasetSummary]:
        found: dict[tuple[str, str], list[DatasetManifest]] = {}
        for key in self.store.list("datasets/"):
            parts = key.split("/")
            if len(parts) == 5 and parts[4] == "manifest.json":
                manifest = DatasetManifest.model_validate_json(self.store.get(key))
                found.setdefault((parts[1], parts[2]), []).append(manifest)
        summaries = []
        for (task, dataset), manifests in sorted(found.items()):
            manifests.sort(key=lambda m: (m.created_at, m.version))
            summaries.append(DatasetSummary(task=task, dataset=dataset, versions=len(manifests), latest=manifests[-1]))
        return summaries

    def data_file(self, task: str, dataset: str, version: str) -> bytes:
        """The canonical table of a version as its stored Parquet bytes."""
        return self.store.get(self.manifest(task, dataset, version).data_key)

    def load(self, task: str, dataset: str, version: str | None = None) -> pd.DataFrame:
        """The canonical table of a version (the latest when ``version`` is None)."""
        manifest = self.manifest(task, dataset, version) if version else self.latest(task, dataset)
        table = pq.read_table(io.BytesIO(self.store.get(manifest.data_key)))
        frame = table.to_pandas()
        frame.attrs["version"] = manifest.version
        return frame


def _date_range(canonical: pd.DataFrame, date_column: str) -> dict[str, str | None]:
    if date_column not in canonical.columns or canonical.empty:
        return {"date_min": None, "date_max": None}
    dates = pd.to_datetime(canonical[date_column])
    return {"date_min": dates.min().date().isoformat(), "date_max": dates.max().date().isoformat()}


def _unique_names(names: list[str]) -> list[str]:
    """File names made unique within one ingest (``E0.csv``, ``E0-2.csv``), as raw object keys must be."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        count = seen.get(name, 0) + 1
        seen[name] = count
        if count > 1:
            stem, dot, suffix = name.rpartition(".")
            name = f"{stem}-{count}.{suffix}" if dot else f"{name}-{count}"
        unique.append(name)
    return unique


def _media_type(filename: str) -> str:
    lower = filename.lower()
    if lower.endswith(".zip"):
        return "application/zip"
    if lower.endswith(".json") or lower.endswith(".jsonl"):
        return "application/json"
    return "text/csv"
