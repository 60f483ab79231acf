"""The prediction service behind model-api: validate, predict on one served version, log.

Each call takes the served model reference once (:meth:`ModelHolder.get`) and uses only it, so a
swap during the call cannot mix versions. Logging is one non-blocking queue put.
"""

from __future__ import annotations

import io
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.predlog.writer import LogSlot, PredictionEntry, PredictionLogWriter, memoized_document, model_head
from scoreline.serving.holder import ModelHolder
from scoreline.serving.model import ServedModel
from scoreline.serving.validation import check_entities, instances_of, validate_frame, validate_instances
from scoreline.tasks import get_task
from scoreline.tasks.base import Task

FileFormat = Literal["csv", "parquet"]
_ids = random.Random()  # seeded from the OS once; os.urandom per request costs ~0.4 ms on some VMs


def new_request_id() -> str:
    """A random 128-bit hex id (unique per predicted instance; the prediction log's _id)."""
    return f"{_ids.getrandbits(128):032x}"


PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class BatchResult:
    content: bytes
    media_type: str
    file_format: FileFormat
    rows: int
    served: ServedModel


class PredictionService:
    def __init__(
        self,
        holder: ModelHolder,
        writer: PredictionLogWriter | None,
        *,
        max_instances: int = 1000,
        max_batch_rows: int = 1_000_000,
    ) -> None:
        self.holder = holder
        self.writer = writer
        self.max_instances = max_instances
        self.max_batch_rows = max_batch_rows
        self._tasks: dict[str, Task] = {}

    def task(self, task_id: str) -> Task:
        """The task object (unknown task → 404), built once per task id."""
        task = self._tasks.get(task_id)
        if task is None:
            task = self._tasks[task_id] = get_task(task_id)
        return task

    def served(self, task_id: str) -> ServedModel:
        self.task(task_id)  # unknown task → 404 before anything else
        return self.holder.get(task_id)

    # ---- JSON ---------------------------------------------------------------------------------
    def predict(self, task_id: str, body: Any) -> tuple[dict[str, Any], ServedModel]:
        started = time.perf_counter()
        task = self.task(task_id)
        instances = instances_of(body, self.max_instances)
        rows = validate_instances(task.request_model, instances)
        served = self.holder.get(task_id)
        check_entities(served.entities, rows)
        outputs, features, memo = served.predictor.predict_memoized(rows)
        ids = [new_request_id() for _ in rows]
        predictions, logged = _answers(task, served, rows, outputs, ids)
        if task.explain_top and hasattr(served.bundle, "contributions"):
            _explain(task, served, features, predictions)
        payload = {
            "task": task_id,
            "model_name": served.model_name,
            "model_version": served.version,
            "predictions": predictions,
        }
        self._log(served, rows, features, logged, outputs, ids, started, memo)
        return payload, served

    # ---- files --------------------------------------------------------------------------------
    def predict_file(
        self, task_id: str, content: bytes, filename: str | None, output: FileFormat | None
    ) -> BatchResult:
        started = time.perf_counter()
        task = self.task(task_id)
        input_format, table, frame = _read_upload(content, filename)
        if len(frame) > self.max_batch_rows:
            raise ScorelineError(
                ErrorCode.TOO_LARGE,
                f"{len(frame)} rows in the file; at most {self.max_batch_rows} per batch request (split the file)",
                {"rows": len(frame), "limit": self.max_batch_rows},
            )
        served = self.holder.get(task_id)
        requests = validate_frame(task.request_model, frame, served.entities)
        outputs, features = served.predictor.predict_frame(requests)
        columns = served.predictor.classes
        n = len(frame)
        added: dict[str, pa.Array] = {}
        if task.kind in ("binary", "multiclass"):
            winner_codes = outputs.argmax(axis=1)
            logged: list[Any] = list(np.asarray(columns, dtype=object)[winner_codes])
            added = {f"prob_{name}": pa.array(outputs[:, j], pa.float64()) for j, name in enumerate(columns)}
            added["prediction"] = _strings(winner_codes, list(columns))
            label = task.describe_batch(requests, logged, outputs, served.serving_state)
        elif task.kind == "regression":
            logged = outputs[:, 0].tolist()
            added["prediction"] = pa.array(outputs[:, 0], pa.float64())
            label = task.describe_batch(requests, logged, None, served.serving_state)
        else:  # forecast: one column per horizon day, with the interval bounds
            low, high = _interval(served)
            logged = outputs[:, 0].tolist()
            for j, name in enumerate(columns):
                added[f"forecast_{name}"] = pa.array(outputs[:, j], pa.float64())
                added[f"low_{name}"] = pa.array(outputs[:, j] * low[j], pa.float64())
                added[f"high_{name}"] = pa.array(outputs[:, j] * high[j], pa.float64())
            label = task.describe_batch(requests, outputs.tolist(), None, served.serving_state)
        added["label"] = label if isinstance(label, pa.Array) else pa.array(list(label), pa.string())
        added["model_name"] = pa.repeat(pa.scalar(served.model_name, pa.string()), n)
        added["model_version"] = pa.repeat(pa.scalar(served.version, pa.string()), n)
        for name, column in added.items():  # an upload's own column of the same name is replaced
            if name in table.column_names:
                table = table.drop_columns([name])
            table = table.append_column(name, column)
        file_format = output or input_format
        body = _write_arrow(table, file_format)
        self._log(served, requests, features, logged, outputs, None, started)
        media = "text/csv" if file_format == "csv" else "application/vnd.apache.parquet"
        return BatchResult(body, media, file_format, n, served)

    # ---- logging ------------------------------------------------------------------------------
    def _log(
        self,
        served: ServedModel,
        inputs: list[dict[str, Any]] | pd.DataFrame,
        features: np.ndarray,
        labels: list[Any],
        probabilities: np.ndarray,
        ids: list[str] | None,
        started: float,
        log_slots: Sequence[LogSlot] | None = None,
    ) -> None:
        if self.writer is None:
            return
        latency_ms = (time.perf_counter() - started) * 1000.0
        if log_slots is not None and ids is not None and len(ids) == 1 and log_slots[0].log_fragment is not None:
            # A repeated fixture: its record is its memoized fragment plus the time, id and latency.
            head = model_head(served.task, served.model_name, served.version)
            timestamp, document = memoized_document(head, ids[0], log_slots[0].log_fragment, latency_ms)
            self.writer.submit_document(ids[0], timestamp, document)
            return
        self.writer.submit(
            PredictionEntry(
                task=served.task,
                model_name=served.model_name,
                model_version=served.version,
                inputs=inputs,
                feature_names=served.predictor.feature_names,
                features=features,
                predictions=labels,
                classes=served.predictor.classes,
                probabilities=probabilities,
                latency_ms=latency_ms,
                request_ids=ids,
                log_slots=log_slots,
            )
        )


