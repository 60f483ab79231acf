"""The shared text-table reader (esports-win tables, player-investment, event-traffic): bounds on width."""

from __future__ import annotations

import time

import pytest

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks import get_task
from scoreline.tasks.tabular import MAX_TABLE_COLUMNS, read_text_table

WIDE = {
    "a header of commas": b"," * 1_000_000 + b"\n",
    "200,000 named columns": b",".join(b"c%d" % i for i in range(200_000)) + b"\n1\n",
    "a first row of commas": b"Name,GP,PTS\n" + b"," * 1_000_000 + b"\n",
}


@pytest.mark.parametrize("content", WIDE.values(), ids=WIDE.keys())
def test_a_table_wider_than_the_limit_is_a_413_before_it_is_parsed(content: bytes) -> None:
    """Uploads of 1 MB like these held an ingest thread for minutes (pandas on a million fields)."""
    started = time.perf_counter()
    with pytest.raises(ScorelineError) as caught:
        read_text_table(content, "player stats")
    assert caught.value.code == ErrorCode.TOO_LARGE and caught.value.details["limit"] == MAX_TABLE_COLUMNS
    assert caught.value.message.startswith("the player stats file's ")
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize("task_id", ["player-investment", "event-traffic"])
def test_every_task_reading_text_tables_answers_a_wide_upload_at_once(task_id: str) -> None:
    started = time.perf_counter()
    with pytest.raises(ScorelineError) as caught:
        get_task(task_id).to_canonical(WIDE["200,000 named columns"], "wide.csv")
    assert caught.value.code == ErrorCode.TOO_LARGE and time.perf_counter() - started < 2


def test_a_table_at_the_limit_is_read() -> None:
    header = ",".join(f"c{i}" for i in range(MAX_TABLE_COLUMNS))
    frame = read_text_table(f"{header}\n{','.join(['1'] * MAX_TABLE_COLUMNS)}\n".encode(), "wide")
    assert frame.shape == (1, MAX_TABLE_COLUMNS)
