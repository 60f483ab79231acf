"""The prediction record (DESIGN.md §4, index ``scoreline-predictions-*``) and the sink interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    import numpy as np


class PredictionRecord(BaseModel):
    timestamp: str = Field(serialization_alias="@timestamp")  # ISO 8601 UTC
    request_id: str  # unique per predicted instance; the Elasticsearch _id
    task: str
    model_name: str
    model_version: str
    inputs: dict[str, Any]  # the request instance as sent (keywords)
    features: dict[str, float | None]  # the model's features for it (numbers; NaN or infinite → None)
    prediction: str | float  # label for classification, value for regression
    probabilities: dict[str, float] | None = None
    latency_ms: float

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


Document = dict[str, Any]  # PredictionRecord.to_document()'s shape


def as_document(record: PredictionRecord | Document) -> Document:
    return record if isinstance(record, dict) else record.to_document()


def dump_document(document: Document) -> bytes:
    """One document as compact JSON (NaN and infinities become null, as JSON has neither)."""
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)


@dataclass(slots=True)
class EncodedRecords:
    """Prediction documents serialized once, beside what sinks address them by.

    The writer builds these straight from a request's arrays: every sink writes the same bytes
    (a JSON Lines file, an Elasticsearch bulk body, a disk spool) without building or dumping a
    dict per record again.
    """

    request_ids: list[str] = field(default_factory=list)
    timestamps: list[str] = field(default_factory=list)  # ISO 8601, the documents' @timestamp
    documents: list[bytes] = field(default_factory=list)  # compact JSON, no newline

    def __len__(self) -> int:
        return len(self.documents)

    def extend(self, other: EncodedRecords) -> None:
        self.request_ids.extend(other.request_ids)
        self.timestamps.extend(other.timestamps)
        self.documents.extend(other.documents)

    def decoded(self) -> list[Document]:
        return [orjson.loads(document) for document in self.documents]


@dataclass(slots=True)
class PackedLines:
    """Serialized documents as JSON Lines text in one buffer: ``data[bounds[i]:bounds[i + 1]]`` is document
    ``i`` and its newline. What a sink process builds from a batch's columns for the JSON Lines file, which
    writes the text as it is (:meth:`to_records` gives the documents one by one for any other sink)."""

    request_ids: list[str]
    timestamps: list[str]
    data: memoryview  # of the buffer the documents were joined in (bytes or Arrow's), not a copy
    bounds: np.ndarray  # int64, len(request_ids) + 1

    def __len__(self) -> int:
        return len(self.request_ids)

    def to_records(self) -> EncodedRecords:
        data, bounds = self.data, self.bounds.tolist()
        documents = [data[start : end - 1].tobytes() for start, end in pairwise(bounds)]
        return EncodedRecords(list(self.request_ids), list(self.timestamps), documents)


@dataclass(frozen=True, slots=True)
class ColumnChunk:
    """A batch file's predictions as the Arrow IPC stream model-api sent (:mod:`scoreline.predlog.columns`):
    the local log keeps it as it is, one file per batch, rather than ~2 KB of JSON per row."""

    payload: bytes
    rows: int

    def __len__(self) -> int:
        return self.rows


def encode_records(records: Records) -> EncodedRecords:
    """Records given as objects or documents, serialized; encoded records are returned as they are."""
    if isinstance(records, EncodedRecords):
        return records
    if isinstance(records, PackedLines):
        return records.to_records()
    if isinstance(records, ColumnChunk):
        from scoreline.predlog.columns import arrow_to_records

        return arrow_to_records(records.payload)
    encoded = EncodedRecords()
    for record in records:
        document = as_document(record)
        encoded.request_ids.append(document["request_id"])
        encoded.timestamps.append(document["@timestamp"])
        encoded.documents.append(dump_document(document))
    return encoded


Records = EncodedRecords | PackedLines | ColumnChunk | Sequence[PredictionRecord | Document]


class PredictionSink(Protocol):
    """Where the background writer delivers batches of records. Must be idempotent on request_id.

    The writer passes :class:`EncodedRecords`; ``PredictionRecord`` objects or documents are
    accepted too (tests, tools).
    """

    def write(self, records: Records) -> None: ...

    def close(self) -> None: ...


_second_prefix: tuple[int, str] = (-1, "")


def iso_milliseconds(epoch: float) -> str:
    """``datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")``, formatting each second once."""
    global _second_prefix
    second, millisecond = divmod(int(epoch * 1000), 1000)
    cached_second, prefix = _second_prefix
    if second != cached_second:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_prefix = (second, prefix)
    return f"{prefix}.{millisecond:03d}+00:00"
