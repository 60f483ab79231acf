"""ModelBundle: pickle-free save/load gives identical predictions; serving features come from the stored state.

The booster is boosted from a stored logistic prior: every prediction path adds the same base margin.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from scoreline.core.cores import PARALLEL_ROWS, usable_cores
from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.ml.modeling import BOOSTER_FILE, BUNDLE_FILE, LogisticPrior, ModelBundle
from scoreline.ml.training import TrainingResult, train
from scoreline.tasks import get_task

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
    assert loaded.prior == bundle.prior is not None
    assert json.loads((tmp_path / "bundle" / BUNDLE_FILE).read_text())["prior"]["features"] == list(TASK.prior_features)
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


def test_predict_rows_is_the_path_of_every_prediction(trained: TrainingResult) -> None:
    bundle = trained.bundle
    features = bundle.features(bundle.input_example)
    rows = features.to_numpy(dtype=np.float64)
    by_rows = bundle.predict_rows(rows)
    np.testing.assert_array_equal(by_rows, bundle.predict_features(features))
    np.testing.assert_array_equal(by_rows, bundle.predict_proba(bundle.input_example).to_numpy())
    # One row as a vector: the same up to float rounding (the prior margin of one row and of many sums in a
    # different order).
    np.testing.assert_allclose(bundle.predict_rows(rows[0]), by_rows[:1], rtol=0, atol=1e-12)


def test_a_batch_runs_on_every_core_with_the_same_answers(trained: TrainingResult, tmp_path: Path) -> None:
    """A loaded booster has one thread (single requests); a batch of PARALLEL_ROWS rows or more runs on a copy with
    one thread per core the caller may use, and its answers are those of the one-thread booster."""
    trained.bundle.save(tmp_path / "bundle")
    loaded = ModelBundle.load(tmp_path / "bundle")
    features = loaded.features(loaded.input_example).to_numpy(dtype=np.float64)
    rows = np.repeat(features, -(-PARALLEL_ROWS // len(features)), axis=0)[:PARALLEL_ROWS]
    rows[:, 0] += np.linspace(-200.0, 200.0, len(rows))  # distinct rows, not one answer repeated
    one_thread = np.concatenate([loaded.predict_rows(part) for part in np.array_split(rows, 2)])
    assert json.loads(loaded.booster.save_config())["learner"]["generic_param"]["nthread"] == "1"
    batch = loaded.predict_rows(rows)
    np.testing.assert_array_equal(batch, one_thread)
    cores = usable_cores()
    if cores > 1:
        parallel = loaded._parallel_booster()
        assert parallel is not loaded.booster and parallel is loaded._parallel_booster()  # made once
        assert json.loads(parallel.save_config())["learner"]["generic_param"]["nthread"] == str(cores)
    assert json.loads(loaded.booster.save_config())["learner"]["generic_param"]["nthread"] == "1"


def test_the_prior_margin_is_part_of_every_prediction(trained: TrainingResult) -> None:
    bundle = trained.bundle
    rows = bundle.features(bundle.input_example).to_numpy(dtype=np.float32)
    without_prior = bundle.booster.inplace_predict(rows, validate_features=False)
    assert not np.allclose(bundle.predict_rows(rows), without_prior, atol=1e-3)


def test_a_bundle_without_trees_predicts_its_prior(trained: TrainingResult) -> None:
    import xgboost as xgb

    features = trained.bundle.features(trained.bundle.input_example)
    rows = features.to_numpy(dtype=np.float64)
    labels = np.array([0, 1, 2] * 10)
    train_rows = np.tile(rows[:1], (30, 1)) + np.arange(30)[:, None]
    prior = LogisticPrior.fit(pd.DataFrame(train_rows, columns=features.columns)[["elo_diff"]], labels, 3)
    empty = xgb.train(
        {"objective": "multi:softprob", "num_class": 3},
        xgb.DMatrix(
            train_rows, label=labels, base_margin=prior.margin(train_rows[:, [features.columns.get_loc("elo_diff")]])
        ),
        num_boost_round=0,
    )
    bundle = ModelBundle(
        task_id=TASK.id,
        booster=empty,
        feature_names=list(features.columns),
        serving_state=trained.bundle.serving_state,
        reference_profile={},
        input_example=trained.bundle.input_example,
        holdout_metrics={},
        prior=prior,
    )
    expected = prior.probabilities(features[["elo_diff"]].to_numpy())
    np.testing.assert_allclose(bundle.predict_rows(rows), expected, rtol=1e-5)


def test_prior_missing_values_count_as_the_mean_and_round_trip_through_json() -> None:
    frame = pd.DataFrame({"a": [-2.0, -1.0, 0.0, 1.0, 2.0, 3.0], "b": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]})
    prior = LogisticPrior.fit(frame, np.array([2, 2, 1, 1, 0, 0]), 3)
    assert LogisticPrior.from_json(json.loads(json.dumps(prior.to_json()))) == prior
    with_nan = prior.margin(np.array([[np.nan, np.inf]]))
    np.testing.assert_allclose(with_nan, prior.margin(np.array([prior.mean])))
    probabilities = prior.probabilities(frame.to_numpy())
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities[0, 2] > probabilities[-1, 2]  # low a: the away class, as in the labels


def test_a_prior_on_features_the_bundle_lacks_is_a_conflict(trained: TrainingResult) -> None:
    prior = LogisticPrior(features=("no_such",), mean=(0.0,), scale=(1.0,), coef=((1.0,),), intercept=(0.0,))
    bundle = ModelBundle(
        task_id=TASK.id,
        booster=trained.bundle.booster,
        feature_names=trained.bundle.feature_names,
        serving_state=trained.bundle.serving_state,
        reference_profile={},
        input_example=[],
        holdout_metrics={},
        prior=prior,
    )
    with pytest.raises(ScorelineError) as caught:
        bundle.predict_rows(np.zeros((1, len(bundle.feature_names))))
    assert caught.value.code is ErrorCode.CONFLICT


def test_a_multiclass_prior_fit_on_two_of_three_classes_gives_the_third_no_weight() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 1))
    labels = (x[:, 0] > 0).astype(int) * 2  # home (0) and away (2) only: no draw in the rows
    prior = LogisticPrior.fit(pd.DataFrame({"elo_diff": x[:, 0]}), labels, 3)
    p = prior.probabilities(np.array([[2.0], [-2.0]]))
    assert p[:, 1].max() < 1e-9
    assert p[0, 2] > 0.8 and p[1, 0] > 0.8
