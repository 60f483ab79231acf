"""The request process's side of the prediction log channel (scoreline.predlog.channel) against a stand-in sink:
a thread on a Unix socket speaking the channel's frames that keeps every record it receives in its queue without
acknowledging it, and answers each ping with its report, as the sink process does while Elasticsearch is slow."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from scoreline.predlog.channel import ACK, PING, RECORDS, SinkChannel, frame, payload_records, read_frame
from scoreline.predlog.record import EncodedRecords


class HoldingSink:
    """Receives records, never delivers them: its queue is what it received (the sink process's ``buffered``)."""

    def __init__(self, path: Path) -> None:
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.queued = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            connection, _ = self.server.accept()
            while (received := read_frame(connection)) is not None:
                kind, _, payload = received
                if kind == RECORDS:
                    self.queued += len(payload_records(payload).documents)
                elif kind == PING:
                    connection.sendall(frame(ACK, 0, orjson.dumps({"buffered": self.queued})))

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def holding_sink(tmp_path: Path) -> Iterator[tuple[HoldingSink, Path]]:
    path = tmp_path / "sink.sock"
    sink = HoldingSink(path)
    yield sink, path
    sink.close()


def test_records_waiting_in_the_sink_are_counted_once(holding_sink: tuple[HoldingSink, Path]) -> None:
    """The sink's queue is made of this process's unacknowledged records: the gauge counted them twice (2,000 for
    1,000 waiting), which also kept benchmarks' drains waiting on a figure twice the backlog."""
    sink, path = holding_sink
    channel = SinkChannel(path, ping_interval_s=0.05)
    try:
        deadline = time.monotonic() + 10
        while not channel.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        ids = [f"{i:032x}" for i in range(1_000)]
        channel.write(EncodedRecords(ids, ["2026-12-03T00:00:00.000Z"] * len(ids), [b"{}"] * len(ids)))
        while channel.sink_report().get("buffered") != 1_000 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sink.queued == 1_000 and channel.sink_report().get("buffered") == 1_000  # the sink holds them all
        stats = channel.stats()
        assert stats.unacked == 1_000
        assert stats.buffered == 1_000
    finally:
        channel.close(timeout_s=0.1)
