"""Bounded in-memory queue drained by one background thread into a :class:`PredictionSink`.

Serving code calls :meth:`PredictionLogWriter.submit`, which never blocks and never wakes the
thread (one deque append: no lock handoff, no GIL switch per request); the thread wakes every
``flush_interval_s`` or when a batch is full. When the queue is full the entry goes to the fallback
or is counted as dropped, and the request goes on. The thread turns entries into documents (the
:class:`PredictionRecord` shape, serialized once into :class:`EncodedRecords`: a pydantic model per
record would cost more than the rest of the logging together) and writes them in large batches. A
sink's ``write`` may raise; the batch then goes to the ``fallback`` hook (for example a disk spool that is replayed
later) and is only counted as lost when there is none or it fails too.
"""

from __future__ import annotations

import gc
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

import numpy as np
import orjson
import pandas as pd

from scoreline.predlog.record import EncodedRecords, PredictionRecord, PredictionSink

log = logging.getLogger("scoreline.predlog")
LARGE_BATCH_ROWS = 10_000  # documents built at once from this many rows pause the cyclic collector
_ids = random.Random()

FallbackHook = Callable[[EncodedRecords], None]  # e.g. ElasticsearchSink.spill (disk spool)


@dataclass(slots=True)
class PredictionEntry:
    """Predictions of one request (one or many instances), as cheap to build as possible.

    The request thread only fills these fields (no formatting, no copies); the writer thread turns
    them into documents.
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
    timestamp: str | None = None  # ISO 8601; formatted from ``created`` by the writer when None
    created: float = field(default_factory=time.time)

    def __len__(self) -> int:
        return len(self.inputs)

    def iso_timestamp(self) -> str:
        if self.timestamp is None:
            self.timestamp = _iso_milliseconds(self.created)
        return self.timestamp

    def to_documents(self) -> list[dict[str, Any]]:
        """The records as plain documents, exactly :meth:`PredictionRecord.to_document`'s shape
        (``@timestamp``; NaN or infinite features as None)."""
        return encode([self]).decoded()

    def to_records(self) -> list[PredictionRecord]:
        """The same documents as validated :class:`PredictionRecord` objects (the typed contract)."""
        return [PredictionRecord.model_validate(_by_name(document)) for document in self.to_documents()]


def documents(entries: Sequence[PredictionEntry]) -> list[dict[str, Any]]:
    """The documents of many entries (decoded from :func:`encode`; for tests and tools)."""
    return encode(entries).decoded()


def encode(entries: Sequence[PredictionEntry]) -> EncodedRecords:
    """The serialized documents of many entries, in order.

    Entries of the same model are stacked so that the numbers of the whole run go through numpy
    once (a numpy call per single-prediction entry costs more than its document); each record is
    then one dict literal and one ``orjson.dumps``, which also turns NaN and infinities into null.
    """
    encoded = EncodedRecords()
    with _collector_paused(sum(len(entry) for entry in entries)):
        start = 0
        while start < len(entries):
            first = entries[start]
            end = start + 1
            while (
                end < len(entries)
                and entries[end].feature_names is first.feature_names
                and entries[end].classes is first.classes
                and (entries[end].probabilities is None) == (first.probabilities is None)
            ):
                end += 1
            _encode_run(entries[start:end], encoded)
            start = end
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


def _stacked_rows(arrays: list[np.ndarray]) -> list[list[float]]:
    """The rows of (n, k) arrays, stacked, as lists of Python floats."""
    stacked = None
    if arrays[0].ndim == 2:
        try:
            stacked = np.concatenate(arrays)  # the usual case: 2-D float arrays, no copy per entry
        except ValueError:
            stacked = None
    if stacked is None or stacked.ndim != 2:
        stacked = np.concatenate([np.asarray(a, dtype=float).reshape(len(a), -1) for a in arrays])
    return stacked.astype(float, copy=False).tolist()


def _encode_run(run: Sequence[PredictionEntry], out: EncodedRecords) -> None:
    """Entries sharing feature names and classes (one served version), appended to ``out``."""
    names, classes = run[0].feature_names, run[0].classes
    features = iter(_stacked_rows([entry.features for entry in run]))
    probabilities: Iterator[list[float] | None] = (
        iter(_stacked_rows([entry.probabilities for entry in run]))  # type: ignore[misc]
        if run[0].probabilities is not None
        else repeat(None)
    )
    dumps, option = orjson.dumps, orjson.OPT_SERIALIZE_NUMPY
    documents, request_ids, timestamps = out.documents, out.request_ids, out.timestamps
    for entry in run:
        n = len(entry)
        ids = entry.request_ids if entry.request_ids is not None else _new_ids(n)
        inputs = _frame_records(entry.inputs) if isinstance(entry.inputs, pd.DataFrame) else entry.inputs
        timestamp = entry.iso_timestamp()
        task, model_name, model_version, latency = entry.task, entry.model_name, entry.model_version, entry.latency_ms
        if len(ids) != n or len(entry.predictions) != n:
            raise ValueError(
                f"an entry of {n} inputs has {len(ids)} request ids and {len(entry.predictions)} predictions; "
                "expected one of each per input"
            )
        # zip stops at the first exhausted argument, ``ids``, before it takes a row of the next entry
        # from the shared ``features``/``probabilities`` iterators (lengths checked above).
        for request_id, inputs_row, prediction, features_row, probabilities_row in zip(  # noqa: B905
            ids, inputs, entry.predictions, features, probabilities
        ):
            documents.append(
                dumps(
                    {
                        "@timestamp": timestamp,
                        "request_id": request_id,
                        "task": task,
                        "model_name": model_name,
                        "model_version": model_version,
                        "inputs": inputs_row,
                        "features": dict(zip(names, features_row)),  # noqa: B905 - one row of the stacked matrix
                        "prediction": prediction,
                        "probabilities": None if probabilities_row is None else dict(zip(classes, probabilities_row)),  # noqa: B905
                        "latency_ms": latency,
                    },
                    None,
                    option,
                )
            )
        request_ids.extend(ids)
        timestamps.extend(repeat(timestamp, n))


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
        missing = column.isna().to_numpy()
        values = column.tolist()
        if missing.any():
            for row in np.flatnonzero(missing).tolist():
                values[row] = None
        columns.append(values)
    # One dict(zip(names, row)) per row, built by C-level map calls rather than a Python loop body.
    return list(map(dict, map(zip, repeat(names), zip(*columns, strict=True))))


_second_prefix: tuple[int, str] = (-1, "")


def _iso_milliseconds(epoch: float) -> str:
    """``datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")``, formatting each second once."""
    global _second_prefix
    second, millisecond = divmod(int(epoch * 1000), 1000)
    cached_second, prefix = _second_prefix
    if second != cached_second:
        prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        _second_prefix = (second, prefix)
    return f"{prefix}.{millisecond:03d}+00:00"


