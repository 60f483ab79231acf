"""A batch file logged as Arrow columns gives the documents row logging gives, byte for byte."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoreline.predlog.channel import COLUMNS, payload_records, read_frame, records_payload, send_frame
from scoreline.predlog.columns import (
    arrow_rows,
    arrow_to_lines,
    arrow_to_records,
    entry_to_arrow,
    entry_to_arrow_parts,
)
from scoreline.predlog.jsonl import JsonlSink
from scoreline.predlog.record import EncodedRecords, PackedLines
from scoreline.predlog.sinkd import decode_spool_lines
from scoreline.predlog.writer import (
    LoggedRow,
    PredictionEntry,
    PredictionLogWriter,
    encode,
    model_head,
    row_fragment,
    rows_entry,
)


def batch_entry(n: int, *, seed: int = 0, classes: tuple[str, ...] = ("home", "draw", "away")) -> PredictionEntry:
    rng = np.random.default_rng(seed)
    teams = ["Brazil", 'Côte "d\'Ivoire"', "100% Wanderers", "tab\there", "new\nline"]
    inputs = pd.DataFrame(
        {
            "home_team": pd.Categorical.from_codes(rng.integers(-1, len(teams), n), categories=teams),
            "date": [f"2026-06-{1 + i % 28:02d}" for i in range(n)],
            "neutral": pd.Categorical.from_codes(rng.integers(0, 2, n), categories=[False, True]),
            "attendance": rng.integers(0, 90_000, n),
            "temperature": np.where(rng.random(n) < 0.2, np.nan, rng.normal(18, 5, n)),
            "flag": rng.random(n) < 0.5,
        }
    )
    features = rng.normal(size=(n, 4))
    features[rng.random((n, 4)) < 0.1] = np.nan
    features[0, 0] = np.inf
    probabilities = rng.dirichlet(np.ones(len(classes)), n) if classes else None
    predictions: list[str | float] = (
        list(np.asarray(classes, dtype=object)[probabilities.argmax(axis=1)])
        if probabilities is not None
        else rng.normal(size=n).tolist()
    )
    return PredictionEntry(
        task="match-outcome",
        model_name="scoreline-match-outcome",
        model_version="7",
        inputs=inputs,
        feature_names=["elo_diff", "100%_form", 'quoted "name"', "rest_days"],
        features=features,
        predictions=predictions,
        classes=list(classes),
        probabilities=probabilities,
        latency_ms=123.456,
    )


@pytest.mark.parametrize("machine_code", [False, True], ids=["arrow-join", "machine-code-join"])
def test_columns_give_the_row_documents_byte_for_byte(machine_code: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from scoreline.predlog import joining

    monkeypatch.setattr(joining, "MACHINE_CODE_ROWS", 1_000 if machine_code else 10**9)
    entry = batch_entry(2_000)
    payload = entry_to_arrow(entry)
    assert arrow_rows(payload) == 2_000
    columnar = arrow_to_records(payload)
    assert len(set(columnar.request_ids)) == 2_000  # drawn once, in the request process
    entry.request_ids = columnar.request_ids
    rows = encode([entry])
    assert columnar.documents == rows.documents
    assert columnar.timestamps == rows.timestamps
    first = orjson.loads(columnar.documents[0])
    assert first["features"]["elo_diff"] is None  # infinity, as in row logging
    assert set(first["probabilities"]) == {"home", "draw", "away"}


def test_regression_batches_without_probabilities_and_given_ids() -> None:
    entry = batch_entry(300, seed=3, classes=())
    entry.probabilities = None
    entry.request_ids = [f"id-{i}" for i in range(300)]
    columnar = arrow_to_records(entry_to_arrow(entry))
    assert columnar.request_ids == entry.request_ids
    assert columnar.documents == encode([entry]).documents
    assert orjson.loads(columnar.documents[5])["probabilities"] is None


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(min_value=1, max_value=40),
    seed=st.integers(min_value=0, max_value=10_000),
    classes=st.lists(st.text(min_size=1, max_size=6), min_size=1, max_size=4, unique=True),
    column_major=st.booleans(),
    coded=st.booleans(),
)
def test_any_batch_gives_the_row_documents(
    rows: int, seed: int, classes: list[str], column_major: bool, coded: bool
) -> None:
    entry = batch_entry(rows, seed=seed, classes=tuple(classes))
    if column_major:  # sent as one column per feature and per class (the layout of earlier client spools too)
        entry.features = np.asfortranarray(entry.features)
        entry.probabilities = np.asfortranarray(entry.probabilities)
    if coded:  # predictions as codes into the classes (model-api's batch files)
        entry.predictions = pd.Categorical(entry.predictions, categories=list(classes))
    columnar = arrow_to_records(entry_to_arrow(entry))
    entry.request_ids = columnar.request_ids
    assert columnar.documents == encode([entry]).documents


def test_frames_and_client_spool_lines_carry_records_unchanged() -> None:
    entry = batch_entry(50, seed=1)
    encoded = encode([entry])
    assert payload_records(records_payload(encoded)) == encoded
    from scoreline.predlog.channel import RECORDS, spool_lines

    parts = entry_to_arrow_parts(entry)  # as the channel spools an unacknowledged batch
    payload = b"".join(parts)
    lines = spool_lines(RECORDS, records_payload(encoded)) + spool_lines(COLUMNS, parts)
    decoded = decode_spool_lines(lines)
    assert decoded.documents[:50] == encoded.documents
    assert decoded.documents[50:] == arrow_to_records(payload).documents


def test_a_batch_is_sent_from_its_own_arrays_and_arrives_whole() -> None:
    entry = batch_entry(20_000, seed=2)
    parts = entry_to_arrow_parts(entry)
    features = np.asarray(entry.features)
    assert any(isinstance(part, pa.Buffer) and part.address == features.ctypes.data for part in parts)  # not copied
    left, right = socket.socketpair()
    received: list[tuple[bytes, int, bytes] | None] = []
    reader = threading.Thread(target=lambda: received.append(read_frame(right)))
    reader.start()
    with left, right:
        send_frame(left, COLUMNS, 7, parts, timeout_s=10.0)  # ~1 MB through a smaller socket buffer: partial sends
        reader.join(10)
    assert received == [(COLUMNS, 7, b"".join(parts))]
    columnar = arrow_to_records(received[0][2])
    entry.request_ids = columnar.request_ids
    assert columnar.documents == encode([entry]).documents


def logged_rows(n: int, *, seed: int = 0, version: str = "7") -> list[LoggedRow]:
    rng = np.random.default_rng(seed)
    names, classes = ["elo_diff", "form", "rest_days"], ("home", "draw", "away")
    rows = []
    for i in range(n):
        features = rng.normal(size=3)
        if i % 4 == 0:
            features[1] = np.nan
        inputs = {"home_team": f'Team "{i % 5}"', "away_team": "Peru", "date": None if i % 3 else "2026-06-15",
                  "neutral": bool(i % 2), "attendance": float(i * 1000)}  # fmt: skip
        probabilities = rng.dirichlet(np.ones(3))
        rows.append(LoggedRow(f"{i:032x}", float(rng.random() * 5), "match-outcome", "scoreline-match-outcome",
                              version, names, classes, inputs, features, classes[int(probabilities.argmax())],
                              probabilities))  # fmt: skip
    return rows


def test_single_predictions_gathered_as_columns_give_each_its_own_document() -> None:
    rows = logged_rows(30, seed=4)
    entry = rows_entry(rows)
    columnar = arrow_to_records(entry_to_arrow(entry))
    assert columnar.request_ids == [row.request_id for row in rows]
    assert columnar.documents == encode([entry]).documents
    # the very bytes the request thread built for each of them before (its fragment, its time and latency)
    head = model_head("match-outcome", "scoreline-match-outcome", "7")
    for row, document, timestamp in zip(rows, columnar.documents, columnar.timestamps, strict=True):
        fragment = row_fragment(row.inputs, row.feature_names, row.features.tolist(), row.prediction, row.classes,
                                row.probabilities.tolist())  # fmt: skip
        assert document == b"".join((b'{"@timestamp":"', timestamp.encode(), b'","request_id":',
                                     orjson.dumps(row.request_id), b",", head, b",", fragment, b',"latency_ms":',
                                     orjson.dumps(row.latency_ms), b"}"))  # fmt: skip
    assert orjson.loads(columnar.documents[0])["features"]["form"] is None  # NaN, as in row logging


class ColumnsSink:
    """A sink that takes columns (as a sink process does) and keeps every entry it is handed."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.entries: list[PredictionEntry] = []
        self.handed = threading.Event()
        self.delay_s = delay_s  # each hand-off takes this long (a frame built and sent)

    def write(self, records: EncodedRecords) -> None:
        raise AssertionError("a sink that takes columns gets single predictions and batch files as columns")

    def write_columns(self, entry: PredictionEntry) -> None:
        self.entries.append(entry)
        self.handed.set()
        time.sleep(self.delay_s)

    def close(self) -> None:
        pass


