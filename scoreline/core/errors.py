"""The one domain error type. Services map its code to an HTTP status at the edge."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>),;]+")


class ErrorCode(StrEnum):
    INVALID_INPUT = "invalid_input"  # 422: the request or file does not match what was expected
    NOT_FOUND = "not_found"  # 404: unknown task, dataset, version, job
    CONFLICT = "conflict"  # 409: state does not allow the operation
    TOO_LARGE = "too_large"  # 413: over a size or count limit
    UNSUPPORTED_MEDIA = "unsupported_media"  # 415: not CSV / Parquet / JSON as expected
    UNAUTHORIZED = "unauthorized"  # 401: no credentials
    FORBIDDEN = "forbidden"  # 403: wrong credentials
    UPSTREAM_FAILED = "upstream_failed"  # 502: a remote (URL, MLflow) answered badly
    UNAVAILABLE = "unavailable"  # 503: a dependency is down; try again later
    TIMEOUT = "timeout"  # 504: a remote did not answer in time
    INTERNAL = "internal"  # 500: a bug


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_INPUT: 422,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA: 415,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.UPSTREAM_FAILED: 502,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.TIMEOUT: 504,
    ErrorCode.INTERNAL: 500,
}


class ScorelineError(Exception):
    """A failure that is explained to the caller: what went wrong and what was expected."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        details: dict[str, Any] | list[Any] | None = None,
        *,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
        self.retry_after_s = retry_after_s

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    def to_payload(self) -> dict[str, Any]:
        return {"error": {"code": self.code.value, "message": self.message, "details": self.details}}

    def __repr__(self) -> str:
        return f"ScorelineError({self.code.value!r}, {self.message!r})"


def redact_urls(text: str) -> str:
    """``text`` with every URL (``scheme://...``: MLflow, object store, database) replaced by ``<url>``, for
    messages that public routes show; the full text stays in the service's own log."""
    return _URL.sub("<url>", text)
