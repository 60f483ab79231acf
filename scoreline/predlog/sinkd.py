"""The prediction log's sink process: ``python -m scoreline.predlog.sinkd`` or :func:`start_sink_process`.

CONTRACT (model-api, its worker supervisor, tools):

- ``SCORELINE_PREDICTION_LOG_SINK_ADDRESS`` (``PredictionLogSettings.prediction_log_sink_address``) is the
  path of a Unix domain socket. Set: every model-api process (worker) connects to the sink process already
  listening there and never starts or stops it; whoever started it owns it. Unset: model-api's lifespan
  starts its own sink process with :func:`start_sink_process` and stops it on shutdown.
- ``start_sink_process(settings) -> SinkProcess`` starts exactly one sink process (``spawn``) for the
  settings' sink (Elasticsearch with its fsynced spool when ``SCORELINE_ELASTICSEARCH_URL`` is set, rotated
  JSON Lines files otherwise). ``.address`` is the socket path to hand to the workers (the settings' address,
  or a fresh one under the temporary folder), ``.pid`` the process, ``.stop()`` drains and ends it. It is
  restarted when it dies unexpectedly (``restart=True``), and it ends by itself when its starter dies.
  Only one sink process may own an Elasticsearch spool folder: a second one waits for the first's lock.
- ``PredictionLogSettings.prediction_log_sink_process = False`` keeps the sink in the serving process
  (the in-process :class:`PredictionLogWriter` and sink, as before; embedded tools and unit tests).

Guarantees: every frame is acknowledged only once its records are in Elasticsearch (or written to the JSON
Lines file) or fsynced in the sink's spool; memory is bounded on both ends (the client's unacknowledged
frames, the sink's queue: past ``elasticsearch_max_pending_batches`` full bulks the backlog goes to the
spool in one fsynced append, and a full queue stops reading the sockets); the spool is replayed oldest first,
by a thread of its own, and while it holds records new ones are appended behind them (so a slow or
unreachable Elasticsearch never holds up the acknowledgements);
``_id`` is the request id, so the resends after a reconnect are idempotent. A kill -9 of this process loses
nothing acknowledged (the clients resend the rest); see :mod:`scoreline.predlog.channel` for the request
process's side. The sink's counters reach /metrics through the acknowledgements (and pings).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from scoreline.predlog.channel import (
    ACK,
    BYE,
    CLIENTS_FOLDER,
    COLUMNS,
    LOCK_FILE,
    PING,
    RECORDS,
    SinkChannel,
    frame,
    payload_records,
    read_frame,
)
from scoreline.predlog.factory import PredictionLogSettings
from scoreline.predlog.record import ColumnChunk, EncodedRecords, PackedLines

if TYPE_CHECKING:
    from scoreline.predlog.writer import PredictionLogWriter

log = logging.getLogger("scoreline.predlog.sinkd")
Taken = EncodedRecords | PackedLines | ColumnChunk  # what a target is given to deliver
SINK_LOCK = ".sink.lock"
SINK_PROCESS_NAME = "scoreline-predlog-sink"
RESTART_DELAY_S = 0.1
MAX_RESTART_DELAY_S = 10.0
TERMINATE_GRACE_S = 10.0  # after SIGTERM: how long connected clients get to say goodbye


class Target(Protocol):
    """The real sink, driven synchronously by the sink process's delivery thread (``deliver``, ``spill``,
    ``behind``) and its replay thread (``replay``); ``from_columns`` turns a columns frame into what it takes."""

    def from_columns(self, payload: bytes) -> Taken: ...

    def deliver(self, records: Taken) -> None: ...

    def behind(self) -> bool: ...

    def spill(self, records: Taken) -> None: ...

    def replay(self) -> int: ...

    def report(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class ElasticTarget:
    def __init__(self, settings: PredictionLogSettings) -> None:
        from scoreline.predlog.elastic import ElasticsearchSink

        # The delivery thread drives it: no thread of the sink's own.
        self.sink = ElasticsearchSink.from_settings(settings, start=False)

    def from_columns(self, payload: bytes) -> EncodedRecords:
        from scoreline.predlog.columns import arrow_to_records

        return arrow_to_records(payload)

    def deliver(self, records: EncodedRecords) -> None:
        self.sink.deliver(records)

    def behind(self) -> bool:
        """Records wait in the spool: new ones go behind them (replayed in order), not to Elasticsearch."""
        return not self.sink.spool.is_empty()

    def spill(self, records: EncodedRecords) -> None:
        self.sink.spill(records)

    def replay(self) -> int:
        return self.sink.replay()

    def report(self) -> dict[str, Any]:
        stats = self.sink.stats()
        return {
            "delivered": stats.delivered, "spooled": stats.spooled, "rejected": stats.rejected,
            "healthy": stats.healthy, "spool": asdict(stats.spool),
        }  # fmt: skip

    def close(self) -> None:
        self.sink.close()


class JsonlTarget:
    def __init__(self, settings: PredictionLogSettings) -> None:
        from scoreline.predlog.factory import make_sink

        self.sink = make_sink(settings, writer=f"sink{os.getpid()}")
        self.delivered = 0

    def from_columns(self, payload: bytes) -> ColumnChunk | PackedLines:
        """A batch file's columns go to a file as they are; gathered single predictions as JSON Lines text."""
        from scoreline.predlog.columns import local_log_records

        return local_log_records(payload)

    def deliver(self, records: Taken) -> None:
        self.sink.write(records)
        self.delivered += len(records)

    spill = deliver

    def behind(self) -> bool:
        return False

    def replay(self) -> int:
        return 0

    def report(self) -> dict[str, Any]:
        return {"delivered": self.delivered, "spooled": 0, "rejected": 0, "healthy": True}

    def close(self) -> None:
        self.sink.close()


