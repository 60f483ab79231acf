"""Static checks of the Kubernetes manifests: the Kustomize base rendered through the dev and prod overlays
(``kubectl kustomize``, Debian's kubectl, or a ``kustomize`` binary), each resource validated offline against the
Kubernetes API schemas (``kubernetes-validate``, strict: unknown fields are errors). The settings contract of the
code is tests/test_deploy_contract.py."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from tests.test_deploy_contract import K8S, k8s_variants

KUBERNETES_VERSION = "1.31"  # the oldest version the manifests promise to apply on


def _docs(variant: str) -> list[dict[str, Any]]:
    return k8s_variants()[variant]


@pytest.fixture(params=["dev", "prod"])
def variant(request: pytest.FixtureRequest) -> str:
    return request.param


def test_the_base_has_dev_and_prod_overlays() -> None:
    assert (K8S / "base" / "kustomization.yaml").is_file()
    assert set(k8s_variants()) == {"dev", "prod"}


def test_every_rendered_resource_matches_the_kubernetes_schema(variant: str) -> None:
    errors = []
    for doc in _docs(variant):
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{doc['kind']}/{doc['metadata']['name']}: {error.message} at {list(error.path)}")
    assert errors == []


def test_a_broken_manifest_is_refused() -> None:
    """The validator is not a no-op: an unknown field and a wrong type fail."""
    deployment = next(d for d in _docs("dev") if d["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two", "replicaz": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_every_workload_has_probes_requests_limits_and_no_inline_secrets(variant: str) -> None:
    deployments = [doc for doc in _docs(variant) if doc["kind"] == "Deployment"]
    names = {d["metadata"]["name"] for d in deployments}
    assert names >= {"model-api", "ingest", "trainer", "dashboard", "mlflow", "redis", "airflow-worker"}
    for deployment in deployments:
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            name = deployment["metadata"]["name"]
            assert "readinessProbe" in container and "livenessProbe" in container, name
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), name
            assert {"cpu", "memory"} <= container["resources"]["limits"].keys(), name
            assert all("value" not in e or "KEY" not in e["name"] for e in container.get("env", []))


def test_model_api_scales_out_without_downtime(variant: str) -> None:
    docs = {(doc["kind"], doc["metadata"]["name"]): doc for doc in _docs(variant)}
    hpa = docs[("HorizontalPodAutoscaler", "model-api")]
    assert hpa["spec"]["minReplicas"] >= 2
    deployment = docs[("Deployment", "model-api")]
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert docs[("PodDisruptionBudget", "model-api")]["spec"]["minAvailable"] >= 1
    probes = deployment["spec"]["template"]["spec"]["containers"][0]
    assert (probes["readinessProbe"]["httpGet"]["path"], probes["livenessProbe"]["httpGet"]["path"]) == (
        "/readyz",
        "/healthz",
    )
    mounts = {m["mountPath"] for m in probes["volumeMounts"]}
    assert {"/var/lib/scoreline/model-cache", "/var/lib/scoreline/spool"} <= mounts


def test_an_ingress_routes_the_dashboard_and_the_api(variant: str) -> None:
    ingress = next(doc for doc in _docs(variant) if doc["kind"] == "Ingress")
    backends = {p["backend"]["service"]["name"] for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]}
    assert {"dashboard", "model-api"} <= backends


def test_config_maps_hold_no_secret(variant: str) -> None:
    for config in (doc for doc in _docs(variant) if doc["kind"] == "ConfigMap"):
        secrets = [k for k in config["data"] if any(w in k for w in ("KEY", "PASSWORD", "SECRET", "CONN", "STORE_URI"))]
        assert secrets == [], config["metadata"]["name"]


def test_no_secret_is_committed() -> None:
    rendered = [doc for variant in k8s_variants() for doc in _docs(variant)]
    assert not [doc for doc in rendered if doc["kind"] == "Secret"]
    examples = sorted((K8S / "secrets").glob("*-secrets.env.example"))
    assert examples, "one example per service's Secret under deploy/k8s/secrets/"
    for example in examples:
        for line in example.read_text().splitlines():
            if line and not line.startswith("#"):
                assert line.split("=", 1)[1].startswith("<"), f"{example.name}: {line}"
