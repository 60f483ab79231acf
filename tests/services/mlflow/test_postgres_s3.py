"""MLflow as in compose: the entrypoint of services/mlflow, Postgres backend store, S3 (moto) artifacts.

Runs the registry and promotion path end to end against it: the run's artifacts and the model
land in the bucket, the registry (versions, aliases, tags) lives in Postgres.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from minio import Minio

from scoreline.data.datasets import DatasetCatalog
from scoreline.lifecycle.pipeline import latest_from_catalog
from scoreline.lifecycle.promotion import Promoter, PromotionPolicy
from scoreline.lifecycle.registry import CHALLENGER, CHAMPION, Registry, load_bundle, log_training, model_uri_for
from scoreline.ml.training import TrainingResult
from tests.conftest import S3_ACCESS_KEY, S3_SECRET_KEY
from tests.mlflow_fixtures import TASK
from tests.servers import REPO, ServerProcess, free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def mlflow_compose_like(
    postgres_dsn: str, moto_s3: ServerProcess, logs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, str]]:
    bucket = f"mlflow-{tmp_path_factory.mktemp('bucket').name.lower().replace('_', '-')}"[:63]
    client = Minio(f"127.0.0.1:{moto_s3.port}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)
    client.make_bucket(bucket)
    port = free_port()
    env = {
        "MLFLOW_BACKEND_STORE_URI": postgres_dsn,
        "MLFLOW_ARTIFACTS_DESTINATION": f"s3://{bucket}/mlflow",
        "MLFLOW_S3_ENDPOINT_URL": moto_s3.url,
        "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        "MLFLOW_HOST": "127.0.0.1",
        "MLFLOW_PORT": str(port),
        "MLFLOW_WORKERS": "1",
        "MLFLOW_ALLOWED_HOSTS": f"127.0.0.1:{port},localhost:{port}",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    server = ServerProcess(
        "mlflow-postgres",
        ["sh", str(REPO / "services" / "mlflow" / "entrypoint.sh")],
        port,
        health_path="/health",
        env=env,
        log_path=logs_dir / "mlflow-postgres.log",
    )
    with server.start(timeout_s=240):
        yield server, bucket


def test_registry_and_promotion_on_postgres_and_s3(
    mlflow_compose_like: tuple[ServerProcess, str],
    moto_s3: ServerProcess,
    good_result: TrainingResult,
    simulated_catalog: tuple[DatasetCatalog, str],
):
    server, bucket = mlflow_compose_like
    catalog, dataset_version = simulated_catalog
    registered = log_training(good_result, "simulated", dataset_version, "git:test", server.url)
    registry = Registry(server.url)
    assert registry.aliases(TASK) == {CHALLENGER: registered.version}

    s3 = Minio(f"127.0.0.1:{moto_s3.port}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False)
    keys = [obj.object_name for obj in s3.list_objects(bucket, prefix="mlflow/", recursive=True)]
    assert any(key.endswith("/evaluation/calibration.png") for key in keys)
    assert any(key.endswith("/artifacts/bundle/booster.ubj") for key in keys), keys[:20]

    bundle = load_bundle(model_uri_for(TASK, alias=CHALLENGER), tracking_uri=server.url)
    requests = good_result.bundle.input_example
    pd.testing.assert_frame_equal(bundle.predict_proba(requests), good_result.bundle.predict_proba(requests))

    promoter = Promoter(registry, latest_from_catalog(catalog))
    decision = promoter.decide(TASK, PromotionPolicy(baseline="base_rates"), actor="compose-test")
    assert decision.decision == "promoted", decision.reason
    assert registry.version_by_alias(TASK, CHAMPION).version == registered.version
    assert registry.version(TASK, registered.version).tags["promotion.decided_by"] == "compose-test"
