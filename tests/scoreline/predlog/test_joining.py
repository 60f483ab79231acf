"""Documents joined from column texts: by Arrow for a few, in one pass of machine code for many, the same bytes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoreline.predlog import joining
from scoreline.predlog.joining import DocumentJoin

_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**53), 2**53), st.booleans(), st.none()
)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(_numbers, st.lists(st.floats(allow_nan=True), min_size=3, max_size=3), st.text()), max_size=40
    ),
    machine_code=st.booleans(),
)
def test_joined_documents_equal_each_document_dumped_alone(
    rows: list[tuple[float | int | bool | None, list[float], str]], machine_code: bool
) -> None:
    """A 1-d stream, a row-major matrix read three times per document, and a table of distinct strings give the
    documents orjson writes one by one, joined either way."""
    threshold = joining.MACHINE_CODE_ROWS
    joining.MACHINE_CODE_ROWS = 0 if machine_code else 10**9
    try:
        _check_joined(rows)
    finally:
        joining.MACHINE_CODE_ROWS = threshold


def _check_joined(rows: list[tuple[float | int | bool | None, list[float], str]]) -> None:
    n = len(rows)
    names = sorted({name for _, _, name in rows})
    join = DocumentJoin(n)
    join.text(b'{"value":')
    join.value(join.stream(orjson.dumps([value for value, _, _ in rows])))
    matrix = join.stream(
        orjson.dumps(np.array([vector for _, vector, _ in rows]).reshape(n, 3), option=orjson.OPT_SERIALIZE_NUMPY)
    )
    for position in range(3):
        join.text(b',"m%d":' % position)
        join.value(matrix)
    join.text(b',"name":')
    join.table([orjson.dumps(name) for name in names], np.array([names.index(name) for _, _, name in rows]))
    join.text(b"}\n")
    data, bounds = join.joined()

    expected = [
        orjson.dumps(
            {"value": value, "m0": vector[0], "m1": vector[1], "m2": vector[2], "name": name},
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
        + b"\n"
        for value, vector, name in ((value, np.array(vector, np.float64), name) for value, vector, name in rows)
    ]
    assert bytes(data) == b"".join(expected)
    assert np.diff(bounds).tolist() == [len(document) for document in expected]


def test_a_code_outside_its_table_is_refused_before_anything_is_copied() -> None:
    join = DocumentJoin(2)
    with pytest.raises(ValueError, match=r"one code per document \(2\), each in \[0, 1\)"):
        join.table([b'"a"'], np.array([0, 1]))
    with pytest.raises(ValueError, match="one code per document"):
        join.table([b'"a"'], np.array([0]))


def test_a_few_documents_are_joined_without_loading_numba_many_with_it() -> None:
    """Single predictions gathered into small frames never cost the sink process numba's memory (~120 MiB)."""
    script = """
import sys
from scoreline.predlog.columns import arrow_to_lines, entry_to_arrow
from tests.scoreline.predlog.test_columns import batch_entry
for rows in (50, 9_999):
    arrow_to_lines(entry_to_arrow(batch_entry(rows)))
print("numba" in sys.modules, end=" ")
arrow_to_lines(entry_to_arrow(batch_entry(10_000)))
print("numba" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    assert result.stdout.split() == ["False", "True"]