def _strings(codes: np.ndarray, names: list[str]) -> pa.Array:
    """``names[codes]`` as an Arrow string column, without a Python string per row."""
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(names, pa.string())).cast(pa.string())


def _interval(served: ServedModel) -> tuple[list[float], list[float]]:
    """A forecast version's interval as ratios to the forecast per horizon day (1.0 when it has none)."""
    interval = (getattr(served.bundle, "metadata", {}) or {}).get("interval") or {}
    days = len(served.predictor.classes)
    return list(interval.get("low_ratio") or [1.0] * days), list(interval.get("high_ratio") or [1.0] * days)


def _explain(task: Task, served: ServedModel, features: np.ndarray, answers: list[dict[str, Any]]) -> None:
    """Add each answer's top features by absolute SHAP value (XGBoost ``pred_contribs``, on the margin)."""
    values = served.bundle.contributions(features)
    names = served.predictor.feature_names
    for answer, row in zip(answers, values, strict=True):
        top = np.argsort(-np.abs(row))[: task.explain_top]
        answer["contributions"] = {names[j]: float(row[j]) for j in top.tolist()}


def _answers(
    task: Task, served: ServedModel, rows: list[dict[str, Any]], outputs: np.ndarray, ids: list[str]
) -> tuple[list[dict[str, Any]], list[Any]]:
    """The answer per instance by prediction kind, and what the prediction log records as its prediction."""
    head = {"model_name": served.model_name, "model_version": served.version}
    columns = served.predictor.classes
    state = served.serving_state
    answers: list[dict[str, Any]] = []
    logged: list[Any] = []
    if task.kind in ("binary", "multiclass"):
        winners = outputs.argmax(axis=1).tolist()
        for i, (row, row_outputs) in enumerate(zip(rows, outputs.tolist(), strict=True)):
            label = columns[winners[i]]
            logged.append(label)
            probabilities = dict(zip(columns, row_outputs, strict=True))
            answers.append({
                "request_id": ids[i], "prediction": label, "label": task.describe(row, label, probabilities, state),
                "probabilities": probabilities, **head,
            })  # fmt: skip
    elif task.kind == "regression":
        for i, (row, value) in enumerate(zip(rows, outputs[:, 0].tolist(), strict=True)):
            logged.append(value)
            answers.append(
                {"request_id": ids[i], "prediction": value, "label": task.describe(row, value, None, state), **head}
            )
    else:
        low, high = _interval(served)
        quantiles = task.interval_quantiles
        low_name, high_name = (f"p{round(q * 100)}" for q in quantiles)
        for i, (row, values) in enumerate(zip(rows, outputs.tolist(), strict=True)):
            logged.append(values[0])
            answers.append({
                "request_id": ids[i], "prediction": values, "label": task.describe(row, values, None, state),
                "horizon": list(range(1, len(values) + 1)),
                "intervals": {
                    low_name: [v * r for v, r in zip(values, low, strict=False)],
                    high_name: [v * r for v, r in zip(values, high, strict=False)],
                },
                **head,
            })  # fmt: skip
    return answers, logged


