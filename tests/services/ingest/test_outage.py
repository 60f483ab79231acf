"""Storage outage: the object store (a dedicated moto server) goes down in the middle of an upload."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scoreline.core.settings import StorageSettings
from scoreline.data.storage import open_store
from tests.conftest import S3_ACCESS_KEY, S3_SECRET_KEY
from tests.servers import free_port, moto_server
from tests.services.ingest.conftest import API_KEY, ingest_server

pytestmark = pytest.mark.slow

TASK = "match-outcome"
BOUNDARY = "scoreline-outage-boundary"


def _make_bucket(port: int, bucket: str) -> None:
    from minio import Minio

    Minio(f"127.0.0.1:{port}", access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False).make_bucket(bucket)


def _multipart(data: bytes) -> tuple[bytes, bytes]:
    """A multipart body for field 'file', split in two halves."""
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="sim.csv"\r\n'
            f"Content-Type: text/csv\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    middle = len(body) // 2
    return body[:middle], body[middle:]


def test_storage_outage_mid_ingest(tmp_path: Path, logs_dir: Path) -> None:
    from scoreline.tasks.match_outcome.simulator import simulate

    raw, _ = simulate(20_000, seed=21)
    data = raw.to_csv(index=False).encode()
    moto_port = free_port()
    bucket = f"outage-{uuid.uuid4().hex[:8]}"
    env = {
        "SCORELINE_STORAGE_URI": f"s3://{bucket}",
        "SCORELINE_S3_ENDPOINT": f"http://127.0.0.1:{moto_port}",
        "SCORELINE_S3_ACCESS_KEY": S3_ACCESS_KEY,
        "SCORELINE_S3_SECRET_KEY": S3_SECRET_KEY,
    }
    store = open_store(
        StorageSettings(
            storage_uri=env["SCORELINE_STORAGE_URI"],
            s3_endpoint=env["SCORELINE_S3_ENDPOINT"],
            s3_access_key=S3_ACCESS_KEY,
            s3_secret_key=S3_SECRET_KEY,
        )
    )
    moto = moto_server(moto_port, logs_dir / "moto-outage.log").start(timeout_s=60)
    try:
        _make_bucket(moto_port, bucket)
        with ingest_server(env, logs_dir / "ingest-outage.log").start(timeout_s=120) as ingest:
            url = f"{ingest.url}/v1/datasets/{TASK}/outage"
            headers = {
                "Authorization": f"Bearer {API_KEY}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            }
            first_half, second_half = _multipart(data)
            half_sent, resume = threading.Event(), threading.Event()

            def body() -> Iterator[bytes]:
                yield first_half
                half_sent.set()
                resume.wait(60)
                yield second_half

            answer: dict[str, httpx.Response] = {}
            sender = threading.Thread(
                target=lambda: answer.update(response=httpx.post(url, content=body(), headers=headers, timeout=120))
            )
            sender.start()
            assert half_sent.wait(60)
            moto.stop()  # the object store goes down while the upload is arriving
            resume.set()
            sender.join(120)

            response = answer["response"]
            assert response.status_code == 503, response.text
            assert int(response.headers["Retry-After"]) > 0
            assert response.json()["error"]["code"] == "unavailable"
            # reads degrade the same way instead of answering an empty (false) listing
            down = httpx.get(f"{ingest.url}/v1/datasets/{TASK}/outage/versions", timeout=60)
            assert down.status_code == 503
            assert httpx.get(f"{ingest.url}/readyz", timeout=60).status_code == 503
            assert httpx.get(f"{ingest.url}/healthz").status_code == 200  # the process itself is fine

            moto = moto_server(moto_port, logs_dir / "moto-outage.log").start(timeout_s=60)
            _make_bucket(moto_port, bucket)  # moto keeps no state across restarts: the setup job runs again
            assert store.list() == []  # no partial version

            retried = httpx.post(
                url, files={"file": ("sim.csv", data, "text/csv")}, headers={"Authorization": f"Bearer {API_KEY}"},
                timeout=120,
            )  # fmt: skip
            assert retried.status_code == 201, retried.text
            manifest = retried.json()
            assert manifest["rows"] == 20_000
            assert sorted(store.list()) == sorted(
                [
                    manifest["data_key"],
                    manifest["source"]["raw_key"],
                    f"datasets/{TASK}/outage/{manifest['version']}/manifest.json",
                ]
            )
            versions = httpx.get(f"{ingest.url}/v1/datasets/{TASK}/outage/versions", timeout=60).json()
            assert [v["version"] for v in versions] == [manifest["version"]]
    finally:
        moto.stop()