def test_under_steady_load_the_writer_sends_only_full_batches_until_a_flush() -> None:
    """Rows keep arriving while a frame is built and sent: they wait for the next full batch, not go out as
    a frame of a handful of rows (which costs both processes as much as a full one)."""

    sink = ColumnsSink(delay_s=0.005)  # building and sending the frame
    writer = PredictionLogWriter(sink, batch_records=200, flush_interval_s=60).start()  # type: ignore[arg-type]
    rows = logged_rows(3_000)
    for start in range(0, len(rows), 20):  # a steady stream: 20 rows per millisecond
        for row in rows[start : start + 20]:
            assert writer.submit_row(row)
        time.sleep(0.001)
    assert writer.flush(10)
    writer.close()
    sizes = [len(entry) for entry in sink.entries]
    assert sum(sizes) == 3_000 and writer.records_dropped == 0
    assert len(sizes) >= 10
    assert set(sizes[:-1]) == {200}, sizes  # the flush sends the rest


def test_a_batch_file_is_handed_to_the_sink_at_once_not_at_the_next_timer_tick() -> None:
    sink = ColumnsSink()
    writer = PredictionLogWriter(sink, batch_records=1_000, flush_interval_s=60).start()  # type: ignore[arg-type]
    assert writer.submit(batch_entry(1_000))
    assert sink.handed.wait(5)  # the timer would have taken 60 s
    writer.close()


