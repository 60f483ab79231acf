"""Memo misses take the task's few-row array path and one booster call: same answers as the bundle in process."""

from __future__ import annotations

import datetime as dt
import gc
import time
import weakref
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoreline.serving.holder import ModelHolder
from scoreline.serving.model import Predictor, ServedModel, memo_key
from scoreline.serving.service import PredictionService
from scoreline.serving.trees import compile_trees
from scoreline.serving.validation import EntityIndex
from scoreline.tasks import get_task
from tests.scoreline.serving.models import TASK

COMPETITIONS = ["Friendly", "FIFA World Cup", "UEFA Euro qualification", "Copa América", "Baltic Cup"]


def service_for(bundle: Any, task: Any = None) -> tuple[PredictionService, Predictor]:
    task = task or get_task(TASK)
    predictor = Predictor(bundle, task)
    predictor.enable_fast_path(bundle.input_example)
    holder = ModelHolder((TASK,))
    holder.swap(ServedModel(TASK, "scoreline-match-outcome", "1", "champion", "cache", bundle, predictor,
                            entities=EntityIndex(task, bundle.serving_state)))  # fmt: skip
    return PredictionService(holder, None), predictor


@st.composite
def instances(draw: st.DrawFn, teams: list[str]) -> dict[str, Any]:
    home, away = draw(st.lists(st.sampled_from(teams), min_size=2, max_size=2, unique=True))
    instance: dict[str, Any] = {"home_team": home, "away_team": away}
    if draw(st.booleans()):
        instance["date"] = draw(st.dates(dt.date(1990, 1, 1), dt.date(2035, 12, 31))).isoformat()
    if draw(st.booleans()):
        instance["neutral"] = draw(st.booleans())
    if draw(st.booleans()):
        instance["competition"] = draw(st.sampled_from(COMPETITIONS))
    return instance


def probabilities(payload: dict[str, Any]) -> np.ndarray:
    return np.array([[p["probabilities"][c] for c in ("home", "draw", "away")] for p in payload["predictions"]])


def test_served_answers_equal_the_bundle_on_a_miss_and_the_next_hit(small_bundle: Any) -> None:
    teams = sorted(small_bundle.serving_state["teams"])
    _, predictor = service_for(small_bundle)
    assert predictor.fast_path and predictor._compiled is not None  # the task's array path is in use

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(instances(teams), min_size=1, max_size=5))
    def check(batch: list[dict[str, Any]]) -> None:
        fresh, _ = service_for(small_bundle)  # a new version: every request below starts as a miss
        expected = small_bundle.predict_proba(pd.DataFrame(batch)).to_numpy()  # pandas + base margin path
        miss, _ = fresh.predict(TASK, {"instances": batch})
        hit, _ = fresh.predict(TASK, {"instances": batch})
        np.testing.assert_allclose(probabilities(miss), expected, rtol=0, atol=1e-6)
        np.testing.assert_array_equal(probabilities(hit), probabilities(miss))
        assert [p["prediction"] for p in hit["predictions"]] == [p["prediction"] for p in miss["predictions"]]

    check()


@given(
    st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(["a", "b", "c", 1, None]), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), st.sampled_from(["a", "b", "c", 1, None]), max_size=3),
)
def test_memo_keys_are_equal_exactly_for_equal_instances(first: dict[str, Any], second: dict[str, Any]) -> None:
    reordered = dict(reversed(list(first.items())))
    assert memo_key(7, first) == memo_key(7, reordered)  # the fields' order in the body does not matter
    assert (memo_key(7, first) == memo_key(7, second)) == (first == second)
    assert memo_key(7, first) != memo_key(8, first)


def test_a_memo_entry_holds_only_its_own_row(small_bundle: Any) -> None:
    """A memoized row owns its arrays: a view of the request's feature matrix or of the booster's outputs would
    keep the whole base array alive for as long as the entry lives (65,536 entries)."""
    service, predictor = service_for(small_bundle)
    teams = sorted(small_bundle.serving_state["teams"])
    batch = [{"home_team": teams[i], "away_team": teams[i + 1], "neutral": True} for i in range(4)]
    service.predict(TASK, {"instances": batch})
    rows = list(predictor._memo.values())
    assert len(rows) >= len(batch)
    assert all(row.features.base is None and row.probabilities.base is None for row in rows)


