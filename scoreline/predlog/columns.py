"""Columnar prediction logging: a batch file's predictions travel as one Arrow record batch.

The request process turns a large :class:`PredictionEntry` (a batch file: a table of inputs, a
feature matrix, one prediction per row) into an Arrow IPC stream with :func:`entry_to_arrow_parts`,
whose large pieces are the entry's arrays themselves (no copy, no Python object per row; the channel
sends them as they are). The sink process turns those bytes into
the very documents :func:`scoreline.predlog.writer.encode` builds row by row
(:func:`arrow_to_records`): each column is serialized once as a whole (numbers by one
``orjson.dumps`` of the column, strings once per distinct value) and each document is one
``bytes % tuple`` of its row's pieces.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from scoreline.predlog.record import EncodedRecords, PackedLines, iso_milliseconds

if TYPE_CHECKING:  # the sink process reads columns without pandas
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
            for documents in joined:
                out.documents.extend(_binaries(documents))
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
            for lines in _batch_documents(batch, metadata, out, line_end=b"\n"):
                chunks.append(_packed(lines))
    if not chunks:
        return PackedLines(out.request_ids, out.timestamps, memoryview(b""), np.zeros(1, np.int64))
    data = chunks[0][0] if len(chunks) == 1 else memoryview(b"".join(chunk for chunk, _ in chunks))
    ends = np.concatenate([[0], *(bounds[1:] for bounds in _shifted(chunks))])
    return PackedLines(out.request_ids, out.timestamps, data, ends)


def _shifted(chunks: list[tuple[memoryview, np.ndarray]]) -> list[np.ndarray]:
    """Each chunk's line bounds as positions in the chunks' concatenation."""
    shifted, start = [], 0
    for data, bounds in chunks:
        shifted.append(bounds + start)
        start += len(data)
    return shifted


def _packed(lines: pa.Array) -> tuple[memoryview, np.ndarray]:
    """A binary array's values as one buffer (Arrow's own, not copied) and the (n + 1) bounds of each value in it."""
    _, offsets, data = lines.buffers()
    bounds = np.frombuffer(offsets, np.int32, len(lines) + 1, lines.offset * 4).astype(np.int64)
    content = memoryview(data)[bounds[0] : bounds[-1]] if data is not None else memoryview(b"")
    return content, bounds - bounds[0]


def _batch_documents(
    batch: pa.RecordBatch, metadata: dict[str, Any], out: EncodedRecords, *, line_end: bytes
) -> list[pa.Array]:
    """The batch's documents (each followed by ``line_end``) as binary arrays, its ids and times added to ``out``."""
    n = batch.num_rows
    if n == 0:
        return []
    ids = _request_ids(batch.column(REQUEST_ID))
    head = orjson.dumps(
        {"task": metadata["task"], "model_name": metadata["model_name"], "model_version": metadata["model_version"]}
    )[1:-1]
    # The document as literal bytes with one column of JSON values between each two of them; every row's
    # document is then joined by Arrow in one pass (no Python object per value).
    per_row = batch.schema.get_field_index(CREATED) >= 0
    ids_texts = _quoted_ids(batch.column(REQUEST_ID), ids)
    if per_row:  # gathered single predictions: each row's own time
        stamps = [iso_milliseconds(created) for created in batch.column(CREATED).to_pylist()]
        literals = [b'{"@timestamp":', b',"request_id":', b"," + head]
        values: list[pa.Array] = [_json_texts(pa.array(stamps, pa.string())), ids_texts]
    else:
        stamps = [metadata["timestamp"]] * n
        literals = [b'{"@timestamp":' + orjson.dumps(metadata["timestamp"]) + b',"request_id":', b"," + head]
        values = [ids_texts]

    def text(part: bytes) -> None:
        literals[-1] += part

    def value(opening: bytes, column: pa.Array | np.ndarray) -> None:
        text(opening)
        values.append(_float_texts(column) if isinstance(column, np.ndarray) else _json_texts(column))
        literals.append(b"")

    def matrix(names: list[str], matrix_name: str, prefix: str) -> None:
        columns = _matrix_columns(batch, matrix_name)
        for position, name in enumerate(names):
            column = columns[:, position] if columns is not None else batch.column(f"{prefix}:{position}")
            value((b"," if position else b"") + _key(name), column)

    text(b',"inputs":{')
    for position, name in enumerate(metadata["inputs"]):
        value((b"," if position else b"") + _key(name), batch.column(f"input:{position}"))
    text(b'},"features":{')
    matrix(metadata["feature_names"], FEATURES, "feature")
    text(b"}")
    value(b',"prediction":', batch.column(PREDICTION))
    classes = metadata["classes"]
    if classes is None:
        text(b',"probabilities":null')
    else:
        text(b',"probabilities":{')
        matrix(classes, PROBABILITIES, "probability")
        text(b"}")
    if per_row:
        value(b',"latency_ms":', batch.column(LATENCY))
        text(b"}" + line_end)
    else:
        text(b',"latency_ms":' + orjson.dumps(metadata["latency_ms"]) + b"}" + line_end)
    joined = []
    for start in range(0, n, _JOIN_ROWS):  # binary offsets are 32-bit: a slice's documents stay far below 2 GiB
        parts: list[pa.Array | pa.Scalar] = []
        for literal, column in zip(literals, [*values, None], strict=True):
            if literal:
                parts.append(pa.scalar(literal, pa.binary()))
            if column is not None:
                parts.append(column.slice(start, _JOIN_ROWS))
        joined.append(pc.binary_join_element_wise(*parts, _EMPTY))
    out.request_ids.extend(ids)
    out.timestamps.extend(stamps)
    return joined


