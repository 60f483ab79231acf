"""Run local server processes in their own process groups and wait until they answer.

Used by ``scoreline-launcher up`` (``make run``) and by the tests, which start the real servers this way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

VENV_BIN = Path(sys.executable).parent
GUARD = Path(__file__).with_name("guard.py")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


@dataclass
class ServerProcess:
    """A server in its own process group (``setsid``), so stopping it stops its children too."""

    name: str
    argv: Sequence[str]
    port: int
    health_path: str = "/healthz"
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    cwd: Path = field(default_factory=Path.cwd)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0, ready: Callable[[ServerProcess], bool] | None = None) -> ServerProcess:
        """Spawn the server and wait until it answers (stopping it again when it does not)."""
        self.spawn()
        return self.wait_ready(timeout_s, ready)

    def spawn(self) -> ServerProcess:
        """Start the process without waiting (``wait_ready`` waits): several servers can start at once."""
        env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **self.env}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        # The guard leads the new session, dies with this process (PR_SET_PDEATHSIG) and takes the server's
        # whole process group with it, so no server outlives its starter, whatever signal ends the starter.
        self.process = subprocess.Popen(
            [sys.executable, str(GUARD), *self.argv],
            env=env,
            cwd=self.cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(
        self, timeout_s: float = 60.0, ready: Callable[[ServerProcess], bool] | None = None
    ) -> ServerProcess:
        assert self.process is not None, "spawn() first"
        try:
            deadline = time.monotonic() + timeout_s
            check = ready or (lambda server: _http_ok(server.url + server.health_path))
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.process.returncode}; log: {self.log_path}")
                if check(self):
                    return self
                time.sleep(0.2)
            raise RuntimeError(f"{self.name} not ready on port {self.port} within {timeout_s}s; log: {self.log_path}")
        except BaseException:  # not ready, or the starter is being stopped (a signal) while waiting
            self.stop()
            raise

    def signal_group(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, sig)

    def stop(self, timeout_s: float = 10.0) -> None:
        stop_all([self], timeout_s)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def _http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0).status_code < 500
    except httpx.HTTPError:
        return False


def stop_all(servers: Sequence[ServerProcess], timeout_s: float = 10.0) -> None:
    """Stop every server at once: SIGTERM to each process group, one shared wait, then SIGKILL what is left."""
    running = [s for s in servers if s.process is not None and s.process.poll() is None]
    for server in running:
        server.signal_group(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s * 0.8
    for server in running:
        assert server.process is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(max(0.0, deadline - time.monotonic()))
    for server in running:
        server.signal_group(signal.SIGKILL)
        assert server.process is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(max(0.5, timeout_s * 0.2))


class StopRequested(KeyboardInterrupt):
    """SIGTERM or SIGHUP asked the launcher to stop (handled like Ctrl-C)."""


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP (a supervisor, a closed terminal, a killed process group) stop the launcher as Ctrl-C
    does, so its servers are stopped on the way out; later signals are ignored while that runs."""

    def handler(signum: int, _frame: object) -> None:
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        raise StopRequested(signal.Signals(signum).name)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, handler)
