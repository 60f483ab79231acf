"""Read recent prediction records: from Elasticsearch when configured, else model-api's local JSON Lines log."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pandas as pd

from scoreline.core.errors import ErrorCode
from scoreline_dashboard.client import ServiceCallError, interactive_http
from scoreline_dashboard.settings import DashboardSettings

COLUMNS = ["timestamp", "request_id", "task", "model_version", "inputs", "prediction", "probabilities", "latency_ms"]


def source_label(settings: DashboardSettings) -> str:
    if settings.elasticsearch_url:
        return f"Elasticsearch {settings.elasticsearch_url} ({settings.elasticsearch_index_pattern})"
    return f"local prediction log {Path(settings.prediction_log_dir).resolve()}"


def read_predictions(settings: DashboardSettings, task: str) -> pd.DataFrame:
    """The newest ``dashboard_max_log_records`` records of ``task``, oldest first, as a frame of COLUMNS."""
    if settings.elasticsearch_url:
        documents = _search_elasticsearch(settings, task)
    else:
        documents = _read_local(Path(settings.prediction_log_dir), task, settings.dashboard_max_log_records)
    return to_frame(documents)


def to_frame(documents: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for doc in documents:
        row = {name: doc.get(name) for name in COLUMNS}
        row["timestamp"] = doc.get("@timestamp", doc.get("timestamp"))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, errors="coerce", format="ISO8601")
    frame["latency_ms"] = pd.to_numeric(frame["latency_ms"], errors="coerce")
    return frame.dropna(subset=["timestamp"]).sort_values("timestamp").reset_index(drop=True)


def _search_elasticsearch(settings: DashboardSettings, task: str) -> list[dict[str, Any]]:
    client = interactive_http(
        "Elasticsearch",
        settings.elasticsearch_url or "",
        settings.dashboard_request_timeout_s,
        setting="SCORELINE_ELASTICSEARCH_URL",
    )
    auth = None
    if settings.elasticsearch_username and settings.elasticsearch_password:
        auth = (settings.elasticsearch_username, settings.elasticsearch_password.get_secret_value())
    query = {
        "size": settings.dashboard_max_log_records,
        "query": {"term": {"task": task}},
        "sort": [{"@timestamp": {"order": "desc"}}],
    }
    try:
        response = client.request(
            "POST",
            f"/{settings.elasticsearch_index_pattern}/_search",
            json=query,
            params={"ignore_unavailable": "true", "allow_no_indices": "true"},
            headers={"Content-Type": "application/json"},
            basic_auth=auth,
        )
    except ServiceCallError as exc:
        if exc.status == 404:  # no index yet: nothing logged so far
            return []
        raise
    hits = client.json(response).get("hits", {}).get("hits", [])
    return [hit.get("_source", {}) for hit in hits]


def _read_local(folder: Path, task: str, limit: int) -> list[dict[str, Any]]:
    if not folder.exists():
        return []
    files = sorted(
        [*folder.rglob("*.jsonl"), *folder.rglob("*.jsonl.gz"), *folder.rglob("*.ndjson")],
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    documents: list[dict[str, Any]] = []
    for path in files:
        try:
            opener = gzip.open if path.suffix == ".gz" else open
            with opener(path, "rt", encoding="utf-8") as handle:
                lines = handle.readlines()
        except OSError as exc:
            raise ServiceCallError(
                "prediction log",
                f"cannot read the prediction log {path}: {exc}",
                code=ErrorCode.UNAVAILABLE.value,
                url=str(path),
            ) from exc
        for line in reversed(lines):
            try:
                doc = json.loads(line)
            except ValueError:
                continue  # a line being written right now
            if doc.get("task") == task:
                documents.append(doc)
                if len(documents) >= limit:
                    return documents
    return documents
