"""The training DAG end to end with ``dag.test()`` against real ingest, trainer, MLflow and model-api processes.

Airflow's metadata database is a fresh one on the machine's PostgreSQL (as in compose); an
``airflow api-server`` shares it, so the test reads task states and XComs and answers the
human-in-the-loop approval over Airflow's REST API, and ingest's notifier triggers runs through it.

The data: one seeded simulation of 16,000 matches served over HTTP in three growing cuts (the DAG's
pull step fetches them by URL), so each later dataset version carries more history and a better model.
The scenarios run in order, each building on the registry state the previous one left:
(a) first model promoted and served, (b) a better one replaces it and the old stays registered,
a re-run of (b)'s logical date changes nothing, (c) a worse model is rejected with its reason,
(d) manual mode waits for a human approval before anything changes.
"""

from __future__ import annotations

import functools
import http.server
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import (
    AIRFLOW_BIN,
    DAGS_FOLDER,
    REPO,
    WORKSPACE_BIN,
    ServerProcess,
    WebhookReceiver,
    airflow_token,
    free_port,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

DAG_ID = "scoreline_train_match_outcome"
TASK = "match-outcome"
DATASET = "simulated"
MODEL = f"scoreline-{TASK}"
SIMULATED_MATCHES = 16_000
CUTS = {"v1": 4_000, "v2": 10_000, "v3": 16_000}

SIMULATE_SCRIPT = """
import sys
from pathlib import Path
from scoreline.tasks import get_task

raw, _truth = get_task("match-outcome").simulate(int(sys.argv[2]), 7)
raw = raw.sort_values("date", kind="stable")
for pair in sys.argv[3:]:
    name, rows = pair.split("=")
    raw.iloc[: int(rows)].to_csv(Path(sys.argv[1]) / f"{name}.csv", index=False)
"""


@dataclass
class Stack:
    mlflow: ServerProcess
    ingest: ServerProcess
    trainer: ServerProcess
    model_api: ServerProcess
    airflow: ServerProcess
    data_url: str
    api_key: str
    admin_key: str

    def airflow_get(self, path: str) -> Any:
        response = httpx.get(
            f"{self.airflow.url}/api/v2{path}", headers={"Authorization": f"Bearer {airflow_token(self.airflow)}"}
        )
        response.raise_for_status()
        return response.json()

    def task_states(self, run_id: str) -> dict[str, str | None]:
        body = self.airflow_get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"]: ti["state"] for ti in body["task_instances"]}

    def xcom(self, run_id: str, task_id: str) -> Any:
        body = self.airflow_get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value")
        return body["value"]

    def served_version(self) -> str | None:
        response = httpx.get(f"{self.model_api.url}/v1/models", headers={"Authorization": f"Bearer {self.api_key}"},
                             timeout=10)  # fmt: skip
        response.raise_for_status()
        models = response.json()["models"]
        return next((str(m["version"]) for m in models if m.get("task") == TASK and m.get("version")), None)

    def registered_versions(self) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.mlflow.url}/api/2.0/mlflow/model-versions/search", params={"filter": f"name='{MODEL}'"}
        )
        response.raise_for_status()
        return response.json().get("model_versions", [])

    def alias(self, alias: str) -> str | None:
        response = httpx.get(
            f"{self.mlflow.url}/api/2.0/mlflow/registered-models/alias", params={"name": MODEL, "alias": alias}
        )
        return response.json()["model_version"]["version"] if response.status_code == 200 else None


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_: object) -> None:
        return


