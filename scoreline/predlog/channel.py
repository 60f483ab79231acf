"""The request process's end of the prediction log: a :class:`PredictionSink` that hands serialized
records to the sink process (:mod:`scoreline.predlog.sinkd`) over a Unix domain socket.

Frames are ``!IcQ`` headers (payload length, kind, sequence number) and a payload. The client sends
``R`` (records: one ``request_id TAB timestamp TAB document`` line each), ``C`` (a batch file's columns,
Arrow IPC, see :mod:`scoreline.predlog.columns`) and ``P`` (ping); the sink answers ``A`` frames: every
frame up to that sequence number is in Elasticsearch or fsynced in the sink's spool (JSON Lines: written
to the file), with the sink's counters as the payload.

A sent frame stays in a bounded buffer until acknowledged and is sent again after a reconnect
(Elasticsearch's ``_id`` is the request id, so a second delivery overwrites the first). When the buffer
is full (the sink is gone or slower than serving), frames go to this process's own fsynced spool
folder, ``<spool>/clients/<id>/``, locked by this process (``flock``) while it writes there; the sink
process adopts and replays every such folder nobody holds, which covers this process being killed.
Without a spool folder (the JSON Lines sink) a write waits for room (``full_wait_s``; only the writer
thread writes, never a request) and only a sink that acknowledges nothing for that long has its
records counted as dropped: batch files posted back to back each fill the buffer, and the second one
was dropped while the sink was still writing the first.

What a ``kill -9`` of the request process loses: the records queued in the writer
(``prediction_log_queue_size`` entries at most, normally one flush interval) and the frames sent but
not yet acknowledged (``prediction_log_max_unacked_records`` at most). Every record acknowledged by
the sink or appended to the client spool survives it.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import logging
import os
import select
import shutil
import socket
import struct
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from scoreline.predlog.record import EncodedRecords, Records, encode_records
from scoreline.predlog.spool import DiskSpool, SpoolStats

log = logging.getLogger(__name__)

HEADER = struct.Struct("!IcQ")
RECORDS, COLUMNS, PING, ACK, BYE = b"R", b"C", b"P", b"A", b"B"
MAX_FRAME_BYTES = 1 << 30
# A frame's payload: bytes, or a list of pieces (bytes-like: bytes, ``pyarrow.Buffer``) sent one after the
# other without joining them (a batch file's Arrow stream, whose pieces are the batch's own arrays).
Payload = bytes | list[Any]
_IOV_MAX = 512  # pieces per sendmsg call (Linux allows 1024)
CLIENTS_FOLDER = "clients"
LOCK_FILE = ".lock"


def frame(kind: bytes, sequence: int, payload: bytes = b"") -> bytes:
    return HEADER.pack(len(payload), kind, sequence) + payload


def payload_size(payload: Payload) -> int:
    return len(payload) if isinstance(payload, bytes) else sum(map(len, payload))


def payload_bytes(payload: Payload) -> bytes:
    return payload if isinstance(payload, bytes) else b"".join(payload)


def send_frame(
    sock: socket.socket, kind: bytes, sequence: int, payload: Payload = b"", *, timeout_s: float | None = None
) -> None:
    """:func:`frame` sent without building it: a large payload is not copied behind its header first, and
    a payload in pieces goes out by ``sendmsg`` straight from them (``timeout_s``: for all its calls)."""
    if isinstance(payload, bytes):
        if len(payload) < 1 << 16:
            sock.sendall(frame(kind, sequence, payload))
            return
        sock.sendall(HEADER.pack(len(payload), kind, sequence))
        sock.sendall(payload)
        return
    views = [memoryview(HEADER.pack(payload_size(payload), kind, sequence))]
    views += [view for view in map(memoryview, payload) if view.nbytes]
    views = [view if view.format == "B" and view.ndim == 1 else view.cast("B") for view in views]
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    first = 0
    while first < len(views):
        sent = sock.sendmsg(views[first : first + _IOV_MAX])
        while sent and first < len(views):
            size = views[first].nbytes
            if sent < size:
                views[first] = views[first][sent:]
                break
            sent -= size
            first += 1
        if first < len(views) and deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"a prediction log frame not sent within {timeout_s} s")


def records_payload(records: EncodedRecords) -> bytes:
    """``request_id TAB timestamp TAB document`` per record, one per line (orjson writes neither raw tabs
    nor raw newlines, ids and timestamps hold none)."""
    # One join of all the pieces: formatting each line first copies every document once more (and a
    # thousand line-sized allocations cost ten times the join: 2.1 -> 0.2 us per 1.6 kB record).
    parts: list[bytes] = []
    for request_id, timestamp, document in zip(records.request_ids, records.timestamps, records.documents, strict=True):
        parts += (request_id.encode(), b"\t", timestamp.encode(), b"\t", document, b"\n")
    if parts:
        parts.pop()
    return b"".join(parts)


def payload_records(payload: bytes) -> EncodedRecords:
    out = EncodedRecords()
    if not payload:
        return out
    for line in payload.split(b"\n"):
        request_id, timestamp, document = line.split(b"\t", 2)
        out.request_ids.append(request_id.decode())
        out.timestamps.append(timestamp.decode())
        out.documents.append(document)
    return out


def spool_lines(kind: bytes, payload: Payload) -> list[bytes]:
    """A frame as client-spool lines: ``R`` and a record's line, or ``C`` and the base64 of a batch."""
    payload = payload_bytes(payload)
    if kind == RECORDS:
        return [RECORDS + line for line in payload.split(b"\n")] if payload else []
    return [COLUMNS + base64.b64encode(payload)]


