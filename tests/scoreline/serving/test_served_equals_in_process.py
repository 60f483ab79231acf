"""What model-api answers equals what the model says in process, for any request: on a memo miss (the few-row
array path and the compiled trees) and on the hit that follows (the memo), through model-api's own handler."""

from __future__ import annotations

import datetime as dt
import io
import math
import typing
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from scoreline_model_api.metrics import ModelApiMetrics, RequestObserver
from scoreline_model_api.routes.predict import PredictHandler

from scoreline.ml.training import train
from scoreline.serving.holder import ModelHolder
from scoreline.serving.model import Predictor, ServedModel, smoke_test
from scoreline.serving.service import PredictionService
from scoreline.serving.validation import EntityIndex
from scoreline.tasks import get_task

COMPETITIONS = ["Friendly", "FIFA World Cup", "UEFA Euro qualification", "Copa América", "Baltic Cup", "unknown cup"]
ESPORTS = "esports-win"


def served(bundle: Any) -> tuple[PredictHandler, Predictor]:
    """model-api's predict handler on a freshly loaded version of ``bundle`` (its memo empty), as the reloader
    builds one: smoke test, fast path, entity index."""
    task = get_task(bundle.task_id)
    predictor = Predictor(bundle, task)
    smoke_test(predictor, bundle.input_example, "1")
    predictor.enable_fast_path(bundle.input_example)
    holder = ModelHolder((task.id,))
    holder.swap(ServedModel(task.id, f"scoreline-{task.id}", "1", "champion", "cache", bundle, predictor,
                            entities=EntityIndex(task, bundle.serving_state)))  # fmt: skip
    state = SimpleNamespace(serving=SimpleNamespace(service=PredictionService(holder, None)))
    observer = RequestObserver(ModelApiMetrics(CollectorRegistry()), (task.id,))
    return PredictHandler(state, observer), predictor


def answer(handler: PredictHandler, task_id: str, batch: list[dict[str, Any]]) -> tuple[np.ndarray, list[str]]:
    status, content, _ = handler(task_id, orjson.dumps({"instances": batch}))
    assert status == 200, content
    predictions = orjson.loads(content)["predictions"]
    classes = get_task(task_id).classes
    return np.array([[p["probabilities"][c] for c in classes] for p in predictions]), [
        p["prediction"] for p in predictions
    ]


def check_miss_then_hit(handler: PredictHandler, predictor: Predictor, batch: list[dict[str, Any]]) -> None:
    bundle = predictor.bundle
    task_id = bundle.task_id
    expected = bundle.predict_proba(pd.DataFrame(batch)).to_numpy()  # in process: pandas features + booster
    with predictor._memo_lock:
        predictor._memo.clear()  # as a newly loaded version: nothing memoized
    miss, miss_labels = answer(handler, task_id, batch)
    filled = len(predictor._memo)
    assert filled > 0  # it was a miss: the rows were computed and memoized
    hit, hit_labels = answer(handler, task_id, batch)
    assert len(predictor._memo) == filled  # and now a hit
    np.testing.assert_allclose(miss, expected, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(hit, miss)
    classes = get_task(task_id).classes
    assert miss_labels == hit_labels == [classes[i] for i in expected.argmax(axis=1)]


@st.composite
def matches(draw: st.DrawFn, teams: list[str]) -> dict[str, Any]:
    home, away = draw(st.lists(st.sampled_from(teams), min_size=2, max_size=2, unique=True))
    instance: dict[str, Any] = {"home_team": home, "away_team": away}
    if draw(st.booleans()):
        instance["date"] = draw(st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))).isoformat()
    if draw(st.booleans()):
        instance["neutral"] = draw(st.booleans())
    if draw(st.booleans()):
        instance["competition"] = draw(st.sampled_from(COMPETITIONS))
    return instance


def test_match_outcome_served_equals_in_process_on_a_miss_and_the_next_hit(small_bundle: Any) -> None:
    teams = sorted(small_bundle.serving_state["teams"])
    handler, predictor = served(small_bundle)
    assert predictor.fast_path and predictor._few is not None  # misses take the compiled trees

    @settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(matches(teams), min_size=1, max_size=4))
    def check(batch: list[dict[str, Any]]) -> None:
        check_miss_then_hit(handler, predictor, batch)

    check()


@pytest.fixture(scope="module")
def esports() -> tuple[Any, pd.DataFrame]:
    """A real esports-win model (400 simulated games through the training pipeline) and its games."""
    task = get_task(ESPORTS)
    raw, _ = task.simulate(400, seed=5)
    buffer = io.BytesIO()
    raw.to_csv(buffer, index=False)
    canonical = task.to_canonical(buffer.getvalue(), "games.csv")
    return train(task, canonical, params={"max_depth": 3, "learning_rate": 0.2}, seed=5).bundle, canonical


def test_esports_win_served_equals_in_process_on_a_miss_and_the_next_hit(esports: tuple[Any, pd.DataFrame]) -> None:
    bundle, canonical = esports
    fields = [name for name in get_task(ESPORTS).request_model.model_fields if name in canonical.columns]
    numeric = [name for name in fields if pd.api.types.is_numeric_dtype(canonical[name])]
    assert numeric
    handler, predictor = served(bundle)
    assert predictor.fast_path and predictor._few is not None
    model_fields = get_task(ESPORTS).request_model.model_fields
    bounds = {
        name: (
            max([getattr(m, "ge", -math.inf) for m in model_fields[name].metadata], default=-math.inf),
            min([getattr(m, "le", math.inf) for m in model_fields[name].metadata], default=math.inf),
        )
        for name in numeric
    }
    flags = {name for name in numeric if bool in typing.get_args(model_fields[name].annotation)}

    @st.composite
    def games(draw: st.DrawFn) -> dict[str, Any]:
        row = canonical.iloc[draw(st.integers(0, len(canonical) - 1))]
        instance = {name: row[name].item() for name in numeric if pd.notna(row[name])}
        for name in draw(st.lists(st.sampled_from(numeric), max_size=4, unique=True)):
            value = instance.get(name)
            if name in flags:
                instance[name] = draw(st.booleans())
            elif isinstance(value, int | float):
                factor = draw(st.floats(0.5, 1.5))
                scaled = round(value * factor) if isinstance(value, int) else value * factor
                low, high = bounds[name]
                instance[name] = min(max(scaled, low), high)  # within the request model's bounds
        return instance

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(games(), min_size=1, max_size=3))
    def check(batch: list[dict[str, Any]]) -> None:
        check_miss_then_hit(handler, predictor, batch)

    check()
