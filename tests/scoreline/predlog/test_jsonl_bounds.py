"""The embedded prediction log is bounded: files never pass their rotation size (a big batch continues in the
next file, nothing lost), old files go by size and age, and the monitor reads only the window it monitors."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scoreline.monitoring import logs
from scoreline.monitoring.logs import JsonlLogReader
from scoreline.predlog.columns import arrow_to_records, entry_to_arrow, local_log_records
from scoreline.predlog.jsonl import JsonlSink, read_jsonl
from scoreline.predlog.record import ColumnChunk, PackedLines
from scoreline.predlog.writer import rows_entry
from tests.scoreline.predlog.records import make_record
from tests.scoreline.predlog.test_columns import batch_entry, logged_rows

KB = 1024


def test_a_batch_larger_than_a_file_is_split_and_no_file_passes_the_rotation_size(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path, max_file_bytes=64 * KB)
    records = [make_record(i) for i in range(2_000)]  # ~ 0.7 MB in one write
    sink.write(records)
    sink.write(records[:10])
    sink.close()
    sizes = [path.stat().st_size for path in sink.files()]
    assert len(sizes) > 5
    assert max(sizes) <= 64 * KB
    ids = [doc["request_id"] for doc in read_jsonl(tmp_path)]
    assert len(ids) == 2_010 and ids[:2_000] == [r.request_id for r in records]  # all there, in order


def test_a_full_file_is_synced_to_disk_when_the_next_starts_and_the_last_on_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[tuple[str, int]] = []

    def fdatasync(fd: int) -> None:
        synced.append((os.readlink(f"/proc/self/fd/{fd}"), os.fstat(fd).st_size))

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    sink = JsonlSink(tmp_path, max_file_bytes=64 * KB)
    sink.write([make_record(i) for i in range(400)])
    files = sink.files()
    assert len(files) > 2
    assert synced == [(str(path), path.stat().st_size) for path in files[:-1]]  # whole, in order, not the open one
    sink.close()
    assert synced[-1] == (str(files[-1]), files[-1].stat().st_size)


def test_old_files_are_deleted_past_the_total_size(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path, max_file_bytes=32 * KB, max_total_bytes=128 * KB)
    first_files: list[Path] = []
    for round_ in range(20):
        sink.write([make_record(i) for i in range(200)])
        if round_ == 0:
            first_files = sink.files()
    sink.close()
    total = sum(path.stat().st_size for path in sink.files())
    assert total <= 128 * KB + 32 * KB  # the limit, plus the file being written
    assert not any(path.exists() for path in first_files)  # the oldest went first


def test_files_older_than_the_retention_are_deleted(tmp_path: Path) -> None:
    old = tmp_path / "predictions-20200101T000000Z-000001.jsonl"
    old.write_bytes(json.dumps({"task": "match-outcome"}).encode() + b"\n")
    month_ago = time.time() - 31 * 86_400
    os.utime(old, (month_ago, month_ago))
    sink = JsonlSink(tmp_path, retention_s=30 * 86_400)
    sink.write([make_record(1)])
    sink.close()
    assert not old.exists()
    assert len(sink.files()) == 1


def test_the_monitor_reads_only_the_monitored_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime.now(UTC)
    sink = JsonlSink(tmp_path, max_file_bytes=1024 * KB)
    old_stamp = (now - timedelta(days=3)).isoformat()
    sink.write([make_record(i, timestamp=old_stamp) for i in range(5_000)])  # an old, closed file
    sink.close()
    three_days_ago = time.time() - 3 * 86_400
    for path in sink.files():
        os.utime(path, (three_days_ago, three_days_ago))
    sink = JsonlSink(tmp_path, max_file_bytes=1024 * KB)
    sink.write([make_record(i, timestamp=old_stamp) for i in range(5_000)])  # old lines in the current file
    recent = [make_record(i, timestamp=(now - timedelta(minutes=30)).isoformat()) for i in range(20)]
    sink.write(recent)
    sink.close()

    parsed = [0]
    real_loads = json.loads

    def counting_loads(text: str | bytes) -> object:
        parsed[0] += 1
        return real_loads(text)

    monkeypatch.setattr(logs.json, "loads", counting_loads)
    found = JsonlLogReader(tmp_path).documents("match-outcome", now - timedelta(hours=1), now, limit=1_000)
    assert {doc["request_id"] for doc in found} == {r.request_id for r in recent}
    assert parsed[0] <= len(recent) + 5  # not the 10,000 older lines


def test_a_batch_files_columns_get_a_file_of_their_own_read_back_as_its_documents_in_write_order(
    tmp_path: Path,
) -> None:
    """Lines, then a batch file's columns (one .arrows file), then lines again: the lines after the batch start a
    new file, the reader and the monitor give every document in write order, and retention counts the batch."""
    now = datetime.now(UTC)
    entry = batch_entry(300, seed=2)
    entry.timestamp = (now - timedelta(minutes=5)).isoformat()
    payload = entry_to_arrow(entry)
    chunk = local_log_records(payload)
    assert isinstance(chunk, ColumnChunk) and len(chunk) == 300
    before = [make_record(i, timestamp=(now - timedelta(minutes=10)).isoformat()) for i in range(3)]
    after = [make_record(i) for i in range(2)]

    sink = JsonlSink(tmp_path, max_file_bytes=1024 * KB)
    sink.write(before)
    sink.write(chunk)
    sink.write(after)
    sink.close()
    assert [path.suffix for path in sink.files()] == [".jsonl", ".arrows", ".jsonl"]
    batch_documents = arrow_to_records(payload).decoded()
    expected = [r.to_document() for r in before] + batch_documents + [r.to_document() for r in after]
    assert read_jsonl(tmp_path) == expected

    found = JsonlLogReader(tmp_path).documents(
        "match-outcome", now - timedelta(hours=1), now + timedelta(minutes=1), limit=10_000
    )
    assert [doc["request_id"] for doc in found] == [doc["request_id"] for doc in reversed(expected)]

    chunk_file = sink.files()[1]
    bounded = JsonlSink(tmp_path, max_total_bytes=chunk_file.stat().st_size // 2)
    bounded.write(after)  # a new file: retention deletes the oldest past the total, the batch's file included
    bounded.close()
    assert not chunk_file.exists()


def test_single_predictions_gathered_as_columns_stay_json_lines() -> None:
    assert isinstance(local_log_records(entry_to_arrow(rows_entry(logged_rows(20)))), PackedLines)


def test_a_batch_part_left_by_a_stopped_sink_is_deleted_and_a_recent_one_kept(tmp_path: Path) -> None:
    abandoned = tmp_path / "predictions-20200101T000000Z-sink1-000001.arrows.part"
    recent = tmp_path / "predictions-20200101T000000Z-sink2-000001.arrows.part"
    for part in (abandoned, recent):
        part.write_bytes(b"part of an Arrow stream")
    hour_ago = time.time() - 3_600
    os.utime(abandoned, (hour_ago, hour_ago))
    sink = JsonlSink(tmp_path)
    sink.write([make_record(1)])
    sink.close()
    assert not abandoned.exists()
    assert recent.exists()  # another sink may be writing it now
    assert len(read_jsonl(tmp_path)) == 1  # parts are never read


def test_a_batch_file_that_fails_to_write_leaves_no_part_and_the_next_lines_a_readable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch file's write that fails (the disk full) raises, so its records are not acknowledged and are sent
    again; the single predictions after it still go to a .jsonl file the readers read, not into the part."""
    chunk = local_log_records(entry_to_arrow(batch_entry(50, seed=3)))
    sink = JsonlSink(tmp_path)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patched:
        patched.setattr(os, "fdatasync", disk_full)
        with pytest.raises(OSError):
            sink.write(chunk)
    after = make_record(7)
    sink.write([after])
    sink.close()
    assert not list(tmp_path.glob("*.part"))
    assert [path.suffix for path in sink.files()] == [".jsonl"]
    assert [doc["request_id"] for doc in read_jsonl(tmp_path)] == [after.request_id]
