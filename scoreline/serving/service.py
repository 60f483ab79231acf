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

from scoreline.errors import ErrorCode, ScorelineError
from scoreline.predlog.writer import LogSlot, PredictionEntry, PredictionLogWriter, memoized_document, model_head
from scoreline.serving.holder import ModelHolder
from scoreline.serving.labels import describe
from scoreline.serving.model import ServedModel
from scoreline.serving.validation import check_state, instances_of, validate_frame, validate_instances
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
        check_state(task_id, served.teams, rows)
        probabilities, features, memo = served.predictor.predict_memoized(rows)
        classes = served.predictor.classes
        winners = probabilities.argmax(axis=1).tolist()
        ids = [new_request_id() for _ in rows]
        predictions = []
        labels = []
        for i, (row, row_probabilities) in enumerate(zip(rows, probabilities.tolist(), strict=True)):
            label = classes[winners[i]]
            labels.append(label)
            predictions.append(
                {
                    "request_id": ids[i],
                    "prediction": label,
                    "label": describe(task_id, row, label),
                    "probabilities": dict(zip(classes, row_probabilities, strict=True)),
                    "model_name": served.model_name,
                    "model_version": served.version,
                }
            )
        payload = {
            "task": task_id,
            "model_name": served.model_name,
            "model_version": served.version,
            "predictions": predictions,
        }
        self._log(served, rows, features, labels, probabilities, ids, started, memo)
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
        requests = validate_frame(task.request_model, frame, task_id, served.teams)
        probabilities, features = served.predictor.predict_frame(requests)
        classes = served.predictor.classes
        winner_codes = probabilities.argmax(axis=1)
        winners = np.asarray(classes, dtype=object)[winner_codes]
        n = len(frame)
        added = {f"prob_{name}": pa.array(probabilities[:, j], pa.float64()) for j, name in enumerate(classes)}
        added["prediction"] = _strings(winner_codes, list(classes))
        added["label"] = _labels(task_id, requests, classes, winner_codes)
        added["model_name"] = pa.repeat(pa.scalar(served.model_name, pa.string()), n)
        added["model_version"] = pa.repeat(pa.scalar(served.version, pa.string()), n)
        for name, column in added.items():  # an upload's own column of the same name is replaced
            if name in table.column_names:
                table = table.drop_columns([name])
            table = table.append_column(name, column)
        file_format = output or input_format
        body = _write_arrow(table, file_format)
        self._log(served, requests, features, list(winners), probabilities, None, started)
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


def _labels(task_id: str, requests: pd.DataFrame, classes: tuple[str, ...], winner_codes: np.ndarray) -> pa.Array:
    if task_id != "match-outcome":
        return _strings(winner_codes, list(classes))
    # Label codes: home team i → i, away team j → len(home teams) + j, draw → the last entry.
    home_codes, home_names = _distinct(requests["home_team"])
    away_codes, away_names = _distinct(requests["away_team"])
    names = [f"{team} win" for team in home_names] + [f"{team} win" for team in away_names] + ["draw"]
    codes = np.where(
        winner_codes == classes.index("home"),
        home_codes,
        np.where(winner_codes == classes.index("away"), len(home_names) + away_codes, len(names) - 1),
    )
    return _strings(codes, names)


def _distinct(values: pd.Series) -> tuple[np.ndarray, Any]:
    """Row codes and distinct values of a column (a validated text column is categorical: its own)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), values.cat.categories
    return pd.factorize(values)


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
