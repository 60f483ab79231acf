"""The embedded prediction sink: rotated JSON Lines files under a local folder."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path
from typing import IO

import numpy as np
import orjson

from scoreline.predlog.record import ColumnChunk, PackedLines, Records, encode_records

FILE_PREFIX = "predictions-"
LINES_SUFFIX = ".jsonl"
CHUNK_SUFFIX = ".arrows"  # an Arrow IPC stream: one batch file's predictions (scoreline.predlog.columns)
PARTIAL_SUFFIX = ".part"  # a batch file's columns being written
ABANDONED_PART_S = 600.0  # a part untouched this long was left by a sink that stopped (one takes about a second)


class JsonlSink:
    """Appends one JSON document per line, bounded by size and age; a batch file's predictions, given as their
    columns (:class:`ColumnChunk`), get a file of their own instead, which readers read as the same documents.

    A file never grows past ``max_file_bytes``: a write that would cross it continues in a new file (only a
    single document larger than the limit gets a file of its own). When a file is started, the oldest files are
    deleted while the folder holds more than ``max_total_bytes`` or they are older than ``retention_s`` (the
    file being written is never deleted). A full file is synced to disk when the next one starts, and on close.
    Files are named ``predictions-<UTC time>-<n>.jsonl`` (``.arrows`` for a batch file's) so their names
    sort in write order. Readers may dedupe on ``request_id`` (a record re-sent after a failure appears twice).
    """

    def __init__(
        self,
        folder: Path,
        *,
        max_file_bytes: int = 64 * 1024 * 1024,
        writer: str = "",
        max_total_bytes: int | None = None,
        retention_s: float | None = None,
    ) -> None:
        """``writer``: a name in the file names, so that two processes logging into one folder never share a file."""
        self.folder = Path(folder)
        self.writer = f"{writer}-" if writer else ""
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self.retention_s = retention_s
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._path: Path | None = None
        self._written = 0
        self._sequence = 0

    def _open_new(self, suffix: str = LINES_SUFFIX) -> IO[bytes]:
        if self._file is not None:
            _finish(self._file)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        self._path = self.folder / f"{FILE_PREFIX}{stamp}-{self.writer}{self._sequence:06d}{suffix}"
        self._written = 0
        self._file = open(self._path, "ab")  # noqa: SIM115 - kept open between writes, closed on rotation
        self._enforce_retention()
        return self._file

    def write(self, records: Records) -> None:
        if isinstance(records, PackedLines):
            self._write_lines(records)
            return
        if isinstance(records, ColumnChunk):
            self._write_chunk(records)
            return
        documents = encode_records(records).documents
        if not documents:
            return
        with self._lock:
            start = 0
            while start < len(documents):
                if self._file is None or self._written >= self.max_file_bytes:
                    self._open_new()
                room = self.max_file_bytes - self._written
                end, size = start, 0
                while end < len(documents) and size + len(documents[end]) + 1 <= room:
                    size += len(documents[end]) + 1
                    end += 1
                if end == start:
                    if self._written:  # the next document does not fit: it starts the next file
                        self._open_new()
                        continue
                    end, size = start + 1, len(documents[start]) + 1  # larger than a whole file: alone in one
                assert self._file is not None
                self._file.write(b"\n".join(documents[start:end]) + b"\n")
                self._file.flush()
                self._written += size
                start = end

    def _write_lines(self, lines: PackedLines) -> None:
        """JSON Lines text as it is, cut at line ends where a file would pass ``max_file_bytes`` (the same files
        :meth:`write` makes of the same documents)."""
        bounds = lines.bounds
        view = lines.data
        with self._lock:
            first = 0
            while first < len(bounds) - 1:
                if self._file is None or self._written >= self.max_file_bytes:
                    self._open_new()
                room = self.max_file_bytes - self._written
                # the last line end within the room (bounds are increasing)
                last = int(np.searchsorted(bounds, bounds[first] + room, side="right")) - 1
                if last == first:
                    if self._written:  # the next document does not fit: it starts the next file
                        self._open_new()
                        continue
                    last = first + 1  # larger than a whole file: alone in one
                start, end = int(bounds[first]), int(bounds[last])
                assert self._file is not None
                self._file.write(view[start:end])
                self._file.flush()
                self._written += end - start
                first = last

    def _write_chunk(self, chunk: ColumnChunk) -> None:
        """The chunk in a file of its own, finished at once; the next lines start a new file after it."""
        if not chunk.rows:
            return
        with self._lock:
            file = self._open_new(CHUNK_SUFFIX + PARTIAL_SUFFIX)
            part, self._file = self._path, None  # the next lines start a file of their own, whatever happens here
            assert part is not None
            try:
                file.write(chunk.payload)
                _finish(file)
            except BaseException:  # unacknowledged, so sent again: no part of it stays behind
                with contextlib.suppress(OSError):
                    file.close()
                part.unlink(missing_ok=True)
                raise
            self._path = part.rename(part.with_suffix(""))  # readers never see a part of it

    def _enforce_retention(self) -> None:
        """Delete the oldest files past the total size or the age limit (never the file being written), and a
        batch file's part left by a sink that stopped while writing it (its records were never acknowledged, so
        they were sent again)."""
        now = time.time()
        for part in self.folder.glob(f"{FILE_PREFIX}*{CHUNK_SUFFIX}{PARTIAL_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                if part != self._path and now - part.stat().st_mtime > ABANDONED_PART_S:
                    part.unlink()
        if self.max_total_bytes is None and self.retention_s is None:
            return
        sized: list[tuple[Path, int, float]] = []
        for path in self.files():
            try:
                stat = path.stat()
            except FileNotFoundError:  # another writer's retention got there first
                continue
            sized.append((path, stat.st_size, stat.st_mtime))
        total = sum(size for _, size, _ in sized)
        for path, size, mtime in sized:  # oldest first (names sort in write order)
            too_old = self.retention_s is not None and now - mtime > self.retention_s
            too_big = self.max_total_bytes is not None and total > self.max_total_bytes
            if path == self._path or not (too_old or too_big):
                continue
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            total -= size

    def files(self) -> list[Path]:
        return log_files(self.folder)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                _finish(self._file)
                self._file = None


def _finish(file: IO[bytes]) -> None:
    """Close a full file once its lines are on disk, and take them out of the page cache: nobody reads a log file
    back soon, and a log that only grows would otherwise fill the cache with it (where fresh page-cache pages are
    expensive, as on the VM the benchmarks run on, that was half a batch file's logging cost)."""
    file.flush()
    os.fdatasync(file.fileno())
    os.posix_fadvise(file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    file.close()


def log_files(folder: Path) -> list[Path]:
    """The log's files in write order (their names sort so)."""
    folder = Path(folder)
    return sorted([*folder.glob(f"{FILE_PREFIX}*{LINES_SUFFIX}"), *folder.glob(f"{FILE_PREFIX}*{CHUNK_SUFFIX}")])


def file_documents(path: Path) -> list[bytes]:
    """The serialized documents of one log file, in write order."""
    if path.suffix == CHUNK_SUFFIX:
        from scoreline.predlog.columns import arrow_to_records

        return arrow_to_records(path.read_bytes()).documents
    with open(path, "rb") as handle:  # complete lines only: the sink may be appending to the file
        return [line for line in handle if line.endswith(b"\n") and line.strip()]


def read_jsonl(folder: Path) -> list[dict]:
    """Every document under ``folder`` in write order (for tests, the dashboard and the CLI)."""
    return [orjson.loads(document) for path in log_files(folder) for document in file_documents(path)]
