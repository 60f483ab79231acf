from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd

from scoreline.predlog.jsonl import JsonlSink, read_jsonl
from scoreline.predlog.record import EncodedRecords
from scoreline.predlog.writer import PredictionEntry, PredictionLogWriter, documents, memoized_document, model_head


def entry(n: int = 2, version: str = "1") -> PredictionEntry:
    return PredictionEntry(
        task="match-outcome",
        model_name="scoreline-match-outcome",
        model_version=version,
        inputs=[{"home_team": f"A{i}", "away_team": "B"} for i in range(n)],
        feature_names=["elo_diff", "rest"],
        features=np.array([[float(i), np.nan] for i in range(n)]),
        predictions=["home"] * n,
        classes=["home", "draw", "away"],
        probabilities=np.tile([0.5, 0.3, 0.2], (n, 1)),
        latency_ms=1.5,
    )


def test_records_reach_rotated_jsonl_files(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path, max_file_bytes=600)
    writer = PredictionLogWriter(sink, flush_interval_s=0.01, batch_records=2).start()
    for _ in range(5):
        assert writer.submit(entry())
    assert writer.flush(5)
    writer.close()
    documents = read_jsonl(tmp_path)
    assert len(documents) == 10
    assert len(sink.files()) > 1
    assert writer.records_written == 10
    first = documents[0]
    assert first["@timestamp"] and first["probabilities"] == {"home": 0.5, "draw": 0.3, "away": 0.2}
    assert first["features"]["rest"] is None  # NaN features are stored as null


class FailingSink:
    def __init__(self) -> None:
        self.closed = False

    def write(self, records: EncodedRecords) -> None:
        raise ConnectionError("sink down")

    def close(self) -> None:
        self.closed = True


def test_failed_write_goes_to_the_fallback(tmp_path: Path) -> None:
    spilled = EncodedRecords()
    writer = PredictionLogWriter(FailingSink(), flush_interval_s=0.01, fallback=spilled.extend).start()
    writer.submit(entry(3))
    assert writer.flush(5)
    writer.close()
    assert len(spilled) == 3
    assert (writer.failed_writes, writer.records_to_fallback, writer.records_dropped) == (1, 3, 0)


def test_without_fallback_the_loss_is_counted_not_raised() -> None:
    writer = PredictionLogWriter(FailingSink(), flush_interval_s=0.01).start()
    writer.submit(entry(2))
    assert writer.flush(5)
    writer.close()
    assert writer.records_dropped == 2


class BlockedSink:
    def __init__(self) -> None:
        self.release = threading.Event()

    def write(self, records: EncodedRecords) -> None:
        self.release.wait(10)

    def close(self) -> None:
        pass


def test_full_queue_drops_without_blocking() -> None:
    sink = BlockedSink()
    writer = PredictionLogWriter(sink, queue_size=2, flush_interval_s=0.01).start()
    accepted = [writer.submit(entry(1)) for _ in range(10)]
    assert accepted.count(False) >= 7
    assert writer.records_dropped == accepted.count(False)
    sink.release.set()
    writer.close()


def test_documents_follow_the_prediction_record_contract() -> None:
    built = entry(3)
    built.request_ids = ["a", "b", "c"]
    documents = built.to_documents()
    records = built.to_records()  # validated PredictionRecord objects from the same documents
    assert [record.to_document() for record in records] == documents
    assert documents[1]["request_id"] == "b" and documents[1]["inputs"] == {"home_team": "A1", "away_team": "B"}
    assert documents[0]["features"] == {"elo_diff": 0.0, "rest": None}
    assert documents[2]["@timestamp"].endswith("+00:00") and documents[2]["latency_ms"] == 1.5


def test_timestamp_is_formatted_by_the_writer_from_the_creation_time() -> None:
    built = entry(1)
    built.created = 1767225600.25  # 2026-01-01T00:00:00.250 UTC
    assert built.to_documents()[0]["@timestamp"] == "2026-01-01T00:00:00.250+00:00"
    later = entry(1)
    later.created = 1767225601.999
    assert later.to_documents()[0]["@timestamp"] == "2026-01-01T00:00:01.999+00:00"


