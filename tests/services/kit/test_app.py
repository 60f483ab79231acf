"""The shared HTTP edge: domain errors become JSON with the mapped status, keys are checked, metrics count."""

from __future__ import annotations

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from pydantic import BaseModel, SecretStr
from scoreline_kit import create_app, require_admin_key, require_api_key

from scoreline.core.errors import HTTP_STATUS, ErrorCode, ScorelineError
from scoreline.core.settings import AuthSettings

KEY = {"Authorization": "Bearer user-key"}


class Body(BaseModel):
    count: int


@pytest.fixture
def client() -> TestClient:
    app = create_app("kit-test")
    # Reads open so the error-mapping routes answer without a key; writes need the API key.
    app.state.settings = AuthSettings(api_key=SecretStr("user-key"), public_reads=True)

    @app.get("/fail/{code}")
    def fail(code: ErrorCode) -> None:
        raise ScorelineError(code, f"failed with {code}", {"why": "test"}, retry_after_s=7)

    @app.post("/body")
    def body(payload: Body) -> dict[str, int]:
        return {"count": payload.count}

    @app.post("/write", dependencies=[Depends(require_api_key(lambda: SecretStr("user-key")))])
    def write() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/admin", dependencies=[Depends(require_admin_key(lambda: None))])
    def admin() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/crash")
    def crash() -> None:
        raise RuntimeError("boom")

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("code", list(ErrorCode))
def test_domain_errors_map_to_their_status(client: TestClient, code: ErrorCode) -> None:
    response = client.get(f"/fail/{code.value}")
    assert response.status_code == HTTP_STATUS[code]
    assert response.json() == {
        "error": {"code": code.value, "message": f"failed with {code}", "details": {"why": "test"}}
    }
    assert response.headers["Retry-After"] == "7"


def test_validation_errors_name_the_field(client: TestClient) -> None:
    response = client.post("/body", json={"count": "many"}, headers=KEY)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["details"][0]["field"] == "body.count"


def test_api_key_is_required_and_checked(client: TestClient) -> None:
    assert client.post("/write").status_code == 401
    assert client.post("/write", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert client.post("/write", headers={"Authorization": "Bearer user-key"}).status_code == 200


def test_admin_routes_refuse_when_no_key_is_configured(client: TestClient) -> None:
    response = client.post("/admin", headers={"Authorization": "Bearer anything"})
    assert response.status_code == 403
    assert "SCORELINE_ADMIN_KEY" in response.json()["error"]["message"]


def test_unexpected_errors_are_json_500_without_internals(client: TestClient) -> None:
    response = client.get("/crash")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal"
    assert "boom" not in response.text


def test_metrics_count_requests_by_route_and_status(client: TestClient) -> None:
    client.post("/body", json={"count": 1}, headers=KEY)
    client.post("/body", json={"count": "x"}, headers=KEY)
    metrics = client.get("/metrics").text
    assert 'scoreline_http_requests_total{method="POST",route="/body",service="kit-test",status="200"} 1.0' in metrics
    assert 'scoreline_http_requests_total{method="POST",route="/body",service="kit-test",status="422"} 1.0' in metrics
    assert client.get("/healthz").json() == {"status": "ok", "service": "kit-test"}
