"""``scoreline-launcher up``: the whole suite as local processes on embedded defaults (``make run``).

Starts MLflow (SQLite + local artifacts), ingest, trainer, model-api and the dashboard, feeds
every registered task its bundled real data (``Task.bundled_dataset``), else its simulator's data,
over the services' HTTP APIs (``scoreline_client``), trains and promotes every task, and prints the
URLs with a ready-to-paste prediction per served task.
"""

from __future__ import annotations

import json
import mimetypes
import os
import secrets
import shlex
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import SecretStr
from scoreline_client import ScorelineClients, ServiceError

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.core.settings import ScorelineSettings
from scoreline.lifecycle.promotion import TAG_REASON, retrain_reason
from scoreline.tasks import get_task, task_ids
from scoreline.tasks.base import Task as TaskBase
from scoreline_launcher.processes import VENV_BIN, ServerProcess, stop_all

if TYPE_CHECKING:
    from scoreline.tasks.base import Task


class StackSettings(ScorelineSettings):
    home: Path = Path(".scoreline")
    mlflow_port: int = 5000
    ingest_port: int = 8001
    trainer_port: int = 8002
    model_api_port: int = 8000
    dashboard_port: int = 8501
    simulation_scale: float = 1.0  # each task simulates its own simulation_rows times this (tests use less)
    simulation_seed: int = 7
    simulated: bool = False  # feed every task its simulator's data, even a task that bundles real data
    require_api_key_for_predictions: bool = False  # model-api's setting, read from the same variable
    api_key: SecretStr | None = None
    admin_key: SecretStr | None = None
    start_timeout_s: float = 240.0
    monitor_every_s: float = 300.0  # drift and live accuracy on a timer while up, so Monitoring fills in (0: off)
    train_timeout_s: float = 900.0


@dataclass(frozen=True)
class StackKeys:
    api_key: str
    admin_key: str
    generated_into: Path | None


def resolve_keys(settings: StackSettings) -> StackKeys:
    """Keys from the environment, else from (or generated into) ``<home>/secrets.env``."""
    if settings.api_key and settings.admin_key:
        return StackKeys(settings.api_key.get_secret_value(), settings.admin_key.get_secret_value(), None)
    path = settings.home / "secrets.env"
    stored: dict[str, str] = {}
    if path.exists():
        stored = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    api_key = settings.api_key.get_secret_value() if settings.api_key else stored.get("SCORELINE_API_KEY")
    admin_key = settings.admin_key.get_secret_value() if settings.admin_key else stored.get("SCORELINE_ADMIN_KEY")
    api_key = api_key or secrets.token_urlsafe(24)
    admin_key = admin_key or secrets.token_urlsafe(24)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"SCORELINE_API_KEY={api_key}\nSCORELINE_ADMIN_KEY={admin_key}\n")
    path.chmod(0o600)
    return StackKeys(api_key, admin_key, path)


