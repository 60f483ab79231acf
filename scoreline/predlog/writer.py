"""Bounded in-memory queue drained by one background thread into a :class:`PredictionSink`.

Serving code calls :meth:`PredictionLogWriter.submit`, which never blocks and never wakes the
thread: it serializes a small entry's records on the spot (the :class:`PredictionRecord` shape,
as :class:`EncodedRecords`; a pydantic model per record would cost more than the rest of the
logging together) and appends them to a deque. The thread wakes every ``flush_interval_s`` or when
a batch is full, serializes what was queued unserialized (batch files) and writes large batches: woken by a
full batch it writes only full batches and leaves the rest for the next one or the timer, so that under load
it never sends the few rows that arrived while it wrote (a frame of a handful of rows costs as much to build
and to turn into documents as one of a thousand).
When the queue is full the records go to the fallback or are counted as dropped, and the request
goes on. A sink's ``write`` may raise; the batch then goes to the ``fallback`` hook (for example a
disk spool that is replayed later) and is only counted as lost when there is none or it fails too.
A sink with ``write_columns`` (the channel to a sink process, :mod:`scoreline.predlog.channel`) gets a
batch file's entry as it is: its columns travel as one Arrow batch and the documents are built there.
Single predictions go the same way (:meth:`PredictionLogWriter.submit_row`): the request queues its
validated inputs and the memo's arrays unserialized, the writer gathers the queued rows of one model
version into one entry, and the sink process builds their documents, off the serving core.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from typing import Any, Protocol

import numpy as np
import orjson
import pandas as pd

from scoreline.predlog.record import EncodedRecords, PredictionRecord, PredictionSink, iso_milliseconds

log = logging.getLogger("scoreline.predlog")
LARGE_BATCH_ROWS = 10_000  # documents built at once from this many rows pause the cyclic collector
_ids = random.Random()
# Seeded again in a forked child: model-api's workers are forks and would otherwise draw the same ids.
os.register_at_fork(after_in_child=_ids.seed)

FallbackHook = Callable[[EncodedRecords], None]  # e.g. ElasticsearchSink.spill (disk spool)


class LogSlot(Protocol):
    """Holds one memoized row's serialized log fragment (see :class:`PredictionEntry.log_slots`)."""

    log_fragment: bytes | None


@dataclass(slots=True)
class PredictionEntry:
    """Predictions of one request (one or many instances), as cheap to build as possible.

    The request thread fills these fields (no formatting, no copies); :func:`encode` turns them into
    documents, in the request's thread for a few rows and in the writer thread for a batch file.
    """

    task: str
    model_name: str
    model_version: str
    inputs: Sequence[dict[str, Any]] | pd.DataFrame  # a batch file's table is turned into dicts by the writer
    feature_names: Sequence[str]
    features: np.ndarray  # (n, len(feature_names))
    predictions: Sequence[str | float]
    classes: Sequence[str]  # empty for regression
    probabilities: np.ndarray | None  # (n, len(classes))
    latency_ms: float
    request_ids: Sequence[str] | None = None
    # Per row, where the row's serialized inputs/features/prediction/probabilities are kept between
    # requests (model-api's per-version memo of repeated fixtures); None: serialize every time.
    log_slots: Sequence[LogSlot] | None = None
    timestamp: str | None = None  # ISO 8601; formatted from ``created`` by the writer when None
    created: float = field(default_factory=time.time)
    # Single predictions gathered by the writer (see :class:`LoggedRow`): each row's own time (epoch seconds)
    # and latency, which then replace ``timestamp``/``created`` and ``latency_ms``.
    created_at: Sequence[float] | None = None
    latencies_ms: Sequence[float] | None = None

    def __len__(self) -> int:
        return len(self.inputs)

    def iso_timestamp(self) -> str:
        if self.timestamp is None:
            self.timestamp = iso_milliseconds(self.created)
        return self.timestamp

    def to_documents(self) -> list[dict[str, Any]]:
        """The records as plain documents, exactly :meth:`PredictionRecord.to_document`'s shape
        (``@timestamp``; NaN or infinite features as None)."""
        return encode([self]).decoded()

    def to_records(self) -> list[PredictionRecord]:
        """The same documents as validated :class:`PredictionRecord` objects (the typed contract)."""
        return [PredictionRecord.model_validate(_by_name(document)) for document in self.to_documents()]


