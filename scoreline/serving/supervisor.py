"""A supervisor of N forked worker processes serving one port.

The supervisor binds one listening socket per worker on that port and imports what the workers need
before it forks, so every worker starts with those modules in pages it shares with the others
(copy-on-write) instead of a copy of its own. It restarts a worker that dies (waiting longer while one
keeps dying at start), removes its status from the run directory first, and on SIGTERM, SIGINT or
SIGHUP stops them all: SIGTERM (they drain and shut down), SIGKILL after a grace period. Each worker
asks the kernel for SIGTERM when the supervisor dies, so even ``kill -9`` of the supervisor leaves no
orphan.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from types import FrameType

from scoreline.serving.workers import RunDirectory

log = logging.getLogger("scoreline.serving")

PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
QUICK_DEATH_S = 5.0  # a worker that dies sooner after its start waits before the next try
MAX_BACKOFF_S = 10.0


def bind_sockets(host: str, port: int, count: int, backlog: int = 2048) -> list[socket.socket]:
    """``count`` listening sockets on one port, one per worker (inherited through fork), that the kernel spreads
    new connections over (SO_REUSEPORT). On one shared socket the worker that woke first accepted every
    connection a client opened at once, and the other workers sat idle (benchmarks/serve_workers.py: 1.27x
    for 2 workers, all the CPU in one). The supervisor keeps every socket open, so a restarted worker takes
    over its predecessor's socket and the connections queued on it."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind((host, port))
            port = sock.getsockname()[1]  # port 0: the others join the one the kernel chose
            sock.listen(backlog)
            sock.set_inheritable(True)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Linux: ``sig`` arrives when the supervisor dies, however it dies."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)


def restart_delay(quick_deaths: int) -> float:
    """Seconds before restarting a worker that died ``quick_deaths`` times in a row right after its start."""
    return 0.0 if quick_deaths <= 0 else min(MAX_BACKOFF_S, 0.5 * 2 ** (quick_deaths - 1))


class Supervisor:
    """Runs ``serve(worker)`` in ``count`` forked children until asked to stop; :meth:`run` returns the exit code."""

    def __init__(
        self,
        count: int,
        serve: Callable[[int], None],
        run_dir: RunDirectory,
        *,
        grace_s: float = 10.0,
        poll_s: float = 0.2,
    ) -> None:
        self.count = count
        self.serve = serve
        self.run_dir = run_dir
        self.grace_s = grace_s
        self.poll_s = poll_s
        self.children: dict[int, int] = {}  # pid -> worker
        self.started_at: dict[int, float] = {}  # worker -> monotonic start
        self.quick_deaths: dict[int, int] = {}
        self.due: dict[int, float] = {}  # worker -> when to restart it
        self.stopping = False

    def run(self) -> int:
        self.run_dir.create()
        previous = {sig: signal.signal(sig, self._on_stop) for sig in STOP_SIGNALS}
        try:
            for worker in range(self.count):
                self._spawn(worker)
            while not self.stopping:
                self._reap()
                now = time.monotonic()
                for worker, when in list(self.due.items()):
                    if when <= now and not self.stopping:
                        del self.due[worker]
                        self._spawn(worker)
                time.sleep(self.poll_s)
        finally:
            self._stop_children()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _on_stop(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stopping:
            log.info("supervisor: %s, stopping %d workers", signal.Signals(signum).name, len(self.children))
        self.stopping = True

    def _spawn(self, worker: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            code = 0
            try:
                for sig in STOP_SIGNALS:
                    signal.signal(sig, signal.SIG_DFL)
                die_with_parent()
                if os.getppid() == 1:  # the supervisor died before prctl took effect
                    os._exit(1)
                self.serve(worker)
            except BaseException:
                log.exception("worker %s failed", worker)
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        self.children[pid] = worker
        self.started_at[worker] = time.monotonic()
        log.info("supervisor: worker %s started (pid %s)", worker, pid)

    def _reap(self) -> None:
        """Collect the workers that ended (only them: other children, e.g. a sink process, have their owners)."""
        for child in list(self.children):
            try:
                pid, status = os.waitpid(child, os.WNOHANG)
            except ChildProcessError:
                pid, status = child, 0
            if pid == 0:
                continue
            worker = self.children.pop(child)
            self.run_dir.remove(worker)
            if self.stopping:
                continue
            lived = time.monotonic() - self.started_at.get(worker, 0.0)
            self.quick_deaths[worker] = self.quick_deaths.get(worker, 0) + 1 if lived < QUICK_DEATH_S else 0
            delay = restart_delay(self.quick_deaths[worker])
            log.warning(
                "supervisor: worker %s (pid %s) ended (%s) after %.1f s; restarting it in %.1f s",
                worker, pid, describe_exit(status), lived, delay,
            )  # fmt: skip
            self.due[worker] = time.monotonic() + delay

    def _stop_children(self) -> None:
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        while self.children and time.monotonic() < deadline:
            self._reap()
            time.sleep(0.05)
        for pid in list(self.children):
            log.warning("supervisor: worker %s (pid %s) did not stop in %.0f s; killing it",
                        self.children[pid], pid, self.grace_s)  # fmt: skip
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in list(self.children):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            self.children.pop(pid, None)


def describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