def test_a_batch_of_entries_gives_the_same_documents_as_each_entry_alone() -> None:
    names, classes = ["elo_diff", "rest"], ("home", "draw", "away")
    entries = []
    for n in (2, 1, 3):
        built = entry(n)
        built.feature_names, built.classes = names, classes  # the same objects, as one served version gives
        built.features = np.arange(n * 2, dtype=float).reshape(n, 2) + 10 * n
        built.request_ids = [f"{n}-{i}" for i in range(n)]
        entries.append(built)
    other = entry(1, version="2")  # another model: its own run
    other.request_ids = ["other"]
    entries.append(other)
    together = documents(entries)
    assert together == [document for built in entries for document in built.to_documents()]
    assert [d["request_id"] for d in together[:6]] == ["2-0", "2-1", "1-0", "3-0", "3-1", "3-2"]
    assert together[3]["features"] == {"elo_diff": 30.0, "rest": 31.0}
    assert together[6]["model_version"] == "2" and together[6]["features"]["rest"] is None


class Slot:
    def __init__(self) -> None:
        self.log_fragment: bytes | None = None


def test_memoized_rows_log_the_same_documents_and_keep_their_fragment() -> None:
    plain = entry(3)
    plain.request_ids = ["a", "b", "c"]
    slots = [Slot(), Slot(), Slot()]
    memoized = entry(3)
    memoized.request_ids, memoized.log_slots, memoized.created = ["a", "b", "c"], slots, plain.created
    assert memoized.to_documents() == plain.to_documents()
    assert all(slot.log_fragment for slot in slots)  # built once, kept for the next repeat of the row
    repeat = entry(3)
    repeat.request_ids, repeat.log_slots = ["d", "e", "f"], slots
    repeat.latency_ms = 2.25
    again = repeat.to_documents()
    assert [d["request_id"] for d in again] == ["d", "e", "f"]
    assert again[1]["inputs"] == {"home_team": "A1", "away_team": "B"} and again[1]["features"]["rest"] is None
    assert again[2]["latency_ms"] == 2.25 and again[0]["probabilities"] == {"home": 0.5, "draw": 0.3, "away": 0.2}


def test_a_memoized_document_equals_the_encoded_one(tmp_path: Path) -> None:
    slots = [Slot()]
    first = entry(1)
    first.request_ids, first.log_slots = ["a"], slots
    first.to_documents()  # builds the row's fragment
    assert slots[0].log_fragment is not None
    timestamp, document = memoized_document(
        model_head(first.task, first.model_name, first.model_version), "b", slots[0].log_fragment, 1.5
    )
    sink = JsonlSink(tmp_path)
    writer = PredictionLogWriter(sink, flush_interval_s=0.01).start()
    assert writer.submit_document("b", timestamp, document)
    assert writer.flush(5)
    writer.close()
    (logged,) = read_jsonl(tmp_path)
    expected = first.to_documents()[0] | {"request_id": "b", "@timestamp": timestamp}
    assert logged == expected


def test_categorical_batch_columns_log_plain_values() -> None:
    teams = pd.Categorical.from_codes([0, 1, -1], categories=["Brazil", "Chile"])
    neutral = pd.Categorical.from_codes([1, 0, 1], categories=[False, True])
    table = entry(3)
    table.inputs = pd.DataFrame({"home_team": teams, "neutral": neutral})
    plain = entry(3)
    plain.inputs = [{"home_team": "Brazil", "neutral": True}, {"home_team": "Chile", "neutral": False},
                    {"home_team": None, "neutral": True}]  # fmt: skip
    table.request_ids = plain.request_ids = ["a", "b", "c"]
    table.created = plain.created
    assert table.to_documents() == plain.to_documents()
