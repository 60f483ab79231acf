"""Prediction-log benchmark on this machine, against osmem (the Elasticsearch stand-in):

1. time to drain a 100,000-record disk spool into Elasticsearch (the replay after an outage);
2. the request thread's share of logging: µs per prediction for ``PredictionLogWriter.submit`` of a
   new row (full serialization) and of a repeated fixture (its memoized fragment), against building
   the entry alone. The end-to-end target (server throughput with the Elasticsearch sink vs logging
   off, >= 0.9) is measured by ``benchmarks/serve.py --only es``.

Run: uv run python benchmarks/monitoring.py [--records 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from osmem_server import OsmemServer

from scoreline.monitoring import indices
from scoreline.predlog.elastic import ElasticsearchSink, bulk_lines
from scoreline.predlog.spool import DiskSpool
from scoreline.predlog.writer import PredictionEntry, PredictionLogWriter
from tests.elastic import es_client
from tests.scoreline.predlog.records import make_record


def entry(i: int) -> PredictionEntry:
    return PredictionEntry(
        task="match-outcome", model_name="scoreline-match-outcome", model_version="1",
        inputs=[{"home_team": f"Team {i % 40}", "away_team": f"Team {(i + 7) % 40}", "neutral": False}],
        feature_names=["elo_diff", "elo_home"], features=np.array([[float(i % 50), 1500.0]]),
        predictions=["home"], classes=["home", "draw", "away"], probabilities=np.array([[0.5, 0.3, 0.2]]),
        latency_ms=1.0,
    )  # fmt: skip


class Slot:
    log_fragment: bytes | None = None


def submit_cost_us(writer: PredictionLogWriter | None, n: int, slots: list[Slot] | None = None) -> float:
    """CPU µs of this thread per prediction for building its entry and (with a writer) submitting it
    (thread time: the writer's and the sink's threads do not count)."""
    started = time.thread_time()
    for i in range(n):
        built = entry(i)
        if slots is not None:
            built.log_slots = [slots[i % len(slots)]]
        if writer is not None:
            writer.submit(built)
    return (time.thread_time() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--submits", type=int, default=20_000)
    args = parser.parse_args()
    with OsmemServer.start() as server, tempfile.TemporaryDirectory() as tmp:
        client = es_client(server.url, request_timeout=60)
        indices.install(client)

        spool = DiskSpool(Path(tmp) / "spool")
        for start in range(0, args.records, 1000):
            spool.append(bulk_lines([make_record(i) for i in range(start, min(start + 1000, args.records))]))
        sink = ElasticsearchSink(client, spool, bulk_max_records=2000, start=False)
        started = time.perf_counter()
        delivered = spool.drain(sink._bulk_strict, batch_size=2000)
        drain_s = time.perf_counter() - started
        client.indices.refresh(index=indices.PREDICTIONS_PATTERN)
        stored = client.count(index=indices.PREDICTIONS_PATTERN)["count"]
        print(
            f"drain: {delivered:,} spooled records → Elasticsearch in {drain_s:.1f} s "
            f"({delivered / drain_s:,.0f} records/s); documents in the index: {stored:,}"
        )

        writer = PredictionLogWriter(
            ElasticsearchSink(es_client(server.url, request_timeout=60), DiskSpool(Path(tmp) / "spool2")),
            queue_size=10 * args.submits,
        ).start()
        baseline = submit_cost_us(None, args.submits)
        new_rows = submit_cost_us(writer, args.submits)
        repeated = submit_cost_us(writer, args.submits, slots=[Slot() for _ in range(40)])
        writer.close()
        print(
            f"request thread per prediction: entry alone {baseline:.1f} µs; + submit of a new row "
            f"{new_rows - baseline:.1f} µs; + submit of a repeated fixture {repeated - baseline:.1f} µs"
        )


if __name__ == "__main__":
    main()
