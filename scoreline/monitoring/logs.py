"""Readers of the prediction log (Elasticsearch or the local JSON Lines files) and writers of the
monitoring results (``scoreline-drift`` / ``scoreline-outcomes`` or local JSON Lines files).

Both readers return the same frame: ``timestamp`` (UTC), ``request_id``, ``task``, ``model_version``,
``prediction`` and flattened ``features.<name>``, ``inputs.<name>``, ``probabilities.<class>`` columns,
one row per request id (a record delivered twice counts once).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.monitoring.indices import DRIFT_INDEX, OUTCOMES_INDEX, PREDICTIONS_PATTERN
from scoreline.predlog.jsonl import CHUNK_SUFFIX, file_documents, log_files


class PredictionLogReader(Protocol):
    def read(self, task: str, start: datetime, end: datetime, limit: int) -> pd.DataFrame: ...

    def documents(self, task: str, start: datetime, end: datetime, limit: int) -> list[dict[str, Any]]:
        """The raw records of ``task`` logged in [start, end], newest first, at most ``limit``."""
        ...


class ResultStore(Protocol):
    def write(self, index: str, documents: list[dict[str, Any]], ids: list[str] | None = None) -> None: ...

    def latest(
        self, index: str, task: str | None, kind: str | None = None, limit: int = 500
    ) -> list[dict[str, Any]]: ...


def to_frame(documents: list[dict[str, Any]]) -> pd.DataFrame:
    if not documents:
        return pd.DataFrame(columns=["timestamp", "request_id", "task", "model_version", "prediction"])
    frame = pd.json_normalize(documents)
    frame = frame.rename(columns={"@timestamp": "timestamp"})
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601", errors="coerce")
    frame = frame.dropna(subset=["timestamp"])
    if "model_version" in frame:
        frame["model_version"] = frame["model_version"].astype(str)
    return frame.drop_duplicates(subset="request_id", keep="last").sort_values("timestamp").reset_index(drop=True)


class JsonlLogReader:
    """model-api's embedded prediction log: ``predictions-*.jsonl`` files (and ``.arrows`` batch files) under a
    folder."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)

    def read(self, task: str, start: datetime, end: datetime, limit: int) -> pd.DataFrame:
        return to_frame(self.documents(task, start, end, limit)[::-1])

    def documents(self, task: str, start: datetime, end: datetime, limit: int) -> list[dict[str, Any]]:
        """Newest first: files in reverse write order (their names sort in write order), lines from the end.

        Only the window is read: a file last written before ``start`` is skipped unopened, and a file is read
        backwards only until its lines are older than ``start`` (by more than the writer's ordering slack).
        """
        documents: list[dict[str, Any]] = []
        low, high = pd.Timestamp(start), pd.Timestamp(end)
        floor = low - ORDER_SLACK
        for path in reversed(log_files(self.folder)):
            try:
                if path.stat().st_mtime < floor.timestamp():
                    continue  # nothing in it is as recent as the window
            except FileNotFoundError:  # deleted by the sink's retention meanwhile
                continue
            for doc in _documents_backwards(path):
                stamp = pd.Timestamp(doc.get("@timestamp") or doc.get("timestamp"))
                if stamp < floor:
                    break  # the rest of this file is older still
                if doc.get("task") != task:
                    continue
                if low <= stamp <= high:
                    documents.append(doc)
                    if len(documents) >= limit:
                        return documents
        return documents


class ElasticLogReader:
    def __init__(self, client: Any, index_pattern: str = PREDICTIONS_PATTERN) -> None:
        self.client = client
        self.index_pattern = index_pattern

    def read(self, task: str, start: datetime, end: datetime, limit: int) -> pd.DataFrame:
        return to_frame(self.documents(task, start, end, limit))

    def documents(self, task: str, start: datetime, end: datetime, limit: int) -> list[dict[str, Any]]:
        from elastic_transport import ApiError, TransportError

        query = {
            "bool": {
                "filter": [
                    {"term": {"task": task}},
                    {"range": {"@timestamp": {"gte": start.isoformat(), "lte": end.isoformat()}}},
                ]
            }
        }
        documents: list[dict[str, Any]] = []
        search_after: list[Any] | None = None
        try:
            while len(documents) < limit:
                page = self.client.search(
                    index=self.index_pattern,
                    query=query,
                    size=min(5000, limit - len(documents)),
                    sort=[{"@timestamp": "desc"}, {"request_id": "asc"}],
                    search_after=search_after,
                    ignore_unavailable=True,
                    allow_no_indices=True,
                )
                hits = page["hits"]["hits"]
                documents.extend(hit["_source"] for hit in hits)
                if len(hits) == 0 or "sort" not in hits[-1]:
                    break
                search_after = hits[-1]["sort"]
        except (ApiError, TransportError) as error:
            raise ScorelineError(
                ErrorCode.UNAVAILABLE,
                f"could not read the prediction log from Elasticsearch ({self.index_pattern}): {error}",
                retry_after_s=30,
            ) from error
        return documents[:limit]