def test_few_rows_add_the_prior_margin_as_the_booster_does(small_bundle: Any) -> None:
    assert small_bundle.prior is not None
    teams = sorted(small_bundle.serving_state["teams"])
    rng = np.random.default_rng(3)
    home = rng.choice(len(teams), 400)
    frame = pd.DataFrame({
        "home_team": np.asarray(teams)[home], "away_team": np.asarray(teams)[(home + rng.integers(1, len(teams), 400))
                                                                            % len(teams)],
        "date": "2026-06-15", "neutral": rng.random(400) < 0.3, "competition": rng.choice(COMPETITIONS, 400),
    })  # fmt: skip
    rows = small_bundle.features(frame).to_numpy(dtype=np.float32)
    many = small_bundle.predict_rows(rows)  # > FEW_ROWS: XGBoost takes the prior as its base margin
    few = np.vstack([small_bundle.predict_rows(rows[i : i + 7]) for i in range(0, 400, 7)])
    np.testing.assert_allclose(few, many, rtol=0, atol=1e-6)
    np.testing.assert_allclose(few.sum(axis=1), 1.0, atol=1e-9)


def test_tasks_without_the_array_path_or_with_a_wrong_one_are_served_through_their_table(small_bundle: Any) -> None:
    base = type(get_task(TASK))

    class NoArrays(base):  # type: ignore[misc, valid-type]
        def compile_serving(self, state: dict[str, Any], feature_names: Any) -> Any:
            return None

    class WrongArrays(base):  # type: ignore[misc, valid-type]
        def serving_rows(self, compiled: Any, instances: Any) -> np.ndarray:
            return super().serving_rows(compiled, instances) + 1.0

    teams = sorted(small_bundle.serving_state["teams"])
    batch = [{"home_team": teams[0], "away_team": teams[1], "date": "2026-01-03", "competition": "FIFA World Cup"}]
    expected = small_bundle.predict_proba(pd.DataFrame(batch)).to_numpy()
    for task in (NoArrays(), WrongArrays()):
        service, predictor = service_for(small_bundle, task)
        assert predictor.fast_path and predictor._compiled is None
        payload, _ = service.predict(TASK, {"instances": batch})
        np.testing.assert_allclose(probabilities(payload), expected, rtol=0, atol=1e-6)


def test_compiled_trees_give_the_boosters_margins_to_the_bit_on_every_walk(small_bundle: Any) -> None:
    rng = np.random.default_rng(5)
    teams = sorted(small_bundle.serving_state["teams"])
    home = rng.choice(len(teams), 300)
    frame = pd.DataFrame({
        "home_team": np.asarray(teams)[home], "away_team": np.asarray(teams)[(home + rng.integers(1, len(teams), 300))
                                                                            % len(teams)],
        "date": "2026-06-15", "neutral": rng.random(300) < 0.3, "competition": rng.choice(COMPETITIONS, 300),
    })  # fmt: skip
    rows = small_bundle.features(frame).to_numpy(dtype=np.float32).copy()
    rows[rng.random(rows.shape) < 0.2] = np.nan  # missing values take each node's default branch
    trees = compile_trees(small_bundle.booster, rows[:3])
    assert trees is not None
    expected = small_bundle.booster.inplace_predict(rows, validate_features=False, predict_type="margin")
    for walker in ("numpy", "python", "native"):
        trees.walker = walker
        np.testing.assert_array_equal(trees.inplace_predict(rows, predict_type="margin"), expected)
        one_by_one = np.vstack([trees.inplace_predict(rows[i : i + 1], predict_type="margin") for i in range(50)])
        np.testing.assert_array_equal(one_by_one, expected[:50])


def test_a_champion_without_trees_is_walked_not_sent_to_the_booster(small_bundle: Any) -> None:
    """Early stopping keeps no tree when none beats the prior (small data, or data the prior describes): such a
    champion's margin is its base margin, served by the compiled walk, not by XGBoost's per-call setup."""
    import copy

    import xgboost as xgb

    rows = small_bundle.features(pd.DataFrame(small_bundle.input_example)).to_numpy(dtype=np.float32)
    labels = np.arange(len(rows)) % 3
    treeless = xgb.train({"objective": "multi:softprob", "num_class": 3}, xgb.DMatrix(rows, labels), 0)
    assert treeless.num_boosted_rounds() == 0
    compiled = compile_trees(treeless, rows)
    assert compiled is not None
    expected = treeless.inplace_predict(rows, validate_features=False, predict_type="margin")
    for walker in ("numpy", "python"):
        compiled.walker = walker
        np.testing.assert_array_equal(compiled.inplace_predict(rows, predict_type="margin"), expected)

    prior_only = copy.copy(small_bundle)
    prior_only.booster = treeless
    service, predictor = service_for(prior_only)
    assert predictor.fast_path and predictor._trees is not None
    batch = [dict(instance) for instance in small_bundle.input_example]
    payload, _ = service.predict(TASK, {"instances": batch})
    want = prior_only.predict_proba(pd.DataFrame(batch)).to_numpy()
    np.testing.assert_allclose(probabilities(payload), want, rtol=0, atol=1e-6)


