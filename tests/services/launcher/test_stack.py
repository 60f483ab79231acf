"""``make run``'s stack end to end: every service up, every registered task trained, promoted and served."""

from __future__ import annotations

import json
import shlex
import subprocess

import httpx
import pytest
from scoreline_launcher.stack import LocalStack, StackSettings, resolve_keys

from scoreline.tasks import task_ids

# The session stack's setup (4 tasks trained, match-outcome on 49,520 real matches) runs inside the first test.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def test_every_task_is_served_after_bootstrap(local_stack: LocalStack) -> None:
    assert local_stack.report is not None
    assert local_stack.report.failed == {}, "\n".join(f"{t}: {r}" for t, r in local_stack.report.failed.items())
    models = local_stack.clients().model_api.models()
    served = {model.task: model for model in models.models}
    assert set(task_ids()) <= served.keys()
    assert all(served[task].version for task in task_ids())


def test_the_banner_names_every_ui_and_a_curl_per_task_that_answers(local_stack: LocalStack) -> None:
    banner = local_stack.banner()
    s = local_stack.settings
    for port in (s.dashboard_port, s.model_api_port, s.ingest_port, s.trainer_port, s.mlflow_port):
        assert local_stack.url(port) in banner
    examples = local_stack.examples()
    served = {model.task for model in local_stack.clients().model_api.models().models if model.version}
    assert served and set(examples) == served
    for task_id, example in examples.items():
        assert example in banner
        argv = shlex.split(example)  # the printed command, as a shell would split it
        url = next(arg for arg in argv if arg.startswith("http"))
        body = json.loads(argv[argv.index("-d") + 1])
        response = httpx.post(url, json=body, timeout=10)
        assert response.status_code == 200, (task_id, response.text)
        assert response.json()["predictions"], task_id
        assert response.headers["X-Model-Version"]
        # and exactly as printed, through a shell
        printed = subprocess.run(["bash", "-c", example], capture_output=True, text=True, timeout=30, check=True)
        assert json.loads(printed.stdout)["predictions"], (task_id, printed.stdout, printed.stderr)


def test_match_outcome_serves_the_bundled_real_results(local_stack: LocalStack) -> None:
    """make run's default: match-outcome trained on the real international results; the example names real teams."""
    assert local_stack.report is not None
    entry = local_stack.report.tasks["match-outcome"]
    assert (entry["dataset"], entry["data_source"]) == ("international-results", "bundled")
    instance = local_stack.clients().model_api.schema("match-outcome").example_instance()
    assert instance is not None
    assert {instance["home_team"], instance["away_team"]} == {"Brazil", "Argentina"}


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


def test_a_failing_task_is_reported_and_the_others_go_on(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No server: every task's upload is refused at once, and each failure is reported on its own."""
    from scoreline_launcher.processes import free_port

    settings = StackSettings(home=tmp_path, ingest_port=free_port(), api_key="k", admin_key="a", simulation_scale=0.01)
    stack = LocalStack(settings, resolve_keys(settings), say=lambda _: None)
    monkeypatch.setattr(stack, "clients", lambda http=None: _no_retry(LocalStack.clients(stack, http)))
    report = stack.bootstrap()
    assert report.tasks == {}
    assert set(report.failed) == set(task_ids())
    assert any("ingest is not reachable" in reason for reason in report.failed.values())


def _no_retry(clients):  # type: ignore[no-untyped-def]
    clients.ingest.http.attempts = 1
    return clients


def test_every_state_folder_of_the_stack_is_under_its_home(tmp_path) -> None:
    settings = StackSettings(home=tmp_path, api_key="k", admin_key="a")
    env = LocalStack(settings, resolve_keys(settings)).service_env
    for key in ("SCORELINE_JOBS_DIR", "SCORELINE_MODEL_CACHE_DIR", "SCORELINE_PREDICTION_LOG_DIR"):
        assert env[key].startswith(str(tmp_path.resolve())), key