@pytest.fixture(scope="module")
def data_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The simulated cuts as CSV files on a loopback HTTP server: the "configured source URLs"."""
    folder = tmp_path_factory.mktemp("sources")
    subprocess.run(
        [str(WORKSPACE_BIN / "python"), "-c", SIMULATE_SCRIPT, str(folder), str(SIMULATED_MATCHES)]
        + [f"{name}={rows}" for name, rows in CUTS.items()],
        check=True,
        cwd=REPO,
        timeout=300,
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=folder))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def stack(
    airflow_api: ServerProcess, data_server: str, tmp_path_factory: pytest.TempPathFactory, logs_dir: Path
) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("scoreline-home")
    api_key, admin_key = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    ports = {name: free_port() for name in ("mlflow", "ingest", "trainer", "model_api")}
    url = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    env = {
        "PATH": f"{WORKSPACE_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "SCORELINE_STORAGE_URI": f"file://{home / 'store'}",
        "SCORELINE_MLFLOW_URI": url["mlflow"],
        # model-api's download of models:/ URIs (lifecycle.registry.download_model) still resolves the registry
        # through MLflow's process-wide default; without this it reports "Registered Model ... not found".
        "MLFLOW_TRACKING_URI": url["mlflow"],
        "SCORELINE_INGEST_URL": url["ingest"],
        "SCORELINE_TRAINER_URL": url["trainer"],
        "SCORELINE_MODEL_API_URL": url["model_api"],
        "SCORELINE_INGEST_PORT": str(ports["ingest"]),
        "SCORELINE_TRAINER_PORT": str(ports["trainer"]),
        "SCORELINE_MODEL_API_PORT": str(ports["model_api"]),
        "SCORELINE_JOBS_DIR": str(home / "trainer-jobs"),
        "SCORELINE_MODEL_CACHE_DIR": str(home / "model-cache"),
        "SCORELINE_PREDICTION_LOG_DIR": str(home / "predictions"),
        "SCORELINE_API_KEY": api_key,
        "SCORELINE_ADMIN_KEY": admin_key,
        # ingest announces new versions to this Airflow, as in compose.
        "SCORELINE_NOTIFY_URL": f"{airflow_api.url}/api/v2/dags/{{dag_id}}/dagRuns",
        "SCORELINE_NOTIFY_USERNAME": "scoreline-test",
        "SCORELINE_NOTIFY_PASSWORD": os.environ["SCORELINE_TEST_AIRFLOW_PASSWORD"],
        "SCORELINE_NOTIFY_BACKOFF_S": "0.5",
        "SCORELINE_URL_ALLOW_PRIVATE_HOSTS": "true",  # the "configured source URLs" are this test's loopback server
        # On a few thousand simulated matches XGBoost and the Elo baseline tie within noise; the first model
        # must still beat the base rates, and every later one must beat the champion on the same window.
        "SCORELINE_PROMOTION_BASELINE": "base_rates",
    }
    python = str(WORKSPACE_BIN / "python")
    servers = [
        ServerProcess(
            "mlflow",
            [str(WORKSPACE_BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(ports["mlflow"]),
             "--workers", "1", "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
             "--artifacts-destination", str(home / "mlartifacts"), "--serve-artifacts"],
            ports["mlflow"], health_path="/health", env={**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            log_path=logs_dir / "mlflow.log",
        ),
        ServerProcess("ingest", [python, "-m", "scoreline_ingest"], ports["ingest"], env=env,
                      log_path=logs_dir / "ingest.log"),
        ServerProcess("trainer", [python, "-m", "scoreline_trainer"], ports["trainer"], env=env,
                      log_path=logs_dir / "trainer.log"),
        ServerProcess("model-api", [python, "-m", "scoreline_model_api"], ports["model_api"], env=env,
                      log_path=logs_dir / "model-api.log"),
    ]  # fmt: skip
    started: list[ServerProcess] = []
    try:
        for server in servers:
            started.append(server.start(timeout_s=240))
        with pytest.MonkeyPatch.context() as patch:
            # What the DAG's tasks read (they run inside this process under dag.test()).
            for name in ("SCORELINE_INGEST_URL", "SCORELINE_TRAINER_URL", "SCORELINE_MODEL_API_URL",
                         "SCORELINE_API_KEY", "SCORELINE_ADMIN_KEY"):  # fmt: skip
                patch.setenv(name, env[name])
            patch.setenv("SCORELINE_TRAIN_POLL_INTERVAL_S", "1")
            patch.setenv("SCORELINE_HTTP_BACKOFF_S", "0.5")
            yield Stack(*started, airflow_api, data_server, api_key, admin_key)
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture
def training_dag(stack: Stack) -> Any:
    """A freshly parsed DAG for each run: under dag.test() the tasks run in this process, and a run's conf
    must not linger in the params of the next run (a worker process starts clean each time)."""
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER)).dags[DAG_ID]


def run_dag(dag: Any, logical_date: datetime, conf: dict[str, Any]) -> Any:
    # No tuning: these runs are about the lifecycle, and the DAG's default budget would add minutes to each.
    full = {"version": None, "source_urls": None, "holdout_start": None, "promotion_mode": None,
            "promotion_margin": None, "tuning_trials": 0, **conf}  # fmt: skip
    return dag.test(logical_date=logical_date, run_conf=full)


@pytest.fixture
def notify_to(webhook: WebhookReceiver) -> Iterator[WebhookReceiver]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SCORELINE_NOTIFY_WEBHOOK_URL", webhook.url)
        yield webhook


# What one scenario leaves for the next (the scenarios run in file order).
FACTS: dict[str, Any] = {}

DAY_A = datetime(2026, 3, 1, tzinfo=UTC)
DAY_B = datetime(2026, 3, 2, tzinfo=UTC)
DAY_C = datetime(2026, 3, 3, tzinfo=UTC)
DAY_D = datetime(2026, 3, 4, tzinfo=UTC)


def test_a_first_model_is_trained_promoted_and_served(
    stack: Stack, training_dag: Any, notify_to: WebhookReceiver
) -> None:
    run = run_dag(training_dag, DAY_A, {"source_urls": [f"{stack.data_url}/v1.csv"], "promotion_mode": "auto"})

    assert run.state == "success", stack.task_states(run.run_id)
    pulled = stack.xcom(run.run_id, "pull")
    assert pulled["pulled"][0]["new"] is True
    decision = stack.xcom(run.run_id, "decide")
    assert decision["decision"] == "promoted", decision
    version = str(decision["champion_version"])
    assert stack.alias("champion") == version
    assert stack.served_version() == version
    assert stack.task_states(run.run_id)["approve"] == "skipped"
    assert [message["text"] for message in notify_to.received] == [f"Scoreline {TASK}: promoted — {decision['reason']}"]


def test_b_better_model_on_a_new_version_replaces_it_and_the_old_stays(
    stack: Stack, training_dag: Any, notify_to: WebhookReceiver
) -> None:
    before = stack.served_version()

    run = run_dag(training_dag, DAY_B, {"source_urls": [f"{stack.data_url}/v2.csv"], "promotion_mode": "auto"})

    assert run.state == "success", stack.task_states(run.run_id)
    decision = stack.xcom(run.run_id, "decide")
    assert decision["decision"] == "promoted", decision
    new = str(decision["champion_version"])
    assert new != before
    assert stack.served_version() == new
    assert stack.alias("champion") == new
    versions = {v["version"]: v for v in stack.registered_versions()}
    assert before in versions, "the replaced champion must stay registered for rollback"
    tags = {tag["key"]: tag["value"] for tag in versions[new].get("tags", [])}
    assert tags.get("promotion.previous_champion") == before
    FACTS["v2"] = stack.xcom(run.run_id, "pull")["version"]


def test_b_rerun_of_the_same_logical_date_registers_and_promotes_nothing_new(stack: Stack, training_dag: Any) -> None:
    versions_before = len(stack.registered_versions())
    champion_before = stack.alias("champion")

    run = run_dag(training_dag, DAY_B, {"source_urls": [f"{stack.data_url}/v2.csv"], "promotion_mode": "auto"})

    assert run.state == "success", stack.task_states(run.run_id)
    assert stack.xcom(run.run_id, "pull")["pulled"][0]["new"] is False
    assert stack.xcom(run.run_id, "decide")["decision"] == "unchanged"
    assert len(stack.registered_versions()) == versions_before
    assert stack.alias("champion") == champion_before
    assert stack.served_version() == champion_before


def test_c_worse_model_is_not_promoted_and_the_reason_is_recorded(
    stack: Stack, training_dag: Any, notify_to: WebhookReceiver
) -> None:
    champion_before = stack.alias("champion")
    served_before = stack.served_version()
    # The same data, but a holdout window that leaves the model only the first 600 matches to learn from.
    dates = [line.split(",", 1)[0] for line in httpx.get(f"{stack.data_url}/v2.csv").text.splitlines()[1:]]
    early = sorted(dates)[600][:10]

    run = run_dag(
        training_dag,
        DAY_C,
        {"version": FACTS["v2"], "source_urls": [], "holdout_start": early, "promotion_mode": "auto"},
    )

    assert run.state == "success", stack.task_states(run.run_id)
    decision = stack.xcom(run.run_id, "decide")
    assert decision["decision"] == "rejected", decision
    assert decision["reason"]
    assert stack.alias("champion") == champion_before
    assert stack.served_version() == served_before
    states = stack.task_states(run.run_id)
    assert states["promote"] == "skipped" and states["reload"] == "skipped"
    assert notify_to.received[-1]["text"] == f"Scoreline {TASK}: rejected — {decision['reason']}"
    challenger = {v["version"]: v for v in stack.registered_versions()}[str(decision["challenger_version"])]
    tags = {tag["key"]: tag["value"] for tag in challenger.get("tags", [])}
    assert tags.get("promotion.decision") == "rejected"
    assert tags.get("promotion.reason") == decision["reason"]


def test_d_manual_mode_waits_for_a_human_approval(stack: Stack, training_dag: Any) -> None:
    champion_before = stack.alias("champion")
    seen: dict[str, Any] = {}

    def approve_when_asked() -> None:
        """The human: waits for the approval request, looks at what is served, then approves."""
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            runs = stack.airflow_get(f"/dags/{DAG_ID}/dagRuns")["dag_runs"]
            run_id = next((r["dag_run_id"] for r in runs if (r["logical_date"] or "").startswith("2026-03-04")), None)
            try:
                waiting = bool(run_id) and stack.task_states(str(run_id)).get("approve") == "awaiting_input"
            except httpx.HTTPError:
                waiting = False
            if waiting:
                seen["served_while_waiting"] = stack.served_version()
                seen["champion_while_waiting"] = stack.alias("champion")
                response = httpx.patch(
                    f"{stack.airflow.url}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/approve/-1/hitlDetails",
                    json={"chosen_options": ["Approve"]},
                    headers={"Authorization": f"Bearer {airflow_token(stack.airflow)}"},
                )
                seen["answer"] = response.status_code
                return
            time.sleep(2)

    human = threading.Thread(target=approve_when_asked, daemon=True)
    human.start()
    # The approval flow needs a challenger the automatic gate lets through; on simulated matches from one unchanging
    # truth, more data improves the model by less than the default margin, so this run asks for none.
    conf = {"source_urls": [f"{stack.data_url}/v3.csv"], "promotion_mode": "manual", "promotion_margin": 0.0}
    run = run_dag(training_dag, DAY_D, conf)
    human.join(30)

    assert seen.get("answer") == 200, seen
    assert seen["champion_while_waiting"] == champion_before
    assert seen["served_while_waiting"] == champion_before
    assert run.state == "success", stack.task_states(run.run_id)
    decision = stack.xcom(run.run_id, "decide")
    assert decision["decision"] == "pending_approval", decision
    new = str(decision["challenger_version"])
    assert stack.alias("champion") == new
    assert stack.served_version() == new
    promoted = stack.xcom(run.run_id, "promote")
    assert promoted["via"] == "approval"


def test_ingesting_a_new_version_triggers_a_dag_run(stack: Stack) -> None:
    """ingest's notifier calls Airflow's REST API; the run carries the new version in its conf."""
    csv = httpx.get(f"{stack.data_url}/v2.csv").text
    extra = csv.splitlines()[: 1 + 5000]  # a cut no earlier run ingested → a new content hash → a new version
    response = httpx.post(
        f"{stack.ingest.url}/v1/datasets/{TASK}/{DATASET}",
        files={"file": ("cut.csv", ("\n".join(extra) + "\n").encode(), "text/csv")},
        headers={"Authorization": f"Bearer {stack.api_key}"},
        timeout=120,
    )
    assert response.status_code == 201, response.text
    version = response.json()["version"]

    run_id = f"ingest__{TASK}__{DATASET}__{version}"
    deadline = time.monotonic() + 60
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = stack.airflow_get(f"/dags/{DAG_ID}/dagRuns")["dag_runs"]
        if any(r["dag_run_id"] == run_id for r in runs):
            break
        time.sleep(1)
    run = next((r for r in runs if r["dag_run_id"] == run_id), None)
    assert run is not None, [r["dag_run_id"] for r in runs]
    assert run["conf"] == {"task": TASK, "dataset": DATASET, "version": version}
    assert run["run_type"] == "manual"


def test_metadata_database_is_postgres(airflow_db: str) -> None:
    assert airflow_db.startswith("postgresql"), f"this suite runs Airflow on PostgreSQL as in compose: {airflow_db}"
    assert sys.executable.startswith(str(REPO / "orchestration"))


def test_e_the_daily_prediction_pipeline_forecasts_every_series(stack: Stack) -> None:
    """event-traffic trained and promoted through the trainer, then one ``scoreline_predict`` run under
    dag.test(): its step for event-traffic stores a forecast run of every series; other tasks' steps skip."""
    from airflow.dag_processing.dagbag import DagBag
    from scoreline_client import ScorelineClients

    from scoreline.tasks import get_task

    forecast = get_task("event-traffic")
    clients = ScorelineClients.build(
        ingest_url=stack.ingest.url, trainer_url=stack.trainer.url, model_api_url=stack.model_api.url,
        api_key=stack.api_key, admin_key=stack.admin_key, timeout_s=120.0,
    )  # fmt: skip
    content, filename = forecast.simulated_file(forecast.simulation_rows, 7)  # make run's data: it beats its baselines
    manifest = clients.ingest.upload(
        forecast.id, forecast.default_dataset, content, filename=filename, content_type="application/zip"
    ).manifest
    job = clients.trainer.submit_job(forecast.id, forecast.default_dataset, manifest.version)
    assert clients.trainer.wait_for_job(job.id, timeout_s=600).status == "succeeded"
    # The stack judges match-outcome against base_rates; a forecast has its own baselines: the best of them.
    assert clients.trainer.decide(forecast.id, mode="auto", actor="test", baseline="best").decision == "promoted"

    dag = DagBag(dag_folder=str(DAGS_FOLDER)).dags["scoreline_predict"]
    run = dag.test(logical_date=datetime(2026, 3, 5, tzinfo=UTC))
    instances = stack.airflow_get(f"/dags/scoreline_predict/dagRuns/{run.run_id}/taskInstances")["task_instances"]
    states = {ti["task_id"]: ti["state"] for ti in instances}
    assert states["predict_event_traffic"] == "success", states
    assert states["predict_match_outcome"] == "skipped"  # match-outcome asks for no scheduled predictions
    runs = clients.trainer.prediction_runs(forecast.id)
    assert runs and runs[0]["rows"] == len(forecast.prediction_requests(forecast.to_canonical(content, filename)))
    assert runs[0]["dataset_version"] == manifest.version


