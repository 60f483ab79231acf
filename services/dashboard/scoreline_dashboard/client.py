"""Typed HTTP access to the services the dashboard shows.

This is the one place that turns a timeout, a refused connection, a 4xx or a 5xx into a
``ServiceCallError`` whose message a person can act on. Pages only catch that one type.
"""

from __future__ import annotations

from typing import Any

import httpx

from scoreline.errors import ErrorCode, ScorelineError

STATUS_CODES: dict[int, ErrorCode] = {
    400: ErrorCode.INVALID_INPUT,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA,
    422: ErrorCode.INVALID_INPUT,
    504: ErrorCode.TIMEOUT,
}


class ServiceCallError(ScorelineError):
    """A call to another service failed; ``message`` says which service, where, and what to do."""

    def __init__(
        self, service: str, url: str, code: ErrorCode, message: str, *, status: int | None = None, details: Any = None
    ) -> None:
        super().__init__(code, message, details)
        self.service = service
        self.url = url
        self.status = status


class ServiceClient:
    """JSON over HTTP to one service, with the service's name and settings variable for messages."""

    def __init__(self, service: str, base_url: str, timeout_s: float, *, setting: str) -> None:
        self.service = service
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self.setting = setting

    def get(self, path: str, *, params: dict[str, Any] | None = None, timeout_s: float | None = None) -> Any:
        return self.json(self.request("GET", path, params=params, timeout_s=timeout_s))

    def json(self, response: httpx.Response) -> Any:
        """The JSON body of a successful answer; anything else (an HTML proxy page, say) is a clear error."""
        try:
            return response.json()
        except ValueError as exc:
            raise ServiceCallError(
                self.service,
                str(response.request.url),
                ErrorCode.UPSTREAM_FAILED,
                f"{self.service} at {self.base_url} answered {response.headers.get('content-type', 'no content type')} "
                f"instead of JSON: {response.text.strip()[:200]!r}. Is {self.setting} the right address?",
                status=response.status_code,
            ) from exc

    def post(self, path: str, *, timeout_s: float | None = None, **kwargs: Any) -> httpx.Response:
        """POST with httpx keyword arguments (``json``, ``files``, ``headers``, ``params``, ``auth``)."""
        return self.request("POST", path, timeout_s=timeout_s, **kwargs)

    def request(
        self,
        method: str,
        path: str,
        *,
        timeout_s: float | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        url = f"{self.base_url}{path}"
        timeout = timeout_s or self.timeout_s
        try:
            response = httpx.request(method, url, timeout=timeout, **kwargs)
        except httpx.TimeoutException as exc:
            raise ServiceCallError(
                self.service,
                url,
                ErrorCode.TIMEOUT,
                f"{self.service} at {self.base_url} did not answer within {timeout:g} s. "
                "It may be busy or stuck; try again in a moment.",
            ) from exc
        except httpx.TransportError as exc:
            raise ServiceCallError(
                self.service,
                url,
                ErrorCode.UNAVAILABLE,
                f"{self.service} is not reachable at {self.base_url} ({_reason(exc)}). "
                f"Check that it is running, or point {self.setting} at it.",
            ) from exc
        if response.is_success:
            return response
        raise _error_from_response(self.service, url, response)


def _reason(exc: httpx.TransportError) -> str:
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return text[:200]


def _error_from_response(service: str, url: str, response: httpx.Response) -> ServiceCallError:
    status = response.status_code
    code = STATUS_CODES.get(status)
    if code is None:
        code = ErrorCode.UNAVAILABLE if status in (502, 503) else ErrorCode.UPSTREAM_FAILED
    remote_message, details = _remote_error(response)
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
    return ServiceCallError(service, url, code, text, status=status, details=details)


def _remote_error(response: httpx.Response) -> tuple[str, Any]:
    """The message of a Scoreline JSON error, of an MLflow error, or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return (response.text.strip()[:300] or response.reason_phrase), None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and "message" in error:
            return str(error["message"]), error.get("details")
        if isinstance(error, dict) and "reason" in error:  # Elasticsearch: {"error": {"type", "reason"}}
            return f"{error.get('type', 'error')}: {error['reason']}", error.get("root_cause")
        if "message" in body:  # MLflow: {"error_code": ..., "message": ...}
            return str(body["message"]), body.get("error_code")
        if "detail" in body:  # plain FastAPI
            return str(body["detail"]), None
    return str(body)[:300], None
