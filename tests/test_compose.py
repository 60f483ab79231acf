"""Static checks of docker-compose.yml: no Docker engine runs here, so the file is checked as text.

One-shot setup jobs (``restart: "no"``, waited on with ``service_completed_successfully``) run to
completion instead of serving, so they are the only services without a healthcheck.
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
    waited = {
        name
        for service in services.values()
        for name, condition in (service.get("depends_on") or {}).items()
        if isinstance(condition, dict) and condition.get("condition") == "service_completed_successfully"
    }
    return {name for name in waited if services[name].get("restart") == "no"}


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


def test_env_example_holds_only_placeholders() -> None:
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            _, value = line.split("=", 1)
            assert re.fullmatch(r"<[a-z0-9-]+>", value), f"{line!r} is not a placeholder"


@pytest.fixture(scope="module")
def docker_compose() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose (Debian package, installed by `make system-deps`) is missing: schema not checked")
    return binary


def test_compose_file_matches_the_compose_schema(docker_compose: str, tmp_path: Path) -> None:
    env_file = tmp_path / "placeholders.env"
    env_file.write_text(re.sub(r"<[a-z0-9-]+>", "placeholder-value", ENV_EXAMPLE.read_text()))
    result = subprocess.run(
        [docker_compose, "--env-file", str(env_file), "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr


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
