"""Bounded in-memory queue drained by one background thread into a :class:`PredictionSink`.

Serving code calls :meth:`PredictionLogWriter.submit`, which never blocks: when the queue is full
the entry is counted as dropped and the request goes on. The thread turns entries into
:class:`PredictionRecord` objects (so the request path does not pay for it) and writes them in
batches. A sink's ``write`` may raise; the batch then goes to the ``fallback`` hook (for example a
disk spool that is replayed later) and is only counted as lost when there is none or it fails too.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from scoreline.predlog.record import PredictionRecord, PredictionSink

log = logging.getLogger("scoreline.predlog")

FallbackHook = Callable[[list[PredictionRecord]], None]  # e.g. ElasticsearchSink.spill (disk spool)


@dataclass
class PredictionEntry:
    """Predictions of one request (one or many instances), as cheap to build as possible."""

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
    timestamp: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))

    def __len__(self) -> int:
        return len(self.inputs)

    def to_records(self) -> list[PredictionRecord]:
        ids = self.request_ids or [uuid.uuid4().hex for _ in range(len(self))]
        features = np.asarray(self.features, dtype=float).tolist()
        probabilities = None if self.probabilities is None else np.asarray(self.probabilities, dtype=float).tolist()
        inputs = self.inputs
        if isinstance(inputs, pd.DataFrame):
            inputs = inputs.astype(object).where(inputs.notna(), None).to_dict(orient="records")
        records = []
        for i, instance in enumerate(inputs):
            records.append(
                PredictionRecord.model_construct(
                    timestamp=self.timestamp,
                    request_id=ids[i],
                    task=self.task,
                    model_name=self.model_name,
                    model_version=self.model_version,
                    inputs=instance,
                    features={
                        name: _finite_or_none(v) for name, v in zip(self.feature_names, features[i], strict=False)
                    },
                    prediction=self.predictions[i],
                    probabilities=None
                    if probabilities is None
                    else dict(zip(self.classes, probabilities[i], strict=False)),
                    latency_ms=self.latency_ms,
                )
            )
        return records


def _finite_or_none(value: float) -> float | None:
    return value if value == value and value not in (float("inf"), float("-inf")) else None


_STOP = object()


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
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
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
        try:
            self._queue.put_nowait(entry)
            return True
        except queue.Full:
            if self.fallback is not None:
                try:
                    records = entry.to_records()
                except Exception:
                    log.exception("could not build prediction records; %d lost", len(entry))
                    with self._counts_lock:
                        self.records_dropped += len(entry)
                    return False
                self._to_fallback(records, queue.Full("prediction log queue is full"))
                return False
            with self._counts_lock:
                self.records_dropped += len(entry)
            return False

    def depth(self) -> int:
        return self._queue.qsize()

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> PredictionLogWriter:
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued, then stop the thread and close the sink."""
        if self._started:
            try:
                self._queue.put(_STOP, timeout=timeout_s)
            except queue.Full:
                log.warning("prediction log queue still full at shutdown; %d entries not written", self.depth())
            self._thread.join(timeout_s)
        self.sink.close()

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until everything submitted so far is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._queue.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    # ---- writer thread ----------------------------------------------------------------
    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                self._queue.task_done()
                return
            entries = [item]
            pending = len(item)
            deadline = time.monotonic() + self.flush_interval_s
            stop = False
            while pending < self.batch_records:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    more = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
                if more is _STOP:
                    stop = True
                    break
                entries.append(more)
                pending += len(more)
            self._write(entries)
            for _ in entries:
                self._queue.task_done()
            if stop:
                self._queue.task_done()
                return

    def _write(self, entries: list[PredictionEntry]) -> None:
        try:
            records = [record for entry in entries for record in entry.to_records()]
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

    def _to_fallback(self, records: list[PredictionRecord], exc: Exception) -> None:
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
