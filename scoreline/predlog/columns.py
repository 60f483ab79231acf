"""Columnar prediction logging: a batch file's predictions travel as one Arrow record batch.

The request process turns a large :class:`PredictionEntry` (a batch file: a table of inputs, a
feature matrix, one prediction per row) into Arrow IPC bytes with :func:`entry_to_arrow`, which
copies arrays and never builds a Python object per row. The sink process turns those bytes into
the very documents :func:`scoreline.predlog.writer.encode` builds row by row
(:func:`arrow_to_records`): each column is serialized once as a whole (numbers by one
``orjson.dumps`` of the column, strings once per distinct value) and each document is one
``bytes % tuple`` of its row's pieces.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from scoreline.predlog.record import EncodedRecords

if TYPE_CHECKING:  # the sink process reads columns without pandas
    from scoreline.predlog.writer import PredictionEntry

METADATA_KEY = b"scoreline.predlog"
REQUEST_ID = "request_id"
PREDICTION = "prediction"


def entry_to_arrow(entry: PredictionEntry) -> bytes:
    """The entry as one Arrow IPC stream (one record batch); request ids drawn here when the entry has none,
    so a resent batch carries the same ids (Elasticsearch ``_id``)."""
    import pandas as pd

    n = len(entry)
    inputs = entry.inputs if isinstance(entry.inputs, pd.DataFrame) else pd.DataFrame(list(entry.inputs))
    input_table = pa.Table.from_pandas(inputs.reset_index(drop=True), preserve_index=False)
    input_names = [str(name) for name in inputs.columns]
    if entry.request_ids is not None:
        ids: pa.Array = pa.array(list(entry.request_ids), pa.string())
    else:
        raw = os.urandom(16 * n)  # not a seeded generator: forked workers would draw the same ids
        ids = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), n, [None, pa.py_buffer(raw)])
    # Column-major once, so each feature column goes to Arrow without a strided copy of its own.
    features = np.asfortranarray(np.asarray(entry.features, dtype=np.float64).reshape(n, -1))
    arrays: list[pa.Array] = [ids]
    names = [REQUEST_ID]
    for position in range(input_table.num_columns):
        arrays.append(input_table.column(position).combine_chunks())
        names.append(f"input:{position}")
    for position in range(features.shape[1]):
        arrays.append(pa.array(features[:, position]))
        names.append(f"feature:{position}")
    predictions = entry.predictions
    if isinstance(predictions, np.ndarray):
        arrays.append(pa.array(predictions))
    else:
        arrays.append(pa.array(list(predictions)))
    names.append(PREDICTION)
    if entry.probabilities is not None:
        probabilities = np.asarray(entry.probabilities, dtype=np.float64).reshape(n, -1)
        for position in range(probabilities.shape[1]):
            arrays.append(pa.array(probabilities[:, position]))
            names.append(f"probability:{position}")
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
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as stream:
        stream.write_batch(batch)
    return sink.getvalue().to_pybytes()


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
            _batch_records(batch, metadata, out)
    return out


def _batch_records(batch: pa.RecordBatch, metadata: dict[str, Any], out: EncodedRecords) -> None:
    n = batch.num_rows
    if n == 0:
        return
    ids = _request_ids(batch.column(REQUEST_ID))
    head = orjson.dumps(
        {"task": metadata["task"], "model_name": metadata["model_name"], "model_version": metadata["model_version"]}
    )[1:-1]
    # The document as literal bytes with one column of JSON values between each two of them; every row's
    # document is then joined by Arrow in one pass (no Python object per value).
    literals = [b'{"@timestamp":' + orjson.dumps(metadata["timestamp"]) + b',"request_id":', b"," + head]
    values: list[pa.Array] = [_quoted_ids(batch.column(REQUEST_ID), ids)]

    def text(part: bytes) -> None:
        literals[-1] += part

    def value(opening: bytes, column: pa.Array) -> None:
        text(opening)
        values.append(_json_texts(column))
        literals.append(b"")

    text(b',"inputs":{')
    for position, name in enumerate(metadata["inputs"]):
        value((b"," if position else b"") + _key(name), batch.column(f"input:{position}"))
    text(b'},"features":{')
    for position, name in enumerate(metadata["feature_names"]):
        value((b"," if position else b"") + _key(name), batch.column(f"feature:{position}"))
    text(b"}")
    value(b',"prediction":', batch.column(PREDICTION))
    classes = metadata["classes"]
    if classes is None:
        text(b',"probabilities":null')
    else:
        text(b',"probabilities":{')
        for position, name in enumerate(classes):
            value((b"," if position else b"") + _key(name), batch.column(f"probability:{position}"))
        text(b"}")
    text(b',"latency_ms":' + orjson.dumps(metadata["latency_ms"]) + b"}")
    for start in range(0, n, _JOIN_ROWS):  # binary offsets are 32-bit: a slice's documents stay far below 2 GiB
        parts: list[pa.Array | pa.Scalar] = []
        for literal, column in zip(literals, [*values, None], strict=True):
            if literal:
                parts.append(pa.scalar(literal, pa.binary()))
            if column is not None:
                parts.append(column.slice(start, _JOIN_ROWS))
        out.documents.extend(_binaries(pc.binary_join_element_wise(*parts, _EMPTY)))
    out.request_ids.extend(ids)
    out.timestamps.extend([metadata["timestamp"]] * n)


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
        values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
        return _split_json_list(orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY), n)
    if (pa.types.is_integer(kind) or pa.types.is_boolean(kind)) and column.null_count == 0:
        values = column.to_numpy(zero_copy_only=False)
        return _split_json_list(orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY), n)
    if pa.types.is_integer(kind) or pa.types.is_boolean(kind):
        return _split_json_list(orjson.dumps(column.to_pylist()), n)
    dumped = [orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY) for value in column.to_pylist()]
    return pa.array(dumped, pa.binary())


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
