"""Instances that hold a JSON object or list (esports-win's Riot ``timeline``, event-traffic's ``events``) are
answered through the task's table path: the few-row memo keys instances by their values, which must be hashable."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from scoreline.ml.training import train
from scoreline.serving.holder import ModelHolder
from scoreline.serving.model import Predictor, ServedModel
from scoreline.serving.service import PredictionService
from scoreline.serving.validation import EntityIndex
from scoreline.tasks import get_task
from scoreline.tasks.esports_win.simulator import simulate_riot


def _served(task_id: str, rows: int) -> tuple[PredictionService, Any]:
    task = get_task(task_id)
    content, filename = task.simulated_file(rows, 1)
    bundle = train(task, task.to_canonical(content, filename), params={"max_depth": 3, "learning_rate": 0.3}).bundle
    predictor = Predictor(bundle, task)
    predictor.enable_fast_path(bundle.input_example)
    assert predictor.fast_path  # the memo is in use: the path that failed
    holder = ModelHolder((task_id,))
    holder.swap(ServedModel(task_id, f"scoreline-{task_id}", "1", "champion", "cache", bundle, predictor,
                            entities=EntityIndex(task, bundle.serving_state)))  # fmt: skip
    return PredictionService(holder, None), bundle


@pytest.mark.parametrize("events", [[], [{"date": "", "home_team": "Oslo Wolves", "away_team": "Boston Bears"}]])
def test_event_traffic_requests_with_events_ahead_are_answered(events: list[dict[str, Any]]) -> None:
    service, bundle = _served("event-traffic", 400)
    instance = dict(bundle.input_example[-1])
    plain, _ = service.predict("event-traffic", {"instances": [instance]})
    for event in events:  # two days after the origin: an event ahead
        event["date"] = (dt.date.fromisoformat(instance["date"]) + dt.timedelta(days=2)).isoformat()
    with_events, _ = service.predict("event-traffic", {"instances": [{**instance, "events": events}]})
    assert len(with_events["predictions"][0]["prediction"]) == 10
    if not events:  # no events ahead: the same forecast as without the field
        np.testing.assert_allclose(with_events["predictions"][0]["prediction"], plain["predictions"][0]["prediction"])


def test_esports_win_requests_with_a_riot_timeline_are_answered() -> None:
    service, _ = _served("esports-win", 1500)
    document = simulate_riot(1, seed=3)[0]
    instance = {"timeline": document["timeline"], "match": document["match"]}
    payload, _ = service.predict("esports-win", {"instances": [instance]})
    probabilities = payload["predictions"][0]["probabilities"]
    assert set(probabilities) == {"red", "blue"} and abs(sum(probabilities.values()) - 1) < 1e-9
