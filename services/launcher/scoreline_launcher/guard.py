"""Process guard: ``python guard.py <argv...>`` runs one server so that it dies with whoever started it.

Started by :class:`scoreline_launcher.processes.ServerProcess` as the leader of a new session. It asks
the kernel for SIGTERM when its parent dies (``PR_SET_PDEATHSIG``, Linux), so even ``kill -9`` of the
launcher reaches it, runs the server in its own process group, and on SIGTERM, SIGHUP, SIGINT or the
server's exit stops the whole group (the server and anything it spawned: uvicorn workers, MLflow's
huey consumers): SIGTERM, then SIGKILL after a grace period. Standard library only (it also runs
from Airflow's environment).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from types import FrameType

PR_SET_PDEATHSIG = 1
GRACE_S = float(os.environ.get("SCORELINE_GUARD_GRACE_S", "6"))


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send ``sig`` when the parent dies (Linux); False where that is not possible."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def stop_group(grace_s: float = GRACE_S) -> None:
    """SIGTERM every process of this group but the guard, SIGKILL what is left after ``grace_s``."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    group = os.getpgrp()
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _others_alive(group):
        with contextlib.suppress(ChildProcessError):
            os.waitpid(-1, os.WNOHANG)
        time.sleep(0.1)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if _others_alive(group):
        os.killpg(group, signal.SIGKILL)  # the guard goes with them


def _others_alive(group: int) -> bool:
    me = os.getpid()
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == group:  # state, ppid, pgrp
            return True
    return False


def main(argv: list[str]) -> int:
    parent = os.getppid()
    die_with_parent()
    if os.getppid() != parent:  # the parent died before prctl took effect
        return 1
    child = subprocess.Popen(argv)  # same process group as the guard

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop_group()
        sys.exit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, on_signal)
    code = child.wait()
    stop_group()  # whatever the server left behind
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
