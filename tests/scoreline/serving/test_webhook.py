from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest

from scoreline.core.errors import ScorelineError
from scoreline.serving.webhook import parse_event, sign, verify

BODY = (
    b'{"entity": "model_version_alias", "action": "created", '
    b'"data": {"name": "m", "alias": "champion", "version": "3"}}'
)


def headers(secret: str, stamp: int | None = None) -> dict[str, str]:
    timestamp = str(stamp if stamp is not None else int(time.time()))
    return {
        "x-mlflow-delivery-id": "d-1",
        "x-mlflow-timestamp": timestamp,
        "x-mlflow-signature": sign(secret, "d-1", timestamp, BODY),
    }


def test_signature_matches_mlflow_scheme() -> None:
    digest = hmac.new(b"s3cret", b"d-1.100." + BODY, hashlib.sha256).digest()
    assert sign("s3cret", "d-1", "100", BODY) == "v1," + base64.b64encode(digest).decode()


def test_good_signature_passes_and_event_parses() -> None:
    verify("s3cret", headers("s3cret"), BODY)
    event, alias = parse_event(BODY)
    assert event == "model_version_alias.created"
    assert (alias.name, alias.alias, alias.version) == ("m", "champion", "3")


@pytest.mark.parametrize(("secret", "sent", "status"), [
    ("s3cret", "other", 403),
    (None, "s3cret", 403),
])  # fmt: skip
def test_wrong_secret_or_none_configured_is_refused(secret, sent, status) -> None:
    with pytest.raises(ScorelineError) as caught:
        verify(secret, headers(sent), BODY)
    assert caught.value.http_status == status


def test_missing_headers_401_and_stale_timestamp_403() -> None:
    with pytest.raises(ScorelineError) as caught:
        verify("s3cret", {}, BODY)
    assert caught.value.http_status == 401
    with pytest.raises(ScorelineError) as caught:
        verify("s3cret", headers("s3cret", stamp=int(time.time()) - 3600), BODY)
    assert caught.value.http_status == 403


def test_tampered_body_is_refused() -> None:
    with pytest.raises(ScorelineError):
        verify("s3cret", headers("s3cret"), BODY.replace(b'"3"', b'"4"'))
