"""/docs' predict examples name entities the served version knows (its task's example_request)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from scoreline_model_api.app import create_app

from tests.services.model_api.test_app_settings import settings


def _example(client: TestClient, task: str) -> dict[str, Any]:
    schema = client.get("/openapi.json").json()
    content = schema["paths"]["/v1/{task}/predict"]["post"]["requestBody"]["content"]["application/json"]
    return content["examples"][task]["value"]["instances"][0]


def test_examples_follow_the_served_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app(settings(tmp_path))
    holder = app.state.holder
    with TestClient(app) as client:
        before = _example(client, "match-outcome")
        assert (before["home_team"], before["away_team"]) == ("Brazil", "Argentina")  # nothing served: field examples

        simulated = {"teams": {"Baitia": {"elo": 1710.0}, "Baistmark": {"elo": 1650.0}, "Coria": {"elo": 1400.0}}}
        served = SimpleNamespace(version="3", bundle=SimpleNamespace(serving_state=simulated), input_example=[])
        monkeypatch.setattr(holder, "peek", lambda task: served if task == "match-outcome" else None)
        after = _example(client, "match-outcome")
        assert (after["home_team"], after["away_team"]) == ("Baitia", "Baistmark")  # the best two it knows

        real = {"teams": {"Brazil": {"elo": 2000.0}, "Argentina": {"elo": 2100.0}, "Spain": {"elo": 2150.0}}}
        reloaded = SimpleNamespace(version="4", bundle=SimpleNamespace(serving_state=real), input_example=[])
        monkeypatch.setattr(holder, "peek", lambda task: reloaded if task == "match-outcome" else None)
        assert _example(client, "match-outcome")["home_team"] == "Brazil"  # a new version: rebuilt
