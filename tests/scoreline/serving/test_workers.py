"""Swap-together coordination of serving workers: the pure decisions, the run directory's files, two gates
swapping together through real files, and the supervisor's forks (real processes)."""

from __future__ import annotations

import os
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from scoreline.serving.supervisor import Supervisor, bind_sockets, restart_delay
from scoreline.serving.workers import (
    RunDirectory,
    SwapGate,
    WorkerStatus,
    swap_complete,
    swap_ready,
    version_to_follow,
)

TASK = "match-outcome"


def status(worker: int, serving: str | None, staged: str | None = None, failed: str | None = None) -> WorkerStatus:
    return WorkerStatus(
        worker,
        os.getpid(),
        {TASK: serving},
        {TASK: staged} if staged else {},
        {TASK: failed} if failed else {},
    )


def test_a_swap_is_ready_once_every_worker_has_the_version_or_gave_up_on_it() -> None:
    assert not swap_ready([status(0, "1", staged="2"), status(1, "1")], TASK, "2")
    assert swap_ready([status(0, "1", staged="2"), status(1, "1", staged="2")], TASK, "2")
    assert swap_ready([status(0, "1", staged="2"), status(1, "2")], TASK, "2")
    assert swap_ready([status(0, "1", staged="2"), status(1, "1", failed="2")], TASK, "2")
    assert not swap_ready([status(0, "1", staged="2"), status(1, "1", failed="3")], TASK, "2")


def test_a_swap_is_complete_when_every_worker_serves_the_version() -> None:
    assert not swap_complete([status(0, "2"), status(1, "1", staged="2")], TASK, "2")
    assert swap_complete([status(0, "2"), status(1, "2")], TASK, "2")
    assert swap_complete([status(0, "2"), status(1, "1", failed="2")], TASK, "2")


def test_a_worker_follows_a_staged_version_first_and_each_version_once() -> None:
    me = status(0, "1")
    assert version_to_follow(me, [me, status(1, "3", staged="2")], TASK, set()) == ("2", False)
    assert version_to_follow(me, [me, status(1, "3", staged="2")], TASK, {"2"}) == ("3", False)
    assert version_to_follow(me, [me, status(1, "1")], TASK, set()) is None
    assert version_to_follow(status(0, "1", failed="2"), [status(1, "2")], TASK, set()) is None
    admin = WorkerStatus(1, os.getpid(), {TASK: "1"}, {TASK: "4"}, {}, (TASK,))
    assert version_to_follow(me, [admin], TASK, set()) == ("4", True)


def test_statuses_are_written_atomically_and_dead_workers_are_not_live(tmp_path: Path) -> None:
    run_dir = RunDirectory(tmp_path).create()
    run_dir.write(status(0, "1", staged="2"))
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    run_dir.write(WorkerStatus(1, dead, {TASK: "1"}))
    (run_dir.workers / "2.json").write_text("{not json")
    assert run_dir.read() == [status(0, "1", staged="2")]
    assert [p.name for p in run_dir.workers.iterdir() if p.name.endswith(".tmp")] == []
    before = run_dir.stamp()
    time.sleep(0.01)
    run_dir.remove(1)
    assert run_dir.stamp() != before


def test_two_gates_swap_together_through_their_files(tmp_path: Path) -> None:
    run_dir = RunDirectory(tmp_path)
    gates = [SwapGate(run_dir, worker, timeout_s=10, poll_s=0.01) for worker in (0, 1)]
    for gate in gates:
        gate.publish({TASK: "1"})
    served = {0: "1", 1: "1"}
    swapped_at: dict[int, float] = {}

    def swap(worker: int) -> None:
        served[worker] = "2"
        swapped_at[worker] = time.monotonic()

    first = threading.Thread(target=gates[0].swap_together, args=(TASK, "2", lambda: swap(0)))
    first.start()
    time.sleep(0.3)
    assert served == {0: "1", 1: "1"}  # worker 0 waits for worker 1 to load it
    assert gates[0].status().staged == {TASK: "2"}
    assert gates[1].swap_together(TASK, "2", lambda: swap(1))
    first.join(timeout=10)
    assert served == {0: "2", 1: "2"}
    assert abs(swapped_at[0] - swapped_at[1]) < 1.0
    assert all(s.serving == {TASK: "2"} and s.staged == {} for s in run_dir.read())


