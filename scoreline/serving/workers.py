"""Several serving workers swap champions together, coordinated through files in one run directory.

Each worker of a model-api writes ``<run dir>/workers/<worker>.json`` (atomically: a temporary file
renamed over it) saying which version of each task it serves, which version it has staged (loaded,
smoke-tested, waiting for the others) and which version it could not load. A worker swaps a new
version in only once every live worker has staged it (or serves it, or failed it), or after a
bounded timeout, which it logs. A worker that sees a peer stage or serve a version it has not
tried reloads on its own, so a swap started by one worker (poll, admin call, webhook) reaches all.

The decisions (:func:`swap_ready`, :func:`swap_complete`, :func:`version_to_follow`) are pure; the
files are read and written by :class:`RunDirectory`, and :class:`SwapGate` ties them to one process.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("scoreline.serving")

POLL_S = 0.05  # how often a worker looks at its peers' files (one stat of the folder when nothing changed)
SWAP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class WorkerStatus:
    worker: int
    pid: int
    serving: Mapping[str, str | None] = field(default_factory=dict)  # task -> version served
    staged: Mapping[str, str] = field(default_factory=dict)  # task -> version loaded, waiting for the others
    failed: Mapping[str, str] = field(default_factory=dict)  # task -> version this worker could not serve
    unpromoted: tuple[str, ...] = ()  # tasks whose staged version an admin serves without a promotion

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "unpromoted": list(self.unpromoted)})

    @classmethod
    def from_json(cls, text: str) -> WorkerStatus:
        raw = json.loads(text)
        return cls(
            worker=int(raw["worker"]),
            pid=int(raw["pid"]),
            serving=dict(raw.get("serving") or {}),
            staged=dict(raw.get("staged") or {}),
            failed=dict(raw.get("failed") or {}),
            unpromoted=tuple(raw.get("unpromoted") or ()),
        )

    def has(self, task: str, version: str) -> bool:
        """The version is loaded here: served, or staged and waiting."""
        return self.serving.get(task) == version or self.staged.get(task) == version


def swap_ready(statuses: Iterable[WorkerStatus], task: str, version: str) -> bool:
    """Every worker has ``version`` loaded, or has given up on it: the swap can happen everywhere now."""
    return all(s.has(task, version) or s.failed.get(task) == version for s in statuses)


def swap_complete(statuses: Iterable[WorkerStatus], task: str, version: str) -> bool:
    """Every worker that could load ``version`` serves it."""
    return all(s.serving.get(task) == version or s.failed.get(task) == version for s in statuses)


def version_to_follow(
    me: WorkerStatus, peers: Iterable[WorkerStatus], task: str, tried: Iterable[str]
) -> tuple[str, bool] | None:
    """A version of ``task`` some peer stages (preferred) or serves that this worker neither has nor has tried,
    and whether that peer serves it unpromoted (an admin override the follower repeats)."""
    tried = set(tried)
    candidates: list[tuple[str, bool]] = []
    for peer in peers:
        if peer.worker == me.worker:
            continue
        staged = peer.staged.get(task)
        if staged is not None:
            candidates.insert(0, (staged, task in peer.unpromoted))
        served = peer.serving.get(task)
        if served is not None:
            candidates.append((served, False))
    for version, unpromoted in candidates:
        if version not in tried and not me.has(task, version) and me.failed.get(task) != version:
            return version, unpromoted
    return None


def pid_alive(pid: int) -> bool:
    """Running and not a zombie (a worker that died but was not reaped yet is not live)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True


