"""model-api predictions end to end: a real uvicorn process serving a model trained by the real
pipeline and loaded from the real MLflow server."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from scoreline.predlog.jsonl import read_jsonl
from tests.scoreline.serving.models import TASK
from tests.servers import ServerProcess
from tests.services.model_api.conftest import Versions, launch_model_api

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory, logs_dir: Path, serving_mlflow: ServerProcess, versions: Versions
) -> Iterator[tuple[ServerProcess, Path]]:
    versions.promote(versions.first)
    workdir = tmp_path_factory.mktemp("model-api-predict")
    server = launch_model_api(workdir, logs_dir, serving_mlflow.url)
    yield server, workdir
    server.stop()


@pytest.fixture(scope="module")
def bundle(versions: Versions) -> Any:
    return versions.results[versions.first].bundle


def _predict(server: ServerProcess, body: Any, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{server.url}/v1/{TASK}/predict", json=body, timeout=30, **kwargs)


def test_single_instance_answers_probabilities_label_and_version(api, bundle, versions) -> None:
    server, _ = api
    instance = bundle.input_example[0]
    response = _predict(server, {"instances": instance})
    assert response.status_code == 200, response.text
    assert response.headers["X-Model-Version"] == versions.first
    body = response.json()
    assert body["model_version"] == versions.first
    assert body["model_name"] == "scoreline-match-outcome"
    (prediction,) = body["predictions"]
    expected = bundle.predict_proba([instance]).iloc[0]
    got = prediction["probabilities"]
    assert set(got) == {"home", "draw", "away"}
    assert np.allclose([got[c] for c in ("home", "draw", "away")], expected.to_numpy(), atol=1e-6)
    assert prediction["prediction"] == expected.idxmax()
    words = {"home": f"{instance['home_team']} win", "away": f"{instance['away_team']} win", "draw": "draw"}
    assert prediction["label"] == words[prediction["prediction"]]
    assert prediction["model_version"] == versions.first


def test_many_instances_keep_their_order(api, bundle) -> None:
    server, _ = api
    instances = bundle.input_example[:8]
    response = _predict(server, {"instances": instances})
    assert response.status_code == 200, response.text
    got = np.array([[p["probabilities"][c] for c in ("home", "draw", "away")] for p in response.json()["predictions"]])
    expected = bundle.predict_proba(instances).to_numpy()
    assert np.allclose(got, expected, atol=1e-6)
    assert len({p["request_id"] for p in response.json()["predictions"]}) == len(instances)


@pytest.mark.parametrize(("upload", "accept", "query", "answer"), [
    ("csv", None, None, "csv"),
    ("parquet", None, None, "parquet"),
    ("csv", "application/vnd.apache.parquet", None, "parquet"),
    ("parquet", None, "csv", "csv"),
])  # fmt: skip
def test_batch_file_comes_back_with_prediction_columns(api, bundle, upload, accept, query, answer) -> None:
    server, _ = api
    frame = pd.DataFrame(bundle.input_example * 20)
    buffer = io.BytesIO()
    frame.to_csv(buffer, index=False) if upload == "csv" else frame.to_parquet(buffer, index=False)
    response = httpx.post(
        f"{server.url}/v1/{TASK}/predict/batch",
        files={"file": (f"matches.{upload}", buffer.getvalue(), "application/octet-stream")},
        headers={"Accept": accept} if accept else {},
        params={"format": query} if query else {},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    content = io.BytesIO(response.content)
    out = pd.read_csv(content) if answer == "csv" else pd.read_parquet(content)
    assert len(out) == len(frame)
    assert list(out.columns[: len(frame.columns)]) == list(frame.columns)
    expected = bundle.predict_proba(bundle.input_example * 20).to_numpy()
    assert np.allclose(out[["prob_home", "prob_draw", "prob_away"]].to_numpy(), expected, atol=1e-6)
    assert (out["model_version"].astype(str) == response.headers["X-Model-Version"]).all()
    assert set(out["prediction"]) <= {"home", "draw", "away"}


def _problem(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    return error


def test_unknown_team_names_the_closest_known_ones(api, bundle) -> None:
    server, _ = api
    instance = dict(bundle.input_example[0])
    real = instance["home_team"]
    instance["home_team"] = real[:-1]
    error = _problem(_predict(server, {"instances": [bundle.input_example[1], instance]}))
    (problem,) = error["details"]["problems"]
    assert problem["row"] == 1
    assert problem["field"] == "home_team"
    assert real in problem["closest"]
    assert real in error["message"]


def test_team_playing_itself(api, bundle) -> None:
    server, _ = api
    instance = {**bundle.input_example[0], "away_team": bundle.input_example[0]["home_team"]}
    error = _problem(_predict(server, {"instances": instance}))
    assert error["details"]["problems"][0]["field"] == "away_team"
    assert "is both the home_team and the away_team" in error["message"]


@pytest.mark.parametrize(("change", "field"), [
    ({"away_team": None}, "away_team"),  # missing (None → dropped below)
    ({"neutral": "perhaps"}, "neutral"),
    ({"home_team": 42}, "home_team"),
    ({"date": "2025-02-30"}, "date"),
    ({"colour": "red"}, "colour"),
])  # fmt: skip
def test_missing_fields_and_wrong_types_name_the_field(api, bundle, change, field) -> None:
    server, _ = api
    instance = {**bundle.input_example[0], **change}
    instance = {k: v for k, v in instance.items() if v is not None}
    error = _problem(_predict(server, {"instances": [instance]}))
    problem = error["details"]["problems"][0]
    assert problem["row"] == 0
    assert problem["field"] == field
    assert field in error["message"]


@pytest.mark.parametrize("raw", [
    b'{"instances": [{"home_team": NaN, "away_team": "x"}]}',
    b'{"instances": [{"home_team": "a", "away_team": Infinity}]}',
    b'{"instances": ',
    b'[1, 2]',
    b'{"instances": []}',
])  # fmt: skip
def test_not_json_nan_infinity_and_wrong_shapes_are_422(api, raw) -> None:
    server, _ = api
    response = httpx.post(
        f"{server.url}/v1/{TASK}/predict", content=raw, headers={"Content-Type": "application/json"}, timeout=10
    )
    _problem(response)


def test_batch_file_problems_name_row_and_column(api, bundle) -> None:
    server, _ = api
    frame = pd.DataFrame(bundle.input_example[:4])
    frame.loc[2, "home_team"] = "Atlantis United"
    response = httpx.post(
        f"{server.url}/v1/{TASK}/predict/batch",
        files={"file": ("m.csv", frame.to_csv(index=False).encode(), "text/csv")},
        timeout=30,
    )
    problem = _problem(response)["details"]["problems"][0]
    assert (problem["row"], problem["field"]) == (2, "home_team")
    response = httpx.post(
        f"{server.url}/v1/{TASK}/predict/batch",
        files={"file": ("m.csv", frame.drop(columns=["away_team"]).to_csv(index=False).encode(), "text/csv")},
        timeout=30,
    )
    assert _problem(response)["details"]["problems"][0]["field"] == "away_team"


def test_unknown_task_is_404_and_too_many_instances_413(api, bundle) -> None:
    server, _ = api
    response = httpx.post(f"{server.url}/v1/curling/predict", json={"instances": bundle.input_example[:1]}, timeout=10)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    response = _predict(server, {"instances": [bundle.input_example[0]] * 1001})
    assert response.status_code == 413
    assert "1000" in response.json()["error"]["message"]


def test_schema_lists_known_teams_and_models_lists_the_version(api, bundle, versions) -> None:
    server, _ = api
    schema = httpx.get(f"{server.url}/v1/{TASK}/schema", timeout=10).json()
    assert set(schema["teams"]) == set(bundle.serving_state["teams"])
    assert {"home_team", "away_team"} <= set(schema["request"]["properties"])
    team, state = next(iter(bundle.serving_state["teams"].items()))
    assert schema["team_state"][team]["elo"] == pytest.approx(state["elo"], abs=0.05)
    assert schema["team_state"][team]["matches_played"] == state["played"]
    (model,) = httpx.get(f"{server.url}/v1/models", timeout=10).json()["models"]
    assert model["version"] == versions.first
    assert model["alias"] == "champion"
    assert model["source"] == "mlflow"
    assert model["loaded_at"]
    assert model["holdout_metrics"]["rps"] == pytest.approx(bundle.holdout_metrics["rps"])
    assert model["last_reload_error"] is None


def test_every_prediction_is_logged_and_counted(api, bundle, versions) -> None:
    server, workdir = api
    instances = bundle.input_example[:3]
    response = _predict(server, {"instances": instances})
    ids = {p["request_id"] for p in response.json()["predictions"]}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        logged = {d["request_id"]: d for d in read_jsonl(workdir / "predictions")}
        if ids <= set(logged):
            break
        time.sleep(0.1)
    assert ids <= set(logged)
    record = logged[next(iter(ids))]
    assert record["model_version"] == versions.first
    assert record["task"] == TASK
    assert set(record["features"]) == set(bundle.feature_names)
    assert record["inputs"]["home_team"] in {i["home_team"] for i in instances}
    assert record["latency_ms"] >= 0
    metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
    assert f'scoreline_predict_requests_total{{endpoint="predict",status="200",task="{TASK}"}}' in metrics
    assert 'scoreline_predict_requests_total{endpoint="predict",status="422"' in metrics
    assert f'scoreline_served_model_version{{task="{TASK}"}} {float(versions.first)}' in metrics
    assert "scoreline_predlog_records_written" in metrics


@pytest.mark.parametrize("filename", ["Матч Ωmega.csv", 'x"; filename="evil.exe.csv'])
def test_batch_answer_names_any_upload_filename_safely(api, bundle, filename: str) -> None:
    """A non-Latin-1 or quoted upload name used to cost a 500 after the prediction was logged, or to inject
    Content-Disposition parameters: the answer names it as a safe ``filename`` and the exact ``filename*``."""
    server, _ = api
    csv = pd.DataFrame(bundle.input_example[:2]).to_csv(index=False).encode()
    boundary = "scoreline-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + csv
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = httpx.post(
        f"{server.url}/v1/{TASK}/predict/batch",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    disposition.encode("ascii")
    assert disposition.count('"') == 2 and disposition.count("filename=") == 1
    assert "filename*=UTF-8''" in disposition and disposition.endswith("-predictions.csv")
