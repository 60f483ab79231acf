"""Disk spool for prediction records that could not be delivered yet.

Append-only segment files of lines (one record per line, stored as the caller encoded it: the
Elasticsearch sink stores each record's bulk lines, so a replay sends the bytes as they are),
fsynced on every append, so a record that reached the
spool survives a crash or a restart. The replayer drains segments oldest first: a segment is
deleted only after every record in it was delivered, so a failure half-way re-sends some records,
which is harmless because the destination is idempotent on ``request_id``.

Segment names carry a sequence number and the creation time in milliseconds
(``000000000042-1767225600000.jsonl``): order and age survive restarts without an index file.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".jsonl"


@dataclass(frozen=True)
class SpoolStats:
    records: int
    bytes: int
    segments: int
    oldest_age_s: float  # 0 when empty


@dataclass(frozen=True)
class _Segment:
    path: Path
    sequence: int
    created_ms: int

    @classmethod
    def parse(cls, path: Path) -> _Segment | None:
        sequence, _, created = path.stem.partition("-")
        if not (sequence.isdigit() and created.isdigit()):
            return None
        return cls(path, int(sequence), int(created))


class DiskSpool:
    """Thread-safe append-only spool in ``directory``; appends are durable when they return."""

    def __init__(self, directory: Path | str, *, segment_max_bytes: int = 8 * 1024 * 1024) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.segment_max_bytes = segment_max_bytes
        self._lock = threading.Lock()
        self._active: _Segment | None = None
        self._active_file: Any = None
        self._active_bytes = 0
        segments = self._segments()
        self._next_sequence = segments[-1].sequence + 1 if segments else 0
        # Counted once at start (a restart with a non-empty spool), then tracked on append/ack.
        self._records = sum(_count_lines(segment.path) for segment in segments)

    # ---- writing ---------------------------------------------------------------------------
    def append(self, lines: Sequence[bytes]) -> None:
        """Append records, one line each (bytes without a newline), durably."""
        if not lines:
            return
        payload = b"\n".join(lines) + b"\n"
        with self._lock:
            if self._active is None or self._active_bytes >= self.segment_max_bytes:
                self._rotate_locked()
            assert self._active_file is not None
            self._active_file.write(payload)
            self._active_file.flush()
            os.fsync(self._active_file.fileno())
            self._active_bytes += len(payload)
            self._records += len(lines)

    def _rotate_locked(self) -> None:
        self._close_active_locked()
        created_ms = int(time.time() * 1000)
        path = self.directory / f"{self._next_sequence:012d}-{created_ms}{SEGMENT_SUFFIX}"
        self._next_sequence += 1
        self._active = _Segment(path, self._next_sequence - 1, created_ms)
        self._active_file = open(path, "ab")  # noqa: SIM115 - kept open across appends, closed on rotate/close
        self._active_bytes = 0
        _fsync_directory(self.directory)

    def _close_active_locked(self) -> None:
        if self._active_file is not None:
            self._active_file.close()
        self._active = None
        self._active_file = None
        self._active_bytes = 0

    # ---- draining --------------------------------------------------------------------------
    def drain(
        self,
        deliver: Callable[[list[bytes]], None],
        *,
        batch_size: int = 1000,
        max_segments: int | None = None,
    ) -> int:
        """Deliver spooled records (lines, without their newline) oldest first in batches; returns how
        many were delivered.

        ``deliver`` raises to stop: the current segment stays on disk and is retried next time.
        """
        delivered = 0
        with self._lock:
            # New appends go to a fresh segment while the sealed ones drain.
            if self._active is not None and self._active_bytes > 0:
                self._close_active_locked()
            sealed = [s for s in self._segments() if self._active is None or s.path != self._active.path]
        for index, segment in enumerate(sealed):
            if max_segments is not None and index >= max_segments:
                break
            count = 0
            for batch in _batches(_read_lines(segment.path), batch_size):
                deliver(batch)
                count += len(batch)
            segment.path.unlink(missing_ok=True)
            with self._lock:
                self._records = max(0, self._records - count)
            delivered += count
        return delivered

    # ---- metrics ---------------------------------------------------------------------------
    def stats(self) -> SpoolStats:
        with self._lock:
            segments = self._segments()
            total = 0
            for segment in segments:
                try:
                    total += segment.path.stat().st_size
                except FileNotFoundError:
                    continue
            records = self._records if total else 0
            oldest = (time.time() - segments[0].created_ms / 1000) if records else 0.0
            return SpoolStats(records=records, bytes=total, segments=len(segments), oldest_age_s=max(0.0, oldest))

    def is_empty(self) -> bool:
        """Asked before every delivery of the sink process: an empty spool answers from its counter, without
        listing the folder (the counter is exact; only a non-zero count is checked against the files)."""
        with self._lock:
            if self._records == 0:
                return True
        return self.stats().records == 0

    def close(self) -> None:
        with self._lock:
            self._close_active_locked()

    def _segments(self) -> list[_Segment]:
        found = (_Segment.parse(path) for path in self.directory.glob(f"*{SEGMENT_SUFFIX}"))
        return sorted((s for s in found if s is not None), key=lambda s: s.sequence)


def _read_lines(path: Path) -> Iterator[bytes]:
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return
    lines = content.split(b"\n")
    if lines[-1]:
        # Only a crash mid-append leaves a torn last line (no newline); its append never returned,
        # so the writer did not count it as durable.
        log.warning("skipping a torn last line in spool segment %s", path.name)
    for line in lines[:-1]:
        if line.strip():
            yield line


def _batches(lines: Iterator[bytes], size: int) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for line in lines:
        batch.append(line)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _count_lines(path: Path) -> int:
    try:
        with open(path, "rb") as handle:
            return sum(1 for line in handle if line.strip())
    except FileNotFoundError:
        return 0


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
