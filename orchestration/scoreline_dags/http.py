"""Plain httpx calls to the Scoreline services, with bounded retries and exponential backoff.

Connection errors, timeouts, 429 and 5xx are retried; any other 4xx is a caller mistake and fails at
once with the service's JSON error in the message, so a task log says exactly what was refused.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
from pydantic import SecretStr

log = logging.getLogger("scoreline.orchestration")

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class ServiceCallError(RuntimeError):
    """A service refused a call or stayed unreachable after every attempt."""

    def __init__(self, message: str, *, status: int | None = None, payload: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.payload = payload


def bearer(key: SecretStr | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.get_secret_value()}"} if key is not None else {}


def _payload(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


def call(
    method: str,
    url: str,
    *,
    json: Any = None,
    headers: dict[str, str] | None = None,
    attempts: int = 4,
    backoff_s: float = 1.0,
    timeout_s: float = 30.0,
    ok_statuses: frozenset[int] = frozenset(),
) -> httpx.Response:
    """One HTTP call, retried with exponential backoff (``backoff_s * 2**n``) on transient failures.

    ``ok_statuses`` lists non-2xx answers the caller handles itself (e.g. 404 meaning "not there yet").
    """
    last_error = ""
    for attempt in range(1, attempts + 1):
        try:
            response = httpx.request(method, url, json=json, headers=headers, timeout=timeout_s)
        except httpx.TransportError as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        else:
            if response.is_success or response.status_code in ok_statuses:
                return response
            if response.status_code not in RETRYABLE_STATUS:
                raise ServiceCallError(
                    f"{method} {url} answered {response.status_code}: {_payload(response)}",
                    status=response.status_code,
                    payload=_payload(response),
                )
            last_error = f"HTTP {response.status_code}: {_payload(response)}"
        if attempt < attempts:
            delay = backoff_s * 2 ** (attempt - 1)
            log.warning(
                "%s %s failed (%s); attempt %d/%d, retrying in %.1fs", method, url, last_error, attempt, attempts, delay
            )
            time.sleep(delay)
    raise ServiceCallError(f"{method} {url} failed after {attempts} attempts: {last_error}")
