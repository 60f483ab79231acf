"""Which data ``make run`` feeds each task: the bundled real data by default, the simulator when forced or absent."""

from __future__ import annotations

from pathlib import Path

import pytest
from scoreline_launcher.stack import SIMULATED_DATASET, LocalStack, StackKeys, StackSettings

from scoreline.tasks import get_task, task_ids
from scoreline.tasks.match_outcome.data import to_canonical
from scoreline.tasks.match_outcome.task import BUNDLED_RESULTS


def _stack(tmp_path: Path, **settings: object) -> LocalStack:
    config = StackSettings(home=tmp_path, simulation_scale=0.01, api_key="k", admin_key="a", **settings)
    return LocalStack(config, StackKeys("k", "a", None), say=lambda _: None)


def test_match_outcome_bootstraps_on_the_bundled_real_results(tmp_path: Path) -> None:
    data = _stack(tmp_path).bootstrap_data(get_task("match-outcome"))
    assert data.source == "bundled"
    assert data.dataset == get_task("match-outcome").default_dataset == "international-results"
    assert data.filename == "results.csv"
    assert isinstance(data.content, bytes) and data.content == BUNDLED_RESULTS.read_bytes()
    head = to_canonical(data.content[:2000].rsplit(b"\n", 1)[0] + b"\n", data.filename)
    assert head["home_team"].iloc[0] == "Scotland"


def test_simulated_forces_the_simulator_into_its_own_dataset(tmp_path: Path) -> None:
    data = _stack(tmp_path, simulated=True).bootstrap_data(get_task("match-outcome"))
    assert (data.source, data.dataset) == ("simulated", SIMULATED_DATASET)
    assert isinstance(data.content, Path) and data.content.is_file()


def test_tasks_without_real_data_use_their_simulator(tmp_path: Path) -> None:
    stack = _stack(tmp_path)
    for task_id in task_ids():
        task = get_task(task_id)
        if task.bundled_dataset() is not None:
            continue
        data = stack.bootstrap_data(task)
        assert (data.source, data.dataset) == ("simulated", task.default_dataset), task_id


def test_a_missing_data_folder_falls_back_to_the_simulator(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import scoreline.tasks.match_outcome.task as module

    monkeypatch.setattr(module, "BUNDLED_RESULTS", tmp_path / "absent.csv")
    task = get_task("match-outcome")
    assert task.bundled_dataset() is None
    data = _stack(tmp_path).bootstrap_data(task)
    # simulated matches never land in the dataset named for the real results
    assert data.source == "simulated" and data.dataset == SIMULATED_DATASET != task.default_dataset


def test_the_bundled_data_carries_its_licence_and_source() -> None:
    folder = BUNDLED_RESULTS.parent
    assert "CC0" in (folder / "LICENSE").read_text()
    readme = (folder / "README.md").read_text()
    assert "github.com/martj42/international_results" in readme and "CC0" in readme


def test_the_curl_reads_a_generated_key_when_predictions_need_one(tmp_path: Path) -> None:
    config = StackSettings(home=tmp_path, require_api_key_for_predictions=True)
    stack = LocalStack(config, StackKeys("api-key-value", "admin-key-value", tmp_path / "secrets.env"), say=print)
    command = stack.curl_example("match-outcome", {"home_team": "Brazil", "away_team": "Argentina"})
    assert command.startswith(f". {tmp_path / 'secrets.env'} && curl ")
    assert "Bearer $SCORELINE_API_KEY" in command and "key-value" not in command  # the key is never printed


def test_monitoring_runs_on_a_timer_and_survives_a_failed_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    from types import SimpleNamespace

    calls: list[int] = []
    said: list[str] = []
    ran_three = threading.Event()

    def monitor_run() -> dict[str, object]:
        calls.append(1)
        if len(calls) == 3:
            ran_three.set()
        if len(calls) == 1:
            raise RuntimeError("trainer not ready")
        return {"run_id": "r", "alert": len(calls) == 2, "alert_tasks": ["match-outcome"]}

    config = StackSettings(home=tmp_path, monitor_every_s=0.05, api_key="k", admin_key="a")
    stack = LocalStack(config, StackKeys("k", "a", None), say=said.append)
    monkeypatch.setattr(
        stack, "clients", lambda http=None: SimpleNamespace(trainer=SimpleNamespace(monitor_run=monitor_run))
    )
    with stack.monitoring():
        assert ran_three.wait(10)
    count = len(calls)
    assert any("monitor run failed: trainer not ready" in line for line in said)
    assert any("alert for match-outcome" in line for line in said)
    threading.Event().wait(0.2)
    assert len(calls) == count  # stopped with the block


def test_monitoring_off(tmp_path: Path) -> None:
    stack = _stack(tmp_path, monitor_every_s=0)
    with stack.monitoring() as stop:
        assert not stop.is_set()
