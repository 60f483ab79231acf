"""Every service logs through one setup: each line carries a UTC timestamp; JSON lines on request."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from scoreline.core.logs import LogSettings, configure_logging

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_log_line_starts_with_a_utc_timestamp(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("ingest", stream=out)
    logging.getLogger("uvicorn.error").info("Uvicorn running")
    logging.getLogger("scoreline.http").warning("slow answer")
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert all(TIMESTAMP.match(line) for line in lines), lines
    assert lines[1].endswith("WARNING ingest scoreline.http: slow answer")


def test_json_lines_on_request(restore_logging: None) -> None:
    out = io.StringIO()
    configure_logging("model-api", LogSettings(log_format="json"), stream=out)
    logging.getLogger("scoreline.serving").info("swapped %s", "3", extra={"task": "match-outcome"})
    entry = json.loads(out.getvalue())
    assert TIMESTAMP.match(entry["ts"] + " ")
    assert (entry["level"], entry["service"], entry["message"], entry["task"]) == (
        "INFO", "model-api", "swapped 3", "match-outcome"
    )  # fmt: skip
