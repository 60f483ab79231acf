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

import random
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pyarrow as pa

from scoreline.predlog.record import EncodedRecords

if TYPE_CHECKING:  # the sink process reads columns without pandas
    from scoreline.predlog.writer import PredictionEntry

METADATA_KEY = b"scoreline.predlog"
REQUEST_ID = "request_id"
PREDICTION = "prediction"
_ids = random.Random()


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
        raw = _ids.randbytes(16 * n)
        ids = pa.FixedSizeBinaryArray.from_buffers(pa.binary(16), n, [None, pa.py_buffer(raw)])
    features = np.asarray(entry.features, dtype=np.float64).reshape(n, -1)
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
    # The document as literal bytes (names may hold "%": escaped) with one "%b" per value between them.
    literals = [b'{"@timestamp":' + orjson.dumps(metadata["timestamp"]) + b',"request_id":', b"," + head]
    pieces: list[list[bytes]] = [_quoted_ids(batch.column(REQUEST_ID), ids)]

    def text(part: bytes) -> None:
        literals[-1] += part

    def value(opening: bytes, column: pa.Array) -> None:
        text(opening)
        pieces.append(_json_values(column))
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
    form = b"%b".join(part.replace(b"%", b"%%") for part in literals)
    out.documents.extend(map(form.__mod__, zip(*pieces, strict=True)))
    out.request_ids.extend(ids)
    out.timestamps.extend([metadata["timestamp"]] * n)


def _key(name: str) -> bytes:
    return orjson.dumps(name) + b":"


def _quoted_ids(column: pa.Array, ids: list[str]) -> list[bytes]:
    """The ids as JSON strings; drawn hex ids need no escaping, only quotes."""
    if pa.types.is_fixed_size_binary(column.type):
        text = ('"' + '""'.join(ids) + '"').encode()
        return [text[i : i + 34] for i in range(0, 34 * len(ids), 34)]
    return [orjson.dumps(request_id) for request_id in ids]


def _request_ids(column: pa.Array) -> list[str]:
    if pa.types.is_fixed_size_binary(column.type):
        text = column.buffers()[1].to_pybytes()[column.offset * 16 : (column.offset + len(column)) * 16].hex()
        return [text[i : i + 32] for i in range(0, 32 * len(column), 32)]
    return [str(value) for value in column.to_pylist()]


def _json_values(column: pa.Array) -> list[bytes]:
    """Each value of a column as JSON text (null for missing, NaN and infinities)."""
    n = len(column)
    kind = column.type
    if pa.types.is_dictionary(kind):
        return _from_dictionary(column.dictionary.to_pylist(), column.indices, n)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        # Numbers and booleans hold no comma: one dumps of the column, split at its separators.
        text = orjson.dumps(column.to_pylist())
        return text[1:-1].split(b",") if n else []
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
        encoded = column.dictionary_encode()
        return _from_dictionary(encoded.dictionary.to_pylist(), encoded.indices, n)
    return [orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY) for value in column.to_pylist()]


def _from_dictionary(values: list[Any], indices: pa.Array, n: int) -> list[bytes]:
    lookup = np.empty(len(values) + 1, dtype=object)
    lookup[:-1] = [orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY) for value in values]
    lookup[-1] = b"null"
    codes = indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    return list(lookup[codes]) if n else []
