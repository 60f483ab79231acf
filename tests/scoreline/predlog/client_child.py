"""A request process for the kill -9 tests: logs records with known ids through a sink process.

``python -m tests.scoreline.predlog.client_child <address> <spool_dir> <status_file> <records> <max_unacked>``

Record ``i`` has request id ``f"{i:032x}"``. After every record the status file holds
``submitted acked spooled unacked`` (then ``done`` once the writer's queue is empty). Frames are
acknowledged in order, so ``acked`` means records ``0 .. acked-1`` are durable (when nothing went to
the spool).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

from scoreline.predlog.factory import PredictionLogSettings
from scoreline.predlog.sinkd import connect_writer
from scoreline.predlog.writer import PredictionEntry


def record_id(index: int) -> str:
    return f"{index:032x}"


def main() -> None:
    address, spool_dir, status_path, records, max_unacked = sys.argv[1:6]
    settings = PredictionLogSettings(
        elasticsearch_url="http://127.0.0.1:9",  # the sink process talks to Elasticsearch; this only enables the spool
        predlog_spool_dir=Path(spool_dir),
        prediction_log_flush_interval_s=0.02,
        prediction_log_batch_records=20,
        prediction_log_max_unacked_records=int(max_unacked),
    )
    writer = connect_writer(settings, address)
    channel = writer.sink
    status = Path(status_path)
    for index in range(int(records)):
        writer.submit(
            PredictionEntry(
                task="match-outcome",
                model_name="scoreline-match-outcome",
                model_version="1",
                inputs=[{"home_team": "Brazil", "away_team": "Chile", "n": index}],
                feature_names=["elo_diff"],
                features=np.array([[float(index)]]),
                predictions=["home"],
                classes=["home", "draw", "away"],
                probabilities=np.array([[0.5, 0.3, 0.2]]),
                latency_ms=1.0,
                request_ids=[record_id(index)],
            )
        )
        time.sleep(0.002)
        write_status(
            status, f"{index + 1} {channel.records_acked} {channel.records_spooled} {channel.unacked_records()}"
        )
    while writer.depth() or writer._busy:  # every record handed to the channel, acknowledged or not
        time.sleep(0.01)
    write_status(
        status, f"{records} {channel.records_acked} {channel.records_spooled} {channel.unacked_records()} done"
    )
    time.sleep(3600)  # killed by the test


def write_status(status: Path, text: str) -> None:
    temporary = status.with_suffix(".tmp")
    temporary.write_text(text)
    os.replace(temporary, status)


if __name__ == "__main__":
    main()
