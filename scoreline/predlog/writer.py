"""Bounded in-memory queue drained by one background thread into a :class:`PredictionSink`.

Serving code calls :meth:`PredictionLogWriter.submit`, which never blocks and never wakes the
thread (one deque append: no lock handoff, no GIL switch per request); the thread wakes every
``flush_interval_s`` or when a batch is full. When the queue is full the entry goes to the fallback
or is counted as dropped, and the request goes on. The thread turns entries into plain documents
(the :class:`PredictionRecord` shape, built as dicts: a pydantic model per record would cost more
than the rest of the logging together) and writes them in large batches. A sink's ``write`` may
raise; the batch then goes to the ``fallback`` hook (for example a disk spool that is replayed
later) and is only counted as lost when there is none or it fails too.
"""

from __future__ import annotations

import gc
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice, repeat
from typing import Any

import numpy as np
import pandas as pd

from scoreline.predlog.record import Document, PredictionRecord, PredictionSink

log = logging.getLogger("scoreline.predlog")
LARGE_BATCH_ROWS = 10_000  # documents built at once from this many rows pause the cyclic collector
_ids = random.Random()

FallbackHook = Callable[[list[Document]], None]  # e.g. ElasticsearchSink.spill (disk spool)


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
        (``@timestamp``; NaN or infinite features as None) without building a model per record."""
        return documents([self])

    def to_records(self) -> list[PredictionRecord]:
        """The same documents as validated :class:`PredictionRecord` objects (the typed contract)."""
        return [PredictionRecord.model_validate(_by_name(document)) for document in self.to_documents()]


def documents(entries: Sequence[PredictionEntry]) -> list[dict[str, Any]]:
    """The documents of many entries. Entries of the same model are stacked so that the numbers of
    the whole batch go through numpy once (a numpy call per single-prediction entry costs more than
    building its document)."""
    out: list[dict[str, Any]] = []
    with _collector_paused(sum(len(entry) for entry in entries)):
        _append_runs(entries, out)
    return out


@contextmanager
def _collector_paused(rows: int) -> Iterator[None]:
    """The cyclic collector off while a large batch's documents are built: they hold no cycles, and
    the collections their many allocations trigger would walk the growing list again and again."""
    if rows < LARGE_BATCH_ROWS or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _append_runs(entries: Sequence[PredictionEntry], out: list[dict[str, Any]]) -> None:
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
        _append_documents(entries[start:end], out)
        start = end


def _plain_rows(arrays: list[np.ndarray]) -> Iterator[tuple[float | None, ...]]:
    """Rows of the stacked matrices as tuples of floats, non-finite cells as None.

    Built from column lists and zipped back into rows: zip reuses its row tuple when the consumer
    drops it, so a batch does not allocate a list per row (fewer objects for the garbage collector).
    """
    if not arrays:
        return iter(())
    matrix = np.concatenate([np.asarray(a, dtype=float).reshape(len(a), -1) for a in arrays])
    columns = matrix.T.tolist()
    for column, row in zip(*np.nonzero(~np.isfinite(matrix.T)), strict=True):
        columns[column][row] = None
    return zip(*columns, strict=True)


def _dicts(keys: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[dict[str, Any]]:
    """One ``dict(zip(keys, row))`` per row, built by C-level map calls rather than a Python loop body."""
    return list(map(dict, map(zip, repeat(keys), rows)))


def _append_documents(run: Sequence[PredictionEntry], out: list[dict[str, Any]]) -> None:
    """Documents of entries sharing feature names and classes, appended to ``out``.

    Built column-wise: the nested dicts of the whole run first, then one document literal per row.
    """
    with_probabilities = run[0].probabilities is not None
    names, classes = run[0].feature_names, run[0].classes
    features = _dicts(names, _plain_rows([entry.features for entry in run]))
    probabilities = (
        _dicts(classes, _plain_rows([entry.probabilities for entry in run]))  # type: ignore[misc]
        if with_probabilities
        else repeat(None)
    )
    per_row = iter(zip(features, probabilities, strict=False))  # probabilities may be repeat(None)
    for entry in run:
        n = len(entry)
        ids = entry.request_ids or _new_ids(n)
        inputs = _frame_records(entry.inputs) if isinstance(entry.inputs, pd.DataFrame) else entry.inputs
        timestamp, task, model_name, model_version = (
            entry.iso_timestamp(),
            entry.task,
            entry.model_name,
            entry.model_version,
        )
        latency = entry.latency_ms
        out.extend(
            [
                {
                    "@timestamp": timestamp,
                    "request_id": request_id,
                    "task": task,
                    "model_name": model_name,
                    "model_version": model_version,
                    "inputs": inputs_row,
                    "features": features_row,
                    "prediction": prediction,
                    "probabilities": probabilities_row,
                    "latency_ms": latency,
                }
                for request_id, inputs_row, prediction, (features_row, probabilities_row) in zip(
                    ids, inputs, entry.predictions, islice(per_row, n), strict=True
                )
            ]
        )


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
    return _dicts(names, zip(*columns, strict=True))


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
                records = entry.to_documents()
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
            records = documents(entries)
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

    def _to_fallback(self, records: list[Document], exc: Exception) -> None:
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
