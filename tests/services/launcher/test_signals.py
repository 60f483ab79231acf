"""``scoreline-launcher up`` and every starter of ServerProcess: no server outlives its starter, whatever
signal ends it (SIGTERM, SIGHUP, its process group killed, even SIGKILL through the guard's PR_SET_PDEATHSIG)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import REPO, VENV_BIN, free_port, loopback_stack_settings

# A server that also spawns a child of its own (as MLflow spawns uvicorn and huey consumers).
SERVER = textwrap.dedent(
    """
    import http.server, subprocess, sys
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    handler = http.server.SimpleHTTPRequestHandler
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
    """
)
STARTER = textwrap.dedent(
    """
    import sys, time
    from scoreline_launcher.processes import ServerProcess, stop_all, stop_on_signals
    stop_on_signals()
    servers = [ServerProcess(f"s{i}", [sys.executable, "-c", sys.argv[1], str(p)], int(p), health_path="/")
               for i, p in enumerate(sys.argv[2:])]
    try:
        for server in servers:
            server.start(timeout_s=30)
        print("ready", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop_all(servers)
    """
)


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, grandchildren, ...), from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pids: set[int]) -> set[int]:
    living = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            living.add(pid)
    return living


def wait_gone(pids: set[int], timeout_s: float) -> float:
    started = time.monotonic()
    while alive(pids) and time.monotonic() - started < timeout_s:
        time.sleep(0.05)
    return time.monotonic() - started


def start_starter(count: int = 3) -> tuple[subprocess.Popen[str], set[int]]:
    ports = [str(free_port()) for _ in range(count)]
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, SERVER, *ports], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert starter.stdout is not None and starter.stdout.readline().strip() == "ready"
    time.sleep(0.5)  # the servers' own children have started
    pids = descendants(starter.pid)
    assert len(pids) >= 3 * count  # guard, server and the server's child, per server
    return starter, pids


@pytest.mark.parametrize(
    ("how", "sig"),
    [("process", signal.SIGTERM), ("process", signal.SIGHUP), ("group", signal.SIGTERM), ("process", signal.SIGKILL)],
)
def test_no_server_outlives_its_starter(how: str, sig: signal.Signals) -> None:
    starter, pids = start_starter()
    try:
        if how == "group":
            os.killpg(starter.pid, sig)
        else:
            starter.send_signal(sig)
        took = wait_gone(pids, 10.0)
        assert not alive(pids), f"still alive {took:.1f}s after {sig.name}: {sorted(alive(pids))}"
        starter.wait(5)
    finally:
        for pid in alive(pids | {starter.pid}):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.slow
def test_sigterm_of_scoreline_up_stops_the_whole_stack_within_10_s(tmp_path: Path) -> None:
    settings = loopback_stack_settings(tmp_path / "home", "signals")
    env = {
        **os.environ,
        "SCORELINE_HOME": str(settings.home),
        "SCORELINE_API_KEY": "signals-api-key",
        "SCORELINE_ADMIN_KEY": "signals-admin-key",
        "SCORELINE_MONITOR_EVERY_S": "0",
        **{f"SCORELINE_{name.upper()}_PORT": str(getattr(settings, f"{name}_port"))
           for name in ("mlflow", "ingest", "trainer", "model_api", "dashboard")},
    }  # fmt: skip
    output = tmp_path / "launcher.out"
    launcher = subprocess.Popen(
        [str(VENV_BIN / "scoreline-launcher"), "up", "--no-bootstrap"],
        env=env,
        cwd=REPO,
        stdout=output.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    pids: set[int] = set()
    try:
        deadline = time.monotonic() + 240
        dashboard = f"http://127.0.0.1:{settings.dashboard_port}/_stcore/health"
        while time.monotonic() < deadline:  # the dashboard starts last
            assert launcher.poll() is None, f"the launcher exited early: {output.read_text()[-2000:]}"
            try:
                if httpx.get(dashboard, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        time.sleep(1)
        pids = descendants(launcher.pid)
        assert len(pids) >= 10  # five guards and five servers, and their children
        launcher.send_signal(signal.SIGTERM)
        took = wait_gone(pids, 10.0)
        print(f"scoreline up: {len(pids)} processes gone {took:.2f}s after SIGTERM")
        assert not alive(pids), f"still alive 10 s after SIGTERM: {sorted(alive(pids))}"
        assert launcher.wait(5) is not None
    finally:
        for pid in alive(pids | {launcher.pid}):
            os.kill(pid, signal.SIGKILL)
