"""The one outbound-fetch policy: which URLs and addresses a service may fetch on a caller's behalf.

Pure decisions only (no I/O): the service edge resolves names and connects, and asks this module
before every connection, on the first URL and on every redirect. A fetch is refused when

- the URL is not an absolute ``http(s)://`` URL, or carries credentials (``user:pass@``);
- any address the host resolves to is not a public unicast address: loopback (``127.0.0.1``,
  ``localhost``, ``::1``, ``2130706433``, ``::ffff:127.0.0.1``), private, link-local (cloud metadata
  ``169.254.169.254``), unspecified (``0.0.0.0``), shared, multicast or reserved — unless the
  policy explicitly allows private hosts (tests and ``make run`` on one machine) or names the host;
- it would follow more than ``max_redirects`` redirects.

Errors name the URL and what was expected; they never carry fetched content, and every way a
connection can fail is the same message, so answers cannot map which ports are open.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from scoreline.core.errors import ErrorCode, ScorelineError

ALLOWED_SCHEMES = frozenset({"http", "https"})


@dataclass(frozen=True)
class FetchPolicy:
    """Limits of one outbound fetch: total deadline (connect to last byte), size cap, redirects."""

    deadline_s: float = 30.0
    max_bytes: int = 256 * 1024 * 1024
    max_redirects: int = 5
    allow_private_hosts: bool = False
    # host names (as written in URLs, e.g. an in-cluster file server) allowed even when private
    allowed_hosts: frozenset[str] = frozenset()


def _shown(url: str) -> str:
    return url[:200]


def check_url(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` of an absolute http(s) URL without credentials, else a 422."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ALLOWED_SCHEMES or not parts.hostname:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"invalid url {_shown(url)!r}: expected an absolute http:// or https:// URL",
            {"field": "url", "value": _shown(url), "expected": "http(s)://host/path"},
        )
    if parts.username is not None or parts.password is not None:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            "the url carries credentials (user:password@host); expected a URL without them",
            {"field": "url", "expected": "http(s)://host/path"},
        )
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def address_refusal(address: str, *, allow_private: bool = False) -> str | None:
    """Why connecting to ``address`` (an IP literal) is refused, or None when it is allowed.

    IPv4-mapped and 6to4 IPv6 addresses are judged by the IPv4 address they carry."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        carried = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if carried is not None:
            return address_refusal(str(carried), allow_private=allow_private)
    if ip.is_multicast:
        return "a multicast address"
    if allow_private:
        return None
    for kind, flag in (
        ("the unspecified address", ip.is_unspecified),
        ("a loopback address", ip.is_loopback),
        ("a link-local address", ip.is_link_local),
        ("a private address", ip.is_private),
        ("a reserved address", ip.is_reserved),
    ):
        if flag:
            return kind
    if not ip.is_global:
        return "not a public address"
    return None


def allowed_addresses(host: str, addresses: Iterable[str], policy: FetchPolicy) -> list[str]:
    """The addresses of ``host`` a fetch may connect to: all of them, or a 422 when any one is refused
    (a name that resolves to a private address anywhere is refused as a whole, against DNS tricks)."""
    found = list(dict.fromkeys(addresses))
    if not found:
        raise unreachable(host)
    allow_private = policy.allow_private_hosts or host.lower().strip("[]") in policy.allowed_hosts
    for address in found:
        reason = address_refusal(address, allow_private=allow_private)
        if reason is not None:
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                f"the url's host {host[:100]!r} is {reason}; expected a public internet host "
                "(private hosts are allowed only with SCORELINE_URL_ALLOW_PRIVATE_HOSTS=true)",
                {"field": "url", "host": host[:100], "expected": "a public host"},
            )
    return found


def next_hop(hops_so_far: int, policy: FetchPolicy) -> None:
    """Refuse redirect number ``hops_so_far + 1`` beyond the policy's limit."""
    if hops_so_far >= policy.max_redirects:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"the url redirected more than {policy.max_redirects} times; expected at most {policy.max_redirects}",
            {"field": "url", "max_redirects": policy.max_redirects},
        )


def unreachable(host: str) -> ScorelineError:
    """The one answer for every connection failure (no such name, refused, reset, unreachable)."""
    return ScorelineError(
        ErrorCode.INVALID_INPUT,
        f"the url's host {host[:100]!r} could not be reached; expected a reachable http(s) URL serving the file",
        {"field": "url", "host": host[:100]},
    )


def past_deadline(policy: FetchPolicy) -> ScorelineError:
    return ScorelineError(
        ErrorCode.INVALID_INPUT,
        f"the url did not answer with the whole file within {policy.deadline_s:g}s; "
        "expected a reachable URL serving the file in time",
        {"field": "url", "deadline_s": policy.deadline_s},
    )


def too_large(size: int, policy: FetchPolicy) -> ScorelineError:
    return ScorelineError(
        ErrorCode.TOO_LARGE,
        f"the file at the url is larger than the limit of {policy.max_bytes} bytes",
        {"field": "url", "max_bytes": policy.max_bytes, "bytes_seen": size},
    )


_SAFE_PROBLEM_KEYS = ("row", "column", "expected")


def without_fetched_content(error: ScorelineError) -> ScorelineError:
    """The same failure of a fetched file with nothing of the file in it (the URL may have served a private page):
    what was expected, and where the problems are (row, column), never the values found."""
    details = error.details if isinstance(error.details, dict) else {}
    problems = details.get("problems") if isinstance(details.get("problems"), list) else []
    kept = [{k: p[k] for k in _SAFE_PROBLEM_KEYS if k in p} for p in problems[:50] if isinstance(p, dict)]
    total = details.get("total") if isinstance(details.get("total"), int) else len(problems)
    _, found, expected = error.message.partition("expected ")
    message = "the file fetched from the url is not valid input" + (f"; expected {expected}" if found else "")
    return ScorelineError(
        error.code,
        message + " (the fetched content is not echoed)",
        {"field": "url", "total": total, "problems": kept},
        retry_after_s=error.retry_after_s,
    )
