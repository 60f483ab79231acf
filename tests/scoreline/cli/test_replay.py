"""``scoreline replay`` against the running services (match-outcome served from the real international results
since 2015): a week of March 2024 played forward fills live accuracy and drift, and the progress is kept where the
dashboard reads it."""

from __future__ import annotations

import json

import pytest
from scoreline_launcher.stack import LocalStack
from typer.testing import CliRunner

from scoreline.cli import build_app

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
TASK = "match-outcome"
DAYS = [f"2024-03-{day}" for day in range(20, 27)]  # an international window: ~150 real matches


def test_replay_fills_live_accuracy_and_drift(
    recent_results_stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in recent_results_stack.service_env.items():
        monkeypatch.setenv(name, value)
    clients = recent_results_stack.clients()
    result = CliRunner().invoke(
        build_app(), ["replay", TASK, "--from", DAYS[0], "--days", str(len(DAYS)), "--into", "replay-test", "--json"]
    )
    assert result.exit_code == 0, result.output
    final = json.loads(result.stdout[result.stdout.index("{") :])
    assert (final["state"], final["days_done"], final["days_total"]) == ("done", 7, 7)
    assert final["predictions"] == final["results"] >= 100
    # Live accuracy: the logged predictions met their results (ingested as one dataset version, the union of days).
    live = final["live"]
    assert live["matched"] >= final["predictions"], live
    assert live["accuracy_error"] is None
    version = clients.ingest.latest_version(TASK, "replay-test")
    assert version is not None and version.rows == final["results"]
    daily = [r for r in clients.trainer.accuracy(TASK)["results"] if r["day"] in DAYS]
    assert len({r["day"] for r in daily}) >= 5  # the days that had matches
    assert sum(r["count"] for r in daily) >= final["predictions"]
    assert all(0.0 <= r["accuracy"] <= 1.0 and r["rps"] > 0 for r in daily)
    # Drift: enough rows for a verdict, a result per feature.
    assert live["drift_status"] in ("ok", "warn", "alert"), live
    assert live["drift_rows"] >= final["predictions"]
    drift = [r for r in clients.trainer.drift(TASK)["results"] if r.get("model_version") == live["model_version"]]
    assert drift and any(r.get("psi") is not None for r in drift)
    # The progress the dashboard's Monitoring page shows.
    (kept,) = [r for r in clients.trainer.replays(TASK) if r["replay_id"] == final["replay_id"]]
    assert (kept["state"], kept["days_done"], kept["dataset_version"]) == ("done", 7, version.version)
