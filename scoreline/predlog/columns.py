"""Columnar prediction logging: a batch file's predictions travel as one Arrow record batch.

The request process turns a large :class:`PredictionEntry` (a batch file: a table of inputs, a
feature matrix, one prediction per row) into an Arrow IPC stream with :func:`entry_to_arrow_parts`,
whose large pieces are the entry's arrays themselves (no copy, no Python object per row; the channel
sends them as they are). The sink process turns those bytes into
the very documents :func:`scoreline.predlog.writer.encode` builds row by row
(:func:`arrow_to_records`): each column is serialized once as a whole (numbers by one
``orjson.dumps`` of the column or matrix, strings once per distinct value) and the documents are joined from
those texts in one pass of machine code (:mod:`scoreline.predlog.joining`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pyarrow as pa

from scoreline.predlog.record import ColumnChunk, EncodedRecords, PackedLines, iso_milliseconds

if TYPE_CHECKING:  # the sink process reads columns without pandas
    from scoreline.predlog.joining import DocumentJoin
    from scoreline.predlog.writer import PredictionEntry

METADATA_KEY = b"scoreline.predlog"
REQUEST_ID = "request_id"
PREDICTION = "prediction"
FEATURES = "features"  # the feature matrix as one fixed_size_list column (else feature:0, feature:1, ...)
PROBABILITIES = "probabilities"
CREATED = "created"  # per row, epoch seconds (single predictions gathered into one batch); else the metadata's
LATENCY = "latency_ms"


def entry_to_arrow(entry: PredictionEntry) -> bytes:
    """The entry as one Arrow IPC stream (one record batch), as bytes (see :func:`entry_to_arrow_parts`)."""
    return b"".join(entry_to_arrow_parts(entry))


def entry_to_arrow_parts(entry: PredictionEntry) -> list[Any]:
    """The entry as one Arrow IPC stream (one record batch) in pieces (``bytes`` and ``pyarrow.Buffer``) whose
    concatenation is the stream: the large pieces are the entry's own arrays, not copies, so the stream is
    sent (``socket.sendmsg``) without being built in memory. Request ids are drawn here when the entry has
    none, so a resent batch carries the same ids (Elasticsearch ``_id``).

    A C-ordered feature or probability matrix travels as one ``fixed_size_list<double>`` column (its rows,
    zero-copy); any other layout as one column per feature (column-major once). The sink reads both."""
    import pandas as pd

    n = len(entry)
    input_table = None if isinstance(entry.inputs, pd.DataFrame) else _uniform_dicts_table(entry.inputs)
    if input_table is None:
        inputs = entry.inputs if isinstance(entry.inputs, pd.DataFrame) else pd.DataFrame(list(entry.inputs))
        input_table = pa.Table.from_pandas(inputs.reset_index(drop=True), preserve_index=False)
    input_names = [str(name) for name in input_table.column_names]
    if entry.request_ids is not None:
        ids: pa.Array = pa.array(list(entry.request_ids), pa.string())
    else:
        ids = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), n, [None, pa.py_buffer(_random_ids(n))])
    arrays: list[pa.Array] = [ids]
    names = [REQUEST_ID]
    for position in range(input_table.num_columns):
        arrays.append(input_table.column(position).combine_chunks())
        names.append(f"input:{position}")
    _add_matrix(arrays, names, entry.features, n, len(entry.feature_names), FEATURES, "feature")
    predictions = entry.predictions
    if isinstance(predictions, (np.ndarray, pd.Categorical)):
        arrays.append(pa.array(predictions))  # a categorical: its codes and names, no Python object per row
    else:
        arrays.append(pa.array(list(predictions)))
    names.append(PREDICTION)
    if entry.probabilities is not None:
        _add_matrix(arrays, names, entry.probabilities, n, len(entry.classes), PROBABILITIES, "probability")
    if entry.created_at is not None:  # single predictions gathered by the writer: each has its own time
        arrays += [pa.array(entry.created_at, pa.float64()), pa.array(entry.latencies_ms, pa.float64())]
        names += [CREATED, LATENCY]
    metadata = {
        "task": entry.task,
        "model_name": entry.model_name,
        "model_version": entry.model_version,
        "timestamp": entry.iso_timestamp(),
        "latency_ms": entry.latency_ms,
        "inputs": input_names,
        "feature_names": [str(name) for name in entry.feature_names],
        "classes": [str(name) for name in entry.classes] if entry.probabilities is not None else None,
    }
    batch = pa.RecordBatch.from_arrays(arrays, names=names)
    batch = batch.replace_schema_metadata({METADATA_KEY: orjson.dumps(metadata)})
    parts = _Parts()
    with pa.ipc.new_stream(pa.PythonFile(parts, mode="w"), batch.schema) as stream:
        stream.write_batch(batch)
    return parts.parts


def _uniform_dicts_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table | None:
    """Rows that all have the first row's keys, in its order, as a table built column by column (no pandas);
    None for anything else (the table then comes from pandas)."""
    if not rows:
        return None
    keys = list(rows[0])
    if any(list(row) != keys for row in rows):
        return None
    try:
        return pa.table({key: pa.array([row[key] for row in rows]) for key in keys})
    except (pa.ArrowException, TypeError, ValueError):  # mixed types in a column: pandas decides, as before
        return None


def _random_ids(n: int) -> np.ndarray:
    """``16 * n`` random bytes (``n`` 128-bit ids): a generator seeded from the OS per batch, so forked
    workers never draw the same ids, at a tenth of ``os.urandom``'s cost for the bytes themselves."""
    return np.random.PCG64(int.from_bytes(os.urandom(16), "little")).random_raw(2 * n)


