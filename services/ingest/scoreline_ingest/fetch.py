"""Pull a data file from a URL onto the local disk under the outbound-fetch policy
(``scoreline.core.outbound``): the I/O edge of that policy.

Every connection (the first URL and every redirect) resolves the host here, asks the policy
about every address, and connects to an address it allowed (never resolving twice, so the name
cannot change in between). Every network wait is clamped to what is left of one total deadline,
so a server trickling a byte at a time is cut at the deadline, not after it. The size cap holds
whatever the server declares. Every failure is a ``ScorelineError`` with a 4xx code that says
what was expected; none carries fetched content.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpcore

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.core.outbound import (
    FetchPolicy,
    allowed_addresses,
    check_url,
    next_hop,
    past_deadline,
    too_large,
    unreachable,
)

# What servers send for CSV files in practice; generic binary is allowed because the content is
# validated anyway, HTML/JSON/images are refused before anything is downloaded.
CSV_CONTENT_TYPES = frozenset(
    {
        "text/csv",
        "application/csv",
        "text/comma-separated-values",
        "text/plain",
        "application/vnd.ms-excel",
        "application/octet-stream",
        "binary/octet-stream",
    }
)
REDIRECTS = frozenset({301, 302, 303, 307, 308})
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Downloaded:
    path: Path
    filename: str
    content_type: str
    size: int


class _PastDeadline(Exception):
    pass


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def clamp(self, timeout: float | None) -> float:
        left = self.at - time.monotonic()
        if left <= 0:
            raise _PastDeadline
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write waits at most until the deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self.inner, self.deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, self.deadline.clamp(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, self.deadline.clamp(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        tls = self.inner.start_tls(ssl_context, server_hostname, self.deadline.clamp(timeout))
        return _DeadlineStream(tls, self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _PolicyBackend(httpcore.NetworkBackend):
    """Resolves, asks the policy, connects to an allowed address; streams honour the deadline."""

    def __init__(self, policy: FetchPolicy, deadline: _Deadline) -> None:
        self.policy, self.deadline = policy, deadline
        self.inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = allowed_addresses(host, _resolve(host, port), self.policy)
        for address in addresses:
            try:
                stream = self.inner.connect_tcp(address, port, self.deadline.clamp(timeout), local_address)
            except (httpcore.ConnectError, httpcore.ConnectTimeout, OSError):
                continue
            return _DeadlineStream(stream, self.deadline)
        raise unreachable(host)

    def connect_unix_socket(self, *_: Any, **__: Any) -> httpcore.NetworkStream:
        raise unreachable("unix socket")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def filename_from(url: str, headers: dict[str, str]) -> str:
    disposition = headers.get("content-disposition", "")
    match = re.search(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', disposition)
    if match:
        return Path(unquote(match.group(1))).name or "download.csv"
    return Path(unquote(urlsplit(url).path)).name or "download.csv"


def download(url: str, dest: Path, *, policy: FetchPolicy) -> Downloaded:
    """Stream ``url`` into ``dest`` under ``policy``. The file is removed again on any failure."""
    deadline = _Deadline(policy.deadline_s)
    current = url
    try:
        with httpcore.ConnectionPool(network_backend=_PolicyBackend(policy, deadline), retries=0) as pool:
            for hop in range(policy.max_redirects + 2):
                check_url(current)
                with pool.stream(
                    "GET",
                    current,
                    headers={"Accept-Encoding": "identity", "User-Agent": "scoreline-ingest"},
                    extensions={"timeout": {"connect": policy.deadline_s, "read": policy.deadline_s,
                                            "write": policy.deadline_s, "pool": policy.deadline_s}},
                ) as response:  # fmt: skip
                    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
                    if response.status in REDIRECTS and headers.get("location"):
                        next_hop(hop, policy)
                        current = urljoin(current, headers["location"])
                        continue
                    return _save(current, response, headers, dest, policy)
        raise AssertionError("unreachable: the redirect limit ends the loop")  # pragma: no cover
    except ScorelineError:
        dest.unlink(missing_ok=True)
        raise
    except (_PastDeadline, httpcore.TimeoutException) as exc:
        dest.unlink(missing_ok=True)
        raise past_deadline(policy) from exc
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol, OSError) as exc:
        dest.unlink(missing_ok=True)
        raise unreachable(urlsplit(current).hostname or "?") from exc


def _save(url: str, response: Any, headers: dict[str, str], dest: Path, policy: FetchPolicy) -> Downloaded:
    if response.status >= 400:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"the url answered {response.status}; expected 200 with a CSV file",
            {"field": "url", "value": url[:500], "status": response.status},
        )
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type not in CSV_CONTENT_TYPES:
        raise ScorelineError(
            ErrorCode.UNSUPPORTED_MEDIA,
            f"the url serves {content_type[:100]!r}; expected a CSV file (text/csv)",
            {"field": "url", "value": url[:500], "content_type": content_type[:100]},
        )
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise too_large(int(declared), policy)
    size = 0
    with dest.open("wb") as handle:
        for chunk in response.iter_stream():
            size += len(chunk)
            if size > policy.max_bytes:
                raise too_large(size, policy)
            handle.write(chunk)
    return Downloaded(dest, filename_from(url, headers), content_type or "unknown", size)
