"""Batch files: validated columns are categoricals that predict and log like the JSON path's rows."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet
import pytest

from scoreline.core.errors import ScorelineError
from scoreline.serving import files
from scoreline.serving.validation import EntityIndex, text_columns, validate_frame, validate_instances
from scoreline.tasks import get_task
from tests.scoreline.serving.models import TASK

REQUEST = get_task(TASK).request_model


def plain_values(column: pd.Series) -> list[Any]:
    """A column as plain Python values, missing cells as None (what the prediction log stores)."""
    values = column.tolist()
    for row in np.flatnonzero(column.isna().to_numpy()).tolist():
        values[row] = None
    return values


def messy_file(teams: list[str]) -> pd.DataFrame:
    """Padded names that strip to the same team, text booleans, missing optional cells, repeated rows."""
    a, b, c = teams[:3]
    rows = [
        (a, b, "2026-06-15", True, "FIFA World Cup"),
        (f" {a} ", c, "2026-06-15", "yes", " Friendly "),
        (b, f"{a}  ", None, None, None),
        (c, a, "2026-06-16", "0", "UEFA Euro qualification"),
        (a, b, None, False, "Friendly"),
    ] * 3
    return pd.DataFrame(rows, columns=["home_team", "away_team", "date", "neutral", "competition"], dtype=object)


def json_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The same rows through the JSON path's validation (missing cells left out, as a client would)."""
    instances = [{k: v for k, v in row.items() if v is not None} for row in frame.to_dict("records")]
    return validate_instances(REQUEST, instances)


def test_validated_columns_are_categoricals_of_the_json_values(small_bundle: Any) -> None:
    teams = sorted(small_bundle.serving_state["teams"])
    frame = messy_file(teams)
    validated = validate_frame(REQUEST, frame, EntityIndex(get_task(TASK), small_bundle.serving_state))
    rows = json_rows(frame)
    assert all(isinstance(validated[name].dtype, pd.CategoricalDtype) for name in validated.columns)
    # Padded names stripped to the same category, not two.
    assert len(validated["home_team"].cat.categories) == 3
    for name in validated.columns:
        logged = plain_values(validated[name])
        assert logged == [row[name] for row in rows], name
        assert {type(value) for value in logged} <= {str, bool, type(None)}, name
    assert plain_values(validated["date"])[:3] == ["2026-06-15", "2026-06-15", None]


def test_features_of_a_validated_file_equal_the_json_paths(small_bundle: Any) -> None:
    teams = sorted(small_bundle.serving_state["teams"])
    frame = messy_file(teams)
    validated = validate_frame(REQUEST, frame, EntityIndex(get_task(TASK), small_bundle.serving_state))
    plain = pd.DataFrame(json_rows(frame))
    pd.testing.assert_frame_equal(small_bundle.features(validated), small_bundle.features(plain))
    pd.testing.assert_frame_equal(small_bundle.predict_proba(validated), small_bundle.predict_proba(plain))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"away_team": "{home} "}, "away_team", "is both the home_team and the away_team"),
        ({"home_team": "Atlantis"}, "home_team", "unknown team 'Atlantis'"),
        ({"neutral": "perhaps"}, "neutral", "is not true or false"),
        ({"date": "2026-02-30"}, "date", "is not a date YYYY-MM-DD"),
        ({"home_team": "  "}, "home_team", "empty cell"),
    ],
)
def test_problems_of_a_file_name_the_row_and_field(
    small_bundle: Any, change: dict[str, str], field: str, message: str
) -> None:
    teams = sorted(small_bundle.serving_state["teams"])
    frame = messy_file(teams)
    for name, value in change.items():
        frame.loc[7, name] = value.format(home=frame.loc[7, "home_team"])
    with pytest.raises(ScorelineError) as caught:
        validate_frame(REQUEST, frame, EntityIndex(get_task(TASK), small_bundle.serving_state))
    problems = caught.value.details["problems"]
    assert [(p["row"], p["field"]) for p in problems] == [(7, field)]
    assert message in problems[0]["message"]