_JOIN_ROWS = 100_000
_EMPTY = pa.scalar(b"", pa.binary())
_COMMA = 44


def _key(name: str) -> bytes:
    return orjson.dumps(name) + b":"


def _binaries(array: pa.Array) -> list[bytes]:
    """A binary array as a list of bytes: one slice of its data per value (``to_pylist`` builds a scalar each)."""
    _, offsets, data = array.buffers()
    bounds = np.frombuffer(offsets, np.int32, len(array) + 1, array.offset * 4).tolist()
    content = data.to_pybytes() if data is not None else b""
    return list(map(content.__getitem__, map(slice, bounds[:-1], bounds[1:])))


def _quoted_ids(column: pa.Array, ids: list[str]) -> pa.Array:
    """The ids as JSON strings; drawn hex ids need no escaping, only quotes."""
    if pa.types.is_fixed_size_binary(column.type):
        text = ('"' + '""'.join(ids) + '"').encode()
        offsets = np.arange(0, 34 * len(ids) + 1, 34, dtype=np.int32)
        return pa.Array.from_buffers(pa.binary(), len(ids), [None, pa.py_buffer(offsets), pa.py_buffer(text)])
    return pa.array([orjson.dumps(request_id) for request_id in ids], pa.binary())


def _request_ids(column: pa.Array) -> list[str]:
    if pa.types.is_fixed_size_binary(column.type):
        text = column.buffers()[1].to_pybytes()[column.offset * 16 : (column.offset + len(column)) * 16].hex()
        return [text[i : i + 32] for i in range(0, 32 * len(column), 32)]
    return [str(value) for value in column.to_pylist()]


def _json_texts(column: pa.Array) -> pa.Array:
    """Each value of a column as JSON text (null for missing, NaN and infinities), as a binary array."""
    n = len(column)
    kind = column.type
    if pa.types.is_dictionary(kind):
        return _from_dictionary(column.dictionary.to_pylist(), column.indices)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
        encoded = column.dictionary_encode()
        return _from_dictionary(encoded.dictionary.to_pylist(), encoded.indices)
    if pa.types.is_floating(kind):
        # orjson writes a float64 array as Python floats would be written (NaN and infinities as null);
        # a float32 column is logged as its float64 values, as row logging does.
        return _float_texts(column.cast(pa.float64()).to_numpy(zero_copy_only=False))
    if (pa.types.is_integer(kind) or pa.types.is_boolean(kind)) and column.null_count == 0:
        values = column.to_numpy(zero_copy_only=False)
        return _split_json_list(orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY), n)
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        return _split_json_list(orjson.dumps(column.to_pylist()), n)
    dumped = [orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY) for value in column.to_pylist()]
    return pa.array(dumped, pa.binary())


def _matrix_columns(batch: pa.RecordBatch, name: str) -> np.ndarray | None:
    """A ``fixed_size_list<double>`` matrix column as a column-major (rows, width) array (None: not sent so)."""
    if batch.schema.get_field_index(name) < 0:
        return None
    column = batch.column(name)
    rows = column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), column.type.list_size)
    return np.asfortranarray(rows)


def _float_texts(values: np.ndarray) -> pa.Array:
    """A contiguous float64 array's values as JSON texts (as :func:`_json_texts` writes a float64 column)."""
    return _split_json_list(orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY), len(values))


def _split_json_list(text: bytes, n: int) -> pa.Array:
    """``[a,b,c]`` of ``n`` values that hold no comma (numbers, booleans, null) as the binary array [a, b, c]."""
    body = text[1:-1]
    offsets = np.empty(n + 1, np.int32)
    offsets[0] = 0
    if n > 1:
        offsets[1:-1] = np.flatnonzero(np.frombuffer(body, np.uint8) == _COMMA) - np.arange(n - 1)
    offsets[-1] = len(body) - (n - 1)
    data = body.replace(b",", b"")
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _from_dictionary(values: list[Any], indices: pa.Array) -> pa.Array:
    """The JSON text of each distinct value taken by the codes (missing codes: null)."""
    lookup = [orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY) for value in values]
    lookup.append(b"null")
    codes = indices.fill_null(len(values)).cast(pa.int32())
    return pa.array(lookup, pa.binary()).take(codes)
