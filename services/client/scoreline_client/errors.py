"""The one error every call of this client raises."""

from __future__ import annotations

from typing import Any

# What an answer without a Scoreline JSON error means, by HTTP status (codes as in ``scoreline.core.errors.ErrorCode``).
STATUS_CODES: dict[int, str] = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "invalid_input",
    408: "timeout",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media",
    422: "invalid_input",
    425: "unavailable",
    429: "unavailable",
    500: "internal",
    502: "unavailable",
    503: "unavailable",
    504: "timeout",
}


class ServiceError(Exception):
    """A call to a service failed: refused (4xx), failed on its side (5xx), or never answered.

    * ``service``: "ingest", "trainer", "model-api" (or whatever the client was named);
    * ``status``: the HTTP status, None when no answer came (refused connection, timeout);
    * ``code``: the service's error code (``{"error": {"code"}}``), else one derived from the status
      or the failure: ``unavailable`` (not reachable), ``timeout``, ``upstream_failed`` (not JSON);
      the values are those of ``scoreline.core.errors.ErrorCode``, so ``error.code == ErrorCode.NOT_FOUND`` holds;
    * ``message``: a sentence a person can act on, naming the service, its address and the service's own
      message; ``remote_message`` is the service's message alone;
    * ``details``: the service's ``details`` (e.g. the rows and columns of an invalid file);
    * ``url``, ``method``, ``attempts``, ``retry_after_s``: what was called, how often, and the wait it asked for.
    """

    def __init__(
        self,
        service: str,
        message: str,
        *,
        status: int | None = None,
        code: str = "upstream_failed",
        details: Any = None,
        remote_message: str | None = None,
        url: str | None = None,
        method: str | None = None,
        attempts: int = 1,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.service = service
        self.message = message
        self.status = status
        self.code = code
        self.details = details
        self.remote_message = remote_message
        self.url = url
        self.method = method
        self.attempts = attempts
        self.retry_after_s = retry_after_s

    @property
    def retryable(self) -> bool:
        """True when trying again later may succeed (no answer, 408/425/429 or 5xx)."""
        return self.status is None or self.status in (408, 425, 429) or self.status >= 500

    def __repr__(self) -> str:
        return f"ServiceError({self.service!r}, status={self.status}, code={self.code!r}, message={self.message!r})"
