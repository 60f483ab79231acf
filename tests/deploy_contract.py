"""The deployment contract, derived from the code: what each service's settings class needs in a stack.

Used by tests/test_deploy_contract.py on docker-compose.yml and on the rendered Kubernetes overlays.

A service's container environment is its image's ``ENV`` lines (its Dockerfile), then what compose or the
Kubernetes manifest sets. From the service's one pydantic-settings class:
- a field without a default must be set;
- a field whose embedded default only works on one machine (a loopback URL, ``file://``, ``sqlite:``) must be set;
- credentials come in groups: an ``s3://`` storage URI needs the endpoint and both keys, an Elasticsearch URL its
  user and password (security is on in the stack), a notify URL a token or a user and password;
- per service, what the stack itself relies on (``STACK_REQUIRED``): the API and admin keys (write routes refuse
  without), model-api's webhook secret (the bootstrap job registers the MLflow webhook), ingest's notify URL;
- state folders (``STATE_DIRS``) must be set and lie on a volume;
- the settings class must accept the values (types, ranges).
Every URL a service is given must name a service of the stack and a port it listens on.

Secrets, per service (``secret_findings``): a service is given only the secrets it uses (a ``SCORELINE_*`` field of
its settings class; MLflow's client credentials where the class talks to MLflow; for the MLflow server the variables
MLflow, boto and its entrypoint read; for Airflow its own ``AIRFLOW__*`` options, its entrypoint's and the DAGs'
settings), in Kubernetes only from a Secret, never as a plain value. MLflow runs behind its basic-auth app: the
server's entrypoint starts ``--app-name basic-auth`` with admin credentials, and every service that talks to an
MLflow server gets ``MLFLOW_TRACKING_USERNAME`` and ``MLFLOW_TRACKING_PASSWORD``.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from pydantic_settings import BaseSettings

from tests.servers import REPO

# compose service / Kubernetes Deployment (app) name → its settings class.
SETTINGS_CLASSES: dict[str, str] = {
    "ingest": "scoreline_ingest.settings:IngestSettings",
    "trainer": "scoreline_trainer.settings:TrainerSettings",
    "model-api": "scoreline_model_api.settings:ModelApiSettings",
    "dashboard": "scoreline_dashboard.settings:DashboardSettings",
    "bootstrap": "scoreline_launcher.remote:BootstrapSettings",
}
AIRFLOW_SETTINGS = REPO / "orchestration" / "scoreline_dags" / "settings.py"  # its own environment: loaded by path
AIRFLOW_ENTRYPOINT = REPO / "orchestration" / "docker-entrypoint.sh"
MLFLOW_ENTRYPOINT = REPO / "services" / "mlflow" / "entrypoint.sh"
# What a service that talks to an MLflow server behind basic auth needs (read by the mlflow client library).
MLFLOW_CLIENT_CREDENTIALS = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
MLFLOW_ADMIN_CREDENTIALS = ("MLFLOW_AUTH_ADMIN_USERNAME", "MLFLOW_AUTH_ADMIN_PASSWORD")
SECRET_NAME = re.compile(r"(KEY|KEY_ID|PASSWORD|SECRET|TOKEN|_CONN|STORE_URI|RESULT_BACKEND)$")
DOCKERFILES: dict[str, Path] = {
    "ingest": REPO / "services/ingest/Dockerfile",
    "trainer": REPO / "services/trainer/Dockerfile",
    "model-api": REPO / "services/model-api/Dockerfile",
    "dashboard": REPO / "services/dashboard/Dockerfile",
    "mlflow": REPO / "services/mlflow/Dockerfile",
    "bootstrap": REPO / "services/launcher/Dockerfile",
}
STACK_REQUIRED: dict[str, tuple[str, ...]] = {
    "ingest": ("api_key", "admin_key", "notify_url"),
    "trainer": ("api_key", "admin_key"),
    "model-api": ("api_key", "admin_key", "webhook_secret"),
    "bootstrap": ("api_key", "admin_key"),
    "airflow": ("api_key", "admin_key"),
}
STATE_DIRS: dict[str, tuple[str, ...]] = {
    "model-api": ("model_cache_dir", "predlog_spool_dir", "prediction_log_dir"),
    "trainer": ("jobs_dir",),
}
ONE_MACHINE = re.compile(r"(127\.0\.0\.1|localhost|^file://|^sqlite:)")
REQUIRED_SHELL_VAR = re.compile(r"\$\{([A-Z0-9_]+):\?")
# Health paths that answer 200 only once the stack holds data: no service may wait on them on an empty stack.
READINESS_PATHS = {"/readyz": "model-api's /readyz is 503 until some task serves a champion"}


@dataclass(frozen=True)
class Container:
    """One service as deployed: its name in the stack, its role (settings) and its environment."""

    where: str  # "compose:ingest", "k8s/dev:Deployment/ingest"
    role: str  # a SETTINGS_CLASSES key, "airflow", "mlflow" or ""
    env: dict[str, str]
    mounts: tuple[str, ...] = ()
    secrets: frozenset[str] = frozenset()  # the variables it gets from a Secret (compose: secret-named ones)


def settings_class(role: str) -> type[BaseSettings] | None:
    if role == "airflow":
        spec = importlib.util.spec_from_file_location("_orchestration_settings", AIRFLOW_SETTINGS)
        assert spec is not None and spec.loader is not None
        module = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
        if spec.name not in sys.modules:
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        return module.OrchestrationSettings
    if role not in SETTINGS_CLASSES:
        return None
    module_name, _, name = SETTINGS_CLASSES[role].partition(":")
    try:
        return getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        return None


def dockerfile_env(role: str) -> dict[str, str]:
    """``ENV`` of the service's image (final stage), ``KEY=value`` pairs, backslash continuations joined."""
    path = DOCKERFILES.get(role)
    if path is None or not path.exists():
        return {}
    text = path.read_text().replace("\\\n", " ")
    stages = re.split(r"^FROM ", text, flags=re.MULTILINE)
    env: dict[str, str] = {}
    for line in stages[-1].splitlines():
        if line.startswith("ENV "):
            for token in shlex.split(line[4:]):
                if "=" in token:
                    key, value = token.split("=", 1)
                    env[key] = value
    return env


