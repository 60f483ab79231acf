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
    features: dict[str, float]  # the model's features for it (numbers)
    prediction: str | float  # label for classification, value for regression
    probabilities: dict[str, float] | None = None
    latency_ms: float

    def to_document(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, mode="json")


class PredictionSink(Protocol):
    """Where the background writer delivers batches. Must be idempotent on request_id."""

    def write(self, records: list[PredictionRecord]) -> None: ...

    def close(self) -> None: ...
