"""Plainly valid instances skip pydantic (``PlainInstances``): what they give must be exactly pydantic's JSON-mode
dump, and anything pydantic would coerce or refuse must go to pydantic (its 422 names the row and the field)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoreline.core.errors import ScorelineError
from scoreline.serving.validation import PlainInstances, _list_adapter, validate_instances
from scoreline.tasks import get_task

MATCH = get_task("match-outcome").request_model

VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.dates().map(lambda d: d.isoformat()),
    st.sampled_from(
        ["2024-01-05", "2024-02-30", "20240105", "2024-01-05T00:00:00", " Brazil", "Brazil ", "", "a" * 100,
         "a" * 101, "a" * 201, "1", "true", "0001-01-01", "9999-12-31", "Brazil", "Peru"]
    ),
)  # fmt: skip
FIELDS = ["home_team", "away_team", "date", "neutral", "competition"]
INSTANCES = st.one_of(
    st.dictionaries(st.sampled_from([*FIELDS, "other"]), VALUES),
    st.fixed_dictionaries(
        {"home_team": st.sampled_from(["Brazil", "é" * 100, "x"]), "away_team": st.just("Peru")},
        optional={name: VALUES for name in FIELDS[2:]},
    ),
)


def pydantic_dump(instances: list[Any]) -> list[dict[str, Any]] | None:
    adapter = _list_adapter(MATCH)
    try:
        return adapter.dump_python(adapter.validate_python(instances), mode="json")
    except Exception:
        return None


def test_only_plain_request_models_get_the_fast_path() -> None:
    assert PlainInstances.of(MATCH) is not None
    # Aliases (esports-win, player-investment), validators, nested lists (event-traffic): pydantic only.
    for task in ("esports-win", "player-investment", "event-traffic"):
        assert PlainInstances.of(get_task(task).request_model) is None


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(INSTANCES, min_size=1, max_size=3))
def test_the_fast_path_answers_exactly_what_pydantic_answers(instances: list[dict[str, Any]]) -> None:
    plain = PlainInstances.of(MATCH)
    assert plain is not None
    fast = plain.dump(instances)
    expected = pydantic_dump(instances)
    if fast is None:
        return  # pydantic decides
    assert expected is not None, f"the fast path accepted what pydantic refuses: {instances}"
    assert fast == expected
    assert [list(row) for row in fast] == [list(row) for row in expected]  # same key order (the log's inputs)
    assert [[type(v) for v in row.values()] for row in fast] == [[type(v) for v in row.values()] for row in expected]


def test_plain_instances_take_the_fast_path_and_get_the_defaults() -> None:
    plain = PlainInstances.of(MATCH)
    assert plain is not None
    rows = plain.dump([{"home_team": "Brazil", "away_team": "Peru"}])
    assert rows == [{"home_team": "Brazil", "away_team": "Peru", "date": None, "neutral": False,
                     "competition": "Friendly"}]  # fmt: skip


@pytest.mark.parametrize(
    ("instance", "field", "expected"),
    [
        ({"home_team": "Brazil", "away_team": "Peru", "neutral": "maybe"}, "neutral", "true or false"),
        ({"home_team": "Brazil", "away_team": "Peru", "date": "2024-02-30"}, "date", "a date YYYY-MM-DD or null"),
        ({"home_team": "", "away_team": "Peru"}, "home_team", "a string"),
        ({"home_team": "Brazil", "away_team": "Peru", "venue": "x"}, "venue", None),
    ],
)
def test_what_the_fast_path_refuses_is_a_422_from_pydantic(instance: dict[str, Any], field: str, expected: str) -> None:
    with pytest.raises(ScorelineError) as raised:
        validate_instances(MATCH, [{"home_team": "Brazil", "away_team": "Peru"}, instance])
    problem = raised.value.details["problems"][0]
    assert (problem["row"], problem["field"]) == (1, field)
    if expected is not None:
        assert problem["expected"] == expected