class JsonlResultStore:
    """Embedded default: ``<dir>/scoreline-drift.jsonl`` and ``<dir>/scoreline-outcomes.jsonl``."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()

    def write(self, index: str, documents: list[dict[str, Any]], ids: list[str] | None = None) -> None:
        if not documents:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        rows = [{**doc, "_id": ids[i]} if ids else doc for i, doc in enumerate(documents)]
        payload = "".join(json.dumps(row, default=str) + "\n" for row in rows)
        with self._lock, open(self.directory / f"{index}.jsonl", "a") as handle:
            handle.write(payload)

    def latest(self, index: str, task: str | None, kind: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        path = self.directory / f"{index}.jsonl"
        if not path.exists():
            return []
        by_id: dict[str, dict[str, Any]] = {}
        for number, doc in enumerate(_json_lines(path)):
            if (task is None or doc.get("task") == task) and (kind is None or doc.get("kind") == kind):
                by_id[str(doc.pop("_id", number))] = doc  # the same _id overwrites, like Elasticsearch
        return sorted(by_id.values(), key=lambda d: d.get("@timestamp", ""), reverse=True)[:limit]


class ElasticResultStore:
    def __init__(self, client: Any) -> None:
        self.client = client

    def write(self, index: str, documents: list[dict[str, Any]], ids: list[str] | None = None) -> None:
        from elastic_transport import ApiError, TransportError

        if not documents:
            return
        operations: list[dict[str, Any]] = []
        for i, doc in enumerate(documents):
            operations.append({"index": {"_index": index, **({"_id": ids[i]} if ids else {})}})
            operations.append(doc)
        try:
            response = self.client.bulk(operations=operations, refresh="wait_for")
        except (ApiError, TransportError) as error:
            raise ScorelineError(
                ErrorCode.UNAVAILABLE, f"could not write monitoring results to {index}: {error}", retry_after_s=30
            ) from error
        if response.get("errors"):
            failed = [next(iter(item.values())) for item in response["items"]]
            reasons = [item.get("error") for item in failed if item.get("status", 500) >= 300][:3]
            raise ScorelineError(ErrorCode.UPSTREAM_FAILED, f"Elasticsearch refused monitoring results: {reasons}")

    def latest(self, index: str, task: str | None, kind: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        from elastic_transport import ApiError, TransportError

        filters: list[dict[str, Any]] = []
        if task:
            filters.append({"term": {"task": task}})
        if kind:
            filters.append({"term": {"kind": kind}})
        try:
            page = self.client.search(
                index=index,
                query={"bool": {"filter": filters}},
                size=limit,
                sort=[{"@timestamp": "desc"}],
                ignore_unavailable=True,
                allow_no_indices=True,
            )
        except (ApiError, TransportError) as error:
            raise ScorelineError(
                ErrorCode.UNAVAILABLE, f"could not read {index} from Elasticsearch: {error}", retry_after_s=30
            ) from error
        return [hit["_source"] for hit in page["hits"]["hits"]]


ORDER_SLACK = pd.Timedelta(minutes=5)  # lines of one file are in write order, give or take a queued batch
_BLOCK = 1024 * 1024


def _documents_backwards(path: Path) -> Iterator[dict[str, Any]]:
    """The documents of a log file from the last back (a batch file's columns are read whole: one batch)."""
    if path.suffix != CHUNK_SUFFIX:
        yield from _json_lines_backwards(path)
        return
    try:
        documents = file_documents(path)
    except FileNotFoundError:  # deleted by the sink's retention meanwhile
        return
    for document in reversed(documents):
        yield json.loads(document)


def _json_lines_backwards(path: Path) -> Iterator[dict[str, Any]]:
    """The documents of ``path`` from the last line back, read a block at a time (never the whole file at once)."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed in the finally below
    except FileNotFoundError:
        return
    try:
        position = handle.seek(0, 2)
        rest = b""
        while position > 0:
            step = min(_BLOCK, position)
            position -= step
            handle.seek(position)
            block = handle.read(step) + rest
            lines = block.split(b"\n")
            rest = lines.pop(0)  # maybe the tail of a line that starts in the previous block
            for line in reversed(lines):
                document = _parse(line)
                if document is not None:
                    yield document
        document = _parse(rest)
        if document is not None:
            yield document
    finally:
        handle.close()


def _parse(line: bytes) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        return json.loads(line)
    except json.JSONDecodeError:
        return None  # a line still being written by the sink


def _json_lines(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a line still being written by the sink


__all__ = [
    "DRIFT_INDEX",
    "OUTCOMES_INDEX",
    "ElasticLogReader",
    "ElasticResultStore",
    "JsonlLogReader",
    "JsonlResultStore",
    "PredictionLogReader",
    "ResultStore",
    "to_frame",
]
