"""Pull a data file from a URL onto the local disk, with a timeout, a size limit and a content-type check.

Every way a URL can disappoint is a ``ScorelineError`` with a 4xx code that says what was expected:
not http(s), unreachable, timed out, answered with an error status, not a CSV, or too large.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx

from scoreline.core.errors import ErrorCode, ScorelineError

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
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Downloaded:
    path: Path
    filename: str
    content_type: str
    size: int


def check_url(url: str) -> str:
    parsed = urlparse(url)
    if parsed.scheme not in {"http", "https"} or not parsed.netloc:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"invalid url {url[:200]!r}: expected an absolute http:// or https:// URL",
            {"field": "url", "value": url[:500], "expected": "http(s)://host/path"},
        )
    return url


def filename_from(url: str, response: httpx.Response) -> str:
    disposition = response.headers.get("content-disposition", "")
    match = re.search(r'filename\*?=(?:UTF-8\'\')?"?([^";]+)"?', disposition)
    if match:
        return unquote(match.group(1))
    return Path(unquote(urlparse(str(response.url)).path)).name or "download.csv"


def download(url: str, dest: Path, *, max_bytes: int, timeout_s: float, max_redirects: int = 5) -> Downloaded:
    """Stream ``url`` into ``dest``. The file is removed again on any failure."""
    check_url(url)
    timeout = httpx.Timeout(timeout_s)
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=max_redirects) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code >= 400:
                raise ScorelineError(
                    ErrorCode.INVALID_INPUT,
                    f"the url answered {response.status_code} {response.reason_phrase}; expected 200 with a CSV file",
                    {"field": "url", "value": url[:500], "status": response.status_code},
                )
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type and content_type not in CSV_CONTENT_TYPES:
                raise ScorelineError(
                    ErrorCode.UNSUPPORTED_MEDIA,
                    f"the url serves {content_type!r}; expected a CSV file (text/csv)",
                    {"field": "url", "value": url[:500], "content_type": content_type},
                )
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(url, int(declared), max_bytes)
            size = 0
            with dest.open("wb") as handle:
                for chunk in response.iter_bytes(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise _too_large(url, size, max_bytes)
                    handle.write(chunk)
            return Downloaded(dest, filename_from(url, response), content_type or "unknown", size)
    except ScorelineError:
        dest.unlink(missing_ok=True)
        raise
    except httpx.TimeoutException as exc:
        dest.unlink(missing_ok=True)
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"the url did not answer within {timeout_s:g}s; expected a reachable URL serving a CSV file",
            {"field": "url", "value": url[:500], "timeout_s": timeout_s},
        ) from exc
    except httpx.HTTPError as exc:
        dest.unlink(missing_ok=True)
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"the url could not be fetched ({type(exc).__name__}: {exc}); expected a reachable URL serving a CSV file",
            {"field": "url", "value": url[:500]},
        ) from exc


def _too_large(url: str, size: int, max_bytes: int) -> ScorelineError:
    return ScorelineError(
        ErrorCode.TOO_LARGE,
        f"the file at the url is larger than the limit of {max_bytes} bytes",
        {"field": "url", "value": url[:500], "max_bytes": max_bytes, "bytes_seen": size},
    )