def read_exactly(sock: socket.socket, size: int) -> bytes | None:
    """``size`` bytes, or None when the peer closed first."""
    chunks = []
    while size:
        chunk = sock.recv(min(size, 4 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(sock: socket.socket) -> tuple[bytes, int, bytes] | None:
    header = read_exactly(sock, HEADER.size)
    if header is None:
        return None
    size, kind, sequence = HEADER.unpack(header)
    if size > MAX_FRAME_BYTES:
        raise ConnectionError(f"a prediction log frame of {size} bytes; expected at most {MAX_FRAME_BYTES}")
    payload = read_exactly(sock, size) if size else b""
    if payload is None:
        return None
    return kind, sequence, payload


@dataclass(frozen=True)
class ChannelStats:
    """The ``SinkStats`` shape ``register_sink_metrics`` reads: the sink process's counters (as of its
    last acknowledgement) plus this process's spool and unacknowledged frames (``buffered``: the larger of the
    sink's queue and this process's unacknowledged records, which overlap)."""

    delivered: int
    spooled: int
    rejected: int
    buffered: int
    healthy: bool
    spool: SpoolStats
    connected: bool = False
    unacked: int = 0
    client_spooled: int = 0
    dropped: int = 0


@dataclass
class _Frame:
    sequence: int
    kind: bytes
    payload: Payload
    records: int
    size: int


@dataclass
class _SinkReport:
    values: dict[str, Any] = field(default_factory=dict)


class _ClientSpool:
    """This process's fallback spool folder, held with an ``flock`` while open."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.spool: DiskSpool | None = None
        self._lock_fd: int | None = None
        self.folder: Path | None = None

    def append(self, lines: list[bytes]) -> None:
        if self.spool is None:
            self.root.mkdir(parents=True, exist_ok=True)
            name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
            staging = self.root / f"tmp-{name}"
            staging.mkdir()
            fd = os.open(staging / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX)
            folder = self.root / name
            staging.rename(folder)  # the sink adopts only unlocked folders without the tmp- prefix
            self._lock_fd, self.folder, self.spool = fd, folder, DiskSpool(folder)
        self.spool.append(lines)

    def records(self) -> int:
        return self.spool.stats().records if self.spool is not None else 0

    def stats(self) -> SpoolStats:
        return self.spool.stats() if self.spool is not None else SpoolStats(0, 0, 0, 0.0)

    def release(self) -> None:
        """Hand the folder to the sink process (it replays folders nobody locks); an empty one is removed."""
        if self.spool is None:
            return
        self.spool.close()
        folder = self.folder
        empty = self.spool.is_empty()
        if empty and folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
        self.spool, self._lock_fd, self.folder = None, None, None


class SinkChannel:
    """A ``PredictionSink`` (``write``, ``write_columns``, ``close``) whose writes go to a sink process.

    ``write`` never blocks on the sink: the frame is appended to the unacknowledged buffer and sent
    (a send that takes longer than ``send_timeout_s`` cuts the connection; the frame is resent after
    the reconnect). A thread of its own connects, reads acknowledgements, resends and pings.
    """

    def __init__(
        self,
        address: str | Path,
        *,
        spool_dir: Path | None = None,
        max_unacked_records: int = 20_000,
        max_unacked_bytes: int = 256 * 1024 * 1024,
        send_timeout_s: float = 2.0,
        ping_interval_s: float = 1.0,
        reconnect_interval_s: float = 0.2,
        full_wait_s: float = 30.0,
        start: bool = True,
    ) -> None:
        self.address = str(address)
        self.max_unacked_records = max_unacked_records
        self.max_unacked_bytes = max_unacked_bytes
        self.send_timeout_s = send_timeout_s
        self.ping_interval_s = ping_interval_s
        self.reconnect_interval_s = reconnect_interval_s
        self.full_wait_s = full_wait_s
        self._client_spool = _ClientSpool(spool_dir / CLIENTS_FOLDER) if spool_dir is not None else None
        self._lock = threading.Lock()  # the buffer and the counters
        self._send_lock = threading.Lock()  # one writer on the socket at a time, frames in sequence order
        self._acked = threading.Condition(self._lock)
        self._unacked: deque[_Frame] = deque()
        self._unacked_records = 0
        self._unacked_bytes = 0
        self._sequence = 0
        self._sock: socket.socket | None = None
        self._stopping = threading.Event()
        self._report = _SinkReport()
        self.records_acked = 0
        self.records_spooled = 0
        self.records_dropped = 0
        self.reconnects = 0
        self._writer: Any = None
        self._thread = threading.Thread(target=self._run, name="prediction-log-channel", daemon=True)
        if start:
            self._thread.start()

    # ---- PredictionSink ---------------------------------------------------------------------
    def write(self, records: Records) -> None:
        encoded = encode_records(records)
        if encoded:
            self._submit(RECORDS, records_payload(encoded), len(encoded))

    def write_columns(self, entry: Any) -> None:
        """A batch file's predictions as one Arrow record batch (documents built by the sink): its pieces are
        the entry's arrays, kept (not copied) until acknowledged."""
        from scoreline.predlog.columns import entry_to_arrow_parts

        self._submit(COLUMNS, entry_to_arrow_parts(entry), len(entry))

    def close(self, timeout_s: float = 10.0) -> None:
        """Wait for the acknowledgements (up to ``timeout_s``), spool what is still unacknowledged, stop."""
        self.wait_delivered(timeout_s)
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._send_lock, self._lock:
            left = list(self._unacked)
            self._unacked.clear()
            self._unacked_records = self._unacked_bytes = 0
            sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.sendall(frame(BYE, 0))
            sock.close()
        for item in left:
            self._fallback(item.kind, item.payload, item.records)
        if self._client_spool is not None:
            self._client_spool.release()

    # ---- state -----------------------------------------------------------------------------
    def wait_delivered(self, timeout_s: float = 10.0) -> bool:
        """True once every frame written so far is acknowledged (or the timeout passed: False)."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._unacked:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._acked.wait(min(left, 0.1))
        return True

    @property
    def connected(self) -> bool:
        return self._sock is not None

    @property
    def spool(self) -> Any:
        """The client spool (``register_sink_metrics`` exposes sinks that have one)."""
        return self._client_spool

    def unacked_records(self) -> int:
        return self._unacked_records

    def sink_report(self) -> dict[str, Any]:
        """The sink process's counters as of its last acknowledgement (empty before the first)."""
        return dict(self._report.values)

    def stats(self) -> ChannelStats:
        report = self._report.values
        client_spool = self._client_spool.stats() if self._client_spool is not None else SpoolStats(0, 0, 0, 0.0)
        sink_spool = report.get("spool", {})
        spool = SpoolStats(
            records=int(sink_spool.get("records", 0)) + client_spool.records,
            bytes=int(sink_spool.get("bytes", 0)) + client_spool.bytes,
            segments=int(sink_spool.get("segments", 0)) + client_spool.segments,
            oldest_age_s=max(float(sink_spool.get("oldest_age_s", 0.0)), client_spool.oldest_age_s),
        )
        connected = self.connected
        return ChannelStats(
            delivered=int(report.get("delivered", 0)),
            spooled=int(report.get("spooled", 0)) + self.records_spooled,
            rejected=int(report.get("rejected", 0)),
            # The sink's queue holds only records that some client has not had acknowledged yet: with one
            # worker it is part of this process's unacknowledged records, so the larger of the two is counted
            # (their sum counted that backlog twice).
            buffered=max(int(report.get("buffered", 0)), self._unacked_records),
            healthy=connected and bool(report.get("healthy", True)),
            spool=spool,
            connected=connected,
            unacked=self._unacked_records,
            client_spooled=self.records_spooled,
            dropped=self.records_dropped,
        )

    # ---- sending -----------------------------------------------------------------------------
    def _submit(self, kind: bytes, payload: Payload, records: int) -> None:
        size = payload_size(payload)
        if self._client_spool is None:  # nowhere to put a frame past the limit: wait for the sink to catch up
            self._wait_for_room(records, size)
        with self._send_lock:
            with self._lock:
                full = self._full(records, size)
                if not full:
                    self._sequence += 1
                    item = _Frame(self._sequence, kind, payload, records, size)
                    self._unacked.append(item)
                    self._unacked_records += records
                    self._unacked_bytes += size
                sock = self._sock
            if full:
                self._fallback(kind, payload, records)
                return
            if sock is not None:
                try:
                    send_frame(sock, kind, item.sequence, payload, timeout_s=self.send_timeout_s)
                except OSError as error:
                    self._disconnect(sock, f"send failed: {error}")

    def _full(self, records: int, size: int) -> bool:
        return bool(self._unacked) and (
            self._unacked_records + records > self.max_unacked_records
            or self._unacked_bytes + size > self.max_unacked_bytes
        )

    def _wait_for_room(self, records: int, size: int) -> None:
        """Block (the writer thread) until the unacknowledged frames leave room, for ``full_wait_s`` at most."""
        deadline = time.monotonic() + self.full_wait_s
        with self._lock:
            while self._full(records, size) and not self._stopping.is_set():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._acked.wait(min(left, 0.5))

    def bind_writer(self, writer: Any) -> None:
        """Count this channel's spooled and dropped records in the writer's counters too (its /metrics)."""
        self._writer = writer

    def _fallback(self, kind: bytes, payload: Payload, records: int) -> None:
        spooled = False
        if self._client_spool is None:
            log.warning("prediction log sink unreachable or behind and no spool: %d records dropped", records)
        else:
            try:
                self._client_spool.append(spool_lines(kind, payload))
                spooled = True
            except OSError:
                log.exception("prediction log sink unreachable and the client spool failed: %d records lost", records)
        with self._lock:
            if spooled:
                self.records_spooled += records
            else:
                self.records_dropped += records
        writer = self._writer
        if writer is not None:
            with writer._counts_lock:
                if spooled:
                    writer.records_to_fallback += records
                else:
                    writer.records_dropped += records

    def _disconnect(self, sock: socket.socket, why: str) -> None:
        with self._lock:
            if self._sock is sock:
                self._sock = None
                log.warning("prediction log sink connection lost (%s); unacknowledged frames are resent", why)
        with contextlib.suppress(OSError):
            sock.close()

    # ---- channel thread ----------------------------------------------------------------------
    def _run(self) -> None:
        next_ping = 0.0
        while not self._stopping.is_set():
            sock = self._sock
            if sock is None:
                if not self._connect():
                    self._stopping.wait(self.reconnect_interval_s)
                continue
            try:
                readable, _, _ = select.select([sock], [], [], 0.1)
                if readable:
                    self._read_acks(sock)
            except (OSError, ValueError, ConnectionError) as error:
                self._disconnect(sock, str(error))
                continue
            now = time.monotonic()
            if now >= next_ping:
                next_ping = now + self.ping_interval_s
                with self._send_lock:
                    if self._sock is sock:
                        try:
                            sock.sendall(frame(PING, 0))
                        except OSError as error:
                            self._disconnect(sock, f"ping failed: {error}")
                if self._client_spool is not None and self._client_spool.spool is not None and not self._unacked:
                    # The sink answers again: it replays the folder once this process lets go of it.
                    with self._send_lock:
                        self._client_spool.release()

    def _connect(self) -> bool:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.send_timeout_s)
            sock.connect(self.address)
        except OSError:
            sock.close()
            return False
        with self._send_lock:
            with self._lock:
                pending = list(self._unacked)
            try:
                for item in pending:
                    send_frame(sock, item.kind, item.sequence, item.payload, timeout_s=self.send_timeout_s)
            except OSError:
                sock.close()
                return False
            with self._lock:
                self._sock = sock
                self.reconnects += 1
        if pending:
            log.info("prediction log sink connected; %d unacknowledged frames resent", len(pending))
        return True

    def _read_acks(self, sock: socket.socket) -> None:
        received = read_frame(sock)
        if received is None:
            raise ConnectionError("the sink process closed the connection")
        kind, sequence, payload = received
        if kind != ACK:
            return
        report = orjson.loads(payload) if payload else {}
        with self._lock:
            while self._unacked and self._unacked[0].sequence <= sequence:
                item = self._unacked.popleft()
                self._unacked_records -= item.records
                self._unacked_bytes -= item.size
                self.records_acked += item.records
            if report:
                self._report.values = report
            self._acked.notify_all()
