"""Batch files for model-api: a CSV or Parquet upload of requests answered as a file of the same rows.

The upload is read once into Arrow (kept for the answer file, so its own columns come back as sent)
and pandas (for validation and features); the answer columns are appended to the Arrow table.
"""

from __future__ import annotations

import csv
import io
import time
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.predlog.writer import PredictionEntry
from scoreline.serving.model import ServedModel
from scoreline.serving.service import _interval
from scoreline.serving.validation import text_columns, validate_frame
from scoreline.tasks.tabular import MAX_TABLE_COLUMNS

if TYPE_CHECKING:
    from scoreline.serving.service import PredictionService

FileFormat = Literal["csv", "parquet"]
PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class BatchResult:
    content: bytes
    media_type: str
    file_format: FileFormat
    rows: int
    served: ServedModel


def predict_file(
    service: PredictionService, task_id: str, content: bytes, filename: str | None, output: FileFormat | None
) -> BatchResult:
    started = time.perf_counter()
    task = service.task(task_id)
    input_format, table, frame = _read_upload(content, filename, text_columns(task.request_model))
    if len(frame) > service.max_batch_rows:
        raise ScorelineError(
            ErrorCode.TOO_LARGE,
            f"{len(frame)} rows in the file; at most {service.max_batch_rows} per batch request (split the file)",
            {"rows": len(frame), "limit": service.max_batch_rows},
        )
    served = service.holder.get(task_id)
    requests = validate_frame(task.request_model, frame, served.entities)
    outputs, features = served.predictor.predict_frame(requests)
    columns = served.predictor.classes
    n = len(frame)
    added: dict[str, pa.Array] = {}
    if task.kind in ("binary", "multiclass"):
        winner_codes = outputs.argmax(axis=1)
        # The classes by code (no Python string per row): describe_batch and the log's Arrow column use the codes.
        logged: Any = pd.Categorical.from_codes(winner_codes, categories=list(columns))
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
    if service.writer is not None:
        service.writer.submit(
            PredictionEntry(
                task=served.task,
                model_name=served.model_name,
                model_version=served.version,
                inputs=requests,
                feature_names=served.predictor.feature_names,
                features=features,
                predictions=logged,
                classes=served.predictor.classes,
                probabilities=outputs,
                latency_ms=(time.perf_counter() - started) * 1000.0,
                request_ids=None,
            )
        )
    media = "text/csv" if file_format == "csv" else "application/vnd.apache.parquet"
    return BatchResult(body, media, file_format, n, served)


def _strings(codes: np.ndarray, names: list[str]) -> pa.Array:
    """``names[codes]`` as an Arrow string column, without a Python string per row."""
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(names, pa.string())).cast(pa.string())


def read_table(content: bytes, filename: str | None) -> tuple[FileFormat, pd.DataFrame]:
    """A CSV or Parquet upload as a table (the format from the content, the name only as a hint)."""
    file_format, _, frame = _read_upload(content, filename)
    return file_format, frame


def _read_upload(
    content: bytes, filename: str | None, text: Collection[str] = ()
) -> tuple[FileFormat, pa.Table, pd.DataFrame]:
    """The upload as an Arrow table (kept for the answer file) and as a pandas table (for validation), where
    a Parquet file's string columns named in ``text`` are categoricals read from its dictionary pages: the
    validation converts per distinct value and takes the codes as they are (hashing every row's string
    costs more than reading the file again)."""
    if not content:
        raise ScorelineError(ErrorCode.INVALID_INPUT, "the uploaded file is empty; expected a CSV or Parquet file")
    name = (filename or "").lower()
    if content[:4] == PARQUET_MAGIC:
        try:
            schema = pq.read_schema(pa.BufferReader(content))
        except Exception as exc:
            raise ScorelineError(ErrorCode.INVALID_INPUT, f"unreadable Parquet file: {exc}") from exc
        _refuse_wide(len(schema.names), filename)
        _refuse_repeated(schema.names)
        _refuse_nested(schema)
        try:
            table = pq.read_table(pa.BufferReader(content))
            dictionary = [f.name for f in schema if f.name in text and _is_string(f.type)]
            rows = pq.read_table(pa.BufferReader(content), read_dictionary=dictionary) if dictionary else table
            frame = rows.to_pandas().reset_index(drop=True)
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
    _check_first_rows(content, filename)
    try:
        # index_col=False: pandas would otherwise take the first row's fields beyond the header for an index
        # (every value shifted, and a row of a million commas a million index levels).
        frame = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False, na_values=[""], index_col=False)
    except Exception as exc:
        raise ScorelineError(ErrorCode.INVALID_INPUT, f"unreadable CSV file: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return "csv", pa.Table.from_pandas(frame, preserve_index=False), frame


def _check_first_rows(content: bytes, filename: str | None) -> None:
    """A CSV upload's header and first row are at most ``MAX_TABLE_COLUMNS`` wide and the row holds no value beyond the
    header (later rows that do are the CSV reader's own error, found at once)."""
    reader = csv.reader(io.TextIOWrapper(io.BytesIO(content), encoding="utf-8", errors="replace", newline=""))
    try:
        header = next(reader, [])
        _refuse_wide(len(header), filename)
        _refuse_repeated(header)
        first = next(reader, [])
    except csv.Error:  # a field over the csv module's 128 KB: count the lines' commas, and let pandas read it
        lines = content.split(b"\n", 2)
        for line in lines[:2]:
            _refuse_wide(line.count(b",") + 1, filename)
        return
    _refuse_wide(len(first), filename)
    extra = [value for value in first[len(header) :] if value.strip()]
    if extra:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"invalid file: row 0 has {len(first):,} fields and values beyond the header's {len(header)} "
            f"(first: {extra[0][:40]!r}); expected at most {len(header)} fields per row, as in the header",
            {"problems": [{"row": 0, "field": None, "message": f"{len(first)} fields",
                           "expected": f"at most {len(header)} fields, as in the header"}], "count": 1},
        )  # fmt: skip


def _refuse_repeated(names: list[str]) -> None:
    """A column named twice is ambiguous (pandas would keep the first as ``x`` and the second as ``x.1``, so which
    value was predicted on would depend on the order): a 422 naming it."""
    counts = Counter(name.strip() for name in names if name.strip())  # blank ones: a spreadsheet's trailing commas
    repeated = {name: count for name, count in counts.items() if count > 1}
    if repeated:
        name, count = next(iter(repeated.items()))
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"invalid file: column {name!r} appears {count} times in the header; expected each column once",
            {"problems": [{"row": None, "field": n, "message": f"{c} columns named {n!r}",
                           "expected": "each column once"} for n, c in repeated.items()],
             "count": len(repeated)},
        )  # fmt: skip


def _refuse_wide(columns: int, filename: str | None) -> None:
    """The width limit of every uploaded table (ingest's too): a batch file holds the request's columns (a few dozen)
    and the user's own, and a wide header costs the CSV reader far more than its bytes (1,000,000 commas: minutes)."""
    if columns > MAX_TABLE_COLUMNS:
        raise ScorelineError(
            ErrorCode.TOO_LARGE,
            f"{filename or 'the upload'} has {columns:,} columns; at most {MAX_TABLE_COLUMNS:,} per batch file "
            "(expected the request columns of GET /v1/{task}/schema and a few of your own)",
            {"columns": columns, "limit": MAX_TABLE_COLUMNS},
        )


def _is_string(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


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
