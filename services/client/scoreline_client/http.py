"""JSON over HTTP to one service, with bounded retries and one error type.

Connection errors, timeouts, 408, 425, 429 and 5xx are retried with exponential backoff
(``backoff_s * 2**n``, at most ``max_backoff_s``, longer when the service sends ``Retry-After``);
any other 4xx is the caller's mistake and fails at once. Every failure is a ``ServiceError``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import SecretStr

from scoreline_client.errors import STATUS_CODES, ServiceError

log = logging.getLogger("scoreline.client")

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
# "read": the API key (else the admin key) when the client has one: services keep their reads closed by default.
Auth = Literal["none", "read", "api", "admin"]
Key = str | SecretStr | None
# A multipart file: (filename, content, content type); a Path is opened afresh for every attempt.
FileField = tuple[str, bytes | Path, str]


def _secret(key: Key) -> str | None:
    if isinstance(key, SecretStr):
        return key.get_secret_value() or None
    return key or None


class ServiceHttp:
    """Calls to one service at ``base_url``.

    ``setting`` names the variable that holds the address (e.g. ``SCORELINE_MODEL_API_URL``), for messages.
    ``client``: an ``httpx.Client`` to reuse connections (closed by the caller); by default each call opens
    its own, so an instance is safe to share between threads and needs no closing.
    """

    def __init__(
        self,
        service: str,
        base_url: str,
        *,
        api_key: Key = None,
        admin_key: Key = None,
        timeout_s: float = 30.0,
        attempts: int = 4,
        backoff_s: float = 1.0,
        max_backoff_s: float = 30.0,
        setting: str | None = None,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.api_key = _secret(api_key)
        self.admin_key = _secret(admin_key)
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.setting = setting or f"SCORELINE_{service.upper().replace('-', '_')}_URL"
        self.client = client
        self.sleep = sleep

    # ---- calls ----------------------------------------------------------------------------
    def get(self, path: str, **kwargs: Any) -> Any:
        """GET and the JSON body."""
        return self.json(self.request("GET", path, **kwargs))

    def post(self, path: str, **kwargs: Any) -> Any:
        """POST and the JSON body."""
        return self.json(self.request("POST", path, **kwargs))

    def request(
        self,
        method: str,
        path: str,
        *,
        auth: Auth = "read",
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        files: Mapping[str, FileField] | Sequence[tuple[str, FileField]] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        attempts: int | None = None,
        ok_statuses: Collection[int] = (),
        basic_auth: tuple[str, str] | None = None,
    ) -> httpx.Response:
        """One call, retried on transient failures; a 2xx (or a status in ``ok_statuses``) is returned."""
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"
        timeout = timeout_s or self.timeout_s
        tries = attempts or self.attempts
        all_headers = {**self._auth_headers(auth), **(headers or {})}
        query = None if params is None else {k: v for k, v in params.items() if v is not None}
        failure: ServiceError | None = None
        for attempt in range(1, tries + 1):
            try:
                response = self._send(method, url, query, json, files, all_headers, timeout, basic_auth)
            except httpx.TimeoutException as exc:
                failure = self._error(
                    f"{self.service} at {self.base_url} did not answer within {timeout:g} s. "
                    "It may be busy or stuck; try again in a moment.",
                    code="timeout",
                    url=url,
                    method=method,
                )
                failure.__cause__ = exc
            except httpx.TransportError as exc:
                failure = self._error(
                    f"{self.service} is not reachable at {self.base_url} ({_reason(exc)}). "
                    f"Check that it is running, or point {self.setting} at it.",
                    code="unavailable",
                    url=url,
                    method=method,
                )
                failure.__cause__ = exc
            else:
                if response.is_success or response.status_code in ok_statuses:
                    return response
                failure = self.error_from_response(response, method=method)
                if response.status_code not in RETRYABLE_STATUS:
                    failure.attempts = attempt
                    raise failure
            failure.attempts = attempt
            if attempt < tries:
                delay = min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s)
                if failure.retry_after_s is not None:
                    delay = max(delay, min(failure.retry_after_s, self.max_backoff_s))
                log.warning(
                    "%s %s failed (%s); attempt %d/%d, retrying in %.1fs",
                    method,
                    url,
                    failure.message,
                    attempt,
                    tries,
                    delay,
                )
                self.sleep(delay)
        assert failure is not None
        if tries > 1:
            failure.message = f"{failure.message} (gave up after {tries} attempts)"
            failure.args = (failure.message,)
        raise failure

    def json(self, response: httpx.Response) -> Any:
        """The JSON body of a successful answer; anything else (an HTML proxy page, say) is a clear error."""
        try:
            return response.json()
        except ValueError as exc:
            content_type = response.headers.get("content-type", "no content type")
            raise self._error(
                f"{self.service} at {self.base_url} answered {content_type} instead of JSON: "
                f"{response.text.strip()[:200]!r}. Is {self.setting} the right address?",
                code="upstream_failed",
                status=response.status_code,
                url=str(response.request.url),
            ) from exc

    # ---- pieces ---------------------------------------------------------------------------
    def _auth_headers(self, auth: Auth) -> dict[str, str]:
        key = {"api": self.api_key, "admin": self.admin_key, "read": self.api_key or self.admin_key}.get(auth)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        files: Mapping[str, FileField] | Sequence[tuple[str, FileField]] | None,
        headers: dict[str, str],
        timeout: float,
        basic_auth: tuple[str, str] | None,
    ) -> httpx.Response:
        with ExitStack() as stack:
            opened: list[tuple[str, Any]] | None = None
            if files is not None:  # a mapping, or (field, file) pairs when a field repeats
                opened = []
                for field, (filename, content, content_type) in files.items() if isinstance(files, Mapping) else files:
                    body = stack.enter_context(content.open("rb")) if isinstance(content, Path) else content
                    opened.append((field, (filename, body, content_type)))
            kwargs: dict[str, Any] = {"params": params, "json": json, "files": opened, "headers": headers}
            if basic_auth is not None:
                kwargs["auth"] = httpx.BasicAuth(*basic_auth)
            if self.client is not None:
                return self.client.request(method, url, timeout=timeout, **kwargs)
            return httpx.request(method, url, timeout=timeout, **kwargs)

    def _error(self, message: str, **kwargs: Any) -> ServiceError:
        return ServiceError(self.service, message, **kwargs)

    def error_from_response(self, response: httpx.Response, *, method: str | None = None) -> ServiceError:
        """The ``ServiceError`` of a non-2xx answer, with the service's JSON error when it sent one."""
        status = response.status_code
        remote_code, remote_message, details = _remote_error(response)
        code = remote_code or STATUS_CODES.get(status) or ("upstream_failed" if status >= 500 else "invalid_input")
        service = self.service
        if status == 401:
            text = f"{service} refused the request: a key is required ({remote_message})."
        elif status == 403:
            text = f"{service} refused the key ({remote_message}). Check the key and try again."
        elif status == 404:
            text = f"{service} has nothing here: {remote_message}"
        elif status < 500:
            text = f"{service} rejected the request ({status}): {remote_message}"
        elif status in (502, 503, 504):
            text = f"{service} is not ready or a service behind it is down ({status}): {remote_message}"
        else:
            text = f"{service} failed on its side ({status}): {remote_message}"
        return self._error(
            text,
            status=status,
            code=code,
            details=details,
            remote_message=remote_message,
            url=str(response.request.url),
            method=method,
            retry_after_s=_retry_after(response),
        )


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return f"{type(exc).__name__}: {text[:200]}"


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return max(0.0, float(response.headers["retry-after"]))
    except (KeyError, ValueError):
        return None


def _remote_error(response: httpx.Response) -> tuple[str | None, str, Any]:
    """(code, message, details) of a Scoreline JSON error, an MLflow or Elasticsearch error, or the body's start."""
    try:
        body = response.json()
    except ValueError:
        return None, (response.text.strip()[:300] or response.reason_phrase), None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and "message" in error:  # Scoreline: {"error": {"code", "message", "details"}}
            code = error.get("code")
            return (str(code) if code else None), str(error["message"]), error.get("details")
        if isinstance(error, dict) and "reason" in error:  # Elasticsearch: {"error": {"type", "reason"}}
            return None, f"{error.get('type', 'error')}: {error['reason']}", error.get("root_cause")
        if "message" in body:  # MLflow: {"error_code": ..., "message": ...}
            return None, str(body["message"]), body.get("error_code")
        if "detail" in body:  # plain FastAPI
            return None, str(body["detail"]), None
    return None, str(body)[:300], None
