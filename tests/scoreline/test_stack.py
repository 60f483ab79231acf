"""``make run``'s stack end to end: every service up, every task trained, promoted and served."""

from __future__ import annotations

import httpx
import pytest

from scoreline.stack import LocalStack, StackSettings, resolve_keys
from scoreline.tasks import TASK_IDS

pytestmark = pytest.mark.slow


def test_every_task_is_served_after_bootstrap(local_stack: LocalStack) -> None:
    models = httpx.get(f"{local_stack.url(local_stack.settings.model_api_port)}/v1/models", timeout=10).json()
    served = {model["task"]: model for model in models["models"]}
    assert set(TASK_IDS) <= served.keys()
    assert all(served[task]["version"] for task in TASK_IDS)


def test_a_prediction_through_the_stack(local_stack: LocalStack) -> None:
    base = local_stack.url(local_stack.settings.model_api_port)
    teams = httpx.get(f"{base}/v1/match-outcome/schema", timeout=10).json()["teams"]
    response = httpx.post(
        f"{base}/v1/match-outcome/predict",
        json={"instances": [{"home_team": teams[0], "away_team": teams[1], "neutral": False}]},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    probabilities = response.json()["predictions"][0]["probabilities"]
    assert abs(sum(probabilities.values()) - 1.0) < 1e-6
    assert response.headers["X-Model-Version"]


def test_the_banner_names_every_ui(local_stack: LocalStack) -> None:
    banner = local_stack.banner()
    s = local_stack.settings
    for port in (s.dashboard_port, s.model_api_port, s.ingest_port, s.trainer_port, s.mlflow_port):
        assert local_stack.url(port) in banner
    home, away = local_stack.example_teams()
    assert f'"home_team": "{home}", "away_team": "{away}"' in banner  # a ready-to-paste example
    teams = httpx.get(f"{local_stack.url(s.model_api_port)}/v1/match-outcome/schema", timeout=10).json()["teams"]
    assert {home, away} <= set(teams)


def test_keys_are_generated_once_and_reused(tmp_path) -> None:
    settings = StackSettings(home=tmp_path)
    first = resolve_keys(settings)
    second = resolve_keys(settings)
    assert first.generated_into == tmp_path / "secrets.env"
    assert (first.api_key, first.admin_key) == (second.api_key, second.admin_key)
    assert first.api_key != first.admin_key
    assert oct((tmp_path / "secrets.env").stat().st_mode & 0o777) == "0o600"


def test_keys_from_the_environment_are_not_written(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORELINE_API_KEY", "from-env-api")
    monkeypatch.setenv("SCORELINE_ADMIN_KEY", "from-env-admin")
    keys = resolve_keys(StackSettings(home=tmp_path))
    assert (keys.api_key, keys.admin_key, keys.generated_into) == ("from-env-api", "from-env-admin", None)
    assert not (tmp_path / "secrets.env").exists()