def test_the_writer_sends_single_predictions_as_columns_per_model_version_in_order() -> None:
    sink = ColumnsSink()
    writer = PredictionLogWriter(sink, flush_interval_s=60)  # type: ignore[arg-type]
    assert writer.takes_rows
    first, second, third = logged_rows(3, version="1"), logged_rows(2, seed=1, version="2"), logged_rows(4, version="1")
    for row in [*first, *second, *third]:
        assert writer.submit_row(row)
    writer.start()
    assert writer.flush(10)
    writer.close()
    assert [(e.model_version, list(e.request_ids or ())) for e in sink.entries] == [
        (rows[0].model_version, [row.request_id for row in rows]) for rows in (first, second, third)
    ]
    assert writer.records_written == 9 and writer.records_dropped == 0


def test_packed_lines_are_the_documents_as_json_lines() -> None:
    """A sink process with the JSON Lines file gets a batch's text in one buffer: the same documents, each with
    its newline, whether the payload holds one record batch or several."""
    for payload in (
        entry_to_arrow(batch_entry(50, seed=3)),
        entry_to_arrow(rows_entry(logged_rows(30))),
        _in_record_batches(entry_to_arrow(batch_entry(50, seed=4)), 7),
    ):
        records = arrow_to_records(payload)
        lines = arrow_to_lines(payload)
        assert len(lines) == len(records) == arrow_rows(payload)
        assert bytes(lines.data) == b"".join(document + b"\n" for document in records.documents)
        assert lines.bounds.tolist()[-1] == len(lines.data)
        assert lines.to_records() == records


def _in_record_batches(payload: bytes, rows: int) -> bytes:
    """The same stream cut into record batches of ``rows`` rows."""
    table = pa.ipc.open_stream(payload).read_all()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as stream:
        for batch in table.to_batches(max_chunksize=rows):
            stream.write_batch(batch)
    return sink.getvalue().to_pybytes()


def test_the_json_lines_file_takes_packed_lines_as_it_takes_documents(tmp_path: Path) -> None:
    payload = entry_to_arrow(batch_entry(40, seed=5))
    records = arrow_to_records(payload)
    limit = 3 * max(len(document) for document in records.documents)  # several files, cut between documents
    by_documents = JsonlSink(tmp_path / "documents", max_file_bytes=limit)
    by_lines = JsonlSink(tmp_path / "lines", max_file_bytes=limit)
    for half in (slice(0, 17), slice(17, 40)):  # two writes: the second starts in the first's last file
        part = EncodedRecords(records.request_ids[half], records.timestamps[half], records.documents[half])
        by_documents.write(part)
    lines = arrow_to_lines(payload)
    by_lines.write(_lines_slice(lines, 0, 17))
    by_lines.write(_lines_slice(lines, 17, 40))
    by_documents.close()
    by_lines.close()
    files = [path.read_bytes() for path in by_documents.files()]
    assert len(files) > 3
    assert [path.read_bytes() for path in by_lines.files()] == files
    assert all(len(content) <= limit for content in files)


def _lines_slice(lines: PackedLines, start: int, end: int) -> PackedLines:
    bounds = lines.bounds[start : end + 1]
    return PackedLines(
        lines.request_ids[start:end], lines.timestamps[start:end], lines.data[bounds[0] : bounds[-1]],
        bounds - bounds[0],
    )  # fmt: skip
