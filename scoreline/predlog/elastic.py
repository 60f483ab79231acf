"""Elasticsearch prediction sink: bulk writes batched by size and time, retries with backoff,
a disk spool when Elasticsearch is unreachable, and a replayer that drains the spool once it answers.

Every document's ``_id`` is its ``request_id`` and its index comes from its own timestamp
(``scoreline-predictions-YYYY.MM.DD``), so delivering a record twice (a replay after a partial
failure, a restart) overwrites the same document instead of duplicating it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from pydantic import SecretStr

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.core.settings import DEFAULT_HOME, ElasticSettings
from scoreline.predlog.record import Records, encode_records
from scoreline.predlog.spool import DiskSpool, SpoolStats

log = logging.getLogger(__name__)

PREDICTIONS_PREFIX = "scoreline-predictions-"
RETRYABLE_ITEM_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
BULK_RESPONSE_FIELDS = "errors,items.*.status,items.*.error"  # all a bulk answer is read for


class ElasticSinkSettings(ElasticSettings):
    """Settings of the Elasticsearch sink; services compose this into their own settings class."""

    predlog_spool_dir: Path = (DEFAULT_HOME / "spool").resolve()
    elasticsearch_bulk_max_records: int = 2000
    elasticsearch_bulk_max_bytes: int = 5 * 1024 * 1024
    elasticsearch_flush_interval_s: float = 1.0
    elasticsearch_retries: int = 3
    elasticsearch_backoff_s: float = 0.2
    elasticsearch_replay_interval_s: float = 2.0
    elasticsearch_timeout_s: float = 5.0
    # A bulk that times out is waited for longer next time, up to this (see ElasticsearchSink).
    elasticsearch_max_timeout_s: float = 30.0
    elasticsearch_max_pending_batches: int = 8  # full batches waiting for Elasticsearch; more go to the spool


def prediction_index(timestamp: str) -> str:
    """``scoreline-predictions-YYYY.MM.DD`` from an ISO 8601 timestamp (UTC date of the prediction)."""
    day = timestamp[:10]
    if len(day) != 10 or day[4] != "-" or day[7] != "-":
        raise ScorelineError(
            ErrorCode.INVALID_INPUT, f"prediction timestamp {timestamp!r} is not ISO 8601 (expected YYYY-MM-DD...)"
        )
    return PREDICTIONS_PREFIX + day.replace("-", ".")


def bulk_line(index: str, request_id: str, document: bytes) -> bytes:
    """One record as the sink buffers and spools it: its ``_bulk`` action and its document, separated
    by a tab. orjson never writes a raw tab (JSON escapes it inside strings), so turning every tab of
    a batch into a newline gives the NDJSON bulk body without parsing anything again."""
    return _line(_action_opening(index), request_id, document)


def bulk_lines(records: Records) -> list[bytes]:
    """:func:`bulk_line` of every record (the daily index from each record's own timestamp)."""
    encoded = encode_records(records)
    openings: dict[str, bytes] = {}  # per day: the action up to the id
    lines = []
    for request_id, timestamp, document in zip(encoded.request_ids, encoded.timestamps, encoded.documents, strict=True):
        day = timestamp[:10]
        opening = openings.get(day)
        if opening is None:
            opening = openings[day] = _action_opening(prediction_index(timestamp))
        lines.append(_line(opening, request_id, document))
    return lines


def _action_opening(index: str) -> bytes:
    return b'{"index":{"_index":"%b","_id":' % index.encode()


def _line(opening: bytes, request_id: str, document: bytes) -> bytes:
    return b"".join((opening, orjson.dumps(request_id), b"}}\t", document))


def bulk_body(lines: list[bytes]) -> bytes:
    """The NDJSON ``_bulk`` body of :func:`bulk_line` records."""
    return b"\n".join(lines).replace(b"\t", b"\n") + b"\n"


def _current_line(line: bytes) -> bytes:
    """A spooled line in today's format; spools written before it held ``{"index", "id", "doc"}`` objects."""
    if b"\t" in line:
        return line
    action = orjson.loads(line)
    return bulk_line(action["index"], action["id"], orjson.dumps(action["doc"], option=orjson.OPT_SERIALIZE_NUMPY))


def build_client(
    url: str,
    username: str | None = None,
    password: SecretStr | None = None,
    *,
    timeout_s: float = 5.0,
    **client_kwargs: Any,
) -> Any:
    """The official client; retries are ours (with the spool behind them), so the transport's are off."""
    from elasticsearch import Elasticsearch

    auth = (username, password.get_secret_value()) if username and password is not None else None
    return Elasticsearch(
        url, basic_auth=auth, request_timeout=timeout_s, max_retries=0, retry_on_timeout=False, **client_kwargs
    )


def bulk_serializers() -> dict[str, Any]:
    """The sink's client serializers: answers parsed with orjson, and NDJSON bodies, which the sink has already
    encoded, sent as they are. The client's defaults parse with the standard library and copy every body twice
    into a new buffer: a fifth of the sink process's CPU per record (py-spy on the sink under load)."""
    from elasticsearch.serializer import NdjsonSerializer, OrjsonSerializer

    class EncodedNdjsonSerializer(NdjsonSerializer):
        def dumps(self, data: Any) -> bytes:
            return data if isinstance(data, bytes) else super().dumps(data)

    return {OrjsonSerializer.mimetype: OrjsonSerializer(), NdjsonSerializer.mimetype: EncodedNdjsonSerializer()}


@dataclass(frozen=True)
class SinkStats:
    delivered: int  # documents Elasticsearch acknowledged (replays included)
    spooled: int  # documents that went to the disk spool
    rejected: int  # documents Elasticsearch refused for good (kept in the rejected folder)
    buffered: int  # documents waiting in memory for the next bulk
    healthy: bool  # last contact with Elasticsearch succeeded
    spool: SpoolStats


MIN_BULK_RECORDS = 16  # a timed-out bulk is halved down to this, never below
TIMEOUT_OVER_LATENCY = 3.0  # after a bulk that took a while, the next may take this many times as long


class _BulkFailed(Exception):
    """Elasticsearch did not take the whole batch; ``pending`` are the records still to deliver."""

    def __init__(self, pending: list[bytes], cause: str, *, timed_out: bool = False) -> None:
        super().__init__(cause)
        self.pending = pending
        self.timed_out = timed_out


class ElasticsearchSink:
    """A ``PredictionSink`` that never raises on ``write`` and never loses an accepted record.

    ``write`` only buffers (it never waits for Elasticsearch): a buffer that reaches
    ``bulk_max_records``/``bulk_max_bytes`` becomes a batch for the sink's thread, which also sends
    a buffer ``flush_interval_s`` old. When Elasticsearch is slow and more than
    ``max_pending_batches`` batches wait, ``write`` appends the oldest to the disk spool instead. A
    batch that still fails after the retries is appended to the spool; while Elasticsearch is down,
    new batches go straight to the spool, and the replayer brings them back in order.

    A bulk that times out is resent in halves (down to ``MIN_BULK_RECORDS``), and the size grows back
    after each success: an Elasticsearch that indexes slower than one full bulk per timeout would
    otherwise see the same too-large bulk again and again and never catch up. It is also waited for twice
    as long (up to ``max_timeout_s``), and after a success the wait is ``TIMEOUT_OVER_LATENCY`` times what
    that bulk took (never under ``timeout_s``): Elasticsearch goes on indexing a bulk whose client gave up,
    so a fixed timeout under its latency would have it index every bulk again and again (and a slow node
    that answers every request late, whatever its size, would never get a record).
    """

    def __init__(
        self,
        client: Any,
        spool: DiskSpool,
        *,
        bulk_max_records: int = 2000,
        bulk_max_bytes: int = 5 * 1024 * 1024,
        flush_interval_s: float = 1.0,
        max_pending_batches: int = 8,
        retries: int = 3,
        backoff_s: float = 0.2,
        replay_interval_s: float = 2.0,
        timeout_s: float = 5.0,
        max_timeout_s: float = 30.0,
        rejected_dir: Path | None = None,
        start: bool = True,
    ) -> None:
        self.client = client
        self.timeout_s = timeout_s
        self.max_timeout_s = max(timeout_s, max_timeout_s)
        self._timeout_s = timeout_s  # the current wait per bulk: doubled on a timeout, set from latency on success
        self._closing = False  # closing: one attempt per bulk at the base wait, then the spool
        self.spool = spool
        self.bulk_max_records = bulk_max_records
        self.bulk_max_bytes = bulk_max_bytes
        self._bulk_records = bulk_max_records  # the current size: halved on a timeout, regrown on success
        self.flush_interval_s = flush_interval_s
        self.max_pending_batches = max_pending_batches
        self.retries = retries
        self.backoff_s = backoff_s
        self.replay_interval_s = replay_interval_s
        self.rejected = DiskSpool(rejected_dir or spool.directory.parent / f"{spool.directory.name}-rejected")
        self._buffer: list[bytes] = []
        self._buffer_bytes = 0
        self._buffer_since = 0.0
        self._ready: deque[list[bytes]] = deque()  # full batches for the sink's thread
        self._ready_records = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._healthy = True
        self._delivered = 0
        self._spooled = 0
        self._rejected = 0
        self._thread: threading.Thread | None = None
        if start:
            self.start()

    @classmethod
    def from_settings(
        cls, settings: ElasticSinkSettings, *, start: bool = True, **client_kwargs: Any
    ) -> ElasticsearchSink:
        if not settings.elasticsearch_url:
            raise ScorelineError(
                ErrorCode.INVALID_INPUT, "SCORELINE_ELASTICSEARCH_URL is not set; the Elasticsearch sink needs it"
            )
        client_kwargs.setdefault("serializers", bulk_serializers())
        client = build_client(
            settings.elasticsearch_url,
            settings.elasticsearch_username,
            settings.elasticsearch_password,
            timeout_s=settings.elasticsearch_timeout_s,
            **client_kwargs,
        )
        return cls(
            client,
            DiskSpool(settings.predlog_spool_dir),
            bulk_max_records=settings.elasticsearch_bulk_max_records,
            bulk_max_bytes=settings.elasticsearch_bulk_max_bytes,
            flush_interval_s=settings.elasticsearch_flush_interval_s,
            max_pending_batches=settings.elasticsearch_max_pending_batches,
            retries=settings.elasticsearch_retries,
            backoff_s=settings.elasticsearch_backoff_s,
            replay_interval_s=settings.elasticsearch_replay_interval_s,
            timeout_s=settings.elasticsearch_timeout_s,
            max_timeout_s=settings.elasticsearch_max_timeout_s,
            start=start,
        )

    # ---- PredictionSink --------------------------------------------------------------------
    def write(self, records: Records) -> None:
        lines = bulk_lines(records)
        overflow: list[list[bytes]] = []
        with self._lock:
            for line in lines:
                if not self._buffer:
                    self._buffer_since = time.monotonic()
                self._buffer.append(line)
                self._buffer_bytes += len(line)
                if len(self._buffer) >= self.bulk_max_records or self._buffer_bytes >= self.bulk_max_bytes:
                    batch = self._take_buffer_locked()
                    self._ready.append(batch)
                    self._ready_records += len(batch)
            while len(self._ready) > self.max_pending_batches:
                batch = self._ready.popleft()
                self._ready_records -= len(batch)
                overflow.append(batch)
            wake = bool(self._ready)
        if wake:
            self._wake.set()
        for batch in overflow:  # Elasticsearch is slower than the predictions: disk, not memory, not waiting
            self._to_spool(batch)

    def spill(self, records: Records, error: Exception | None = None) -> None:
        """Straight to the spool: the caller's queue is full (or its write failed) and must neither
        block nor drop. Fits the writer's fallback hook."""
        self._to_spool(bulk_lines(records))

    def deliver(self, records: Records) -> None:
        """Send now, in the caller's thread, in bulks of at most ``bulk_max_records``/``bulk_max_bytes``;
        what Elasticsearch does not take after the retries is in the spool when this returns (the sink
        process acknowledges its clients after this)."""
        batch: list[bytes] = []
        size = 0
        for line in bulk_lines(records):
            batch.append(line)
            size += len(line)
            if len(batch) >= self.bulk_max_records or size >= self.bulk_max_bytes:
                self._send_or_spool(batch)
                batch, size = [], 0
        if batch:
            self._send_or_spool(batch)

    def replay(self) -> int:
        """Deliver the spool, oldest first, if Elasticsearch answers; how many records went."""
        return self._replay_once()

    def flush(self) -> None:
        """Send everything buffered now, in the caller's thread."""
        while True:
            with self._lock:
                if self._ready:
                    batch = self._ready.popleft()
                    self._ready_records -= len(batch)
                else:
                    batch = self._take_buffer_locked()
                self._in_flight += len(batch)
            if not batch:
                return
            try:
                self._send_or_spool(batch)
            finally:
                with self._lock:
                    self._in_flight -= len(batch)

    def close(self) -> None:
        # A shutdown has a deadline (the orchestrator's grace period): what a slow Elasticsearch does not take at
        # once goes to the fsynced spool, not into waits of up to max_timeout_s with retries.
        self._closing = True
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()
        if self._healthy:
            self._replay_once()
        self.spool.close()
        self.rejected.close()
        self.client.close()

    def stats(self) -> SinkStats:
        with self._lock:
            buffered = len(self._buffer) + self._ready_records + self._in_flight
            return SinkStats(
                delivered=self._delivered,
                spooled=self._spooled,
                rejected=self._rejected,
                buffered=buffered,
                healthy=self._healthy,
                spool=self.spool.stats(),
            )

    # ---- background: time-based flush and replay -------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="scoreline-es-sink", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        next_replay = time.monotonic()
        tick = min(self.flush_interval_s, self.replay_interval_s, 0.25)
        while not self._stop.is_set():
            self._wake.wait(tick)
            self._wake.clear()
            while not self._stop.is_set():
                with self._lock:
                    if self._ready:
                        batch = self._ready.popleft()
                        self._ready_records -= len(batch)
                    elif self._buffer and time.monotonic() - self._buffer_since >= self.flush_interval_s:
                        batch = self._take_buffer_locked()
                    else:
                        break
                    self._in_flight += len(batch)
                try:
                    self._send_or_spool(batch)
                finally:
                    with self._lock:
                        self._in_flight -= len(batch)
            if time.monotonic() >= next_replay:
                self._replay_once()
                next_replay = time.monotonic() + self.replay_interval_s

    def _replay_once(self) -> int:
        if self.spool.is_empty():
            return 0
        try:
            # One attempt per bulk (the replay is also the probe while Elasticsearch is down); a timed-out bulk
            # leaves the size halved for the next replay.
            delivered = self.spool.drain(
                lambda lines: self._bulk_sized([_current_line(line) for line in lines], retries=0),
                batch_size=self.bulk_max_records,
            )
        except _BulkFailed as failure:
            self._mark(healthy=False, why=str(failure))
            return 0
        if delivered:
            log.info("replayed %d spooled prediction records to Elasticsearch", delivered)
        self._mark(healthy=True)
        return delivered

    # ---- delivery --------------------------------------------------------------------------
    def _take_buffer_locked(self) -> list[bytes]:
        batch, self._buffer, self._buffer_bytes = self._buffer, [], 0
        return batch

    def _send_or_spool(self, lines: list[bytes]) -> None:
        if not self._healthy:
            # Down: don't make the writer wait on retries; the replayer probes and drains.
            self._to_spool(lines)
            return
        try:
            self._bulk_sized(lines, self.retries)
        except _BulkFailed as failure:
            self._mark(healthy=False, why=str(failure))
            self._to_spool(failure.pending)
            return
        self._mark(healthy=True)

    def _bulk_sized(self, lines: list[bytes], retries: int) -> None:
        """Deliver ``lines`` in order, in bulks of the current size, with up to ``retries`` failed bulks
        retried after a backoff; raises ``_BulkFailed`` with everything not delivered, in order."""
        pending = lines
        failures = 0
        while pending:
            size = self._bulk_records
            chunk, rest = pending[:size], pending[size:]
            started = time.monotonic()
            try:
                self._bulk_strict(chunk)
            except _BulkFailed as failure:
                if failure.timed_out:
                    self._bulk_records = max(MIN_BULK_RECORDS, size // 2)
                    self._timeout_s = min(self.max_timeout_s, self._timeout_s * 2)
                    log.warning(
                        "Elasticsearch timed out on a bulk of %d records; next bulks %d records, %.1f s each at most",
                        size, self._bulk_records, self._timeout_s,
                    )  # fmt: skip
                pending = failure.pending + rest
                if failures >= retries or self._closing:  # closing: the spool, not another wait
                    raise _BulkFailed(pending, str(failure), timed_out=failure.timed_out) from failure
                time.sleep(self.backoff_s * (2**failures) * (0.5 + random.random()))
                failures += 1
                continue
            took = time.monotonic() - started
            self._timeout_s = min(self.max_timeout_s, max(self.timeout_s, TIMEOUT_OVER_LATENCY * took))
            self._bulk_records = min(self.bulk_max_records, size * 2)
            pending = rest

    def _to_spool(self, lines: list[bytes]) -> None:
        self.spool.append(lines)
        with self._lock:
            self._spooled += len(lines)

    def _bulk_strict(self, lines: list[bytes]) -> None:
        """One bulk request; raises ``_BulkFailed`` with what is left to deliver.

        Documents refused for a reason a retry cannot fix (mapping errors, 4xx) go to the rejected
        folder instead, so a bad record cannot stall the spool forever.
        """
        from elastic_transport import ApiError, ConnectionTimeout, TransportError

        try:
            wait = self.timeout_s if self._closing else self._timeout_s
            response = self.client.options(request_timeout=wait).bulk(
                operations=bulk_body(lines), refresh=False, filter_path=BULK_RESPONSE_FIELDS
            )
        except (TransportError, ApiError) as error:
            cause = f"bulk request failed: {type(error).__name__}: {error}"
            raise _BulkFailed(lines, cause, timed_out=isinstance(error, ConnectionTimeout)) from error
        body = response.body if hasattr(response, "body") else response
        if not body.get("errors"):
            with self._lock:
                self._delivered += len(lines)
            return
        retry: list[bytes] = []
        refused: list[bytes] = []
        reasons: list[str] = []
        for line, item in zip(lines, body.get("items", []), strict=False):
            result = next(iter(item.values()))
            status = int(result.get("status", 500))
            if status < 300:
                continue
            reasons.append(f"{status} {result.get('error')}")
            (retry if status in RETRYABLE_ITEM_STATUSES else refused).append(line)
        if refused:
            log.error("Elasticsearch refused %d prediction records for good: %s", len(refused), reasons[:3])
            self.rejected.append(refused)
        with self._lock:
            self._delivered += len(lines) - len(retry) - len(refused)
            self._rejected += len(refused)
        if retry:
            raise _BulkFailed(retry, f"{len(retry)} items to retry: {reasons[:3]}")

    def _mark(self, *, healthy: bool, why: str = "") -> None:
        if healthy != self._healthy:
            if healthy:
                log.info("Elasticsearch answers again; delivering directly")
            else:
                log.warning("Elasticsearch unreachable, spooling prediction records to disk: %s", why)
        self._healthy = healthy
