"""Bounded in-memory queue drained by one background thread into a :class:`PredictionSink`.

Serving code calls :meth:`PredictionLogWriter.submit`, which never blocks and never wakes the
thread (one deque append: no lock handoff, no GIL switch per request); the thread wakes every
``flush_interval_s`` or when a batch is full. When the queue is full the entry goes to the fallback
or is counted as dropped, and the request goes on. The thread turns entries into
:class:`PredictionRecord` objects (so the request path does not pay for it) and writes them in
batches. A sink's ``write`` may raise; the batch then goes to the ``fallback`` hook (for example a
disk spool that is replayed later) and is only counted as lost when there is none or it fails too.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from scoreline.predlog.record import PredictionRecord, PredictionSink

log = logging.getLogger("scoreline.predlog")
_ids = random.Random()

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
        ids = self.request_ids or [f"{_ids.getrandbits(128):032x}" for _ in range(len(self))]
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
            if len(self._pending) >= self.batch_records:
                self._wake.set()
            return True
        if self.fallback is not None:
            try:
                records = entry.to_records()
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
