"""``scoreline up``: the whole suite as local processes on embedded defaults (``make run``).

Starts MLflow (SQLite + local artifacts), ingest, trainer, model-api and the dashboard, feeds
them simulated data over their HTTP APIs, trains and promotes every task, and prints the URLs.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from scoreline.errors import ErrorCode, ScorelineError
from scoreline.processes import VENV_BIN, ServerProcess
from scoreline.settings import ScorelineSettings
from scoreline.tasks import TASK_IDS, get_task


class StackSettings(ScorelineSettings):
    home: Path = Path(".scoreline")
    mlflow_port: int = 5000
    ingest_port: int = 8001
    trainer_port: int = 8002
    model_api_port: int = 8000
    dashboard_port: int = 8501
    simulated_matches: int = 20_000
    simulation_seed: int = 7
    api_key: SecretStr | None = None
    admin_key: SecretStr | None = None
    start_timeout_s: float = 240.0
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
            "SCORELINE_DASHBOARD_PORT": str(s.dashboard_port),
            "SCORELINE_MODEL_CACHE_DIR": str(self.home / "model-cache"),
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
        self.logs.mkdir(parents=True, exist_ok=True)
        with ExitStack() as stack:
            for server in self.servers():
                self.say(f"starting {server.name} on {server.url} (log: {server.log_path})")
                stack.enter_context(server.start(timeout_s=self.settings.start_timeout_s))
            yield self

    def bootstrap(self, progress: Callable[[str, float], None] | None = None) -> dict[str, Any]:
        """Simulate, ingest, train and promote every task through the services' HTTP APIs."""
        summary: dict[str, Any] = {}
        with httpx.Client(timeout=60.0) as client:
            for task_id in TASK_IDS:
                summary[task_id] = self._bootstrap_task(client, task_id, progress)
        return summary

    def _bootstrap_task(
        self, client: httpx.Client, task_id: str, progress: Callable[[str, float], None] | None
    ) -> dict[str, Any]:
        s = self.settings
        data_file = self.home / "data" / f"{task_id}-simulated.csv"
        if not data_file.exists():
            raw, _truth = get_task(task_id).simulate(s.simulated_matches, s.simulation_seed)
            data_file.parent.mkdir(parents=True, exist_ok=True)
            raw.to_csv(data_file, index=False)
        user = {"Authorization": f"Bearer {self.keys.api_key}"}
        admin = {"Authorization": f"Bearer {self.keys.admin_key}"}

        with data_file.open("rb") as handle:
            response = client.post(
                f"{self.url(s.ingest_port)}/v1/datasets/{task_id}/simulated",
                files={"file": (data_file.name, handle, "text/csv")},
                headers=user,
            )
        manifest = _ok(response, "ingest")
        version = manifest["version"]
        self.say(f"{task_id}: dataset simulated@{version} ({manifest['rows']} rows)")

        job = _ok(
            client.post(
                f"{self.url(s.trainer_port)}/v1/jobs",
                json={"task": task_id, "dataset": "simulated", "dataset_version": version},
                headers=user,
            ),
            "trainer",
        )
        job = self._wait_for_job(client, job["id"], task_id, progress)
        decision = _ok(
            client.post(
                f"{self.url(s.trainer_port)}/v1/promotions/{task_id}",
                json={"mode": "auto", "actor": "make run"},
                headers=admin,
            ),
            "trainer promotion",
        )
        self.say(f"{task_id}: promotion {decision.get('decision')} ({decision.get('reason')})")
        if decision.get("decision") not in {"promoted", "unchanged"} and not decision.get("champion_version"):
            raise ScorelineError(
                ErrorCode.CONFLICT,
                f"{task_id}: no champion to serve; the first model was {decision.get('decision')}: "
                f"{decision.get('reason')}",
                decision,
            )
        _ok(client.post(f"{self.url(s.model_api_port)}/v1/admin/reload", headers=admin), "model-api reload")
        served = self._wait_for_served(client, task_id)
        return {"dataset_version": version, "job": job, "decision": decision, "served_version": served}

    def _wait_for_job(
        self, client: httpx.Client, job_id: str, task_id: str, progress: Callable[[str, float], None] | None
    ) -> dict[str, Any]:
        deadline = time.monotonic() + self.settings.train_timeout_s
        while time.monotonic() < deadline:
            job = _ok(client.get(f"{self.url(self.settings.trainer_port)}/v1/jobs/{job_id}"), "trainer")
            if progress:
                progress(task_id, float(job.get("progress") or 0.0))
            if job["status"] == "succeeded":
                return job
            if job["status"] == "failed":
                raise ScorelineError(ErrorCode.UPSTREAM_FAILED, f"training {task_id} failed: {job.get('error')}")
            time.sleep(1.0)
        limit = self.settings.train_timeout_s
        raise ScorelineError(ErrorCode.TIMEOUT, f"training {task_id} did not finish in {limit}s")

    def _wait_for_served(self, client: httpx.Client, task_id: str, timeout_s: float = 60.0) -> str | None:
        deadline = time.monotonic() + timeout_s
        last_error = None
        while time.monotonic() < deadline:
            models = _ok(client.get(f"{self.url(self.settings.model_api_port)}/v1/models"), "model-api")
            for model in models.get("models", []):
                if model.get("task") == task_id and model.get("version"):
                    return str(model["version"])
                if model.get("task") == task_id:
                    last_error = model.get("last_reload_error")
            time.sleep(0.5)
        raise ScorelineError(
            ErrorCode.TIMEOUT, f"model-api does not serve {task_id} after {timeout_s}s; last reload error: {last_error}"
        )

    def example_teams(self) -> tuple[str, str]:
        """Two teams the served match-outcome model knows, for a ready-to-paste example."""
        try:
            schema = httpx.get(f"{self.url(self.settings.model_api_port)}/v1/match-outcome/schema", timeout=10).json()
            first, second, *_ = schema["teams"]
            return first, second
        except (httpx.HTTPError, KeyError, ValueError, TypeError):
            return "<team from /v1/match-outcome/schema>", "<another team>"

    def banner(self) -> str:
        s = self.settings
        keys_line = (
            f"API and admin keys: {self.keys.generated_into} (source it: set -a; . {self.keys.generated_into})"
            if self.keys.generated_into
            else "API and admin keys: from SCORELINE_API_KEY / SCORELINE_ADMIN_KEY"
        )
        home, away = self.example_teams()
        body = json.dumps({"instances": [{"home_team": home, "away_team": away, "neutral": False}]})
        example = (
            f"curl -s -X POST {self.url(s.model_api_port)}/v1/match-outcome/predict "
            f"-H 'Content-Type: application/json' -d '{body}'"
        )
        return "\n".join(
            [
                "Scoreline is running:",
                f"  dashboard      {self.url(s.dashboard_port)}",
                f"  model-api      {self.url(s.model_api_port)}/docs",
                f"  ingest         {self.url(s.ingest_port)}/docs",
                f"  trainer        {self.url(s.trainer_port)}/docs",
                f"  MLflow UI      {self.url(s.mlflow_port)}",
                f"  {keys_line}",
                f"  logs           {self.logs}",
                "Try a prediction:",
                f"  {example}",
                "Ctrl-C stops everything.",
            ]
        )


def _ok(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 400:
        raise ScorelineError(
            ErrorCode.UPSTREAM_FAILED, f"{what} answered {response.status_code}: {response.text[:500]}"
        )
    return response.json()


def wait_forever() -> None:
    while True:
        time.sleep(3600)
