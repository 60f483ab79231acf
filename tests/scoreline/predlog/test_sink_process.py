"""The prediction log through a sink process (scoreline.predlog.sinkd) against osmem behind a stoppable proxy:
an outage under load, a kill -9 of the sink process with a non-empty spool, a kill -9 of the request process,
and a batch file logged as columns.

The guarantee under test: every record the sink process acknowledged (in Elasticsearch or fsynced in its
spool), and every record the request process put in its own spool, reaches the index exactly once (by
``_id`` = request id) whatever process dies; what a killed request process loses is at most what was not
acknowledged yet.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import pytest

from scoreline.predlog.factory import PredictionLogSettings
from scoreline.predlog.jsonl import read_jsonl
from scoreline.predlog.sinkd import SinkProcess, connect_writer, default_address, start_sink_process
from scoreline.predlog.writer import PredictionEntry, encode
from tests.elastic import TcpProxy, install_plain_json_default
from tests.scoreline.predlog.client_child import record_id
from tests.scoreline.predlog.test_columns import batch_entry
from tests.servers import REPO

pytestmark = pytest.mark.slow
ALL = "scoreline-predictions-*"


def log_settings(tmp_path: Path, es_url: str | None) -> PredictionLogSettings:
    return PredictionLogSettings(
        elasticsearch_url=es_url,
        predlog_spool_dir=tmp_path / "spool",
        prediction_log_dir=tmp_path / "predictions",
        prediction_log_flush_interval_s=0.05,
        elasticsearch_flush_interval_s=0.2,
        elasticsearch_replay_interval_s=0.3,
        elasticsearch_retries=1,
        elasticsearch_backoff_s=0.05,
        elasticsearch_timeout_s=2,
    )


def one(index: int) -> PredictionEntry:
    return PredictionEntry(
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


def ids_in_index(es: Any) -> list[str]:
    es.indices.refresh(index=ALL)
    found: list[str] = []
    response = es.search(index=ALL, size=1000, scroll="1m", source=False, query={"match_all": {}})
    while response["hits"]["hits"]:
        found.extend(hit["_id"] for hit in response["hits"]["hits"])
        response = es.scroll(scroll_id=response["_scroll_id"], scroll="1m")
    return found


def count(es: Any) -> int:
    es.indices.refresh(index=ALL)
    return int(es.count(index=ALL, ignore_unavailable=True, allow_no_indices=True)["count"])


def distinct_request_ids(es: Any) -> int:
    result = es.search(index=ALL, size=0, aggs={"ids": {"cardinality": {"field": "request_id"}}})
    return int(result["aggregations"]["ids"]["value"])


# osmem indexes a few hundred documents per second; on a busy machine thousands of them take minutes, and the
# sink halves its bulks after a timeout: the waits are for eventual delivery, not for speed.
def wait_for(condition: Any, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


@pytest.fixture
def proxy(osmem_url: str) -> Iterator[TcpProxy]:
    target = urlparse(osmem_url)
    started = TcpProxy(target.hostname or "127.0.0.1", target.port or 80).start()
    yield started
    started.stop()


@pytest.fixture
def sinks() -> Iterator[list[SinkProcess]]:
    started: list[SinkProcess] = []
    yield started
    for sink in started:
        sink.stop()


def start_sink(settings: PredictionLogSettings, sinks: list[SinkProcess], **kwargs: Any) -> SinkProcess:
    sink = start_sink_process(settings, initializer=install_plain_json_default, wait_s=60, **kwargs)
    sinks.append(sink)
    return sink


def test_outage_under_load_loses_and_duplicates_nothing(
    es: Any, proxy: TcpProxy, tmp_path: Path, sinks: list[SinkProcess]
) -> None:
    settings = log_settings(tmp_path, proxy.url)
    sink = start_sink(settings, sinks)
    writer = connect_writer(settings, sink.address)
    stop = threading.Event()
    submitted: list[int] = []

    def load() -> None:
        index = 0
        while not stop.is_set():
            writer.submit(one(index))
            submitted.append(index)
            index += 1
            time.sleep(0.002)

    loader = threading.Thread(target=load)
    loader.start()
    time.sleep(1.0)
    proxy.stop()  # Elasticsearch unreachable mid-stream
    time.sleep(1.5)
    spooled_during_outage = writer.sink.stats().spool.records
    proxy.start()
    time.sleep(1.0)
    stop.set()
    loader.join()
    assert writer.flush(30)
    writer.close()
    assert writer.records_dropped == 0
    wait_for(lambda: count(es) == len(submitted))
    assert distinct_request_ids(es) == len(submitted)
    assert sorted(ids_in_index(es)) == sorted(record_id(i) for i in submitted)
    assert spooled_during_outage > 0  # the outage went through the spool


def test_an_elasticsearch_that_stops_answering_costs_the_request_process_nothing(
    tmp_path: Path, sinks: list[SinkProcess]
) -> None:
    """Elasticsearch accepts connections and never answers, so every bulk and every replay probe waits out its
    timeout. Once the first bulk has failed, the sink process spools and acknowledges at once: the request
    process's unacknowledged frames stay under its small limit and nothing goes to its own spool. (The replay
    probes used to run in the delivery thread and held the acknowledgements for a timeout each.)"""
    with socket.socket() as black_hole:
        black_hole.bind(("127.0.0.1", 0))
        black_hole.listen(1024)  # the kernel completes the connections; nobody ever reads or answers
        settings = log_settings(tmp_path, f"http://127.0.0.1:{black_hole.getsockname()[1]}").model_copy(
            update={"elasticsearch_timeout_s": 0.5, "prediction_log_max_unacked_records": 100}
        )
        sink = start_sink(settings, sinks)
        writer = connect_writer(settings, sink.address)
        channel = writer.sink
        index = 0
        while channel.stats().spool.records == 0:  # until the first bulk has failed over to the sink's spool
            assert index < 5_000, "the sink process never spooled"
            writer.submit(one(index))
            index += 1
            time.sleep(0.01)
        assert writer.flush(30)
        spooled_by_the_client = channel.records_spooled
        first = index
        for index in range(first, first + 1_500):  # 3 s: several replay probes (every 0.3 s, 0.5 s timeout)
            writer.submit(one(index))
            time.sleep(0.002)
        assert writer.flush(30)
        assert channel.records_spooled == spooled_by_the_client
        assert writer.records_dropped == 0
        assert channel.stats().spool.records >= 1_500
        writer.close()


def test_a_killed_sink_process_with_a_spool_restarts_and_delivers_everything_once(
    es: Any, proxy: TcpProxy, tmp_path: Path, sinks: list[SinkProcess]
) -> None:
    settings = log_settings(tmp_path, proxy.url)
    sink = start_sink(settings, sinks)
    writer = connect_writer(settings, sink.address)
    proxy.stop()
    for index in range(300):
        writer.submit(one(index))
    assert writer.flush(30)  # acknowledged: fsynced in the sink's spool
    assert writer.sink.stats().spool.records == 300
    first_pid = sink.pid
    sink.kill()
    for index in range(300, 600):  # while it is down and restarting: kept unacknowledged, then resent
        writer.submit(one(index))
        time.sleep(0.001)
    wait_for(lambda: sink.restarts == 1 and sink.is_alive() and sink.pid != first_pid)
    assert writer.flush(60)
    proxy.start()
    wait_for(lambda: count(es) == 600)
    assert distinct_request_ids(es) == 600
    writer.close()
    assert writer.records_dropped == 0


def run_client(address: str, spool_dir: Path, status: Path, records: int, max_unacked: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.scoreline.predlog.client_child", address, str(spool_dir), str(status),
         str(records), str(max_unacked)],
        cwd=REPO,
    )  # fmt: skip


def read_status(status: Path) -> list[str]:
    return status.read_text().split() if status.exists() else ["0", "0", "0", "0"]


def test_a_killed_request_process_loses_at_most_what_was_not_acknowledged(
    es: Any, proxy: TcpProxy, tmp_path: Path, sinks: list[SinkProcess]
) -> None:
    settings = log_settings(tmp_path, proxy.url)
    sink = start_sink(settings, sinks)
    status = tmp_path / "status"
    client = run_client(sink.address, tmp_path / "spool", status, 100_000, 20_000)
    try:
        wait_for(lambda: int(read_status(status)[1]) >= 500)
        os.kill(client.pid, signal.SIGKILL)
        client.wait(10)
    finally:
        client.kill()
    submitted, acked = (int(value) for value in read_status(status)[:2])
    assert acked >= 500
    wait_for(lambda: count(es) >= acked)
    time.sleep(1.0)  # what the sink had read but not yet acknowledged lands too
    found = ids_in_index(es)
    assert len(found) == len(set(found))
    assert set(found) >= {record_id(i) for i in range(acked)}  # every acknowledged record
    assert set(found) <= {record_id(i) for i in range(submitted + 1)}  # nothing invented


def test_a_killed_request_process_leaves_its_spool_to_the_sink(
    es: Any, proxy: TcpProxy, tmp_path: Path, sinks: list[SinkProcess]
) -> None:
    settings = log_settings(tmp_path, proxy.url)
    address = default_address()  # no sink there yet: frames past 50 unacknowledged go to the client spool
    status = tmp_path / "status"
    client = run_client(address, tmp_path / "spool", status, 400, 50)
    try:
        wait_for(lambda: read_status(status)[-1] == "done")
        os.kill(client.pid, signal.SIGKILL)
        client.wait(10)
    finally:
        client.kill()
    _, acked, spooled, unacked = (int(value) for value in read_status(status)[:4])
    assert acked == 0 and spooled + unacked == 400 and 0 < unacked <= 50
    start_sink(settings, sinks, address=address)  # adopts the dead client's spool folder
    wait_for(lambda: count(es) >= spooled)
    found = ids_in_index(es)
    assert len(found) == len(set(found)) == spooled  # every spooled record once; the unacknowledged ones are lost
    assert set(found) <= {record_id(i) for i in range(400)}
    assert not any((tmp_path / "spool" / "clients").iterdir())


def test_a_batch_file_logged_as_columns_gives_the_row_documents(tmp_path: Path, sinks: list[SinkProcess]) -> None:
    settings = log_settings(tmp_path, None)  # JSON Lines
    sink = start_sink(settings, sinks)
    writer = connect_writer(settings, sink.address)
    entry = batch_entry(5_000, seed=11)
    assert writer.submit(entry)  # more rows than inline: the writer hands the columns to the channel
    assert writer.flush(60)
    writer.close()
    logged = read_jsonl(tmp_path / "predictions")
    assert len(logged) == 5_000
    entry.request_ids = [document["request_id"] for document in logged]
    assert logged == encode([entry]).decoded()


def test_batch_files_wait_for_a_late_sink_or_go_to_the_client_spool(
    es: Any, proxy: TcpProxy, tmp_path: Path, sinks: list[SinkProcess]
) -> None:
    settings = log_settings(tmp_path, proxy.url).model_copy(update={"prediction_log_max_unacked_records": 4_000})
    address = default_address()  # no sink there yet
    writer = connect_writer(settings, address)
    channel = writer.sink
    assert writer.submit(batch_entry(3_000, seed=21)) and writer.submit(batch_entry(3_000, seed=22))
    # The first batch's pieces wait unacknowledged; the second is past the limit: the client spool, joined.
    wait_for(lambda: channel.unacked_records() == 3_000 and channel.records_spooled == 3_000)
    start_sink(settings, sinks, address=address)  # the first is resent, the spooled one adopted and replayed
    assert writer.flush(60)
    wait_for(lambda: count(es) == 6_000)
    assert distinct_request_ids(es) == 6_000
    writer.close()
    assert writer.records_dropped == 0


def test_waiting_for_a_sink_nobody_started_says_so_and_gives_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    address = str(tmp_path / "nobody.sock")
    sink = SinkProcess(log_settings(tmp_path, None), address)

    with caplog.at_level("WARNING", logger="scoreline.predlog.sinkd"):
        assert sink.wait_ready(0.1) is False

    assert any(address in record.getMessage() and "not accepting" in record.getMessage() for record in caplog.records)


def test_batch_files_back_to_back_wait_for_the_json_lines_sink_and_are_all_written(
    tmp_path: Path, sinks: list[SinkProcess]
) -> None:
    """Each batch fills the unacknowledged buffer and the JSON Lines sink has no client spool: the next batch waits
    for the acknowledgements instead of being dropped (two of five 100k-row batches posted back to back were)."""
    settings = log_settings(tmp_path, None).model_copy(update={"prediction_log_max_unacked_records": 4_000})
    sink = start_sink(settings, sinks)
    writer = connect_writer(settings, sink.address)
    for seed in (31, 32, 33):
        assert writer.submit(batch_entry(3_000, seed=seed))
    assert writer.flush(60)
    writer.close()
    assert writer.records_dropped == 0
    logged = read_jsonl(tmp_path / "predictions")
    assert len(logged) == 9_000 and len({document["request_id"] for document in logged}) == 9_000
