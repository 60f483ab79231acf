"""Scheduled predictions: the champion predicts what a task asks for from its newest data, and the answers are
kept as a versioned artifact of their own and logged like any served prediction.

The task says what to predict (``Task.prediction_requests``: every series from its last known day, every
rookie whose career is still open). The champion's booster is used with a serving state rebuilt from the
newest data (the state is "the end of the data", point-in-time like the features), so forecasts move on as
new traffic arrives without retraining. The answer file is the one ``POST /v1/{task}/predict/batch`` gives,
built by the same :class:`PredictionService`, which also logs every row to the prediction log (and so to
Elasticsearch when configured, where Kibana and live accuracy find it).

Storage: ``predictions/<task>/<run id>/predictions.parquet`` and ``manifest.json``, the manifest written last
(a run without one does not exist).
"""

from __future__ import annotations

import dataclasses
import io
import uuid
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
from pydantic import BaseModel

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.data.storage import ObjectStore
from scoreline.predlog.writer import PredictionLogWriter
from scoreline.serving.holder import ModelHolder
from scoreline.serving.model import Predictor, ServedModel
from scoreline.serving.service import PredictionService
from scoreline.serving.validation import EntityIndex
from scoreline.tasks.base import Task

PREFIX = "predictions"


class PredictionRun(BaseModel):
    task: str
    run_id: str
    model_name: str
    model_version: str
    dataset: str
    dataset_version: str
    rows: int
    columns: list[str]
    created_at: datetime
    data_key: str


def predict_dataset(
    task: Task,
    bundle: Any,
    canonical: pd.DataFrame,
    *,
    model_name: str,
    model_version: str,
    writer: PredictionLogWriter | None,
) -> tuple[bytes, int]:
    """The answer file (Parquet) for the task's scheduled requests from ``canonical``, and its row count."""
    requests = task.prediction_requests(canonical)
    if requests.empty:
        raise ScorelineError(
            ErrorCode.CONFLICT,
            f"task {task.id!r} asks for no scheduled predictions from this data; expected a task whose "
            "prediction_requests lists what to predict (e.g. series to forecast, open careers)",
            {"task": task.id},
        )
    fresh = dataclasses.replace(bundle, serving_state=task.serving_state(canonical))
    predictor = Predictor(fresh, task)
    served = ServedModel(
        task=task.id, model_name=model_name, version=model_version, alias="scheduled", source="mlflow",
        bundle=fresh, predictor=predictor, entities=EntityIndex(task, fresh.serving_state),
    )  # fmt: skip
    holder = ModelHolder((task.id,))
    holder.swap(served)
    service = PredictionService(holder, writer, max_batch_rows=max(len(requests), 1))
    sink = io.BytesIO()
    requests.to_parquet(sink, index=False)
    result = service.predict_file(task.id, sink.getvalue(), "requests.parquet", "parquet")
    return result.content, result.rows


class PredictionRunStore:
    """Scheduled prediction runs in the object store, one folder per run, manifest last."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def write(
        self, task: str, content: bytes, rows: int, *, model_name: str, model_version: str, dataset: str,
        dataset_version: str,
    ) -> PredictionRun:  # fmt: skip
        created = datetime.now(UTC)
        run_id = f"{created:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
        data_key = f"{PREFIX}/{task}/{run_id}/predictions.parquet"
        columns = pq.read_schema(io.BytesIO(content)).names
        run = PredictionRun(
            task=task, run_id=run_id, model_name=model_name, model_version=model_version, dataset=dataset,
            dataset_version=dataset_version, rows=rows, columns=columns, created_at=created, data_key=data_key,
        )  # fmt: skip
        self.store.put(data_key, content, "application/vnd.apache.parquet")
        self.store.put(f"{PREFIX}/{task}/{run_id}/manifest.json", run.model_dump_json().encode(), "application/json")
        return run

    def runs(self, task: str) -> list[PredictionRun]:
        """Every complete run of a task, newest first."""
        keys = [k for k in self.store.list(f"{PREFIX}/{task}/") if k.endswith("/manifest.json")]
        runs = [PredictionRun.model_validate_json(self.store.get(key)) for key in keys]
        return sorted(runs, key=lambda run: run.created_at, reverse=True)

    def run(self, task: str, run_id: str) -> PredictionRun:
        key = f"{PREFIX}/{task}/{run_id}/manifest.json"
        if not self.store.exists(key):
            raise ScorelineError(
                ErrorCode.NOT_FOUND, f"no prediction run {run_id!r} of task {task!r}", {"task": task, "run": run_id}
            )
        return PredictionRun.model_validate_json(self.store.get(key))

    def content(self, run: PredictionRun) -> bytes:
        return self.store.get(run.data_key)