class LocalStack:
    def __init__(self, settings: StackSettings, keys: StackKeys, say: Callable[[str], None] = print) -> None:
        self.settings = settings
        self.keys = keys
        self.say = say
        self.home = settings.home.resolve()
        self.logs = self.home / "logs"
        self.report: BootstrapReport | None = None  # the last bootstrap's

    # ---- addresses -------------------------------------------------------------------
    def url(self, port: int) -> str:
        return f"http://127.0.0.1:{port}"

    @property
    def service_env(self) -> dict[str, str]:
        s = self.settings
        return {
            "SCORELINE_STORAGE_URI": f"file://{self.home / 'store'}",
            "SCORELINE_MLFLOW_URI": self.url(s.mlflow_port),
            "SCORELINE_INGEST_URL": self.url(s.ingest_port),
            "SCORELINE_TRAINER_URL": self.url(s.trainer_port),
            "SCORELINE_MODEL_API_URL": self.url(s.model_api_port),
            "SCORELINE_MLFLOW_UI_URL": self.url(s.mlflow_port),
            "SCORELINE_INGEST_PORT": str(s.ingest_port),
            "SCORELINE_TRAINER_PORT": str(s.trainer_port),
            "SCORELINE_MODEL_API_PORT": str(s.model_api_port),
            # The local stack shares the machine's cores with training: one model-api process unless asked for more.
            "SCORELINE_MODEL_API_WORKERS": os.environ.get("SCORELINE_MODEL_API_WORKERS", "1"),
            "SCORELINE_DASHBOARD_PORT": str(s.dashboard_port),
            "SCORELINE_MODEL_CACHE_DIR": str(self.home / "model-cache"),
            "SCORELINE_JOBS_DIR": str(self.home / "trainer-jobs"),  # not the working directory's: one stack's jobs
            "SCORELINE_PREDICTION_LOG_DIR": str(self.home / "predictions"),
            "SCORELINE_API_KEY": self.keys.api_key,
            "SCORELINE_ADMIN_KEY": self.keys.admin_key,
        }

    def servers(self) -> list[ServerProcess]:
        s = self.settings
        python = str(VENV_BIN / "python")
        mlflow = ServerProcess(
            "mlflow",
            [str(VENV_BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(s.mlflow_port),
             "--workers", "1", "--backend-store-uri", f"sqlite:///{self.home / 'mlflow.db'}",
             "--artifacts-destination", str(self.home / "mlartifacts"), "--serve-artifacts"],
            s.mlflow_port, health_path="/health", log_path=self.logs / "mlflow.log",
            env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        )  # fmt: skip
        env = self.service_env

        def service(name: str, module: str, port: int, health: str) -> ServerProcess:
            return ServerProcess(name, [python, "-m", module], port, health_path=health,
                                 log_path=self.logs / f"{name}.log", env=env)  # fmt: skip

        return [
            mlflow,
            service("ingest", "scoreline_ingest", s.ingest_port, "/healthz"),
            service("trainer", "scoreline_trainer", s.trainer_port, "/healthz"),
            service("model-api", "scoreline_model_api", s.model_api_port, "/healthz"),
            service("dashboard", "scoreline_dashboard", s.dashboard_port, "/_stcore/health"),
        ]

    # ---- lifecycle -------------------------------------------------------------------
    @contextmanager
    def running(self) -> Iterator[LocalStack]:
        """The servers run while the block runs; all of them stop at once when it ends, however it ends."""
        self.logs.mkdir(parents=True, exist_ok=True)
        started: list[ServerProcess] = []
        try:
            # All at once: none needs another to start (model-api serves its cached champion until MLflow
            # answers), so a restart waits for the slowest server, not for the sum of them.
            for server in self.servers():
                self.say(f"starting {server.name} on {server.url} (log: {server.log_path})")
                started.append(server.spawn())
            deadline = time.monotonic() + self.settings.start_timeout_s
            for server in started:
                server.wait_ready(timeout_s=max(1.0, deadline - time.monotonic()))
                self.say(f"{server.name} is up")
            yield self
        finally:
            stop_all(started)

    def clients(self, http: httpx.Client | None = None) -> ScorelineClients:
        s = self.settings
        return ScorelineClients.build(
            ingest_url=self.url(s.ingest_port),
            trainer_url=self.url(s.trainer_port),
            model_api_url=self.url(s.model_api_port),
            api_key=self.keys.api_key,
            admin_key=self.keys.admin_key,
            timeout_s=60.0,
            client=http,
        )

    def bootstrap(
        self, progress: Callable[[str, float], None] | None = None, tasks: Sequence[str] | None = None
    ) -> BootstrapReport:
        """Ingest (bundled real data, else simulated), train and promote every registered task through the
        services' HTTP APIs.

        ``tasks`` limits it to those task ids. A task whose bootstrap fails is reported (``failed``) and the
        others go on."""
        report = BootstrapReport()
        with httpx.Client() as http:
            clients = self.clients(http)
            for task_id in tasks if tasks is not None else task_ids():
                try:
                    report.tasks[task_id] = self._bootstrap_task(clients, get_task(task_id), progress)
                except Exception as error:  # one task's failure (a service refusal, a broken plug-in) stops only it
                    message = getattr(error, "message", None) or f"{type(error).__name__}: {error}"
                    report.failed[task_id] = message
                    self.say(f"{task_id}: bootstrap failed: {message}")
        self.report = report
        return report

    def simulated_file(self, task: Task) -> Path:
        """The task's simulated raw file, generated once per (rows, seed) under ``<home>/data``."""
        s = self.settings
        rows = max(1, round(task.simulation_rows * s.simulation_scale))
        folder = self.home / "data" / task.id / f"{rows}-rows-seed-{s.simulation_seed}"
        existing = (
            [p for p in folder.glob("*") if p.is_file() and not p.name.startswith(".")] if folder.exists() else []
        )
        if existing:
            return existing[0]
        content, filename = task.simulated_file(rows, s.simulation_seed)
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".{filename}.part"
        partial.write_bytes(content)
        return partial.rename(folder / filename)

    def bootstrap_data(self, task: Task) -> BootstrapData:
        """What the bootstrap feeds ``task``: its bundled real data unless ``simulated`` is set or it has none,
        else its simulator's file (into ``default_dataset``, or ``simulated`` for a task that ships real data)."""
        bundled = task.bundled_dataset()
        if bundled is not None and not self.settings.simulated:
            dataset, content, filename = bundled
            return BootstrapData(dataset, content, filename, "bundled")
        # A task that ships real data (even when its file is missing here) keeps its default dataset for real data.
        ships_real_data = bundled is not None or type(task).bundled_dataset is not TaskBase.bundled_dataset
        dataset = SIMULATED_DATASET if ships_real_data else task.default_dataset
        data_file = self.simulated_file(task)
        return BootstrapData(dataset, data_file, data_file.name, "simulated")

    def _bootstrap_task(
        self, clients: ScorelineClients, task: Task, progress: Callable[[str, float], None] | None
    ) -> dict[str, Any]:
        task_id = task.id
        data = self.bootstrap_data(task)
        dataset = data.dataset
        content_type = mimetypes.guess_type(data.filename)[0] or "application/octet-stream"
        manifest = clients.ingest.upload(
            task_id, dataset, data.content, data.filename, content_type=content_type
        ).manifest
        what = "bundled real data" if data.source == "bundled" else "simulated"
        self.say(f"{task_id}: dataset {dataset}@{manifest.version} ({manifest.rows} rows, {what})")

        registered = clients.trainer.model_versions(task_id)
        tags = {v.version: v.tags for v in registered.versions}
        champion_v, challenger_v = registered.aliases.get("champion"), registered.aliases.get("challenger")
        why = retrain_reason(
            task_id, dataset, manifest.version, tags.get(champion_v or ""), tags.get(challenger_v or "")
        )
        if why is None:
            return self._unchanged(clients, task_id, data, manifest.version, champion_v, tags.get(challenger_v or ""))
        self.say(f"{task_id}: training ({why})")
        job = clients.trainer.submit_job(task_id, dataset, manifest.version)
        job = clients.trainer.wait_for_job(
            job.id,
            timeout_s=self.settings.train_timeout_s,
            on_progress=(lambda j: progress(task_id, float(j.progress or 0.0))) if progress else None,
        )
        if job.status != "succeeded":
            raise ScorelineError(ErrorCode.UPSTREAM_FAILED, f"training {task_id} failed: {job.error}")
        decision = clients.trainer.decide(task_id, mode="auto", actor="make run")
        self.say(f"{task_id}: promotion {decision.decision} ({decision.reason})")
        if decision.decision not in {"promoted", "unchanged"} and not decision.champion_version:
            raise ScorelineError(
                ErrorCode.CONFLICT,
                f"{task_id}: no champion to serve; the first model was {decision.decision}: {decision.reason}",
                decision.model_dump(mode="json"),
            )
        clients.model_api.reload(task_id)
        served = clients.model_api.wait_until_served(task_id, decision.champion_version, timeout_s=60.0)
        return {
            "dataset": dataset,
            "dataset_version": manifest.version,
            "data_source": data.source,
            "retrained": True,
            "job": job.model_dump(mode="json"),
            "decision": decision.model_dump(mode="json"),
            "served_version": served,
        }

    def _unchanged(
        self,
        clients: ScorelineClients,
        task_id: str,
        data: BootstrapData,
        dataset_version: str,
        champion: str | None,
        challenger_tags: dict[str, str] | None,
    ) -> dict[str, Any]:
        """Nothing changed since the last run (same data, its model already judged): serve what is there."""
        if champion is None:
            reason = (challenger_tags or {}).get(TAG_REASON, "its model was not promoted")
            raise ScorelineError(
                ErrorCode.CONFLICT,
                f"{task_id}: no champion to serve; the model trained on this data was not promoted: {reason}",
            )
        self.say(f"{task_id}: nothing changed ({data.dataset}@{dataset_version}, champion {champion}); not retrained")
        served = clients.model_api.wait_until_served(task_id, champion, timeout_s=60.0)
        return {
            "dataset": data.dataset,
            "dataset_version": dataset_version,
            "data_source": data.source,
            "job": None,
            "decision": None,
            "retrained": False,
            "served_version": served,
        }

    @contextmanager
    def monitoring(self) -> Iterator[threading.Event]:
        """Run the trainer's monitor (drift, live accuracy) now and every ``monitor_every_s`` until the block ends,
        as the ``scoreline_monitor`` DAG does under Airflow. A failed run is said and retried at the next tick."""
        stop = threading.Event()
        interval = self.settings.monitor_every_s
        if interval <= 0:
            yield stop
            return

        def loop() -> None:
            while not stop.is_set():
                try:
                    run = self.clients().trainer.monitor_run()
                    if run.get("alert"):
                        self.say(
                            f"monitor: alert for {', '.join(run.get('alert_tasks') or [])} (run {run.get('run_id')})"
                        )
                except Exception as error:  # a monitor run failing must not stop the stack
                    self.say(f"monitor run failed: {getattr(error, 'message', None) or error}")
                stop.wait(interval)

        thread = threading.Thread(target=loop, name="scoreline-monitor", daemon=True)
        thread.start()
        try:
            yield stop
        finally:
            stop.set()
            thread.join(timeout=5)

    def examples(self) -> dict[str, str]:
        """A ready-to-paste curl per served task, from model-api's ``GET /v1/{task}/schema`` example request."""
        model_api = self.clients().model_api
        try:
            served = [m.task for m in model_api.models().models if m.version]
        except ServiceError:
            return {}
        found: dict[str, str] = {}
        for task_id in served:
            try:
                instance = model_api.schema(task_id).example_instance()
            except ServiceError:
                continue
            if instance is not None:
                found[task_id] = self.curl_example(task_id, instance)
        return found

    def curl_example(self, task_id: str, instance: dict[str, Any]) -> str:
        """A shell command that works as printed: when predictions need the API key and the key was generated
        into ``secrets.env``, the command reads it from there first (the key itself is never printed)."""
        body = json.dumps({"instances": [instance]})
        needs_key = self.settings.require_api_key_for_predictions
        auth = ' -H "Authorization: Bearer $SCORELINE_API_KEY"' if needs_key else ""
        keys_from = (
            f". {shlex.quote(str(self.keys.generated_into))} && " if needs_key and self.keys.generated_into else ""
        )
        return (
            f"{keys_from}curl -s -X POST {self.url(self.settings.model_api_port)}/v1/{task_id}/predict "
            f"-H 'Content-Type: application/json'{auth} -d {shlex.quote(body)}"
        )

    def banner(self) -> str:
        s = self.settings
        keys_line = (
            f"API and admin keys: {self.keys.generated_into} (source it: set -a; . {self.keys.generated_into})"
            if self.keys.generated_into
            else "API and admin keys: from SCORELINE_API_KEY / SCORELINE_ADMIN_KEY"
        )
        examples = self.examples()
        lines = [
            "Scoreline is running:",
            f"  dashboard      {self.url(s.dashboard_port)}",
            f"  model-api      {self.url(s.model_api_port)}/docs",
            f"  ingest         {self.url(s.ingest_port)}/docs",
            f"  trainer        {self.url(s.trainer_port)}/docs",
            f"  MLflow UI      {self.url(s.mlflow_port)}",
            f"  {keys_line}",
            f"  logs           {self.logs}",
        ]
        for task_id, reason in (self.report.failed if self.report else {}).items():
            lines.append(f"  {task_id} is not served: {reason}")
        if examples:
            lines.append("Try a prediction:")
            lines += [f"  {task_id}: {example}" for task_id, example in examples.items()]
        else:
            lines.append(f"No task is served yet; see {self.url(s.model_api_port)}/v1/models")
        lines.append("Ctrl-C stops everything.")
        return "\n".join(lines)


SIMULATED_DATASET = "simulated"


@dataclass(frozen=True)
class BootstrapData:
    """One task's bootstrap input: the raw file (bytes, or a path), where it goes and where it came from."""

    dataset: str
    content: bytes | Path
    filename: str
    source: Literal["bundled", "simulated"]


@dataclass
class BootstrapReport:
    """What the bootstrap did per task, and why each failed task failed."""

    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


def wait_forever() -> None:
    while True:
        time.sleep(3600)