def read_table(content: bytes, filename: str | None) -> tuple[FileFormat, pd.DataFrame]:
    """A CSV or Parquet upload as a table (the format from the content, the name only as a hint)."""
    file_format, _, frame = _read_upload(content, filename)
    return file_format, frame


def _read_upload(content: bytes, filename: str | None) -> tuple[FileFormat, pa.Table, pd.DataFrame]:
    """The upload as an Arrow table (kept for the answer file) and as a pandas table (for validation)."""
    if not content:
        raise ScorelineError(ErrorCode.INVALID_INPUT, "the uploaded file is empty; expected a CSV or Parquet file")
    name = (filename or "").lower()
    if content[:4] == PARQUET_MAGIC:
        try:
            schema = pq.read_schema(pa.BufferReader(content))
        except Exception as exc:
            raise ScorelineError(ErrorCode.INVALID_INPUT, f"unreadable Parquet file: {exc}") from exc
        _refuse_nested(schema)
        try:
            table = pq.read_table(pa.BufferReader(content))
            frame = table.to_pandas().reset_index(drop=True)
        except Exception as exc:
            raise ScorelineError(ErrorCode.INVALID_INPUT, f"unreadable Parquet file: {exc}") from exc
        # The answer holds the upload's columns only: a stored pandas index is dropped, as in the request table.
        index_columns = {c for c in (table.schema.pandas_metadata or {}).get("index_columns", []) if isinstance(c, str)}
        table = table.drop_columns([c for c in table.column_names if c in index_columns])
        return "parquet", table.replace_schema_metadata(None), frame
    if name.endswith((".parquet", ".pq")):
        raise ScorelineError(ErrorCode.INVALID_INPUT, f"{filename} is not a Parquet file (no PAR1 header)")
    if b"\x00" in content[:4096]:
        raise ScorelineError(
            ErrorCode.UNSUPPORTED_MEDIA,
            f"{filename or 'the upload'} is binary but not Parquet; expected CSV or Parquet",
        )
    try:
        frame = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False, na_values=[""])
    except Exception as exc:
        raise ScorelineError(ErrorCode.INVALID_INPUT, f"unreadable CSV file: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return "csv", pa.Table.from_pandas(frame, preserve_index=False), frame


def _refuse_nested(schema: pa.Schema) -> None:
    """A request table is flat: a list, struct, map or union column is a 422 naming it (not a 500 later)."""
    nested = [(field.name, str(field.type)) for field in schema if pa.types.is_nested(field.type)]
    if nested:
        name, kind = nested[0]
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"invalid file: column {name!r} holds {kind} values; expected one plain value per cell "
            "(text, number, date or boolean), as in GET /v1/{task}/schema",
            {
                "problems": [
                    {"row": None, "field": column, "message": f"{column_type} column", "expected": "a flat column"}
                    for column, column_type in nested[:50]
                ],
                "count": len(nested),
            },
        )


def write_table(frame: pd.DataFrame, file_format: FileFormat) -> bytes:
    return _write_arrow(pa.Table.from_pandas(frame, preserve_index=False), file_format)


def _write_arrow(table: pa.Table, file_format: FileFormat) -> bytes:
    sink = pa.BufferOutputStream()
    if file_format == "parquet":
        # Dictionary pages help the repeated text columns only; statistics are of no use in an answer file.
        text = [f.name for f in table.schema if not pa.types.is_floating(f.type)]
        pq.write_table(table, sink, use_dictionary=text, write_statistics=False)
    else:
        pa_csv.write_csv(table, sink)
    return sink.getvalue().to_pybytes()