def _by_name(document: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in document.items() if k != "@timestamp"}
    fields["timestamp"] = document["@timestamp"]
    return fields


class PredictionLogWriter:
    def __init__(
        self,
        sink: PredictionSink,
        *,
        queue_size: int = 10_000,
        batch_records: int = 1_000,
        flush_interval_s: float = 0.5,
        fallback: FallbackHook | None = None,
    ) -> None:
        self.sink = sink
        self.fallback = fallback
        self.batch_records = batch_records
        self.flush_interval_s = flush_interval_s
        self.queue_size = queue_size
        self._pending: deque[PredictionEntry] = deque()
        self._wake = threading.Event()
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
        """Queue an entry without blocking. When the queue is full the entry goes to the fallback hook
        (the Elasticsearch sink's disk spool), or is counted as dropped when there is none; False then."""
        if len(self._pending) < self.queue_size:
            self._pending.append(entry)
            if len(self._pending) == self.batch_records:  # once per batch; the timer covers a missed one
                self._wake.set()
            return True
        if self.fallback is not None:
            try:
                records = encode([entry])
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
        self._wake.set()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self._pending and not self._busy:
                return True
            time.sleep(0.02)
        return False

    # ---- writer thread ----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            self._drain()
        self._drain()

    def _drain(self) -> None:
        while self._pending:
            self._busy = True
            try:
                entries: list[PredictionEntry] = []
                count = 0
                while self._pending and count < self.batch_records:
                    entry = self._pending.popleft()
                    entries.append(entry)
                    count += len(entry)
                self._write(entries)
            finally:
                self._busy = False

    def _write(self, entries: list[PredictionEntry]) -> None:
        try:
            records = encode(entries)
        except Exception:
            log.exception("could not build prediction records; %d entries lost", len(entries))
            with self._counts_lock:
                self.records_dropped += sum(len(entry) for entry in entries)
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
