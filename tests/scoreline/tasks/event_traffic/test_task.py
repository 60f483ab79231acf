"""The event-traffic task's answers in words, for requests with and without a forecast origin."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest

from scoreline.tasks import get_task

TASK = get_task("event-traffic")
FORECAST = [100.0, 120.0, 300.0, 110.0, 90.0, 95.0, 100.0, 105.0, 98.0, 97.0]


@pytest.mark.parametrize("origin", [None, float("nan"), pd.NA, ""])
def test_a_missing_origin_is_described_by_the_day_ahead(origin: Any) -> None:
    instance = {"sport": "hockey", "service": "streaming", "region": "EU", "date": origin}
    assert TASK.describe(instance, FORECAST).endswith("(peak on day 3)")


def test_an_origin_is_described_by_the_date_of_the_peak() -> None:
    instance = {"sport": "hockey", "service": "streaming", "region": "EU", "date": "2026-03-01"}
    assert TASK.describe(instance, FORECAST).endswith("(peak on 2026-03-04)")


def test_a_batch_file_with_empty_origin_cells_is_answered() -> None:
    """An empty date cell in a batch file is an omitted origin (the series' last day): it was a 500 (ValueError
    parsing 'nan' while describing the forecast)."""
    from scoreline.ml.training import train
    from scoreline.serving.holder import ModelHolder
    from scoreline.serving.model import Predictor, ServedModel
    from scoreline.serving.service import PredictionService
    from scoreline.serving.validation import EntityIndex

    content, filename = TASK.simulated_file(400, 1)
    bundle = train(TASK, TASK.to_canonical(content, filename), params={"max_depth": 3}).bundle
    holder = ModelHolder((TASK.id,))
    holder.swap(ServedModel(TASK.id, "scoreline-event-traffic", "1", "champion", "cache", bundle,
                            Predictor(bundle, TASK), entities=EntityIndex(TASK, bundle.serving_state)))  # fmt: skip
    example = dict(bundle.input_example[-1])
    table = pd.DataFrame([example, {**example, "date": None}])[["sport", "service", "region", "date"]]
    result = PredictionService(holder, None).predict_file(TASK.id, table.to_csv(index=False).encode(), "a.csv", None)
    answer = pd.read_csv(io.BytesIO(result.content))
    assert len(answer) == 2 and "peak on day" in answer["label"][1] and "peak on 2" in answer["label"][0]
    assert np.isfinite(answer["forecast_d1"]).all()
