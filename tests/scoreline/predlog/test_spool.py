from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from scoreline.predlog.spool import DiskSpool


def docs(start: int, count: int) -> list[bytes]:
    return [b'{"id":"%d","n":%d}' % (i, i) for i in range(start, start + count)]


def numbers(batch: list[bytes]) -> list[int]:
    return [orjson.loads(line)["n"] for line in batch]


def test_drain_delivers_everything_in_append_order_across_segments(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path, segment_max_bytes=200)
    for start in range(0, 100, 10):
        spool.append(docs(start, 10))
    assert spool.stats().segments > 1
    assert spool.stats().records == 100
    seen: list[int] = []
    delivered = spool.drain(lambda batch: seen.extend(numbers(batch)), batch_size=7)
    assert delivered == 100
    assert seen == list(range(100))
    assert spool.stats().records == 0
    assert spool.stats().bytes == 0


def test_failed_delivery_keeps_the_segment_for_the_next_drain(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    spool.append(docs(0, 5))

    def refuse(_: list[bytes]) -> None:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        spool.drain(refuse)
    assert spool.stats().records == 5
    seen: list[int] = []
    spool.drain(lambda batch: seen.extend(numbers(batch)))
    assert seen == [0, 1, 2, 3, 4]


def test_appends_during_drain_go_to_a_new_segment_and_are_kept(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    spool.append(docs(0, 3))
    spool.drain(lambda _: spool.append(docs(100, 1)))
    assert spool.stats().records == 1
    seen: list[int] = []
    spool.drain(lambda batch: seen.extend(numbers(batch)))
    assert seen == [100]


def test_a_new_spool_on_the_same_folder_sees_what_was_left(tmp_path: Path) -> None:
    first = DiskSpool(tmp_path)
    first.append(docs(0, 4))
    first.close()
    second = DiskSpool(tmp_path)
    assert second.stats().records == 4
    second.append(docs(4, 2))
    seen: list[int] = []
    second.drain(lambda batch: seen.extend(numbers(batch)))
    assert seen == [0, 1, 2, 3, 4, 5]


def test_torn_last_line_is_skipped(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    spool.append(docs(0, 2))
    spool.close()
    segment = next(tmp_path.glob("*.jsonl"))
    with open(segment, "ab") as handle:
        handle.write(b'{"id": "2", "n"')
    seen: list[int] = []
    DiskSpool(tmp_path).drain(lambda batch: seen.extend(numbers(batch)))
    assert seen == [0, 1]


def test_age_of_the_oldest_record(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    assert spool.stats().oldest_age_s == 0
    spool.append(docs(0, 1))
    time.sleep(0.3)
    assert spool.stats().oldest_age_s >= 0.25


def test_emptiness_follows_appends_drains_and_a_restart(tmp_path: Path) -> None:
    spool = DiskSpool(tmp_path)
    assert spool.is_empty()
    spool.append([b'{"n":1}', b'{"n":2}'])
    assert not spool.is_empty()
    spool.close()
    reopened = DiskSpool(tmp_path)  # a restart with records left: counted from the files
    assert not reopened.is_empty()
    assert reopened.drain(lambda lines: None) == 2
    assert reopened.is_empty()
    reopened.append([b'{"n":3}'])
    assert not reopened.is_empty()
