"""The outbound-fetch policy's pure decisions: which URLs and resolved addresses a fetch may use."""

from __future__ import annotations

import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.core.outbound import FetchPolicy, address_refusal, allowed_addresses, check_url, next_hop

STRICT = FetchPolicy()


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.1.2", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6
        ("2002:7f00:1::", "loopback"),  # 6to4 carrying 127.0.0.1
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("fe80::1", "link-local"),
        ("100.64.0.1", "public"),  # shared address space (carrier NAT): not global
        ("224.0.0.1", "multicast"),
    ],
)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    reason = address_refusal(address)
    assert reason is not None and kind in reason


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(address) is None


def test_private_hosts_only_with_the_explicit_setting_or_by_name() -> None:
    assert address_refusal("127.0.0.1", allow_private=True) is None
    assert allowed_addresses("localhost", ["127.0.0.1"], FetchPolicy(allow_private_hosts=True)) == ["127.0.0.1"]
    named = FetchPolicy(allowed_hosts=frozenset({"files.internal"}))
    assert allowed_addresses("files.internal", ["10.0.0.5"], named) == ["10.0.0.5"]
    with pytest.raises(ScorelineError, match="private address"):
        allowed_addresses("other.internal", ["10.0.0.5"], named)


def test_a_name_resolving_to_any_private_address_is_refused_whole() -> None:
    with pytest.raises(ScorelineError) as caught:
        allowed_addresses("rebind.example", ["93.184.215.14", "127.0.0.1"], STRICT)
    assert caught.value.code is ErrorCode.INVALID_INPUT
    assert "SCORELINE_URL_ALLOW_PRIVATE_HOSTS" in caught.value.message


@pytest.mark.parametrize(
    "url", ["ftp://example.org/x.csv", "file:///etc/passwd", "http:///x", "x.csv", "http://u:p@example.org/x.csv"]
)
def test_only_absolute_http_urls_without_credentials(url: str) -> None:
    with pytest.raises(ScorelineError) as caught:
        check_url(url)
    assert caught.value.code is ErrorCode.INVALID_INPUT


def test_redirects_beyond_the_limit_are_refused() -> None:
    next_hop(1, FetchPolicy(max_redirects=2))
    with pytest.raises(ScorelineError, match="more than 2"):
        next_hop(2, FetchPolicy(max_redirects=2))


def test_a_fetched_file_that_fails_validation_is_not_echoed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from scoreline.core.outbound import without_fetched_content
    from scoreline.data.datasets import DatasetCatalog
    from scoreline.data.storage import LocalStore

    secret = b"# HELP secret_metric_total the secret\nsecret_metric_total 42\n"
    with pytest.raises(ScorelineError) as caught:
        DatasetCatalog(LocalStore(tmp_path)).ingest("match-outcome", "x", secret, "metrics.csv")
    assert "secret" in caught.value.message + str(caught.value.details)  # what an upload is told
    cleaned = without_fetched_content(caught.value)
    assert "secret" not in cleaned.message + str(cleaned.details)
    assert cleaned.code is caught.value.code and "expected the international results header" in cleaned.message
    assert cleaned.details["problems"][0] == {"row": 1, "column": "date", "expected": "column present in the header"}
