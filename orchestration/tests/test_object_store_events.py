"""A file dropped into the landing prefix starts a training DAG run: MinIO's bucket notification → ingest → Airflow.

The object store is moto's S3 server (the real S3 HTTP API; there is no MinIO server on this machine), ingest
is the real service process reading that bucket, Airflow is the real ``airflow api-server`` (``/api/v2``, behind
its auth manager: ingest logs in at ``/auth/token`` as in compose). moto does not send webhooks, so the test
posts what MinIO's webhook target ``INGEST`` (docker-compose.yml) posts for that upload: the event log
``{"EventName", "Key", "Records"}`` with the S3 record whose object key is query-escaped, as
``Authorization: Bearer <MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_INGEST>`` (ingest's API key).
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest

from tests.conftest import AIRFLOW_USER, REPO, WORKSPACE_BIN, ServerProcess, airflow_token, free_port

pytestmark = [pytest.mark.slow]

TASK = "match-outcome"
DATASET = "landed"
DAG_ID = "scoreline_train_match_outcome"
BUCKET = "scoreline-events"
RESULTS_CSV = "date,home_team,away_team,home_score,away_score,tournament,city,country,neutral\n" + "".join(
    f"2024-0{1 + i // 9}-{10 + i % 9},{home},{away},{i % 3},{(i + 1) % 2},Friendly,City,Country,{i % 2 == 0}\n"
    for i, (home, away) in enumerate(
        [("Brazil", "Argentina"), ("France", "Germany"), ("Spain", "Italy"), ("England", "Netherlands")] * 6
    )
)


@dataclass
class EventStack:
    s3: ServerProcess
    ingest: ServerProcess
    airflow: ServerProcess
    api_key: str

    def drop(self, key: str, body: bytes) -> None:
        """The file drop, as any S3 client does it (moto's server takes unsigned requests)."""
        response = httpx.put(f"{self.s3.url}/{BUCKET}/{key}", content=body, headers={"Content-Type": "text/csv"})
        assert response.status_code == 200, response.text

    def dag_runs(self) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.airflow.url}/api/v2/dags/{DAG_ID}/dagRuns",
            headers={"Authorization": f"Bearer {airflow_token(self.airflow)}"},
            timeout=30,
        )
        response.raise_for_status()
        return response.json()["dag_runs"]


def minio_event(key: str, size: int, event_name: str = "s3:ObjectCreated:Put") -> dict[str, Any]:
    """The body MinIO's webhook target posts for one object event (internal/event: Log{EventName, Key, Records})."""
    now = datetime.now(UTC)
    request_id = uuid.uuid4().hex[:16].upper()
    record = {
        "eventVersion": "2.0",
        "eventSource": "minio:s3",
        "awsRegion": "",
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "minioadmin"},
        "requestParameters": {"principalId": "minioadmin", "region": "", "sourceIPAddress": "127.0.0.1"},
        "responseElements": {
            "x-amz-id-2": secrets.token_hex(32),
            "x-amz-request-id": request_id,
            "x-minio-deployment-id": str(uuid.uuid4()),
            "x-minio-origin-endpoint": "http://minio:9000",
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "Config",
            "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "minioadmin"}, "arn": f"arn:aws:s3:::{BUCKET}"},
            "object": {
                "key": quote_plus(key, safe=""),  # Go's url.QueryEscape: '/' → %2F, ' ' → '+'
                "size": size,
                "eTag": secrets.token_hex(16),
                "contentType": "text/csv",
                "userMetadata": {"content-type": "text/csv"},
                "sequencer": request_id,
            },
        },
        "source": {"host": "127.0.0.1", "port": "", "userAgent": "MinIO (linux; amd64) minio-py/7.2.15"},
    }
    return {"EventName": event_name, "Key": f"{BUCKET}/{key}", "Records": [record]}