class LoggedRow:
    """One single prediction as the request left it (its validated inputs and the memo's arrays, not
    serialized): what :meth:`PredictionLogWriter.submit_row` queues for a sink process, where the documents
    are built. The writer gathers consecutive rows of one model version into one :class:`PredictionEntry`."""

    __slots__ = ("classes", "created", "feature_names", "features", "inputs", "latency_ms", "model_name",
                 "model_version", "prediction", "probabilities", "request_id", "task")  # fmt: skip

    def __init__(
        self,
        request_id: str,
        latency_ms: float,
        task: str,
        model_name: str,
        model_version: str,
        feature_names: Sequence[str],
        classes: Sequence[str],
        inputs: dict[str, Any],
        features: np.ndarray,
        prediction: Any,
        probabilities: np.ndarray | None,
    ) -> None:
        self.request_id = request_id
        self.created = time.time()
        self.latency_ms = latency_ms
        self.task, self.model_name, self.model_version = task, model_name, model_version
        self.feature_names, self.classes = feature_names, classes
        self.inputs, self.features, self.prediction, self.probabilities = inputs, features, prediction, probabilities

    def __len__(self) -> int:
        return 1

    def group(self) -> tuple[Any, ...]:
        """Rows with the same group go into one entry (one model version, one shape of inputs)."""
        return (self.task, self.model_name, self.model_version, id(self.feature_names), id(self.classes),
                self.probabilities is None, tuple(self.inputs))  # fmt: skip


def rows_entry(rows: Sequence[LoggedRow]) -> PredictionEntry:
    """Rows of one :meth:`LoggedRow.group` as one entry with their own ids, times and latencies."""
    first = rows[0]
    return PredictionEntry(
        task=first.task,
        model_name=first.model_name,
        model_version=first.model_version,
        inputs=[row.inputs for row in rows],
        feature_names=first.feature_names,
        features=np.concatenate([row.features for row in rows]).reshape(len(rows), -1),
        predictions=[row.prediction for row in rows],
        classes=first.classes,
        probabilities=None
        if first.probabilities is None
        else np.concatenate([row.probabilities for row in rows]).reshape(len(rows), -1),
        latency_ms=first.latency_ms,
        request_ids=[row.request_id for row in rows],
        created_at=[row.created for row in rows],
        latencies_ms=[row.latency_ms for row in rows],
    )


def documents(entries: Sequence[PredictionEntry]) -> list[dict[str, Any]]:
    """The documents of many entries (decoded from :func:`encode`; for tests and tools)."""
    return encode(entries).decoded()


def encode(entries: Sequence[PredictionEntry]) -> EncodedRecords:
    """The serialized documents of many entries, in order: per record one dict literal and one
    ``orjson.dumps`` (which also turns NaN and infinities into null), or, for rows with a memo slot,
    the row's serialized fragment with the record's own time, id and latency around it."""
    encoded = EncodedRecords([], [], [])
    if len(entries) == 1 and len(entries[0].inputs) < LARGE_BATCH_ROWS:  # the inline case: no context manager
        _encode_entry(entries[0], encoded)
        return encoded
    with _collector_paused(sum(len(entry.inputs) for entry in entries)):
        for entry in entries:
            _encode_entry(entry, encoded)
    return encoded


@contextmanager
def _collector_paused(rows: int) -> Iterator[None]:
    """The cyclic collector off while a large batch is encoded: its rows hold no cycles, and the
    collections their many allocations trigger would walk the growing lists again and again."""
    if rows < LARGE_BATCH_ROWS or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _rows(values: np.ndarray | None, n: int) -> Iterable[list[float] | None]:
    """The rows of an (n, k) array as lists of Python floats (None rows when there is no array)."""
    if values is None:
        return repeat(None, n)
    if values.ndim == 2 and values.dtype.kind == "f":
        return values.tolist()
    return np.asarray(values, dtype=float).reshape(n, -1).tolist()


