"""The prediction record (DESIGN.md §4, index ``scoreline-predictions-*``) and the sink interface."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field


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


Document = dict[str, Any]  # PredictionRecord.to_document()'s shape; the writer builds these directly


def as_document(record: PredictionRecord | Document) -> Document:
    return record if isinstance(record, dict) else record.to_document()


class PredictionSink(Protocol):
    """Where the background writer delivers batches of documents (``PredictionRecord`` objects are
    accepted too). Must be idempotent on request_id."""

    def write(self, records: list[Document] | list[PredictionRecord]) -> None: ...

    def close(self) -> None: ...