def _merged(parts: list[Taken]) -> list[Taken]:
    """Consecutive encoded records as one (one bulk body or file write); packed lines and chunks stay as they are."""
    merged: list[Taken] = []
    for records in parts:
        if isinstance(records, EncodedRecords) and merged and isinstance(merged[-1], EncodedRecords):
            merged[-1].extend(records)
        elif isinstance(records, EncodedRecords):
            merged.append(EncodedRecords(list(records.request_ids), list(records.timestamps), list(records.documents)))
        else:
            merged.append(records)
    return merged


def make_target(settings: PredictionLogSettings) -> Target:
    return ElasticTarget(settings) if settings.elasticsearch_url else JsonlTarget(settings)


def client_spool_dir(settings: PredictionLogSettings) -> Path | None:
    """Where request processes spool what the sink process cannot take (Elasticsearch only, as before)."""
    return settings.predlog_spool_dir if settings.elasticsearch_url else None


def decode_spool_lines(lines: list[bytes]) -> EncodedRecords:
    """Client-spool lines (see ``channel.spool_lines``) back into records, in order."""
    from scoreline.predlog.columns import arrow_to_records

    out = EncodedRecords()
    run: list[bytes] = []
    for line in lines:
        if line[:1] == RECORDS:
            run.append(line[1:])
            continue
        if run:
            out.extend(payload_records(b"\n".join(run)))
            run = []
        if line[:1] == COLUMNS:
            out.extend(arrow_to_records(base64.b64decode(line[1:])))
    if run:
        out.extend(payload_records(b"\n".join(run)))
    return out


class _Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.send_lock = threading.Lock()
        self.durable = 0  # every frame of this connection up to this sequence number is durable
        self.open = True

    def send(self, data: bytes) -> None:
        if not self.open:
            return
        with self.send_lock:
            try:
                self.sock.sendall(data)
            except OSError:
                self.open = False


@dataclass
class _Item:
    connection: _Connection
    sequence: int
    records: Taken