def env_name(field: str) -> str:
    return f"SCORELINE_{field.upper()}"


def _is_set(env: Mapping[str, str], field: str) -> bool:
    return bool(env.get(env_name(field), ""))


def settings_findings(container: Container) -> list[str]:
    """What the container's settings class needs and does not get."""
    found: list[str] = []
    where, env = container.where, container.env
    if container.role == "mlflow":
        required = REQUIRED_SHELL_VAR.findall(MLFLOW_ENTRYPOINT.read_text())
        return [f"{where}: {name} is required by the MLflow entrypoint and not set" for name in required
                if not env.get(name)]  # fmt: skip
    cls = settings_class(container.role)
    if cls is None:
        return [f"{where}: no settings class for role {container.role!r}"] if container.role else []
    fields = cls.model_fields
    for name, info in fields.items():
        if info.is_required() and not _is_set(env, name):
            found.append(f"{where}: {env_name(name)} has no default and is not set")
        default = info.get_default(call_default_factory=False) if not info.is_required() else None
        if isinstance(default, str | Path) and ONE_MACHINE.search(str(default)) and not _is_set(env, name):
            found.append(f"{where}: {env_name(name)} is not set; its default {str(default)!r} works on one machine")
    for name in STACK_REQUIRED.get(container.role, ()):
        if name in fields and not _is_set(env, name):
            found.append(f"{where}: {env_name(name)} is not set (the stack relies on it)")
    storage = env.get("SCORELINE_STORAGE_URI", "")
    if "storage_uri" in fields and storage.startswith("s3://"):
        for name in ("s3_endpoint", "s3_access_key", "s3_secret_key"):
            if not _is_set(env, name):
                found.append(f"{where}: storage is {storage} but {env_name(name)} is not set")
    if "elasticsearch_url" in fields and _is_set(env, "elasticsearch_url"):
        for name in ("elasticsearch_username", "elasticsearch_password"):
            if not _is_set(env, name):
                found.append(f"{where}: SCORELINE_ELASTICSEARCH_URL is set but {env_name(name)} is not")
    notifies = "notify_url" in fields and _is_set(env, "notify_url")
    user_and_password = _is_set(env, "notify_username") and _is_set(env, "notify_password")
    if notifies and not (_is_set(env, "notify_token") or user_and_password):
        found.append(f"{where}: SCORELINE_NOTIFY_URL is set without a token or a user and password")
    for name in STATE_DIRS.get(container.role, ()):
        value = env.get(env_name(name), "")
        if not value:
            found.append(f"{where}: {env_name(name)} (state) is not set")
        elif not any(value == m or value.startswith(m.rstrip("/") + "/") for m in container.mounts):
            found.append(f"{where}: {env_name(name)}={value} is not on a volume (mounts: {list(container.mounts)})")
    values = {key[len("SCORELINE_") :].lower(): value for key, value in env.items() if key.startswith("SCORELINE_")}
    try:
        cls.model_validate({k: v for k, v in values.items() if k in fields})
    except ValueError as error:
        found.append(f"{where}: the settings class refuses the values: {error}")
    return found