def _add_matrix(
    arrays: list[pa.Array], names: list[str], values: Any, n: int, width: int, matrix_name: str, prefix: str
) -> None:
    matrix = np.asarray(values, dtype=np.float64)
    matrix = matrix.reshape(n, -1) if n else matrix.reshape(0, width)
    if matrix.flags.c_contiguous and matrix.shape[1] > 0:
        arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), matrix.shape[1]))
        names.append(matrix_name)
        return
    matrix = np.asfortranarray(matrix)  # column-major once: each column goes to Arrow without a copy of its own
    for position in range(matrix.shape[1]):
        arrays.append(pa.array(matrix[:, position]))
        names.append(f"{prefix}:{position}")


class _Parts:
    """A write-only file keeping each write as it is: Arrow's IPC writer hands it the record batch's body
    buffers themselves (``pyarrow.Buffer`` over the arrays' memory), not copies."""

    closed = False

    def __init__(self) -> None:
        self.parts: list[Any] = []

    def write(self, data: Any) -> int:
        self.parts.append(data)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def local_log_records(payload: bytes) -> ColumnChunk | PackedLines:
    """What the local log writes of an :func:`entry_to_arrow` payload: a batch file's as it is (one Arrow file),
    single predictions gathered by the writer (each with its own time) as JSON lines."""
    with pa.ipc.open_stream(payload) as reader:
        if reader.schema.get_field_index(CREATED) >= 0:
            return arrow_to_lines(payload)
        return ColumnChunk(payload, sum(batch.num_rows for batch in reader))


def arrow_rows(payload: bytes) -> int:
    """How many records an :func:`entry_to_arrow` payload holds (without building them)."""
    with pa.ipc.open_stream(payload) as reader:
        return sum(batch.num_rows for batch in reader)


