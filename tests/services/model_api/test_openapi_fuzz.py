"""Schemathesis over model-api's OpenAPI, against the real service serving a model from the suite's real MLflow,
with keys: at least 1,000 generated cases, no server error, every status documented, the bearer scheme declared."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.openapi_fuzz import assert_clean, fuzz
from tests.servers import ServerProcess
from tests.services.model_api.conftest import ADMIN_KEY, API_KEY, Versions, launch_model_api

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, logs_dir: Path, serving_mlflow: ServerProcess, versions: Versions
) -> Iterator[ServerProcess]:
    versions.promote(versions.first)
    workdir = tmp_path_factory.mktemp("model-api-fuzz")
    server = launch_model_api(workdir, logs_dir, serving_mlflow.url, api_key=API_KEY, public_reads=False)
    yield server
    server.stop()


def test_model_api_openapi_fuzz_finds_no_server_error_and_no_undocumented_status(served: ServerProcess) -> None:
    report = fuzz("model-api", served.url, {"api": API_KEY, "admin": ADMIN_KEY}, examples=120)
    assert_clean(report)
    assert report.statuses[200] > 0  # some generated predictions were answered