def _encode_entry(entry: PredictionEntry, out: EncodedRecords) -> None:
    n = len(entry.inputs)
    ids = entry.request_ids if entry.request_ids is not None else _new_ids(n)
    if len(ids) != n or len(entry.predictions) != n:
        raise ValueError(
            f"an entry of {n} inputs has {len(ids)} request ids and {len(entry.predictions)} predictions; "
            "expected one of each per input"
        )
    if entry.log_slots is not None and len(entry.log_slots) == n:
        _encode_with_slots(entry, ids, out)
        return
    inputs = _frame_records(entry.inputs) if isinstance(entry.inputs, pd.DataFrame) else entry.inputs
    if entry.created_at is not None and entry.latencies_ms is not None:
        _encode_rows(entry, ids, inputs, out)
        return
    names, classes = entry.feature_names, entry.classes
    timestamp, task = entry.iso_timestamp(), entry.task
    model_name, model_version = entry.model_name, entry.model_version
    latency = entry.latency_ms
    dumps, option = orjson.dumps, orjson.OPT_SERIALIZE_NUMPY
    out.documents.extend(
        [
            dumps(
                {
                    "@timestamp": timestamp,
                    "request_id": request_id,
                    "task": task,
                    "model_name": model_name,
                    "model_version": model_version,
                    "inputs": inputs_row,
                    "features": dict(zip(names, features_row)),  # noqa: B905 - a row has one value per name
                    "prediction": prediction,
                    "probabilities": None if probabilities_row is None else dict(zip(classes, probabilities_row)),  # noqa: B905 - one value per class
                    "latency_ms": latency,
                },
                None,
                option,
            )
            for request_id, inputs_row, prediction, features_row, probabilities_row in zip(
                ids, inputs, entry.predictions, _rows(entry.features, n), _rows(entry.probabilities, n), strict=True
            )
        ]
    )
    out.request_ids.extend(ids)
    out.timestamps.extend(repeat(timestamp, n))


def _encode_rows(entry: PredictionEntry, ids: Sequence[str], inputs: Sequence[Any], out: EncodedRecords) -> None:
    """Documents of an entry whose rows have their own times and latencies (gathered single predictions)."""
    head = model_head(entry.task, entry.model_name, entry.model_version)
    n = len(ids)
    rows = zip(ids, inputs, entry.predictions, _rows(entry.features, n), _rows(entry.probabilities, n),
               entry.created_at or (), entry.latencies_ms or (), strict=True)  # fmt: skip
    for request_id, inputs_row, prediction, features_row, probabilities_row, created, latency in rows:
        timestamp = iso_milliseconds(created)
        fragment = row_fragment(inputs_row, entry.feature_names, features_row, prediction, entry.classes,
                                probabilities_row)  # fmt: skip
        out.documents.append(_assemble(timestamp.encode(), request_id, head, fragment, orjson.dumps(latency)))
        out.request_ids.append(request_id)
        out.timestamps.append(timestamp)


_heads: dict[tuple[str, str, str], bytes] = {}


def model_head(task: str, model_name: str, model_version: str) -> bytes:
    """``"task":…,"model_name":…,"model_version":…`` of a document, serialized once per version."""
    key = (task, model_name, model_version)
    head = _heads.get(key)
    if head is None:
        if len(_heads) > 1024:  # versions come and go; keep the map small
            _heads.clear()
        head = _heads[key] = orjson.dumps({"task": task, "model_name": model_name, "model_version": model_version})[
            1:-1
        ]
    return head


def memoized_document(head: bytes, request_id: str, fragment: bytes, latency_ms: float) -> tuple[str, bytes]:
    """(timestamp, document) of one record whose row fragment is already serialized (a repeated
    fixture): the same bytes :func:`encode` gives, assembled without a dict."""
    timestamp = iso_milliseconds(time.time())
    return timestamp, _assemble(timestamp.encode(), request_id, head, fragment, orjson.dumps(latency_ms))


def _assemble(stamp: bytes, request_id: str, head: bytes, fragment: bytes, latency: bytes) -> bytes:
    """A document from its serialized parts, keys in :class:`PredictionRecord` order."""
    return b"".join(
        (b'{"@timestamp":"', stamp, b'","request_id":', orjson.dumps(request_id), b",", head, b",", fragment,
         b',"latency_ms":', latency, b"}")
    )  # fmt: skip


