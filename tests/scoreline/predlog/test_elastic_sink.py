"""The Elasticsearch sink against osmem: mapping, idempotent replays, outages and restarts."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import orjson
import pytest

from scoreline.predlog.elastic import (
    MIN_BULK_RECORDS,
    ElasticsearchSink,
    bulk_lines,
    bulk_serializers,
    prediction_index,
)
from scoreline.predlog.spool import DiskSpool
from tests.elastic import TcpProxy, es_client
from tests.scoreline.predlog.records import make_record

pytestmark = pytest.mark.slow

ALL = "scoreline-predictions-*"


def sink_for(url: str, spool_dir: Path, **kwargs: Any) -> ElasticsearchSink:
    options = {"flush_interval_s": 0.2, "replay_interval_s": 0.3, "retries": 1, "backoff_s": 0.05, "timeout_s": 2,
               **kwargs}  # fmt: skip
    client = es_client(url, request_timeout=2, max_retries=0, serializers=bulk_serializers())  # as from_settings
    return ElasticsearchSink(client, DiskSpool(spool_dir), **options)


def count(es: Any) -> int:
    es.indices.refresh(index=ALL)
    return es.count(index=ALL)["count"]


def distinct_request_ids(es: Any) -> int:
    result = es.search(index=ALL, size=0, aggs={"ids": {"cardinality": {"field": "request_id"}}})
    return int(result["aggregations"]["ids"]["value"])


def wait_for(condition: Any, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_records_land_in_the_daily_index_with_the_template_mapping(es: Any, osmem_url: str, tmp_path: Path) -> None:
    records = [make_record(i, timestamp="2026-06-11T18:00:00+00:00") for i in range(12)]
    sink = sink_for(osmem_url, tmp_path / "spool")
    sink.write(records)
    sink.close()
    assert count(es) == 12
    index = prediction_index(records[0].timestamp)
    assert index == "scoreline-predictions-2026.06.11"
    doc = es.get(index=index, id=records[3].request_id)["_source"]
    assert doc["inputs"]["home_team"] == records[3].inputs["home_team"]
    assert doc["@timestamp"] == records[3].timestamp
    mapping = es.indices.get_mapping(index=index)[index]["mappings"]["properties"]
    assert mapping["@timestamp"]["type"] == "date"
    assert mapping["task"]["type"] == "keyword"
    assert mapping["latency_ms"]["type"] == "double"
    assert mapping["inputs"]["properties"]["home_team"]["type"] == "keyword"
    assert mapping["inputs"]["properties"]["neutral"]["type"] == "keyword"
    assert mapping["features"]["properties"]["elo_diff"]["type"] == "double"
    assert mapping["probabilities"]["properties"]["home"]["type"] == "double"


def test_writing_the_same_records_again_does_not_duplicate(es: Any, osmem_url: str, tmp_path: Path) -> None:
    records = [make_record(i) for i in range(30)]
    sink = sink_for(osmem_url, tmp_path / "spool")
    sink.write(records)
    sink.flush()
    sink.write(records[:10])
    sink.spill(records[10:20])  # the spool replays them: same _id, same index
    wait_for(lambda: sink.spool.is_empty())
    sink.close()
    assert count(es) == 30
    assert distinct_request_ids(es) == 30


def test_outage_under_load_loses_and_duplicates_nothing(es: Any, osmem_url: str, tmp_path: Path) -> None:
    target = urlparse(osmem_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 80).start()
    sink = sink_for(proxy.url, tmp_path / "spool", bulk_max_records=50)
    written = 0
    try:
        started = time.monotonic()
        # Bounded load: 3,000 records in batches of 10 over ~3 s; Elasticsearch is cut from ~1 s to ~2 s.
        phase = "before"
        while written < 3000:
            elapsed = time.monotonic() - started
            if phase == "before" and elapsed > 1.0:
                proxy.stop()
                phase = "down"
            elif phase == "down" and elapsed > 2.0:
                assert sink.stats().spool.records > 0, "the outage should have sent records to the spool"
                proxy.start()
                phase = "after"
            sink.write([make_record(written + i) for i in range(10)])
            written += 10
            time.sleep(0.01)
        if phase != "after":
            proxy.start()
        sink.flush()
        wait_for(lambda: sink.spool.is_empty() and sink.stats().buffered == 0)
        stats = sink.stats()
    finally:
        sink.close()
        proxy.stop()
    assert stats.spooled > 0
    assert stats.rejected == 0
    assert count(es) == written
    assert distinct_request_ids(es) == written


def deliver_through_a_slow_proxy(
    es: Any, osmem_url: str, tmp_path: Path, records: list[Any], upload_s_per_mib: float, **sink_options: Any
) -> None:
    """Deliver ``records`` to osmem through a proxy that holds each upload ``upload_s_per_mib`` per MiB: every
    record reaches the index exactly once, none is refused."""
    target = urlparse(osmem_url)
    with TcpProxy(target.hostname or "127.0.0.1", target.port or 80, upload_s_per_mib=upload_s_per_mib) as proxy:
        sink = sink_for(proxy.url, tmp_path / "spool", retries=3, **sink_options)
        try:
            sink.deliver(records)
            wait_for(lambda: sink.spool.is_empty(), timeout_s=90)
            stats = sink.stats()
        finally:
            sink.close()
    assert stats.rejected == 0
    assert count(es) == len(records)
    assert distinct_request_ids(es) == len(records)


def test_an_elasticsearch_slower_than_one_full_bulk_per_timeout_still_gets_everything(
    es: Any, osmem_url: str, tmp_path: Path
) -> None:
    records = [make_record(i) for i in range(1_200)]
    body_mib = sum(len(line) for line in bulk_lines(records)) / (1 << 20)
    # A full bulk of all the records takes ~2.5 s to send through the proxy, past the 2 s timeout; a quarter
    # of it fits. Resending the full bulk would time out forever.
    deliver_through_a_slow_proxy(es, osmem_url, tmp_path, records, 2.5 / body_mib, bulk_max_records=len(records))


def test_an_elasticsearch_slower_than_the_timeout_on_every_bulk_is_waited_for_not_given_up_on(
    es: Any, osmem_url: str, tmp_path: Path
) -> None:
    records = [make_record(i) for i in range(48)]
    smallest_bulk_mib = sum(len(line) for line in bulk_lines(records[:MIN_BULK_RECORDS])) / (1 << 20)
    # Even the smallest bulk takes ~1.2 s to reach Elasticsearch, past the 0.5 s timeout: halving the bulks cannot
    # help, only waiting longer can. With a fixed timeout nothing would ever be delivered.
    deliver_through_a_slow_proxy(
        es, osmem_url, tmp_path, records, 1.2 / smallest_bulk_mib,
        bulk_max_records=MIN_BULK_RECORDS, timeout_s=0.5, max_timeout_s=8,
    )  # fmt: skip


def test_a_shutdown_spools_what_a_slow_elasticsearch_does_not_take_at_once(
    es: Any, osmem_url: str, tmp_path: Path
) -> None:
    target = urlparse(osmem_url)
    records = [make_record(i) for i in range(MIN_BULK_RECORDS * 9)]
    smallest_bulk_mib = sum(len(line) for line in bulk_lines(records[:MIN_BULK_RECORDS])) / (1 << 20)
    options = {"bulk_max_records": MIN_BULK_RECORDS, "timeout_s": 0.5, "max_timeout_s": 8}
    with TcpProxy(target.hostname or "127.0.0.1", target.port or 80, upload_s_per_mib=1.2 / smallest_bulk_mib) as proxy:
        sink = sink_for(proxy.url, tmp_path / "spool", retries=3, start=False, **options)
        sink.deliver(records[:MIN_BULK_RECORDS])  # delivered once the wait has grown past the ~1.2 s a bulk takes
        assert count(es) == MIN_BULK_RECORDS
        sink.write(records[MIN_BULK_RECORDS:])  # 8 bulks waiting
        started = time.monotonic()
        sink.close()
        closing_s = time.monotonic() - started
        # One attempt at the base wait, then the fsynced spool; waiting out each bulk would take ~10 s.
        assert closing_s < 4
        assert DiskSpool(tmp_path / "spool").stats().records == len(records) - MIN_BULK_RECORDS
        restarted = sink_for(proxy.url, tmp_path / "spool", **options)
        try:
            wait_for(lambda: restarted.spool.is_empty(), timeout_s=90)
        finally:
            restarted.close()
    assert count(es) == len(records)
    assert distinct_request_ids(es) == len(records)


def test_spooled_records_are_delivered_after_a_restart(es: Any, osmem_url: str, tmp_path: Path) -> None:
    target = urlparse(osmem_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 80)  # not started: Elasticsearch is unreachable
    records = [make_record(i) for i in range(40)]
    first = sink_for(proxy.url, tmp_path / "spool")
    first.write(records)
    first.close()  # the process stops with the records on disk only
    assert DiskSpool(tmp_path / "spool").stats().records == 40
    assert count(es) == 0
    with proxy:
        second = sink_for(proxy.url, tmp_path / "spool")
        wait_for(lambda: second.spool.is_empty())
        second.close()
    assert count(es) == 40
    assert distinct_request_ids(es) == 40


def test_documents_refused_for_good_go_aside_and_do_not_stall_the_spool(
    es: Any, osmem_url: str, tmp_path: Path
) -> None:
    good = make_record(1)
    bad = make_record(2)
    doc_bad = bad.to_document()
    doc_bad["latency_ms"] = "not a number"  # a mapping conflict: retrying can never fix it
    sink = sink_for(osmem_url, tmp_path / "spool")
    sink.spool.append(bulk_lines([doc_bad]))
    sink.write([good])
    sink.flush()
    wait_for(lambda: sink.spool.is_empty())
    sink.close()
    assert count(es) == 1
    assert sink.stats().rejected == 1
    assert sink.rejected.stats().records == 1


def test_text_with_tabs_and_newlines_survives_the_bulk_lines(es: Any, osmem_url: str, tmp_path: Path) -> None:
    record = make_record(5)
    record.inputs["competition"] = "Cup\tfinal\nreplay"
    sink = sink_for(osmem_url, tmp_path / "spool")
    sink.write([record])
    sink.close()
    stored = es.get(index=prediction_index(record.timestamp), id=record.request_id)["_source"]
    assert stored["inputs"]["competition"] == "Cup\tfinal\nreplay"


def test_a_spool_written_by_the_earlier_format_is_still_delivered(es: Any, osmem_url: str, tmp_path: Path) -> None:
    records = [make_record(i) for i in range(3)]
    old_lines = [
        orjson.dumps({"index": prediction_index(r.timestamp), "id": r.request_id, "doc": r.to_document()})
        for r in records
    ]  # one {"index", "id", "doc"} object per line, as spools held before the bulk-line format
    DiskSpool(tmp_path / "spool").append(old_lines)
    sink = sink_for(osmem_url, tmp_path / "spool")
    wait_for(lambda: sink.spool.is_empty())
    sink.close()
    assert count(es) == 3
    assert es.get(index=prediction_index(records[1].timestamp), id=records[1].request_id)["_source"]["task"] == (
        "match-outcome"
    )