class SinkServer:
    """Accepts request processes on a Unix socket and delivers their frames through one :class:`Target`."""

    def __init__(
        self,
        target: Target,
        address: str | Path,
        *,
        bulk_records: int = 2000,
        max_pending_batches: int = 8,
        replay_interval_s: float = 2.0,
        client_spools: Path | None = None,
        owner_pid: int | None = None,
    ) -> None:
        self.target = target
        self.address = str(address)
        self.bulk_records = bulk_records
        self.spill_backlog = max_pending_batches * bulk_records  # more waiting: the spool, not memory
        self.max_queued = 2 * self.spill_backlog  # more waiting: stop reading the sockets
        self.replay_interval_s = replay_interval_s
        self.client_spools = client_spools
        self.owner_pid = owner_pid
        self._queue: deque[_Item] = deque()
        self._queued = 0
        self._cond = threading.Condition()
        self._connections: set[_Connection] = set()
        self._stop = threading.Event()
        self._terminate_at: float | None = None
        self._listener: socket.socket | None = None

    # ---- lifecycle ---------------------------------------------------------------------------
    def bind(self) -> None:
        path = Path(self.address)
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self.address)
        listener.listen(64)
        listener.settimeout(0.25)
        self._listener = listener

    def request_termination(self) -> None:
        """SIGTERM: finish once the clients are gone (they close after draining), or after a grace period."""
        if self._terminate_at is None:
            self._terminate_at = time.monotonic() + TERMINATE_GRACE_S

    def stop(self) -> None:
        self._stop.set()

    def serve(self) -> None:
        if self._listener is None:
            self.bind()
        delivery = threading.Thread(target=self._deliver_loop, name="predlog-sink-delivery", daemon=True)
        delivery.start()
        replay = threading.Thread(target=self._replay_loop, name="predlog-sink-replay", daemon=True)
        replay.start()
        assert self._listener is not None
        try:
            while not self._should_stop():
                try:
                    sock, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    break
                sock.settimeout(None)
                connection = _Connection(sock)
                with self._cond:
                    self._connections.add(connection)
                threading.Thread(
                    target=self._read_loop, args=(connection,), name="predlog-sink-reader", daemon=True
                ).start()
        finally:
            self._listener.close()
            with contextlib.suppress(FileNotFoundError):
                Path(self.address).unlink()
            self._stop.set()
            with self._cond:
                connections = list(self._connections)
                self._cond.notify_all()
            for connection in connections:  # readers end; what they queued is still delivered below
                with contextlib.suppress(OSError):
                    connection.sock.shutdown(socket.SHUT_RD)
            delivery.join()
            replay.join()
            for connection in connections:
                connection.open = False
                with contextlib.suppress(OSError):
                    connection.sock.close()
            self.target.close()

    def _should_stop(self) -> bool:
        if self._stop.is_set():
            return True
        if self.owner_pid is not None and os.getppid() != self.owner_pid:
            log.warning("the process that started the prediction log sink is gone; stopping")
            return True
        if self._terminate_at is not None:
            with self._cond:
                idle = not self._connections
            return idle or time.monotonic() >= self._terminate_at
        return False

    # ---- reading -----------------------------------------------------------------------------
    def _read_loop(self, connection: _Connection) -> None:
        try:
            while True:
                received = read_frame(connection.sock)
                if received is None:
                    break
                kind, sequence, payload = received
                if kind == PING:
                    connection.send(frame(ACK, connection.durable, self._report()))
                    continue
                if kind == BYE:
                    break
                records = payload_records(payload) if kind == RECORDS else self.target.from_columns(payload)
                with self._cond:
                    while self._queued >= self.max_queued and self._queue and not self._stop.is_set():
                        self._cond.wait(0.5)
                    self._queue.append(_Item(connection, sequence, records))
                    self._queued += len(records)
                    self._cond.notify_all()
        except (OSError, ValueError, ConnectionError) as error:
            log.warning("prediction log client dropped: %s", error)
        finally:
            with self._cond:
                self._connections.discard(connection)

    # ---- delivering --------------------------------------------------------------------------
    def _deliver_loop(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    if self._stop.is_set():
                        break
                    self._cond.wait(0.25)
                items: list[_Item] = []
                count = 0
                while self._queue and (not items or count + len(self._queue[0].records) <= self.bulk_records):
                    item = self._queue.popleft()
                    items.append(item)
                    count += len(item.records)
                    self._queued -= len(item.records)
                backlog = self._queued
                self._cond.notify_all()
            if items:
                # A backlog, or records already waiting in the spool (Elasticsearch slow or down): to the spool,
                # acknowledged at once; only the replay thread waits on Elasticsearch then, so the request
                # processes' unacknowledged frames never pile up into their own spools behind a slow bulk.
                self._deliver(items, spill=backlog > self.spill_backlog or self.target.behind())

    def _replay_loop(self) -> None:
        """The spool (and request processes' abandoned spools) back to the target, oldest first, in a thread of
        its own: a replay against a slow or unreachable Elasticsearch (each probe waits out its timeout) never
        holds up the acknowledgements."""
        while True:
            self._replay()
            if self._stop.wait(self.replay_interval_s):
                return

    def _deliver(self, items: list[_Item], *, spill: bool) -> None:
        parts = _merged([item.records for item in items])
        try:
            for records in parts:
                (self.target.spill if spill else self.target.deliver)(records)
        except Exception:
            log.exception(
                "the prediction sink failed on %d records; their clients resend them", sum(len(p) for p in parts)
            )
            for item in items:  # no acknowledgement: cut the connections so that the clients resend
                with contextlib.suppress(OSError):
                    item.connection.sock.shutdown(socket.SHUT_RDWR)
            return
        last: dict[_Connection, int] = {}
        for item in items:
            last[item.connection] = item.sequence
        report = self._report()
        for connection, sequence in last.items():
            connection.durable = max(connection.durable, sequence)
            connection.send(frame(ACK, connection.durable, report))

    def _report(self) -> bytes:
        report = self.target.report()
        report["buffered"] = self._queued
        return orjson.dumps(report)

    def _replay(self) -> None:
        try:
            self.adopt_client_spools()
            self.target.replay()
        except Exception:
            log.exception("prediction log replay failed; retried later")

    def adopt_client_spools(self) -> int:
        """Replay the spool folders of request processes that let go of them (or died): into this sink's
        own spool (or file), then delete them. Returns how many records were taken."""
        from scoreline.predlog.spool import DiskSpool

        if self.client_spools is None or not self.client_spools.is_dir():
            return 0
        taken = 0
        for folder in sorted(self.client_spools.iterdir()):
            if folder.name.startswith("tmp-") or not folder.is_dir():
                continue
            try:
                fd = os.open(folder / LOCK_FILE, os.O_CREAT | os.O_RDWR, 0o644)
            except OSError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its request process still writes there
                spool = DiskSpool(folder)
                taken += spool.drain(lambda lines: self.target.spill(decode_spool_lines(lines)))
                spool.close()
                shutil.rmtree(folder, ignore_errors=True)
            finally:
                os.close(fd)
        if taken:
            log.info("took %d prediction records from request processes' spools", taken)
        return taken


# ---- the process ------------------------------------------------------------------------------
def default_address() -> str:
    """A fresh socket path short enough for AF_UNIX (108 bytes) whatever the work folder."""
    return str(Path(tempfile.mkdtemp(prefix="scoreline-sink-")) / "sink.sock")


@contextlib.contextmanager
def _spool_lock(settings: PredictionLogSettings) -> Any:
    """One sink process per Elasticsearch spool folder: wait for a previous one to finish."""
    if not settings.elasticsearch_url:
        yield
        return
    folder = settings.predlog_spool_dir
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / SINK_LOCK, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        warned = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not warned:
                    log.info("waiting for the previous prediction log sink to release %s", folder)
                    warned = True
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def run_sink(settings: PredictionLogSettings, address: str, owner_pid: int | None = None) -> None:
    """The sink process's body: serve until stopped (SIGTERM/SIGINT: once the clients left)."""
    with _spool_lock(settings):
        target = make_target(settings)
        server = SinkServer(
            target,
            address,
            bulk_records=settings.elasticsearch_bulk_max_records,
            max_pending_batches=settings.elasticsearch_max_pending_batches,
            replay_interval_s=settings.elasticsearch_replay_interval_s,
            client_spools=(lambda folder: folder / CLIENTS_FOLDER if folder else None)(client_spool_dir(settings)),
            owner_pid=owner_pid,
        )
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: server.request_termination())
        server.bind()
        server.serve()