def arrow_to_records(payload: bytes) -> EncodedRecords:
    """The serialized documents of an :func:`entry_to_arrow` payload, byte for byte what
    :func:`scoreline.predlog.writer.encode` gives for the same entry and request ids."""
    out = EncodedRecords()
    with pa.ipc.open_stream(payload) as reader:
        for batch in reader:
            metadata = orjson.loads(batch.schema.metadata[METADATA_KEY])
            joined = _batch_documents(batch, metadata, out, line_end=b"")
            if joined is not None:
                data, bounds = joined
                content = data.tobytes()
                out.documents.extend(map(content.__getitem__, map(slice, bounds[:-1].tolist(), bounds[1:].tolist())))
    return out


def arrow_to_lines(payload: bytes) -> PackedLines:
    """The same documents as :func:`arrow_to_records`, each followed by a newline, packed in one buffer: the
    JSON Lines text as it is written to a file, without a Python object per document (for a batch file,
    splitting the text into documents and joining them again cost more than building it)."""
    out = EncodedRecords()
    chunks: list[tuple[memoryview, np.ndarray]] = []
    with pa.ipc.open_stream(payload) as reader:
        for batch in reader:
            metadata = orjson.loads(batch.schema.metadata[METADATA_KEY])
            joined = _batch_documents(batch, metadata, out, line_end=b"\n")
            if joined is not None:
                chunks.append(joined)
    if not chunks:
        return PackedLines(out.request_ids, out.timestamps, memoryview(b""), np.zeros(1, np.int64))
    if len(chunks) == 1:
        return PackedLines(out.request_ids, out.timestamps, *chunks[0])
    starts = np.cumsum([0, *(len(data) for data, _ in chunks)])
    bounds = np.concatenate(
        [[0], *(chunk_bounds[1:] + start for (_, chunk_bounds), start in zip(chunks, starts[:-1], strict=True))]
    )
    return PackedLines(out.request_ids, out.timestamps, memoryview(b"".join(data for data, _ in chunks)), bounds)


def _batch_documents(
    batch: pa.RecordBatch, metadata: dict[str, Any], out: EncodedRecords, *, line_end: bytes
) -> tuple[memoryview, np.ndarray] | None:
    """The batch's documents (each followed by ``line_end``) in one buffer and their (n + 1) bounds in it (None
    for no rows); their ids and times are added to ``out``."""
    from scoreline.predlog.joining import DocumentJoin

    n = batch.num_rows
    if n == 0:
        return None
    ids = _request_ids(batch.column(REQUEST_ID))
    head = orjson.dumps(
        {"task": metadata["task"], "model_name": metadata["model_name"], "model_version": metadata["model_version"]}
    )[1:-1]
    # Each column's JSON is written once, as a whole; the documents are joined from those texts in one pass.
    join = DocumentJoin(n)
    per_row = batch.schema.get_field_index(CREATED) >= 0
    if per_row:  # gathered single predictions: each row's own time
        stamps = [iso_milliseconds(created) for created in batch.column(CREATED).to_pylist()]
        join.text(b'{"@timestamp":')
        _add_value(join, pa.array(stamps, pa.string()))
        join.text(b',"request_id":')
    else:
        stamps = [metadata["timestamp"]] * n
        join.text(b'{"@timestamp":' + orjson.dumps(metadata["timestamp"]) + b',"request_id":')
    _add_ids(join, batch.column(REQUEST_ID), ids)
    join.text(b"," + head + b',"inputs":{')
    for position, name in enumerate(metadata["inputs"]):
        join.text((b"," if position else b"") + _key(name))
        _add_value(join, batch.column(f"input:{position}"))

    def matrix(names: list[str], matrix_name: str, prefix: str) -> None:
        streams = _matrix_streams(join, batch, matrix_name)
        for position, name in enumerate(names):
            join.text((b"," if position else b"") + _key(name))
            if streams is not None:
                join.value(streams[position])
            else:
                _add_value(join, batch.column(f"{prefix}:{position}"))

    join.text(b'},"features":{')
    matrix(metadata["feature_names"], FEATURES, "feature")
    join.text(b'},"prediction":')
    _add_value(join, batch.column(PREDICTION))
    classes = metadata["classes"]
    if classes is None:
        join.text(b',"probabilities":null')
    else:
        join.text(b',"probabilities":{')
        matrix(classes, PROBABILITIES, "probability")
        join.text(b"}")
    if per_row:
        join.text(b',"latency_ms":')
        _add_value(join, batch.column(LATENCY))
        join.text(b"}" + line_end)
    else:
        join.text(b',"latency_ms":' + orjson.dumps(metadata["latency_ms"]) + b"}" + line_end)
    out.request_ids.extend(ids)
    out.timestamps.extend(stamps)
    return join.joined()