class RunDirectory:
    """``<path>/workers/<worker>.json``: one status per worker, each replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.workers = self.path / "workers"

    def create(self) -> RunDirectory:
        self.workers.mkdir(parents=True, exist_ok=True)
        return self

    def status_file(self, worker: int) -> Path:
        return self.workers / f"{worker}.json"

    def write(self, status: WorkerStatus) -> None:
        target = self.status_file(status.worker)
        staging = target.with_name(f".{target.name}.{status.pid}.tmp")
        staging.write_text(status.to_json())
        os.replace(staging, target)

    def remove(self, worker: int) -> None:
        self.status_file(worker).unlink(missing_ok=True)

    def read(self) -> list[WorkerStatus]:
        """The statuses of live workers, by worker id; a file being replaced or of a dead process is skipped."""
        statuses = []
        try:
            names = sorted(os.listdir(self.workers))
        except FileNotFoundError:
            return []
        for name in names:
            if not name.endswith(".json") or name.startswith("."):
                continue
            try:
                status = WorkerStatus.from_json((self.workers / name).read_text())
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if pid_alive(status.pid):
                statuses.append(status)
        return sorted(statuses, key=lambda s: s.worker)

    def stamp(self) -> int:
        """Changes whenever a status file is replaced (the folder's modification time)."""
        try:
            return os.stat(self.workers).st_mtime_ns
        except FileNotFoundError:
            return 0


Swap = Callable[[], None]
Follow = Callable[[str, str, bool], bool]  # (task, version, serve_unpromoted) -> served it


class SwapGate:
    """One worker's side: publishes its status, holds a swap until the peers are ready, follows their swaps."""

    def __init__(
        self,
        run_dir: RunDirectory,
        worker: int,
        *,
        timeout_s: float = SWAP_TIMEOUT_S,
        poll_s: float = POLL_S,
    ) -> None:
        self.run_dir = run_dir.create()
        self.worker = worker
        self.pid = os.getpid()
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self._serving: dict[str, str | None] = {}
        self._staged: dict[str, str] = {}
        self._failed: dict[str, str] = {}
        self._unpromoted: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._follower: threading.Thread | None = None
        self.publish({})

    # ---- this worker's status -------------------------------------------------------------------
    def status(self) -> WorkerStatus:
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> WorkerStatus:
        """This worker's status as it is now (the caller holds ``_lock``)."""
        return WorkerStatus(
            self.worker,
            self.pid,
            dict(self._serving),
            dict(self._staged),
            dict(self._failed),
            tuple(sorted(self._unpromoted)),
        )

    def publish(self, serving: Mapping[str, str | None] | None = None) -> None:
        with self._lock:
            if serving is not None:
                self._serving = dict(serving)
            status = self._snapshot()
        try:
            self.run_dir.write(status)
        except OSError as exc:
            log.warning("worker %s could not publish its status in %s: %s", self.worker, self.run_dir.path, exc)

    def mark_failed(self, task: str, version: str) -> None:
        with self._lock:
            self._failed[task] = version
            if self._staged.get(task) == version:
                del self._staged[task]
        self.publish()

    def peers(self) -> list[WorkerStatus]:
        """Every live worker's status, this one's as this process knows it (its file may lag)."""
        others = [s for s in self.run_dir.read() if s.worker != self.worker]
        return sorted([*others, self.status()], key=lambda s: s.worker)

    # ---- a swap, together ------------------------------------------------------------------------
    def swap_together(self, task: str, version: str, swap: Swap, *, unpromoted: bool = False) -> bool:
        """Stage ``version``, wait until every live worker has it, then ``swap``; True when nobody was waited
        out. Returns once every worker serves it, or after the timeout (logged)."""
        with self._lock:
            self._staged[task] = version
            self._failed.pop(task, None)
            if unpromoted:
                self._unpromoted.add(task)
        self.publish()
        together = self._wait(lambda: swap_ready(self.peers(), task, version))
        if not together:
            late = [s.worker for s in self.peers() if not s.has(task, version) and s.failed.get(task) != version]
            log.warning(
                "swap of %s to %s: workers %s had not loaded it after %.0f s; worker %s swaps without them",
                task, version, late, self.timeout_s, self.worker,
            )  # fmt: skip
        swap()
        with self._lock:
            self._serving[task] = version
            if self._staged.get(task) == version:
                del self._staged[task]
            self._unpromoted.discard(task)
        self.publish()
        if not self._wait(lambda: swap_complete(self.peers(), task, version)):
            behind = [(s.worker, s.serving.get(task)) for s in self.peers() if s.serving.get(task) != version]
            log.warning("swap of %s to %s: workers (id, version) %s still serve another version", task, version,
                        behind)  # fmt: skip
            together = False
        return together

    def _wait(self, condition: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + self.timeout_s
        while True:
            if condition():
                return True
            if time.monotonic() >= deadline or self._stop.is_set():
                return False
            time.sleep(self.poll_s)

    # ---- following the peers' swaps ----------------------------------------------------------------
    def follow(self, tasks: Iterable[str], reload: Follow) -> None:
        """Watch the peers; when one stages or serves a version this worker has not tried, ``reload`` it
        (each version once per task: a version that does not load here is not retried in a loop)."""
        if self._follower is not None:
            return
        tasks = tuple(tasks)
        tried: dict[str, set[str]] = {task: set() for task in tasks}
        served_when_tried: dict[str, str | None] = {}
        busy: set[str] = set()
        busy_lock = threading.Lock()

        def run_one(task: str, version: str, unpromoted: bool) -> None:
            try:
                if not reload(task, version, unpromoted):
                    self.mark_failed(task, version)
            except Exception:
                log.exception("worker %s could not follow %s to %s", self.worker, task, version)
                self.mark_failed(task, version)
            finally:
                with busy_lock:
                    busy.discard(task)

        def loop() -> None:
            seen = -1
            while not self._stop.wait(self.poll_s):
                stamp = self.run_dir.stamp()
                if stamp == seen:
                    continue
                seen = stamp
                peers = self.run_dir.read()
                me = self.status()
                for task in tasks:
                    if me.serving.get(task) != served_when_tried.get(task):
                        served_when_tried[task] = me.serving.get(task)
                        tried[task].clear()  # a version tried before may load now (e.g. swapped back to)
                    with busy_lock:
                        if task in busy:
                            seen = -1  # look again once this task's reload is done
                            continue
                    found = version_to_follow(me, peers, task, tried[task])
                    if found is None:
                        continue
                    version, unpromoted = found
                    tried[task].add(version)
                    with busy_lock:
                        busy.add(task)
                    threading.Thread(
                        target=run_one, args=(task, version, unpromoted), name=f"follow-{task}", daemon=True
                    ).start()

        self._follower = threading.Thread(target=loop, name="swap-follower", daemon=True)
        self._follower.start()

    def stop(self) -> None:
        self._stop.set()
        if self._follower is not None:
            self._follower.join(timeout=5)


def worker_listing(statuses: Iterable[WorkerStatus]) -> list[dict[str, Any]]:
    """What ``/v1/models`` says about each worker."""
    return [{"worker": s.worker, "pid": s.pid, "versions": dict(s.serving), "staged": dict(s.staged)} for s in statuses]