def _child_main(
    settings: PredictionLogSettings, address: str, owner_pid: int, initializer: Callable[[], None] | None
) -> None:
    from scoreline.core.logs import configure_logging

    configure_logging("predlog-sink")
    if settings.prediction_log_sink_niceness > 0:
        os.nice(settings.prediction_log_sink_niceness)
    if initializer is not None:
        initializer()
    run_sink(settings, address, owner_pid)


def _log_settings(settings: PredictionLogSettings) -> PredictionLogSettings:
    """Only the prediction log's fields travel to the child (a service's settings class may not pickle)."""
    fields = {name: getattr(settings, name) for name in PredictionLogSettings.model_fields}
    return PredictionLogSettings(**fields)


class SinkProcess:
    """A sink process started by this one; restarted when it dies unexpectedly (``restart``)."""

    def __init__(
        self,
        settings: PredictionLogSettings,
        address: str,
        *,
        initializer: Callable[[], None] | None = None,
        restart: bool = True,
    ) -> None:
        self.settings = _log_settings(settings)
        self.address = address
        self.initializer = initializer
        self.restart = restart
        self.restarts = 0
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._stopping = threading.Event()
        self._watchdog: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def is_alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> SinkProcess:
        self._spawn()
        if self.restart:
            self._watchdog = threading.Thread(target=self._watch, name="predlog-sink-watchdog", daemon=True)
            self._watchdog.start()
        return self

    def _spawn(self) -> None:
        self._process = self._context.Process(
            target=_child_main,
            args=(self.settings, self.address, os.getpid(), self.initializer),
            name=SINK_PROCESS_NAME,
            daemon=True,
        )
        self._process.start()

    def _watch(self) -> None:
        delay = RESTART_DELAY_S
        started = time.monotonic()
        while not self._stopping.wait(0.2):
            process = self._process
            if process is None or process.is_alive() or self._stopping.is_set():
                continue
            # One that dies soon after starting (a broken setting) is restarted ever more slowly.
            delay = (
                RESTART_DELAY_S
                if time.monotonic() - started > MAX_RESTART_DELAY_S
                else min(delay * 2, MAX_RESTART_DELAY_S)
            )
            log.warning(
                "the prediction log sink process exited (%s); starting it again in %.1f s", process.exitcode, delay
            )
            if self._stopping.wait(delay):
                return
            self.restarts += 1
            started = time.monotonic()
            self._spawn()

    def wait_ready(self, timeout_s: float = 30.0) -> bool:
        """True once the socket accepts connections; False (logged) if it does not within ``timeout_s``: clients
        connect whenever it is ready, spooling meanwhile."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                probe.connect(self.address)
                probe.sendall(frame(BYE, 0))
                return True
            except OSError:
                time.sleep(0.01)
            finally:
                probe.close()
        log.warning("the prediction log sink at %s is not accepting connections yet", self.address)
        return False

    def stop(self, timeout_s: float = 30.0) -> None:
        """Drain and end the sink (SIGTERM: it finishes once the clients are gone)."""
        self._stopping.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=2)
        process = self._process
        if process is None:
            return
        if process.is_alive():
            process.terminate()
            process.join(timeout_s)
        if process.is_alive():
            log.warning("the prediction log sink did not stop in %.0f s; killed", timeout_s)
            process.kill()
            process.join(5)

    def kill(self) -> None:
        """SIGKILL (tests: a crash); the watchdog starts a new one when ``restart``."""
        if self._process is not None and self._process.pid is not None:
            os.kill(self._process.pid, signal.SIGKILL)


def _forget_sink_processes() -> None:
    """In a process forked from the sink's starter (a worker): the sink is not its child. multiprocessing
    would otherwise SIGTERM and wait for it when that worker exits (its list of children is inherited)."""
    children = multiprocessing.process._children  # type: ignore[attr-defined]
    for child in list(children):
        if getattr(child, "name", "") == SINK_PROCESS_NAME:
            children.discard(child)


os.register_at_fork(after_in_child=_forget_sink_processes)


def start_sink_process(
    settings: PredictionLogSettings,
    *,
    address: str | None = None,
    initializer: Callable[[], None] | None = None,
    restart: bool = True,
    wait_s: float = 0.0,
) -> SinkProcess:
    """Start one sink process for ``settings`` (see the module's contract). ``wait_s`` > 0 waits until it
    accepts connections (clients connect whenever it is ready anyway)."""
    chosen = address or settings.prediction_log_sink_address or default_address()
    process = SinkProcess(settings, chosen, initializer=initializer, restart=restart).start()
    if wait_s > 0:
        process.wait_ready(wait_s)
    return process


def connect_writer(settings: PredictionLogSettings, address: str) -> PredictionLogWriter:
    """The request process's writer: its queue and thread as before, its sink the channel to ``address``."""
    from scoreline.predlog.writer import PredictionLogWriter

    channel = SinkChannel(
        address,
        spool_dir=client_spool_dir(settings),
        max_unacked_records=settings.prediction_log_max_unacked_records,
    )
    writer = PredictionLogWriter(
        channel,
        queue_size=settings.prediction_log_queue_size,
        batch_records=settings.prediction_log_batch_records,
        flush_interval_s=settings.prediction_log_flush_interval_s,
    )
    channel.bind_writer(writer)
    return writer.start()


def main() -> None:
    parser = argparse.ArgumentParser(description="The prediction log sink process (SCORELINE_* settings).")
    parser.add_argument("--address", help="Unix socket path (default: SCORELINE_PREDICTION_LOG_SINK_ADDRESS)")
    args = parser.parse_args()
    from scoreline.core.logs import configure_logging

    configure_logging("predlog-sink")
    settings = PredictionLogSettings()
    address = args.address or settings.prediction_log_sink_address
    if not address:
        parser.error("no socket path: pass --address or set SCORELINE_PREDICTION_LOG_SINK_ADDRESS")
    run_sink(settings, address)


if __name__ == "__main__":
    main()