@pytest.fixture(scope="module")
def events_stack(airflow_api: ServerProcess, logs_dir: Path) -> Iterator[EventStack]:
    s3_port, ingest_port = free_port(), free_port()
    s3 = ServerProcess(
        "moto-s3",
        [str(WORKSPACE_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(s3_port)],
        s3_port,
        health_path="/moto-api/",
        log_path=logs_dir / "moto-events.log",
    )
    api_key = secrets.token_urlsafe(16)
    env = {
        "PATH": f"{WORKSPACE_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "SCORELINE_STORAGE_URI": f"s3://{BUCKET}",
        "SCORELINE_S3_ENDPOINT": s3.url,
        "SCORELINE_S3_ACCESS_KEY": "testing",
        "SCORELINE_S3_SECRET_KEY": "testing",
        "SCORELINE_INGEST_PORT": str(ingest_port),
        "SCORELINE_API_KEY": api_key,
        "SCORELINE_ADMIN_KEY": secrets.token_urlsafe(16),
        # As in compose: new versions are announced to Airflow's REST API, logged in with a user and password.
        "SCORELINE_NOTIFY_URL": f"{airflow_api.url}/api/v2/dags/{{dag_id}}/dagRuns",
        "SCORELINE_NOTIFY_USERNAME": AIRFLOW_USER,
        "SCORELINE_NOTIFY_PASSWORD": os.environ["SCORELINE_TEST_AIRFLOW_PASSWORD"],
        "SCORELINE_NOTIFY_BACKOFF_S": "0.5",
    }
    ingest = ServerProcess(
        "ingest-s3", [str(WORKSPACE_BIN / "python"), "-m", "scoreline_ingest"], ingest_port, env=env,
        log_path=logs_dir / "ingest-events.log", cwd=REPO,
    )  # fmt: skip
    with s3.start(timeout_s=60):
        assert httpx.put(f"{s3.url}/{BUCKET}").status_code == 200  # minio-setup's `mc mb`
        with ingest.start(timeout_s=120):
            yield EventStack(s3, ingest, airflow_api, api_key)


def _notify(stack: EventStack, body: dict[str, Any], token: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    return httpx.post(f"{stack.ingest.url}/v1/events/object-store", json=body, headers=headers, timeout=60)


def test_a_landed_file_is_ingested_and_starts_a_training_run(events_stack: EventStack) -> None:
    key = f"landing/{TASK}/{DATASET}/results 2024.csv"
    content = RESULTS_CSV.encode()
    events_stack.drop(key, content)
    event = minio_event(key, len(content))

    refused = _notify(events_stack, event, token="not-the-webhook-token")
    assert refused.status_code == 403, refused.text  # a wrong token: nothing is read or ingested
    response = _notify(events_stack, event, token=events_stack.api_key)

    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    assert result["key"] == key and result["outcome"] == "created", result
    manifest = result["manifest"]
    assert (manifest["task"], manifest["dataset"], manifest["rows"]) == (TASK, DATASET, RESULTS_CSV.count("\n") - 1)
    run_id = f"ingest__{TASK}__{DATASET}__{manifest['version']}"
    deadline = time.monotonic() + 60
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = events_stack.dag_runs()
        if any(run["dag_run_id"] == run_id for run in runs):
            break
        time.sleep(0.5)
    run = next((run for run in runs if run["dag_run_id"] == run_id), None)
    assert run is not None, f"no run {run_id} among {[r['dag_run_id'] for r in runs]}; see ingest-events.log"
    assert run["conf"] == {"task": TASK, "dataset": DATASET, "version": manifest["version"]}


def test_b_a_redelivered_event_makes_no_second_version_nor_run(events_stack: EventStack) -> None:
    """MinIO redelivers from its queue folder after an outage: the same object is 'exists', the same run id."""
    key = f"landing/{TASK}/{DATASET}/results 2024.csv"
    before = [run["dag_run_id"] for run in events_stack.dag_runs()]

    response = _notify(events_stack, minio_event(key, len(RESULTS_CSV)), token=events_stack.api_key)

    assert response.status_code == 200, response.text
    assert [r["outcome"] for r in response.json()["results"]] == ["exists"]
    time.sleep(2)  # what a second announcement would need to arrive
    assert sorted(run["dag_run_id"] for run in events_stack.dag_runs()) == sorted(before)


def test_c_events_outside_the_landing_prefix_or_not_creations_start_nothing(events_stack: EventStack) -> None:
    before = len(events_stack.dag_runs())
    elsewhere = minio_event(f"raw/{TASK}/{DATASET}/x.csv", 10)
    removed = minio_event(f"landing/{TASK}/{DATASET}/results 2024.csv", 0, event_name="s3:ObjectRemoved:Delete")

    outcomes = [
        _notify(events_stack, body, token=events_stack.api_key).json()["results"][0]["outcome"]
        for body in (elsewhere, removed)
    ]

    assert outcomes == ["ignored", "ignored"]
    assert len(events_stack.dag_runs()) == before
