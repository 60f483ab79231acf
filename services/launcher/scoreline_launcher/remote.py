"""``scoreline-launcher bootstrap``: ``make run``'s bootstrap against services that already run (compose's
one-shot ``bootstrap`` job, a Kubernetes Job): no process is started.

It waits until ingest, trainer and model-api answer ``/healthz``, registers the MLflow registry webhook that makes
model-api swap a new champion in at once (when ``SCORELINE_WEBHOOK_URL`` is set), then runs
``LocalStack.bootstrap`` (simulate, ingest, train, promote, reload) through clients built from
``SCORELINE_INGEST_URL`` / ``_TRAINER_URL`` / ``_MODEL_API_URL``. Tasks that already serve a champion are skipped,
so running it again (``docker compose up`` after a restart) trains nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
from pydantic import Field, SecretStr
from scoreline_client import ScorelineClients, ServiceError

from scoreline.core.settings import ScorelineSettings
from scoreline.tasks import task_ids
from scoreline_launcher.stack import BootstrapReport, LocalStack, StackKeys, StackSettings

ALIAS_EVENT = {"entity": "MODEL_VERSION_ALIAS", "action": "CREATED"}


class BootstrapSettings(ScorelineSettings):
    """The bootstrap job's one settings object (``SCORELINE_*``). The URLs and keys have no defaults: the job
    only makes sense against a deployed stack."""

    ingest_url: str
    trainer_url: str
    model_api_url: str
    api_key: SecretStr
    admin_key: SecretStr
    mlflow_uri: str | None = None  # where the webhook is registered (an http(s) MLflow server)
    webhook_url: str | None = None  # model-api's POST /v1/webhooks/mlflow as MLflow reaches it; unset → no webhook
    webhook_secret: SecretStr | None = None  # model-api's SCORELINE_WEBHOOK_SECRET
    webhook_name: str = "scoreline-model-api"
    # MLflow behind its basic-auth app: the same variables the mlflow client library reads (admin: webhooks).
    mlflow_username: str | None = Field(None, validation_alias="MLFLOW_TRACKING_USERNAME")
    mlflow_password: SecretStr | None = Field(None, validation_alias="MLFLOW_TRACKING_PASSWORD")
    bootstrap_home: Path = Path("/tmp/scoreline-bootstrap")  # simulated files are generated here
    simulation_scale: float = Field(1.0, gt=0)
    simulation_seed: int = 7
    train_timeout_s: float = Field(1800.0, gt=0)
    wait_timeout_s: float = Field(600.0, gt=0)  # for the services to answer /healthz
    skip_served: bool = True  # leave tasks that already serve a champion alone


class RemoteStack(LocalStack):
    """``LocalStack`` whose services run elsewhere: same bootstrap, clients on the configured URLs."""

    def __init__(self, settings: BootstrapSettings, say: Callable[[str], None] = print) -> None:
        self.remote = settings
        stack_settings = StackSettings(
            home=settings.bootstrap_home,
            simulation_scale=settings.simulation_scale,
            simulation_seed=settings.simulation_seed,
            train_timeout_s=settings.train_timeout_s,
            api_key=settings.api_key,
            admin_key=settings.admin_key,
        )
        keys = StackKeys(settings.api_key.get_secret_value(), settings.admin_key.get_secret_value(), None)
        super().__init__(stack_settings, keys, say=say)

    def clients(self, http: httpx.Client | None = None) -> ScorelineClients:
        s = self.remote
        return ScorelineClients.build(
            ingest_url=s.ingest_url,
            trainer_url=s.trainer_url,
            model_api_url=s.model_api_url,
            api_key=s.api_key.get_secret_value(),
            admin_key=s.admin_key.get_secret_value(),
            timeout_s=60.0,
            client=http,
        )

    def wait_for_services(self) -> None:
        """Until ingest, trainer and model-api answer ``GET /healthz`` with 200 (liveness, not readiness)."""
        s = self.remote
        deadline = time.monotonic() + s.wait_timeout_s
        pending = {"ingest": s.ingest_url, "trainer": s.trainer_url, "model-api": s.model_api_url}
        with httpx.Client(timeout=5.0) as http:
            while pending:
                for name, url in list(pending.items()):
                    try:
                        if http.get(f"{url.rstrip('/')}/healthz").status_code == 200:
                            pending.pop(name)
                    except httpx.HTTPError:
                        pass
                if not pending:
                    return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"not answering /healthz after {s.wait_timeout_s:.0f}s: {sorted(pending)}")
                time.sleep(1.0)

    def register_webhook(self) -> str | None:
        """Create (or update) MLflow's registry webhook to model-api; the webhook's id, None when not configured."""
        s = self.remote
        if not s.webhook_url or not s.mlflow_uri or not s.mlflow_uri.startswith(("http://", "https://")):
            return None
        if s.webhook_secret is None:
            raise RuntimeError("SCORELINE_WEBHOOK_URL is set without SCORELINE_WEBHOOK_SECRET (model-api's)")
        body = {
            "name": s.webhook_name,
            "url": s.webhook_url,
            "events": [ALIAS_EVENT],
            "secret": s.webhook_secret.get_secret_value(),
            "status": "ACTIVE",
        }
        api = f"{s.mlflow_uri.rstrip('/')}/api/2.0/mlflow/webhooks"
        auth = (s.mlflow_username, s.mlflow_password.get_secret_value()) if s.mlflow_username and s.mlflow_password \
            else None  # fmt: skip
        with httpx.Client(timeout=30.0, auth=auth) as http:
            listed = http.get(api, params={"max_results": 1000})
            listed.raise_for_status()
            existing = next((w for w in listed.json().get("webhooks", []) if w.get("name") == s.webhook_name), None)
            if existing is None:
                answer = http.post(api, json=body)
            else:  # the secret or URL may have changed since: one webhook per name, kept current
                answer = http.patch(f"{api}/{existing['webhook_id']}", json=body)
            if answer.status_code >= 400:
                raise RuntimeError(f"MLflow refused the webhook ({answer.status_code}): {answer.text}")
            webhook_id = str(answer.json()["webhook"]["webhook_id"])
        self.say(f"MLflow webhook {s.webhook_name} → {s.webhook_url} ({webhook_id})")
        return webhook_id

    def served_tasks(self) -> set[str]:
        try:
            return {m.task for m in self.clients().model_api.models().models if m.version}
        except ServiceError:
            return set()

    def run(
        self, tasks: Sequence[str] | None = None, progress: Callable[[str, float], None] | None = None
    ) -> BootstrapReport:
        self.wait_for_services()
        self.register_webhook()
        wanted = list(tasks) if tasks else task_ids()
        if self.remote.skip_served:
            served = self.served_tasks()
            for task_id in sorted(served & set(wanted)):
                self.say(f"{task_id}: already serves a champion; left alone")
            wanted = [t for t in wanted if t not in served]
        return self.bootstrap(progress, tasks=wanted)
