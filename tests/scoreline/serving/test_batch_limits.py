"""Batch uploads that used to cost a 500 or every row's problem: a Parquet list or struct column is a 422
naming it, and an all-invalid file reports its first 50 problems with the true count."""

from __future__ import annotations

import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scoreline.core.errors import ScorelineError
from scoreline.serving.holder import ModelHolder
from scoreline.serving.service import PredictionService
from scoreline.serving.validation import MAX_PROBLEMS, EntityIndex, validate_frame
from scoreline.tasks import get_task
from tests.scoreline.serving.models import TASK


def _parquet(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


@pytest.mark.parametrize(
    ("column", "values", "kind"),
    [
        ("home_team", pa.array([["A", "B"], ["C"]]), "list"),
        ("extra", pa.array([{"x": 1}, {"x": 2}]), "struct"),
    ],
)
def test_a_parquet_list_or_struct_column_is_a_422_naming_it(column: str, values: pa.Array, kind: str) -> None:
    columns = {"home_team": pa.array(["A", "B"]), "away_team": pa.array(["C", "D"]), column: values}
    service = PredictionService(ModelHolder([TASK]), None)
    with pytest.raises(ScorelineError) as caught:
        service.predict_file(TASK, _parquet(pa.table(columns)), "upload.parquet", None)
    error = caught.value
    assert error.http_status == 422
    assert repr(column) in error.message and kind in error.message
    assert "one plain value per cell" in error.message
    assert error.details["problems"][0]["field"] == column


def test_an_all_invalid_batch_reports_the_first_50_problems_and_the_true_count(small_bundle: Any) -> None:
    import pandas as pd

    rows = 200_000
    frame = pd.DataFrame(
        {"home_team": [f"Nowhere {i % 1000}" for i in range(rows)], "away_team": ["Atlantis"] * rows},
        dtype=object,
    )
    with pytest.raises(ScorelineError) as caught:
        validate_frame(get_task(TASK).request_model, frame, EntityIndex(get_task(TASK), small_bundle.serving_state))
    details = caught.value.details
    assert len(details["problems"]) == MAX_PROBLEMS
    assert details["count"] == 2 * rows  # both teams of every row are unknown, all counted
    assert f"and {2 * rows - 1} more problem(s)" in caught.value.message


def test_an_invalid_number_column_counts_every_bad_cell() -> None:
    import pandas as pd
    from pydantic import BaseModel

    class Request(BaseModel):
        rating: float

    frame = pd.DataFrame({"rating": ["not a number"] * 5000 + ["1.5"]}, dtype=object)
    with pytest.raises(ScorelineError) as caught:
        validate_frame(Request, frame, None)
    assert caught.value.details["count"] == 5000
    assert len(caught.value.details["problems"]) == MAX_PROBLEMS