@pytest.mark.parametrize("classes", [["home", "draw", "away"], ["away", "home", "draw"], ["draw", "other"]])
def test_labels_from_class_codes_equal_the_labels_from_names(classes: list[str]) -> None:
    task = get_task(TASK)
    requests = validate_frame(REQUEST, messy_file(["Brazil", "Argentina", "France"]), None)
    codes = np.arange(len(requests)) % len(classes)
    names = list(np.asarray(classes, dtype=object)[codes])
    coded = pd.Categorical.from_codes(codes, categories=classes)  # what predict_file passes
    assert task.describe_batch(requests, coded).to_pylist() == task.describe_batch(requests, names).to_pylist()


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"away_team": "{home} "},
        {"home_team": "Atlantis"},
        {"neutral": "perhaps"},
        {"date": "2026-02-30"},
        {"home_team": "  "},
        {"home_team": None},
    ],
)
def test_a_parquet_files_text_columns_read_as_dictionaries_validate_alike(
    small_bundle: Any, change: dict[str, str | None]
) -> None:
    teams = sorted(small_bundle.serving_state["teams"])
    frame = messy_file(teams)
    frame["neutral"] = frame["neutral"].map(lambda value: None if value is None else str(value))  # a text column
    for name, value in change.items():
        frame.loc[7, name] = None if value is None else value.format(home=frame.loc[7, "home_team"])
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    entities = EntityIndex(get_task(TASK), small_bundle.serving_state)
    results = []
    for text in ((), text_columns(REQUEST)):
        _, table, raw = files._read_upload(buffer.getvalue(), "rows.parquet", text)
        assert table.equals(pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None))
        assert isinstance(raw["home_team"].dtype, pd.CategoricalDtype) == bool(text)
        try:
            results.append(validate_frame(REQUEST, raw, entities))
        except ScorelineError as error:
            results.append(error.details)
    if isinstance(results[0], pd.DataFrame):
        pd.testing.assert_frame_equal(results[0], results[1])
    else:
        assert results[0] == results[1]
    assert isinstance(results[0], pd.DataFrame) == (not change)


ROOKIE = {"gp": "79", "min": "28.8", "pts": "9.4", "fgm": "3.5", "fga": "8.7", "fg3m": "0.7", "fg3a": "2.4",
          "ftm": "1.7", "fta": "2.7", "reb": "4.0", "ast": "1.0"}  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [("pts", "-5", "a finite number >= 0 and <= 200"), ("pts", "500", "a finite number >= 0 and <= 200"),
     ("min", "49", "a finite number >= 0 and <= 48"), ("gp", "0", "an integer >= 1 and <= 200"),
     ("age", "13", "a finite number >= 14 and <= 50 or null")],
)  # fmt: skip
def test_a_files_numbers_are_held_to_the_bounds_of_a_json_instance(field: str, value: str, expected: str) -> None:
    model = get_task("player-investment").request_model
    rows = [dict(ROOKIE) for _ in range(4)]
    rows[2][field] = value
    with pytest.raises(ScorelineError) as json_error:  # the same row as a JSON instance
        validate_instances(model, [{k: float(v) for k, v in row.items()} for row in rows])
    assert json_error.value.details["problems"][0]["row"] == 2
    with pytest.raises(ScorelineError) as caught:
        validate_frame(model, pd.DataFrame(rows), None)
    problems = caught.value.details["problems"]
    assert [(p["row"], p["field"]) for p in problems] == [(2, field)]
    assert problems[0]["expected"].startswith(expected.removesuffix(" or null"))
    assert caught.value.message.startswith(f"invalid file: row 2, {field}: '{value}' is not a")
    assert validate_frame(model, pd.DataFrame([ROOKIE]), None)["pts"].tolist() == [9.4]  # within: as before


def test_a_parquet_binary_column_is_read_as_text_and_bytes_that_are_not_utf8_are_named() -> None:
    """A Parquet column of bytes (binary, no UTF-8 annotation) where the request model wants text or booleans:
    UTF-8 bytes read as their text; others were a 500 (UnicodeDecodeError) and are a 422 naming the row."""
    table = pa.table({
        "home_team": pa.array([b"Brazil", b"Chile", b"Peru"], pa.binary()),
        "away_team": pa.array(["Chile", "Peru", "Brazil"]),
        "neutral": pa.array([b"true", b"\xff\xfe", b"false"], pa.binary()),
    })  # fmt: skip
    buffer = io.BytesIO()
    pa.parquet.write_table(table, buffer)
    _, frame = files.read_table(buffer.getvalue(), "requests.parquet")
    with pytest.raises(ScorelineError) as caught:
        validate_frame(REQUEST, frame, None)
    problems = caught.value.details["problems"]
    assert [(p["row"], p["field"], p["expected"]) for p in problems] == [(1, "neutral", "true or false")]
    fine = frame.assign(neutral=[b"true", b"no", b"false"])
    validated = validate_frame(REQUEST, fine, None)
    assert validated["neutral"].tolist() == [True, False, False]
    assert validated["home_team"].tolist() == ["Brazil", "Chile", "Peru"]
