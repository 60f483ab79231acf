"""The shared edge in front of every service: key before body, one read policy, media types, size and nesting
limits counted while the body arrives, and the OpenAPI document saying the same."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient
from pydantic import BaseModel, SecretStr
from scoreline_kit import create_app, require_api_key
from scoreline_kit.edge import DepthScanner, mark_access

from scoreline.core.settings import AuthSettings

KEY = {"Authorization": "Bearer user-key"}
ADMIN = {"Authorization": "Bearer admin-key"}


class Body(BaseModel):
    items: list[dict[str, int]]


def _client(**settings: object) -> TestClient:
    app = create_app("edge-test")
    app.state.settings = AuthSettings(api_key=SecretStr("user-key"), admin_key=SecretStr("admin-key"), **settings)

    @app.post("/write", dependencies=[Depends(require_api_key(lambda: SecretStr("user-key")))])
    def write(body: Body) -> dict[str, int]:
        return {"items": len(body.items)}

    @app.get("/catalogue")
    def catalogue() -> list[str]:
        return ["a"]

    @app.get("/describe")
    def describe() -> dict[str, str]:
        return {"what": "public"}

    mark_access(app, "/describe", "public")
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client() -> TestClient:
    return _client()


def test_malformed_json_without_a_key_is_401_not_422(client: TestClient) -> None:
    response = client.post("/write", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    keyed = client.post("/write", content=b"{not json", headers={"Content-Type": "application/json", **KEY})
    assert keyed.status_code == 422


def test_reads_are_closed_by_default_and_open_with_the_setting() -> None:
    closed = _client()
    assert closed.get("/catalogue").status_code == 401
    assert closed.get("/catalogue", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert closed.get("/catalogue", headers=KEY).status_code == 200
    assert closed.get("/catalogue", headers=ADMIN).status_code == 200
    assert closed.get("/describe").status_code == 200  # marked public
    assert closed.get("/healthz").status_code == 200
    assert closed.get("/openapi.json").status_code == 200
    assert _client(public_reads=True).get("/catalogue").status_code == 200


def test_a_text_plain_body_to_a_json_route_is_415(client: TestClient) -> None:
    response = client.post("/write", content=b'{"items": []}', headers={"Content-Type": "text/plain", **KEY})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media"


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate, gzip"])
def test_a_compressed_body_is_415_naming_the_encoding_expected(client: TestClient, encoding: str) -> None:
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding, **KEY}
    response = client.post("/write", content=b'{"items": []}', headers=headers)
    assert response.status_code == 415
    error = response.json()["error"]
    assert error["code"] == "unsupported_media"
    assert "uncompressed" in error["message"] and encoding in error["message"]
    identity = {"Content-Type": "application/json", "Content-Encoding": "identity", **KEY}
    assert client.post("/write", content=b'{"items": []}', headers=identity).status_code == 200


def test_json_nested_past_the_limit_is_422_without_echoing_it(client: TestClient) -> None:
    deep = b'{"items": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = client.post("/write", content=deep, headers={"Content-Type": "application/json", **KEY})
    assert response.status_code == 422
    assert "nested deeper than 64" in response.json()["error"]["message"]
    assert len(response.content) < 1000


def test_validation_errors_describe_containers_instead_of_repr_them(client: TestClient) -> None:
    nested: object = 1
    for _ in range(60):  # under the depth limit: pydantic sees it
        nested = [nested]
    response = client.post("/write", json={"items": nested}, headers=KEY)
    assert response.status_code == 422
    assert "[[[[" not in response.text


def test_a_body_over_the_limit_is_413_whether_declared_or_streamed() -> None:
    client = _client(max_json_bytes=1000)
    declared = client.post("/write", content=b" " * 2000, headers={"Content-Type": "application/json", **KEY})
    assert declared.status_code == 413
    assert declared.json()["error"]["details"]["max_bytes"] == 1000

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b" " * 300

    streamed = client.post("/write", content=chunks(), headers={"Content-Type": "application/json", **KEY})
    assert streamed.status_code == 413
    assert "SCORELINE_MAX_JSON_BYTES" in streamed.json()["error"]["message"]
    ok = client.post("/write", json={"items": [{"a": 1}]}, headers=KEY)
    assert ok.status_code == 200


def test_depth_scanner_skips_strings_and_escapes_across_chunks() -> None:
    scanner = DepthScanner(3)
    for chunk in (b'{"a": "[[[[\\', b'"[[[[", "b": [', b"[]]}"):
        scanner.feed(chunk)
    assert scanner.depth == 0 and not scanner.in_string


def test_openapi_declares_bearer_security_per_operation(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert schema["paths"]["/write"]["post"]["security"] == [{"bearerAuth": []}]
    assert schema["paths"]["/catalogue"]["get"]["security"] == [{"bearerAuth": []}]
    assert schema["paths"]["/describe"]["get"]["security"] == []
    assert {"401", "403", "413", "415", "422"} <= set(schema["paths"]["/write"]["post"]["responses"])
    assert _client(public_reads=True).get("/openapi.json").json()["paths"]["/catalogue"]["get"]["security"] == []
