"""model-api serves a champion only when its version carries Scoreline's tags and passed promotion: an alias
moved by hand in MLflow keeps the current champion serving, says why on /v1/models, and an admin can override."""

from __future__ import annotations

import httpx
import pytest

from scoreline.lifecycle.registry import CHAMPION
from tests.scoreline.serving.models import TASK
from tests.scoreline.test_promotion_foreign import register_by_hand
from tests.servers import ServerProcess
from tests.services.model_api.conftest import ModelApiFactory, Versions, admin_headers

pytestmark = pytest.mark.slow


def models(server: ServerProcess) -> list[dict]:
    return httpx.get(f"{server.url}/v1/models", headers=admin_headers(), timeout=5).json()["models"]


def served_version(server: ServerProcess) -> str | None:
    return next(m["version"] for m in models(server) if m["task"] == TASK)


def test_an_alias_moved_by_hand_to_an_untagged_version_is_not_served(
    start_model_api: ModelApiFactory, versions: Versions
) -> None:
    versions.promote(versions.first)
    server = start_model_api()
    assert served_version(server) == versions.first
    by_hand = register_by_hand(versions.registry, versions.first)  # the very same model files, no tags
    try:
        versions.registry.set_alias(TASK, CHAMPION, by_hand)
        reload_url = f"{server.url}/v1/admin/reload"
        (outcome,) = httpx.post(reload_url, headers=admin_headers(), timeout=60).json()["outcomes"]
        assert outcome["outcome"] == "refused" and outcome["version"] == by_hand
        assert served_version(server) == versions.first
        (model,) = models(server)
        assert model["version"] == versions.first
        assert model["last_reload_error"]["version"] == by_hand
        assert "registration tags" in model["last_reload_error"]["message"]

        # the explicit admin override serves it
        override = httpx.post(reload_url, params={"serve_unpromoted": "true"}, headers=admin_headers(), timeout=60)
        assert override.json()["outcomes"][0]["outcome"] == "swapped", override.text
        assert served_version(server) == by_hand
    finally:
        versions.promote(versions.first)