def test_a_gate_waits_no_longer_than_its_timeout(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    run_dir = RunDirectory(tmp_path)
    late = SwapGate(run_dir, 1, timeout_s=0.3, poll_s=0.01)
    late.publish({TASK: "1"})
    gate = SwapGate(run_dir, 0, timeout_s=0.3, poll_s=0.01)
    gate.publish({TASK: "1"})
    flipped: list[str] = []
    assert not gate.swap_together(TASK, "2", lambda: flipped.append("2"))
    assert flipped == ["2"]
    assert "workers [1] had not loaded it" in caplog.text


def test_a_gate_follows_a_peer_and_gives_up_on_a_version_it_cannot_load(tmp_path: Path) -> None:
    run_dir = RunDirectory(tmp_path)
    leader = SwapGate(run_dir, 0, timeout_s=10, poll_s=0.01)
    leader.publish({TASK: "1"})
    follower = SwapGate(run_dir, 1, timeout_s=10, poll_s=0.01)
    follower.publish({TASK: "1"})
    asked: list[tuple[str, str, bool]] = []

    def reload(task: str, version: str, unpromoted: bool) -> bool:
        asked.append((task, version, unpromoted))
        return False  # e.g. the version does not load here

    follower.follow([TASK], reload)
    try:
        flipped: list[str] = []
        leader.swap_together(TASK, "2", lambda: flipped.append("2"))  # not waited out: the follower gave up
        assert flipped == ["2"]
        assert asked[0] == (TASK, "2", False)
        assert follower.status().failed == {TASK: "2"}
    finally:
        follower.stop()


def test_restart_delay_grows_with_deaths_at_start_and_is_bounded() -> None:
    assert restart_delay(0) == 0.0
    assert restart_delay(1) < restart_delay(2) < restart_delay(3)
    assert restart_delay(50) == 10.0


def _supervise(tmp_path: Path, marker: Path) -> int:
    def serve(worker: int) -> None:
        with open(marker, "a") as handle:
            handle.write(f"{worker} {os.getpid()}\n")
        signal.pause()

    return Supervisor(2, serve, RunDirectory(tmp_path / "run"), grace_s=5, poll_s=0.05).run()


def _starts(marker: Path) -> list[tuple[int, int]]:
    if not marker.exists():
        return []
    return [(int(w), int(p)) for w, p in (line.split() for line in marker.read_text().splitlines())]


def _wait(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.05)


def test_the_supervisor_restarts_a_dead_worker_and_stops_all_on_sigterm(tmp_path: Path) -> None:
    marker = tmp_path / "starts"
    supervisor = os.fork()
    if supervisor == 0:
        code = 1
        try:
            code = _supervise(tmp_path, marker)
        finally:
            os._exit(code)
    try:
        _wait(lambda: len(_starts(marker)) == 2)
        first = dict(_starts(marker))
        os.kill(first[1], signal.SIGKILL)
        _wait(lambda: len(_starts(marker)) == 3)
        worker, pid = _starts(marker)[2]
        assert worker == 1 and pid != first[1]
        os.kill(supervisor, signal.SIGTERM)
        _, code = os.waitpid(supervisor, 0)
        assert os.waitstatus_to_exitcode(code) == 0
        for alive in (first[0], pid):
            _wait(lambda p=alive: not Path(f"/proc/{p}").exists(), 10)
    finally:
        if Path(f"/proc/{supervisor}").exists():
            os.kill(supervisor, signal.SIGKILL)


def test_connections_opened_at_once_are_spread_over_the_workers_sockets() -> None:
    """On one shared socket the first worker to wake took every connection of a burst; each worker's own
    socket on the port gets a share of them (the kernel hashes each connection to one socket: 32 connections
    all on one of 2 sockets has a chance of 2 in 2**32)."""
    sockets = bind_sockets("127.0.0.1", 0, 2)
    clients: list[socket.socket] = []
    try:
        port = sockets[0].getsockname()[1]
        assert sockets[1].getsockname()[1] == port
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(32)]
        accepted = [0, 0]
        deadline = time.monotonic() + 10
        while sum(accepted) < len(clients) and time.monotonic() < deadline:
            ready, _, _ = select.select(sockets, [], [], 0.5)
            for sock in ready:
                connection, _ = sock.accept()
                connection.close()
                accepted[sockets.index(sock)] += 1
        assert sum(accepted) == len(clients)
        assert min(accepted) > 0, accepted
    finally:
        for sock in clients + sockets:
            sock.close()


def test_sockets_of_a_port_already_taken_fail_and_close() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError):
            bind_sockets("127.0.0.1", taken.getsockname()[1], 2)


def test_forked_workers_draw_different_request_ids() -> None:
    """Workers are forks of one supervisor: a generator seeded before the fork must not give them the same ids
    (the prediction log's _id), else one worker's records overwrite the other's."""
    from scoreline.predlog.writer import _new_ids
    from scoreline.serving.service import new_request_id

    drawn = []
    for _ in range(2):
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.write(write, f"{new_request_id()} {_new_ids(1)[0]}".encode())
            os._exit(0)
        os.close(write)
        drawn.append(os.read(read, 200).decode().split())
        os.close(read)
        os.waitpid(pid, 0)
    assert drawn[0][0] != drawn[1][0]
    assert drawn[0][1] != drawn[1][1]