def _encode_with_slots(entry: PredictionEntry, ids: Sequence[str], out: EncodedRecords) -> None:
    """Documents assembled from bytes: the row's fragment is built once per memoized row, the
    model's part once per version; only the time, the id and the latency are new per record."""
    head = model_head(entry.task, entry.model_name, entry.model_version)
    timestamp = entry.iso_timestamp()
    stamp, latency = timestamp.encode(), orjson.dumps(entry.latency_ms)
    for row, (request_id, slot) in enumerate(zip(ids, entry.log_slots or (), strict=True)):
        fragment = slot.log_fragment
        if fragment is None:
            fragment = slot.log_fragment = _fragment(entry, row)
        out.documents.append(_assemble(stamp, request_id, head, fragment, latency))
    out.request_ids.extend(ids)
    out.timestamps.extend(repeat(timestamp, len(ids)))


def _fragment(entry: PredictionEntry, row: int) -> bytes:
    """``"inputs":…,"features":…,"prediction":…,"probabilities":…`` of one row, as in a full document."""
    n = len(entry.inputs)
    features = np.asarray(entry.features, dtype=float).reshape(n, -1)[row].tolist()
    probabilities = None
    if entry.probabilities is not None:
        probabilities = np.asarray(entry.probabilities, dtype=float).reshape(n, -1)[row].tolist()
    return row_fragment(
        entry.inputs[row], entry.feature_names, features, entry.predictions[row], entry.classes, probabilities
    )


def row_fragment(
    inputs: Any,
    feature_names: Sequence[str],
    features: list[float],
    prediction: Any,
    classes: Sequence[str],
    probabilities: list[float] | None,
) -> bytes:
    """One row's fragment (see :func:`_fragment`) from plain values: what a single prediction's memo slot keeps."""
    part = {
        "inputs": inputs,
        "features": dict(zip(feature_names, features)),  # noqa: B905 - a row has one value per name
        "prediction": prediction,
        "probabilities": None if probabilities is None else dict(zip(classes, probabilities)),  # noqa: B905
    }
    return orjson.dumps(part, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1]


def _new_ids(n: int) -> list[str]:
    """``n`` random 128-bit hex ids from one draw of random bytes."""
    text = _ids.randbytes(16 * n).hex()
    return [text[i : i + 32] for i in range(0, 32 * n, 32)]


