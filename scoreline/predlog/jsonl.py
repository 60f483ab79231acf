"""The embedded prediction sink: rotated JSON Lines files under a local folder."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import IO

import orjson

from scoreline.predlog.record import Records, encode_records

FILE_PREFIX = "predictions-"


class JsonlSink:
    """Appends one JSON document per line; starts a new file past ``max_file_bytes``.

    Files are named ``predictions-<UTC time>-<n>.jsonl`` so their names sort in write order.
    Readers may dedupe on ``request_id`` (a record re-sent after a failure appears twice).
    """

    def __init__(self, folder: Path, *, max_file_bytes: int = 64 * 1024 * 1024, writer: str = "") -> None:
        """``writer``: a name in the file names, so that two processes logging into one folder never share a file."""
        self.folder = Path(folder)
        self.writer = f"{writer}-" if writer else ""
        self.max_file_bytes = max_file_bytes
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        self._written = 0
        self._sequence = 0

    def _open_new(self) -> IO[bytes]:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = self.folder / f"{FILE_PREFIX}{stamp}-{self.writer}{self._sequence:06d}.jsonl"
        self._written = 0
        return open(path, "ab")

    def write(self, records: Records) -> None:
        documents = encode_records(records).documents
        if not documents:
            return
        payload = b"\n".join(documents) + b"\n"
        with self._lock:
            if self._file is None or self._written >= self.max_file_bytes:
                if self._file is not None:
                    self._file.close()
                self._file = self._open_new()
            self._file.write(payload)
            self._file.flush()
            self._written += len(payload)

    def files(self) -> list[Path]:
        return sorted(self.folder.glob(f"{FILE_PREFIX}*.jsonl"))

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def read_jsonl(folder: Path) -> list[dict]:
    """Every document under ``folder`` in write order (for tests, the dashboard and the CLI)."""
    documents: list[dict] = []
    for path in sorted(Path(folder).glob(f"{FILE_PREFIX}*.jsonl")):
        with open(path, "rb") as handle:
            documents.extend(orjson.loads(line) for line in handle if line.strip())
    return documents