# ---- Airflow scaled out: the same DAG through a real Celery worker --------------------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_unreachable_reason(host: str = "127.0.0.1", port: int = 6379) -> str | None:
    """None when a Redis answers PING at host:port, else why not (the Celery test skips with that reason)."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            answer = sock.recv(64)
    except OSError as exc:
        return f"no Redis at {host}:{port} for the Celery broker ({exc}); compose and Kubernetes run one"
    if not answer.startswith(b"+PONG"):
        return f"the server at {host}:{port} is not a Redis that answers PING (it said {answer[:40]!r})"
    return None


def _log_has(path: Path, text: str) -> bool:
    return path.exists() and text in path.read_text(errors="replace")


@dataclass
class CeleryRun:
    queue: str
    worker_log: Path


@pytest.fixture
def celery(stack: Stack, logs_dir: Path) -> Iterator[CeleryRun]:
    """``airflow celery worker`` (one slot, its own queue on the machine's Redis) and ``airflow triggerer`` (the
    training wait defers) as real processes, with this process switched to the CeleryExecutor for dag.test()."""
    reason = redis_unreachable_reason()
    if reason:
        pytest.skip(reason)
    from airflow.executors import executor_loader

    queue = f"scoreline-test-{secrets.token_hex(4)}"
    airflow_env = {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,  # result backend: the metadata database (db+ of its URL)
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{stack.airflow.url}/execution/",
    }
    worker_env = {
        **airflow_env,
        "PATH": f"{AIRFLOW_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "SCORELINE_INGEST_URL": stack.ingest.url,
        "SCORELINE_TRAINER_URL": stack.trainer.url,
        "SCORELINE_MODEL_API_URL": stack.model_api.url,
        "SCORELINE_API_KEY": stack.api_key,
        "SCORELINE_ADMIN_KEY": stack.admin_key,
        "SCORELINE_TRAIN_POLL_INTERVAL_S": "1",
        "SCORELINE_HTTP_BACKOFF_S": "0.5",
    }
    worker_log, triggerer_log = logs_dir / f"celery-worker-{queue}.log", logs_dir / f"triggerer-{queue}.log"
    airflow = str(AIRFLOW_BIN / "airflow")
    worker = ServerProcess(
        "airflow-celery-worker",
        [airflow, "celery", "worker", "--queues", queue, "--concurrency", "1", "--skip-serve-logs",
         "--celery-hostname", f"{queue}@%h", "--without-gossip", "--without-mingle"],
        0, env=worker_env, log_path=worker_log, cwd=REPO,
    )  # fmt: skip
    triggerer = ServerProcess(
        "airflow-triggerer", [airflow, "triggerer", "--skip-serve-logs"], 0, env=worker_env,
        log_path=triggerer_log, cwd=REPO,
    )  # fmt: skip
    started: list[ServerProcess] = []
    try:
        started.append(worker.start(timeout_s=120, ready=lambda _: _log_has(worker_log, " ready.")))
        triggerer_ready = lambda _: _log_has(triggerer_log, "Starting the triggerer")  # noqa: E731
        started.append(triggerer.start(timeout_s=120, ready=triggerer_ready))
        with pytest.MonkeyPatch.context() as patch:
            for name, value in airflow_env.items():
                patch.setenv(name, value)
            patch.setattr(executor_loader, "_executor_names", [])  # read [core] executor again: CeleryExecutor
            yield CeleryRun(queue, worker_log)
    finally:
        for server in reversed(started):
            server.stop(timeout_s=20)


@pytest.mark.timeout(420)
def test_f_a_run_goes_through_a_celery_worker(stack: Stack, training_dag: Any, celery: CeleryRun) -> None:
    """CeleryExecutor (as in compose and Kubernetes): dag.test(use_executor=True) queues every task on Redis, the
    worker process runs it through the Task SDK against the api-server's execution API, the triggerer waits for
    the trainer job. The smallest cut, without tuning: after (d) its model is judged against a better champion."""
    for operator in training_dag.tasks:
        operator.queue = celery.queue  # this test's own queue: nothing else on the machine's Redis takes them
    champion_before = stack.alias("champion")
    conf = {"version": None, "source_urls": [f"{stack.data_url}/v1.csv"], "holdout_start": None,
            "promotion_mode": "auto", "tuning_trials": 0}  # fmt: skip

    run = training_dag.test(logical_date=datetime(2026, 3, 6, tzinfo=UTC), run_conf=conf, use_executor=True)

    states = stack.task_states(run.run_id)
    assert run.state == "success", states
    ran = {task for task, state in states.items() if state == "success"}
    assert {"pull", "train", "wait_for_training", "decide"} <= ran, states
    lines = [line for line in celery.worker_log.read_text(errors="replace").splitlines()
             if "Executing workload in Celery" in line and run.run_id in line]  # fmt: skip
    executed = {task for task in states if any(f"task_id='{task}'" in line for line in lines)}
    assert ran <= executed, f"tasks not run by the Celery worker: {ran - executed}"
    decision = stack.xcom(run.run_id, "decide")
    assert decision["decision"] in ("promoted", "rejected", "unchanged"), decision
    champion = stack.alias("champion")
    if decision["decision"] != "promoted":
        assert champion == champion_before, decision
    assert stack.served_version() == champion
