"""Logging, registering, aliasing and loading models against the real ``mlflow server``."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.data.datasets import DatasetCatalog
from scoreline.lifecycle.registry import (
    CHALLENGER,
    TAG_BASELINES,
    TAG_CODE_VERSION,
    TAG_DATASET,
    TAG_DATASET_VERSION,
    TAG_HOLDOUT_END,
    TAG_HOLDOUT_START,
    TAG_PRIMARY_METRIC,
    Registry,
    experiment_name,
    load_bundle,
    log_training,
    model_name,
    model_uri_for,
)
from scoreline.ml.training import TrainingResult
from tests.mlflow_fixtures import TASK, artifact_names

pytestmark = pytest.mark.slow


@pytest.fixture
def registered(clean_registry: Registry, good_result: TrainingResult, simulated_catalog: tuple[DatasetCatalog, str]):
    _, version = simulated_catalog
    return log_training(good_result, "simulated", version, "git:test", clean_registry.tracking_uri)


def test_run_has_design_metric_keys_params_tags_and_artifacts(registered, clean_registry: Registry, good_result):
    run = clean_registry.client.get_run(registered.run_id)
    experiment = clean_registry.client.get_experiment(run.info.experiment_id)
    assert experiment.name == experiment_name(TASK) == "scoreline/match-outcome"

    for metric, value in good_result.holdout_metrics.items():
        assert run.data.metrics[f"holdout_{metric}"] == pytest.approx(value)
    for baseline, scores in good_result.baseline_metrics.items():
        for metric, value in scores.items():
            assert run.data.metrics[f"baseline_{baseline}_{metric}"] == pytest.approx(value)
    assert {"holdout_rps", "baseline_elo_rps", "baseline_base_rates_log_loss"} <= set(run.data.metrics)

    assert run.data.params["learning_rate"] == "0.1"
    assert int(run.data.params["num_boost_round"]) == good_result.params["num_boost_round"]
    assert run.data.tags[TAG_DATASET] == "simulated"
    assert run.data.tags[TAG_HOLDOUT_START] == good_result.holdout_start.isoformat()
    assert run.data.tags[TAG_PRIMARY_METRIC] == "rps"
    assert run.data.tags[TAG_CODE_VERSION] == "git:test"

    assert {"calibration.png", "feature_importance.png", "feature_importance.csv"} <= artifact_names(
        clean_registry, registered.run_id, "evaluation"
    )


def test_version_carries_tags_and_challenger_alias(
    registered, clean_registry: Registry, good_result, simulated_catalog
):
    _, dataset_version = simulated_catalog
    assert clean_registry.aliases(TASK) == {CHALLENGER: registered.version}
    version = clean_registry.version_by_alias(TASK, CHALLENGER)
    assert version is not None and version.version == registered.version
    assert version.run_id == registered.run_id
    tags = version.tags
    assert tags[TAG_DATASET_VERSION] == dataset_version
    assert tags[TAG_HOLDOUT_START] == good_result.holdout_start.isoformat()
    assert tags[TAG_HOLDOUT_END] == good_result.holdout_end.isoformat()
    assert json.loads(tags[TAG_BASELINES])["elo"]["rps"] == pytest.approx(good_result.baseline_metrics["elo"]["rps"])
    assert float(tags["primary_metric_value"]) == pytest.approx(good_result.holdout_metrics["rps"])


def test_second_run_registers_a_new_challenger(registered, clean_registry: Registry, good_result, simulated_catalog):
    _, version = simulated_catalog
    second = log_training(good_result, "simulated", version, "git:test", clean_registry.tracking_uri)
    assert int(second.version) == int(registered.version) + 1
    assert clean_registry.aliases(TASK) == {CHALLENGER: second.version}
    assert [v.version for v in clean_registry.versions(TASK)] == [second.version, registered.version]


def test_load_bundle_predicts_like_the_trained_bundle(registered, clean_registry: Registry, good_result, tmp_path):
    requests = good_result.bundle.input_example
    expected = good_result.bundle.predict_proba(requests)

    by_alias = load_bundle(model_uri_for(TASK, alias=CHALLENGER), tracking_uri=clean_registry.tracking_uri)
    pd.testing.assert_frame_equal(by_alias.predict_proba(requests), expected)
    assert by_alias.serving_state == json.loads(json.dumps(good_result.bundle.serving_state))
    assert by_alias.reference_profile.keys() == good_result.bundle.reference_profile.keys()

    cache = tmp_path / "cache"
    cached = load_bundle(registered.model_uri, tracking_uri=clean_registry.tracking_uri, cache_dir=cache)
    pd.testing.assert_frame_equal(cached.predict_proba(requests), expected)
    model_dirs = [p.parent for p in cache.rglob("MLmodel")]
    assert len(model_dirs) == 1
    from_disk = load_bundle(model_dirs[0])  # model-api's offline path: a local pyfunc folder
    pd.testing.assert_frame_equal(from_disk.predict_proba(requests), expected)


def test_pyfunc_takes_request_columns_and_returns_probabilities(registered, clean_registry: Registry, good_result):
    mlflow.set_tracking_uri(clean_registry.tracking_uri)
    model = mlflow.pyfunc.load_model(registered.model_uri)
    requests = pd.DataFrame(good_result.bundle.input_example)
    assert set(requests.columns) == {"home_team", "away_team", "date", "neutral", "competition"}
    output = model.predict(requests)
    assert list(output.columns) == ["home", "draw", "away"]
    assert np.allclose(output.sum(axis=1), 1.0)
    assert ((output > 0) & (output < 1)).all().all()
    expected = good_result.bundle.predict_proba(good_result.bundle.input_example).reset_index(drop=True)
    pd.testing.assert_frame_equal(output, expected)
    assert {spec.name for spec in model.metadata.get_input_schema().inputs} == set(requests.columns)


def test_unknown_version_and_model_are_not_found(clean_registry: Registry, tmp_path: Path):
    assert clean_registry.version_by_alias(TASK, CHALLENGER) is None
    assert clean_registry.versions(TASK) == []
    with pytest.raises(ScorelineError) as missing:
        clean_registry.version(TASK, "999")
    assert missing.value.code == ErrorCode.NOT_FOUND
    with pytest.raises(ScorelineError) as no_model:
        load_bundle(tmp_path / "nothing-here")
    assert no_model.value.code == ErrorCode.NOT_FOUND
    assert model_name(TASK) == "scoreline-match-outcome"
