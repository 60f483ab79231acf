"""MLflow registry webhooks (MLflow 3): signature check and the alias event.

MLflow signs ``f"{delivery_id}.{timestamp}.{body}"`` with HMAC-SHA256 and the webhook's secret and
sends ``X-MLflow-Signature: v1,<base64 digest>``, ``X-MLflow-Timestamp`` (Unix seconds) and
``X-MLflow-Delivery-Id``. The body is ``{"entity", "action", "timestamp", "data": {...}}``; for
``model_version_alias.created`` the data is ``{"name", "alias", "version"}``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from scoreline.core.errors import ErrorCode, ScorelineError

SIGNATURE_HEADER = "x-mlflow-signature"
TIMESTAMP_HEADER = "x-mlflow-timestamp"
DELIVERY_ID_HEADER = "x-mlflow-delivery-id"
SIGNATURE_VERSION = "v1"
MAX_CLOCK_SKEW_S = 300  # older deliveries are refused (replay protection)


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def verify(secret: str | None, headers: Mapping[str, str], body: bytes, *, now: float | None = None) -> None:
    """Raise 401 (no or malformed signature), 403 (wrong signature or stale timestamp) or 403 (no secret set)."""
    if not secret:
        raise ScorelineError(
            ErrorCode.FORBIDDEN,
            "webhooks are disabled: the server has no webhook secret (set SCORELINE_WEBHOOK_SECRET)",
        )
    signature = headers.get(SIGNATURE_HEADER)
    timestamp = headers.get(TIMESTAMP_HEADER)
    delivery_id = headers.get(DELIVERY_ID_HEADER)
    if not signature or not timestamp or not delivery_id:
        raise ScorelineError(
            ErrorCode.UNAUTHORIZED,
            "unsigned webhook; expected headers X-MLflow-Signature, X-MLflow-Timestamp and X-MLflow-Delivery-Id",
        )
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError as exc:
        raise ScorelineError(ErrorCode.UNAUTHORIZED, "X-MLflow-Timestamp is not Unix seconds") from exc
    if age > MAX_CLOCK_SKEW_S:
        raise ScorelineError(
            ErrorCode.FORBIDDEN, f"webhook timestamp is {age:.0f}s away from now; at most {MAX_CLOCK_SKEW_S}s allowed"
        )
    expected = sign(secret, delivery_id, timestamp, body)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise ScorelineError(ErrorCode.FORBIDDEN, "webhook signature does not match the configured secret")


@dataclass(frozen=True)
class AliasEvent:
    name: str
    alias: str
    version: str | None


def parse_event(body: bytes) -> tuple[str, AliasEvent | None]:
    """(``entity.action``, the alias event when it is one)."""
    try:
        payload: Any = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ScorelineError(ErrorCode.INVALID_INPUT, f"webhook body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise ScorelineError(ErrorCode.INVALID_INPUT, "webhook body must be a JSON object with entity, action, data")
    event = f"{payload.get('entity')}.{payload.get('action')}"
    data = payload.get("data") or {}
    if event == "model_version_alias.created" and isinstance(data, dict) and data.get("name") and data.get("alias"):
        version = data.get("version")
        return event, AliasEvent(str(data["name"]), str(data["alias"]), None if version is None else str(version))
    return event, None
