"""Static checks of docker-compose.yml: no Docker engine runs here, so the file is checked as text.

One-shot jobs (``restart: "no"``: setup jobs waited on with ``service_completed_successfully``, and the
``bootstrap`` job) run to completion instead of serving, so they are the only services without a healthcheck.
The deployment contract of the code (settings, URLs, readiness) is tests/test_deploy_contract.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.servers import REPO

COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|_KEY|TOKEN|ACCESS_KEY_ID)")
REQUIRED_REF = re.compile(r"^\$\{[A-Z0-9_]+:\?[^}]*\}$")
EXPECTED_PORTS = {
    "model-api": 8000,
    "ingest": 8001,
    "trainer": 8002,
    "dashboard": 8501,
    "mlflow": 5000,
    "airflow-apiserver": 8080,
    "minio": 9000,
    "elasticsearch": 9200,
    "kibana": 5601,
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def _one_shot_jobs(services: dict[str, Any]) -> set[str]:
    return {name for name, service in services.items() if service.get("restart") == "no"}


def _environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def test_every_long_running_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    one_shot = _one_shot_jobs(services)
    missing = [name for name, svc in services.items() if name not in one_shot and "healthcheck" not in svc]
    assert missing == []


def test_every_build_context_and_dockerfile_exists(compose: dict[str, Any]) -> None:
    builds = {name: svc["build"] for name, svc in compose["services"].items() if "build" in svc}
    assert {"ingest", "trainer", "model-api", "dashboard", "mlflow"} <= builds.keys()
    for name, build in builds.items():
        context = REPO / build["context"]
        assert context.is_dir(), f"{name}: build context {context} does not exist"
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
        for line in dockerfile.read_text().splitlines():
            if line.startswith(("COPY ", "ADD ")) and "--from=" not in line:
                for source in line.split()[1:-1]:
                    if not source.startswith("--"):
                        assert list(context.glob(source)), f"{name}: {dockerfile.name} copies missing {source}"


def test_no_secret_has_a_literal_value(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for key, value in _environment(service).items():
            if SECRET_NAME.search(key) and not key.endswith("_FILE"):
                assert REQUIRED_REF.match(value), f"{name}: {key} must be ${{VAR:?}} without default, got {value!r}"
    text = COMPOSE.read_text()
    assert not re.search(r"minioadmin|changeme|changethis", text)


def test_ports_follow_the_design(compose: dict[str, Any]) -> None:
    for name, port in EXPECTED_PORTS.items():
        published = [str(p).split(":")[-1] for p in compose["services"][name].get("ports", [])]
        assert str(port) in published, f"{name} should publish {port}, has {published}"


NOT_SECRET = {"COMPOSE_PROFILES"}


def test_env_example_holds_only_placeholders() -> None:
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            if key in NOT_SECRET:
                continue
            assert re.fullmatch(r"<[a-z0-9-]+>", value), f"{line!r} is not a placeholder"


@pytest.fixture(scope="module")
def docker_compose() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose (Debian package, installed by `make system-deps`) is missing: schema not checked")
    return binary


@pytest.mark.parametrize("profile", ["core", "full"])
def test_compose_file_matches_the_compose_schema(docker_compose: str, tmp_path: Path, profile: str) -> None:
    """``docker-compose config`` with the example env, per profile: the schema, the interpolation, and that no
    service of the profile waits on one the profile does not start."""
    env_file = tmp_path / "placeholders.env"
    env_file.write_text(re.sub(r"<[a-z0-9-]+>", "placeholder-value", ENV_EXAMPLE.read_text()))
    result = subprocess.run(
        [docker_compose, "--env-file", str(env_file), "-f", str(COMPOSE), "--profile", profile, "config"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    # docker-compose 1.29's `config` prints every service: the selection is read from the profiles it resolved.
    resolved = yaml.safe_load(result.stdout)["services"]
    services = {name: svc for name, svc in resolved.items() if profile in svc.get("profiles", [profile])}
    for name, service in services.items():
        missing = [target for target in service.get("depends_on") or {} if target not in services]
        assert missing == [], f"{name} waits on {missing}, which profile {profile} does not start"
    expected = {"minio", "postgres", "mlflow", "ingest", "trainer", "model-api", "dashboard", "bootstrap"}
    extras = {"redis", "elasticsearch", "kibana", "airflow-apiserver", "airflow-scheduler", "airflow-worker"}
    assert expected <= services.keys()
    assert (extras <= services.keys()) == (profile == "full")
    assert (extras & services.keys() == set()) == (profile == "core")


def test_airflow_runs_celery_with_a_scalable_worker(compose: dict[str, Any]) -> None:
    services = compose["services"]
    worker = services["airflow-worker"]
    assert worker["command"] == ["celery", "worker"]
    assert "container_name" not in worker and "ports" not in worker  # --scale airflow-worker=N works
    for name, service in services.items():
        if name.startswith("airflow-"):
            env = _environment(service)
            assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
            assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379"), name


def test_minio_sends_landing_zone_events_to_ingest(compose: dict[str, Any]) -> None:
    env = _environment(compose["services"]["minio"])
    assert env["MINIO_NOTIFY_WEBHOOK_ENABLE_INGEST"] == "on"
    assert env["MINIO_NOTIFY_WEBHOOK_ENDPOINT_INGEST"] == "http://ingest:8001/v1/events/object-store"
    assert env["MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_INGEST"].startswith("${SCORELINE_API_KEY:?")
    setup = " ".join(compose["services"]["minio-setup"]["command"])
    assert re.search(r"mc event add .*arn:minio:sqs::INGEST:webhook\s+--event put --prefix landing/", setup)


def test_compose_refuses_to_start_without_secrets(docker_compose: str, tmp_path: Path) -> None:
    empty_env = tmp_path / "empty.env"
    empty_env.write_text("")
    result = subprocess.run(
        [docker_compose, "--env-file", str(empty_env), "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "Missing mandatory value" in result.stderr
