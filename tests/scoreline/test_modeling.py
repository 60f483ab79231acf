"""ModelBundle: pickle-free save/load gives identical predictions; serving features come from the stored state."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoreline.errors import ErrorCode, ScorelineError
from scoreline.modeling import BOOSTER_FILE, BUNDLE_FILE, ModelBundle
from scoreline.tasks import get_task
from scoreline.training import TrainingResult, train

TASK = get_task("match-outcome")


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    raw, _truth = TASK.simulate(6_000, seed=11)
    canonical = TASK.to_canonical(raw.to_csv(index=False).encode(), "simulated.csv")
    return train(TASK, canonical, params={"learning_rate": 0.1}, artifacts_dir=tmp_path_factory.mktemp("artifacts"))


def test_save_and_load_round_trip_gives_identical_predictions(trained: TrainingResult, tmp_path: Path) -> None:
    bundle = trained.bundle
    requests = pd.DataFrame(bundle.input_example)
    before = bundle.predict_proba(requests)
    bundle.save(tmp_path / "bundle")
    loaded = ModelBundle.load(tmp_path / "bundle")
    after = loaded.predict_proba(requests)
    pd.testing.assert_frame_equal(before, after)
    assert loaded.feature_names == bundle.feature_names
    assert loaded.serving_state == json.loads(json.dumps(bundle.serving_state))
    assert loaded.reference_profile == json.loads(json.dumps(bundle.reference_profile))
    assert loaded.holdout_metrics == bundle.holdout_metrics
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == sorted([BOOSTER_FILE, BUNDLE_FILE])


def test_predict_proba_has_task_classes_and_sums_to_one(trained: TrainingResult) -> None:
    requests = [
        {"home_team": trained.bundle.input_example[0]["home_team"], "away_team": example["away_team"]}
        for example in trained.bundle.input_example
    ]
    probabilities = trained.bundle.predict_proba(requests)
    assert list(probabilities.columns) == ["home", "draw", "away"]
    assert len(probabilities) == len(requests)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_neutral_venue_lowers_the_home_win_probability(trained: TrainingResult) -> None:
    example = dict(trained.bundle.input_example[0])
    home_venue = trained.bundle.predict_proba([{**example, "neutral": False}])
    neutral = trained.bundle.predict_proba([{**example, "neutral": True}])
    assert neutral.loc[0, "home"] < home_venue.loc[0, "home"]


def test_serving_features_come_from_the_stored_state(trained: TrainingResult) -> None:
    bundle = trained.bundle
    example = bundle.input_example[-1]
    features = bundle.features([example])
    team = bundle.serving_state["teams"][example["home_team"]]
    assert features.loc[0, "elo_home"] == pytest.approx(team["elo"])
    assert features.loc[0, "played_home"] == team["played"]


def test_input_example_holds_request_fields(trained: TrainingResult) -> None:
    for example in trained.bundle.input_example:
        TASK.request_model.model_validate(example)


def test_loading_a_folder_without_a_bundle_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScorelineError) as caught:
        ModelBundle.load(tmp_path)
    assert caught.value.code is ErrorCode.INVALID_INPUT
    assert BUNDLE_FILE in caught.value.message
