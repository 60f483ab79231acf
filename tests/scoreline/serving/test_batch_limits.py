"""Batch uploads that used to cost a 500 or every row's problem: a Parquet list or struct column is a 422
naming it, and an all-invalid file reports its first 50 problems with the true count."""

from __future__ import annotations

import io
import time
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.serving import files
from scoreline.serving.holder import ModelHolder
from scoreline.serving.service import PredictionService
from scoreline.serving.validation import MAX_PROBLEMS, EntityIndex, validate_frame
from scoreline.tasks import get_task
from scoreline.tasks.tabular import MAX_TABLE_COLUMNS
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


@pytest.mark.parametrize(
    "content",
    [b"," * 1_000_000 + b"\n", b",".join(b"c%d" % i for i in range(5000)) + b"\n" + b"1," * 4999 + b"1\n",
     b"a,b\n" + b"," * 1_000_000 + b"\n"],
    ids=["a line of commas", "5,000 columns", "a first row of commas"],
)  # fmt: skip
def test_a_file_wider_than_the_column_limit_is_a_413_before_it_is_parsed(content: bytes) -> None:
    """A 1 MB header of commas took the CSV reader four minutes in a server thread."""
    started = time.perf_counter()
    with pytest.raises(ScorelineError) as caught:
        files.read_table(content, "wide.csv")
    assert caught.value.code == ErrorCode.TOO_LARGE and caught.value.details["limit"] == MAX_TABLE_COLUMNS
    assert caught.value.message.startswith("wide.csv has ")
    assert time.perf_counter() - started < 2  # the first row of commas took pandas five minutes (an index level each)


def test_a_parquet_file_wider_than_the_column_limit_is_a_413() -> None:
    table = pa.table({f"c{i}": [1] for i in range(MAX_TABLE_COLUMNS + 1)})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    with pytest.raises(ScorelineError) as caught:
        files.read_table(buffer.getvalue(), "wide.parquet")
    assert caught.value.code == ErrorCode.TOO_LARGE and "1,001 columns" in caught.value.message


def test_a_file_at_the_column_limit_is_read() -> None:
    header = b",".join(b"c%d" % i for i in range(MAX_TABLE_COLUMNS))
    _, frame = files.read_table(header + b"\n" + b"1," * (MAX_TABLE_COLUMNS - 1) + b"1\n", "wide.csv")
    assert frame.shape == (1, MAX_TABLE_COLUMNS)


def test_a_first_row_with_values_beyond_the_header_is_a_422_not_shifted_into_an_index() -> None:
    """pandas read the first row's extra field as an index: 'a,b' over '1,2,3' was a=2, b=3."""
    with pytest.raises(ScorelineError) as caught:
        files.read_table(b"a,b\n1,2,3\n4,5\n", "shifted.csv")
    assert caught.value.code == ErrorCode.INVALID_INPUT
    assert caught.value.message.startswith("invalid file: row 0 has 3 fields and values beyond the header's 2")
    _, frame = files.read_table(b"a,b\n1,2,\n4,5\n", "trailing.csv")  # an empty field beyond it is cut
    assert frame.to_dict("records") == [{"a": "1", "b": "2"}, {"a": "4", "b": "5"}]


@pytest.mark.parametrize("where", ["header", "first row"])
def test_a_cell_larger_than_the_csv_modules_field_limit_is_read_by_pandas(where: str) -> None:
    """The width check's csv reader refuses fields over 128 KB (_csv.Error, a 500 in the sweep); pandas reads them."""
    big = "a" * 200_000
    content = f"{big},b\n1,2\n" if where == "header" else f"a,b\n{big},2\n3,4\n"
    _, frame = files.read_table(content.encode(), "big.csv")
    assert frame.shape == ((1, 2) if where == "header" else (2, 2))
    with pytest.raises(ScorelineError) as caught:
        files.read_table(b"a,b\n" + big.encode() + b"," * 2000 + b"\n", "big.csv")
    assert caught.value.code == ErrorCode.TOO_LARGE


def test_a_column_named_twice_is_a_422_naming_it_not_the_first_of_two_values() -> None:
    """pandas kept the first 'home_team' and renamed the second 'home_team.1': which value was predicted on
    depended on the column order."""
    with pytest.raises(ScorelineError) as caught:
        files.read_table(b"home_team,away_team, home_team\nBrazil,Chile,Peru\n", "twice.csv")
    assert caught.value.code == ErrorCode.INVALID_INPUT
    assert "column 'home_team' appears 2 times" in caught.value.message
    assert caught.value.details["problems"][0]["field"] == "home_team"
    table = pa.Table.from_arrays([pa.array(["Brazil"]), pa.array(["Peru"])], names=["home_team", "home_team"])
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    with pytest.raises(ScorelineError) as caught:
        files.read_table(buffer.getvalue(), "twice.parquet")
    assert "column 'home_team' appears 2 times" in caught.value.message
    # Blank header cells (a spreadsheet's trailing commas) are not names: still read.
    _, frame = files.read_table(b"a,b,,\n1,2,,\n", "trailing.csv")
    assert list(frame.columns)[:2] == ["a", "b"]