def _frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a table as dicts of plain Python values, missing cells as None (column by column:
    ``DataFrame.to_dict("records")`` boxes every cell one by one)."""
    names = [str(name) for name in frame.columns]
    columns = []
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            # model-api's validated batch columns: each category boxed once, rows taken by code (-1 → None)
            lookup = np.empty(len(column.cat.categories) + 1, dtype=object)  # the last slot stays None
            lookup[:-1] = column.cat.categories.tolist()
            columns.append(lookup[column.cat.codes.to_numpy()].tolist())
            continue
        missing = column.isna().to_numpy()
        values = column.tolist()
        if missing.any():
            for row in np.flatnonzero(missing).tolist():
                values[row] = None
        columns.append(values)
    # One dict(zip(names, row)) per row, built by C-level map calls rather than a Python loop body.
    return list(map(dict, map(zip, repeat(names), zip(*columns, strict=True))))


def _by_name(document: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in document.items() if k != "@timestamp"}
    fields["timestamp"] = document["@timestamp"]
    return fields


_Queued = PredictionEntry | EncodedRecords | LoggedRow | tuple[str, str, bytes]  # tuple: (id, timestamp, document)


def _as_records(item: _Queued) -> EncodedRecords:
    if isinstance(item, tuple):
        return EncodedRecords([item[0]], [item[1]], [item[2]])
    if isinstance(item, LoggedRow):
        return encode([rows_entry([item])])
    return item if isinstance(item, EncodedRecords) else encode([item])


class PredictionLogWriter:
    def __init__(
        self,
        sink: PredictionSink,
        *,
        queue_size: int = 10_000,
        batch_records: int = 1_000,
        flush_interval_s: float = 0.5,
        fallback: FallbackHook | None = None,
        inline_rows: int = 64,
    ) -> None:
        self.sink = sink
        self.inline_rows = inline_rows
        self.fallback = fallback
        self.batch_records = batch_records
        self.flush_interval_s = flush_interval_s
        self.queue_size = queue_size
        self._pending: deque[_Queued] = deque()
        self._wake = threading.Event()
        self._flush_all = False  # the next wake writes what is queued, not only full batches (flush)
        self._stopping = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="prediction-log-writer", daemon=True)
        self._counts_lock = threading.Lock()
        self.records_written = 0
        self.records_dropped = 0
        self.records_to_fallback = 0
        self.failed_writes = 0
        self._started = False

    # ---- request side -----------------------------------------------------------------
    def submit(self, entry: PredictionEntry) -> bool:
        """Queue an entry without blocking; False when it could not be queued.

        An entry of at most ``inline_rows`` rows is serialized here, in the request's thread: about
        10 µs per row while its arrays are still in the cache, which costs the server less than
        handing the work to the writer thread (a GIL switch and a cold cache per request). Larger
        entries (batch files) are serialized by the writer thread. When the queue is full the records
        go to the fallback hook (the Elasticsearch sink's disk spool), or are counted as dropped when
        there is none.
        """
        item: _Queued = entry
        if len(entry.inputs) <= self.inline_rows:
            try:
                encoded = encode([entry])
                # One record (the usual request) waits as a tuple of str/bytes, which the cyclic
                # collector stops tracking, rather than as lists it would walk again and again.
                item = (
                    (encoded.request_ids[0], encoded.timestamps[0], encoded.documents[0])
                    if len(encoded) == 1
                    else encoded
                )
            except Exception:
                log.exception("could not build prediction records; %d lost", len(entry))
                with self._counts_lock:
                    self.records_dropped += len(entry)
                return False
        if len(self._pending) < self.queue_size:
            self._pending.append(item)
            if len(entry) >= self.batch_records:  # a batch file: written now (with what waits before it)
                self._flush_all = True
                self._wake.set()
            elif len(self._pending) == self.batch_records:  # once per batch; the timer covers a missed one
                self._wake.set()
            return True
        if self.fallback is not None:
            try:
                records = _as_records(item)
            except Exception:
                log.exception("could not build prediction records; %d lost", len(entry))
                with self._counts_lock:
                    self.records_dropped += len(entry)
                return False
            self._to_fallback(records, OverflowError("prediction log queue is full"))
            return False
        with self._counts_lock:
            self.records_dropped += len(entry)
        return False

    @property
    def takes_rows(self) -> bool:
        """Whether :meth:`submit_row` is the cheap way: the sink takes columns (a sink process, which builds
        the documents), so a single prediction is queued as it is, not serialized in the request process."""
        return getattr(self.sink, "write_columns", None) is not None

    def submit_row(self, row: LoggedRow) -> bool:
        """Queue one single prediction unserialized without blocking (see :attr:`takes_rows`)."""
        return self._queue(row)

    def submit_document(self, request_id: str, timestamp: str, document: bytes) -> bool:
        """Queue one serialized record (see :func:`memoized_document`) without blocking."""
        return self._queue((request_id, timestamp, document))

    def _queue(self, item: LoggedRow | tuple[str, str, bytes]) -> bool:
        if len(self._pending) < self.queue_size:
            self._pending.append(item)
            if len(self._pending) == self.batch_records:
                self._wake.set()
            return True
        if self.fallback is not None:
            try:
                records = _as_records(item)
            except Exception:
                log.exception("could not build a prediction record; lost")
                with self._counts_lock:
                    self.records_dropped += 1
                return False
            self._to_fallback(records, OverflowError("queue is full"))
            return False
        with self._counts_lock:
            self.records_dropped += 1
        return False

    def depth(self) -> int:
        return len(self._pending)

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> PredictionLogWriter:
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop the thread and close the sink."""
        self._stopping = True
        self._wake.set()
        if self._started:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning("prediction log writer still busy at shutdown; %d entries not written", self.depth())
        else:
            self._drain()
        self.sink.close()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything submitted so far is written (tests, shutdown)."""
        self._flush_all = True
        self._wake.set()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self._pending and not self._busy:
                # A sink process acknowledges later than a write returns: wait for that too.
                wait_delivered = getattr(self.sink, "wait_delivered", None)
                return True if wait_delivered is None else bool(wait_delivered(max(0.0, deadline - time.monotonic())))
            time.sleep(0.02)
        return False

    # ---- writer thread ----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping:
            full_batch = self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            flush_all, self._flush_all = self._flush_all, False
            self._drain(full_batches_only=full_batch and not flush_all and not self._stopping)
        self._drain()

    def _drain(self, *, full_batches_only: bool = False) -> None:
        """Write what is queued in batches of ``batch_records``; with ``full_batches_only``, stop at the first
        batch that is not full (it waits for the next wake: a full batch, the timer or a flush)."""
        while self._pending and (not full_batches_only or len(self._pending) >= self.batch_records):
            self._busy = True
            try:
                items: list[_Queued] = []
                count = 0
                while self._pending and count < self.batch_records:
                    item = self._pending.popleft()
                    items.append(item)
                    count += 1 if isinstance(item, tuple) else len(item)
                self._write(items)
            finally:
                self._busy = False

    def _write(self, items: list[_Queued]) -> None:
        records = EncodedRecords([], [], [])
        write_columns = getattr(self.sink, "write_columns", None)
        rows: list[LoggedRow] = []
        group: tuple[Any, ...] = ()
        for item in items:
            if isinstance(item, LoggedRow):
                item_group = item.group()
                if rows and item_group != group:
                    self._write_rows(write_columns, rows)
                    rows = []
                group = item_group
                rows.append(item)
                continue
            if rows:
                self._write_rows(write_columns, rows)
                rows = []
            if isinstance(item, tuple):
                records.request_ids.append(item[0])
                records.timestamps.append(item[1])
                records.documents.append(item[2])
                continue
            if isinstance(item, EncodedRecords):
                records.extend(item)
                continue
            if write_columns is not None:
                # A batch file to a sink process: its columns travel as they are, documents are built there.
                self._write_records(records)
                records = EncodedRecords([], [], [])
                self._write_entry_columns(write_columns, item)
                continue
            try:
                records.extend(encode([item]))
            except Exception:
                log.exception("could not build prediction records; %d lost", len(item))
                with self._counts_lock:
                    self.records_dropped += len(item)
        if rows:
            self._write_rows(write_columns, rows)
        self._write_records(records)

    def _write_rows(self, write_columns: Callable[[PredictionEntry], None] | None, rows: list[LoggedRow]) -> None:
        """Single predictions of one group: one columnar entry to a sink process, else their documents."""
        try:
            entry = rows_entry(rows)
            records = None if write_columns is not None else encode([entry])
        except Exception:
            log.exception("could not build prediction records; %d lost", len(rows))
            with self._counts_lock:
                self.records_dropped += len(rows)
            return
        if write_columns is not None:
            self._write_entry_columns(write_columns, entry)
        elif records is not None:
            self._write_records(records)

    def _write_entry_columns(self, write_columns: Callable[[PredictionEntry], None], entry: PredictionEntry) -> None:
        try:
            write_columns(entry)
        except Exception:
            log.exception("could not hand a batch of %d prediction records to the sink; lost", len(entry))
            with self._counts_lock:
                self.failed_writes += 1
                self.records_dropped += len(entry)
            return
        with self._counts_lock:
            self.records_written += len(entry)

    def _write_records(self, records: EncodedRecords) -> None:
        if not records:
            return
        try:
            self.sink.write(records)
        except Exception as exc:
            with self._counts_lock:
                self.failed_writes += 1
            self._to_fallback(records, exc)
            return
        with self._counts_lock:
            self.records_written += len(records)

    def _to_fallback(self, records: EncodedRecords, exc: Exception) -> None:
        if self.fallback is None:
            log.warning("prediction sink failed (%s); %d records lost (no fallback)", exc, len(records))
            with self._counts_lock:
                self.records_dropped += len(records)
            return
        try:
            self.fallback(records)
        except Exception:
            log.exception("prediction sink failed (%s) and the fallback too; %d records lost", exc, len(records))
            with self._counts_lock:
                self.records_dropped += len(records)
            return
        with self._counts_lock:
            self.records_to_fallback += len(records)