def urls_in(env: Mapping[str, str]) -> Iterable[tuple[str, str, int]]:
    """(variable, host, port) of every network URL in the environment (object-store buckets and files excluded)."""
    for key, value in env.items():
        if not re.match(r"^[a-z][a-z0-9+]*://", value) or value.startswith(("file://", "s3://", "sqlite:")):
            continue
        parts = urlsplit(value.replace("{", "").replace("}", ""))
        if not parts.hostname:
            continue
        port = parts.port or (443 if parts.scheme == "https" else 80)
        yield key, parts.hostname, port


def url_findings(container: Container, listening: Mapping[str, set[int]]) -> list[str]:
    found = []
    for key, host, port in urls_in(container.env):
        service = host.split(".")[0]
        if service not in listening:
            found.append(f"{container.where}: {key} names {host}, which is no service of the stack")
        elif port not in listening[service]:
            found.append(
                f"{container.where}: {key} names {host}:{port}, but {service} listens on {sorted(listening[service])}"
            )
    return found


def _mlflow_server_variables() -> set[str]:
    """Every variable the MLflow server reads: MLflow's own (``mlflow.environment_variables``), boto's keys for the
    artifact store, and its entrypoint's."""
    import mlflow.environment_variables as variables

    names = {getattr(v, "name", "") for v in vars(variables).values()}
    names |= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    return names | set(re.findall(r"\$\{?([A-Z][A-Z0-9_]+)", MLFLOW_ENTRYPOINT.read_text()))


def uses(role: str, name: str) -> bool:
    """Whether a service of ``role`` reads the variable ``name``."""
    if role == "mlflow":
        return name in _mlflow_server_variables()
    if role == "airflow" and (name.startswith("AIRFLOW__") or name in AIRFLOW_ENTRYPOINT.read_text()):
        return True
    cls = settings_class(role)
    if cls is None:
        return True  # images without a settings class (Postgres, MinIO, ...) are not judged here
    if name in MLFLOW_CLIENT_CREDENTIALS:
        return "mlflow_uri" in cls.model_fields
    return name.startswith("SCORELINE_") and name[len("SCORELINE_") :].lower() in cls.model_fields


def talks_to_mlflow_server(container: Container) -> bool:
    cls = settings_class(container.role)
    uri = container.env.get("SCORELINE_MLFLOW_URI", "")
    return cls is not None and "mlflow_uri" in cls.model_fields and uri.startswith(("http://", "https://"))


def secret_findings(container: Container) -> list[str]:
    """Per-service secrets: none it does not use, none in plain text (Kubernetes), MLflow's credentials where it
    talks to MLflow, and the MLflow server behind basic auth."""
    where, env, role = container.where, container.env, container.role
    if not role:
        return []
    found = [f"{where}: is given the secret {name}, which {role} does not use"
             for name in sorted(container.secrets) if not uses(role, name)]  # fmt: skip
    if where.startswith("k8s"):
        found += [f"{where}: {name} is a plain value, not from a Secret" for name in sorted(env)
                  if SECRET_NAME.search(name) and name not in container.secrets and uses(role, name)]  # fmt: skip
    if talks_to_mlflow_server(container):
        for name in MLFLOW_CLIENT_CREDENTIALS:
            if not env.get(name):
                found.append(f"{where}: talks to MLflow at {env['SCORELINE_MLFLOW_URI']} without {name} (basic auth)")
        if (
            where.startswith("k8s")
            and env.get("MLFLOW_TRACKING_PASSWORD")
            and ("MLFLOW_TRACKING_PASSWORD" not in container.secrets)
        ):
            found.append(f"{where}: MLFLOW_TRACKING_PASSWORD is a plain value, not from a Secret")
    if role == "mlflow":
        if "--app-name basic-auth" not in MLFLOW_ENTRYPOINT.read_text():
            found.append(f"{where}: the MLflow server does not run its basic-auth app (--app-name basic-auth)")
        found += [f"{where}: {name} (MLflow's admin) is not set" for name in MLFLOW_ADMIN_CREDENTIALS
                  if not env.get(name)]  # fmt: skip
    return found
