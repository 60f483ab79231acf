"""Static checks of the Kubernetes manifests in deploy/k8s."""

from __future__ import annotations

from typing import Any

import yaml

from tests.servers import REPO

K8S = REPO / "deploy" / "k8s"


def _documents() -> list[dict[str, Any]]:
    return [doc for path in sorted(K8S.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def test_every_deployment_has_probes_and_no_inline_secrets() -> None:
    deployments = [doc for doc in _documents() if doc["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} >= {"model-api", "ingest", "trainer", "dashboard", "mlflow"}
    for deployment in deployments:
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert "readinessProbe" in container, deployment["metadata"]["name"]
            assert all("value" not in e or "KEY" not in e["name"] for e in container.get("env", []))


def test_model_api_scales_out_without_downtime() -> None:
    docs = {(doc["kind"], doc["metadata"]["name"]): doc for doc in _documents()}
    hpa = docs[("HorizontalPodAutoscaler", "model-api")]
    assert hpa["spec"]["minReplicas"] >= 2
    rolling = docs[("Deployment", "model-api")]["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0


def test_config_map_holds_no_secret() -> None:
    config = next(doc for doc in _documents() if doc["kind"] == "ConfigMap")
    assert not [key for key in config["data"] if any(word in key for word in ("KEY", "PASSWORD", "SECRET"))]