def _key(name: str) -> bytes:
    return orjson.dumps(name) + b":"


def _add_ids(join: DocumentJoin, column: pa.Array, ids: list[str]) -> None:
    """The ids as JSON strings; drawn hex ids need no escaping, only quotes (a stream of quoted ids)."""
    if pa.types.is_fixed_size_binary(column.type):
        join.value(join.stream(('"' + '","'.join(ids) + '"').encode()))
    else:
        join.table([orjson.dumps(request_id) for request_id in ids], np.arange(len(ids), dtype=np.int32))


def _request_ids(column: pa.Array) -> list[str]:
    if pa.types.is_fixed_size_binary(column.type):
        text = column.buffers()[1].to_pybytes()[column.offset * 16 : (column.offset + len(column)) * 16].hex()
        return [text[i : i + 32] for i in range(0, 32 * len(column), 32)]
    return [str(value) for value in column.to_pylist()]


def _add_value(join: DocumentJoin, column: pa.Array) -> None:
    """Each row's value of a column as JSON (null for missing, NaN and infinities), as row logging writes it."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        _add_dictionary(join, column.dictionary.to_pylist(), column.indices)
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
        encoded = column.dictionary_encode()
        _add_dictionary(join, encoded.dictionary.to_pylist(), encoded.indices)
    elif pa.types.is_floating(kind):
        # orjson writes a float64 array as Python floats would be written (NaN and infinities as null);
        # a float32 column is logged as its float64 values, as row logging does.
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        join.value(join.stream(orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)))
    elif (pa.types.is_integer(kind) or pa.types.is_boolean(kind)) and column.null_count == 0:
        values = column.to_numpy(zero_copy_only=False)
        join.value(join.stream(orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)))
    elif pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        join.value(join.stream(orjson.dumps(column.to_pylist())))
    else:
        dumped = [orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY) for value in column.to_pylist()]
        join.table(dumped, np.arange(len(dumped), dtype=np.int32))


def _matrix_streams(join: DocumentJoin, batch: pa.RecordBatch, name: str) -> list[int] | None:
    """A ``fixed_size_list<double>`` matrix column as streams, one per matrix column in order (None: not sent so).
    The machine-code join reads one row-major stream once per column; Arrow's join takes one stream per column
    (cutting each column out of a row-major stream cost it half as much again per document)."""
    if batch.schema.get_field_index(name) < 0:
        return None
    column = batch.column(name)
    rows = column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), column.type.list_size)
    if join.machine_code:
        stream = join.stream(orjson.dumps(np.ascontiguousarray(rows), option=orjson.OPT_SERIALIZE_NUMPY))
        return [stream] * rows.shape[1]
    columns = np.asfortranarray(rows)  # each column contiguous, dumped on its own
    return [
        join.stream(orjson.dumps(columns[:, position], option=orjson.OPT_SERIALIZE_NUMPY))
        for position in range(columns.shape[1])
    ]


def _add_dictionary(join: DocumentJoin, values: list[Any], indices: pa.Array) -> None:
    """The JSON text of each distinct value, taken by the codes (missing codes: null)."""
    lookup = [orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY) for value in values]
    lookup.append(b"null")
    join.table(lookup, indices.fill_null(len(values)).cast(pa.int32()).to_numpy(zero_copy_only=False))