def test_models_the_compiler_does_not_know_keep_the_booster() -> None:
    import xgboost as xgb

    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = (x[:, 0] + rng.normal(size=200) > 0).astype(int)
    for params in ({"booster": "dart", "rate_drop": 0.5}, {"booster": "gblinear"}, {"objective": "count:poisson"}):
        booster = xgb.train({"objective": "binary:logistic", "max_depth": 2, **params}, xgb.DMatrix(x, y), 5)
        assert compile_trees(booster, x[:3]) is None, params
    plain = xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(x, y), 5)
    compiled = compile_trees(plain, x[:3])
    assert compiled is not None
    np.testing.assert_allclose(compiled.inplace_predict(x), plain.inplace_predict(x), rtol=0, atol=1e-7)


def test_the_memo_keys_day_is_todays_and_is_read_again_once_the_day_has_ended(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from scoreline.serving import model

    assert model.today_ordinal() == dt.date.today().toordinal()
    ends, _ = model._today
    assert ends > time.time()  # the local midnight ahead
    monkeypatch.setattr(model, "_today", (time.time() + 60, 1))  # a day that has not ended: not asked again
    assert model.today_ordinal() == 1
    monkeypatch.setattr(model, "_today", (time.time() - 1, 1))  # a day that has ended: the calendar again
    assert model.today_ordinal() == dt.date.today().toordinal()


def test_a_dropped_compiled_model_is_freed_without_the_cycle_collector() -> None:
    """model-api freezes the heap after a swap, so a swapped-out version's reference cycles stay until a full
    collection: the generated tree walk (the largest piece of a compiled version) must not be one."""
    import xgboost as xgb

    rng = np.random.default_rng(3)
    rows = rng.normal(size=(200, 4)).astype(np.float32)
    booster = xgb.train({"max_depth": 2}, xgb.DMatrix(rows, label=rows[:, 0] > 0), num_boost_round=5)
    trees = compile_trees(booster, rows[:3])
    assert trees is not None and trees._walk is not None and trees._walk.__name__ == "walk"  # the generated one
    walk = weakref.ref(trees._walk)
    gc.disable()
    try:
        del trees
        assert walk() is None  # freed by reference counting alone
    finally:
        gc.enable()


def test_a_batch_walks_the_compiled_trees_and_gives_the_boosters_outputs(treed_bundle: Any) -> None:
    """Many rows (a batch file) go through the blocked machine-code walk, split over the cores: the bundle's
    outputs (XGBoost with the prior as base margin), and to the bit what a single prediction's kernel gives."""
    from scoreline.core.cores import PARALLEL_ROWS

    assert treed_bundle.booster.num_boosted_rounds() == 60
    _, predictor = service_for(treed_bundle)
    assert predictor._many is None and predictor._many_probes is not None  # checked when the first batch comes
    rng = np.random.default_rng(8)
    teams = sorted(treed_bundle.serving_state["teams"])
    n = PARALLEL_ROWS + 1_000  # enough rows to be split over the usable cores
    home = rng.choice(len(teams), n)
    frame = pd.DataFrame({
        "home_team": np.asarray(teams)[home], "away_team": np.asarray(teams)[(home + rng.integers(1, len(teams), n))
                                                                            % len(teams)],
        "date": "2026-06-15", "neutral": rng.random(n) < 0.3, "competition": rng.choice(COMPETITIONS, n),
    })  # fmt: skip
    served, _ = predictor.predict_frame(frame)
    np.testing.assert_allclose(served, treed_bundle.predict_proba(frame).to_numpy(), rtol=0, atol=1e-6)
    assert predictor._batch_kernel() is not None  # the blocked kernel reproduced the bundle on the probes

    rows = treed_bundle.features(frame).to_numpy(dtype=np.float32).copy()
    rows[rng.random(rows.shape) < 0.2] = np.nan  # missing values take each node's default branch
    many = predictor._batch_kernel()(rows)  # type: ignore[misc]
    np.testing.assert_allclose(many, treed_bundle.predict_rows(rows), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(many[:300], predictor._few(rows[:300]))  # same sums, same order as one by one
