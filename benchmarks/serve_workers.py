"""model-api with N worker processes against one: throughput, p99 under hot swaps, cold start, memory.

Everything on loopback in one run, on the same champion (trained by the real pipeline on the
bundled international results, registered in a real MLflow server started here),
fresh request bodies (random teams, dates and venue: memo misses) from ``benchmarks/serve.py``'s wrk script:

1. throughput and p50/p99, 1 worker vs N workers (default: the usable cores), rounds alternating;
   wrk (one thread) runs on the same cores (nothing is pinned: N workers get every core, as in production);
   with the prediction log on (JSON Lines, its sink process: the default) and off (the serving alone: the
   sink's CPU is then not taken from the workers, which a single worker gets from the idle core for free);
2. p99 and failed requests of N workers while the champion is swapped every few seconds
   (alias moved, admin reload: every worker stages, then all flip) vs the same load without swaps;
3. cold start: SIGTERM, start again, time until ``/readyz`` answers 200 with the champion served
   from the disk cache (the first start of a run also fills the disk cache: shown apart); bytecode as
   ``make install`` leaves it (compiled at install);
4. memory: RSS, PSS (shared pages split between the processes sharing them) and USS (pages only
   this process has: what an extra worker really costs) of the supervisor and each worker, from
   ``/proc/<pid>/smaps_rollup``, against the single-process model-api.

    uv run python benchmarks/serve_workers.py [--seconds 10] [--rounds 2] [--workers N] [--starts 3]

Needs wrk (``apt-get install -y wrk``). Every server is stopped at the end. About 3 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve as base  # the wrk runner, fresh-body script and model-api launcher of benchmarks/serve.py

from scoreline.core.cores import usable_cores

TASK = base.TASK


def launch(
    work: Path, mlflow_url: str, logs: Path, workers: int, name: str, log_predictions: bool = True
) -> base.ServerProcess:
    """model-api with ``workers`` processes, importing the bytecode ``make install`` compiled."""
    return base.model_api(
        work / name, mlflow_url, logs, model_api_workers=str(workers), model_poll_interval_s="0",
        model_tasks=f'["{TASK}"]', public_reads="true", log_predictions=str(log_predictions).lower(),
    )  # fmt: skip


def served_everywhere(server: base.ServerProcess, version: str, workers: int) -> bool:
    try:
        listing = httpx.get(f"{server.url}/v1/models", timeout=2).json()["workers"]
    except (httpx.HTTPError, ValueError, KeyError):
        return False
    return len(listing) == workers and all(w["versions"].get(TASK) == version for w in listing)


def start_timed(server: base.ServerProcess, version: str, workers: int, timeout_s: float = 300) -> tuple[float, float]:
    """Seconds from spawn to /readyz 200 with ``version`` served by every worker, and the CPU seconds the
    model-api processes (not the guard) spent until then."""
    started = time.perf_counter()
    server.spawn()
    assert server.process is not None
    while time.perf_counter() - started < timeout_s:
        if base.ready(server) and served_everywhere(server, version, workers):
            wall = time.perf_counter() - started
            return wall, sum(base.cpu_seconds(pid) for pid in base.process_tree(server.process.pid)[1:])
        time.sleep(0.02)
    raise RuntimeError(f"model-api ({workers} workers) not ready within {timeout_s}s")


def memory(pid: int) -> dict[str, float]:
    """MiB: rss, pss and uss (private clean + private dirty) of one process."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
        key, value, *_ = line.split()
        fields[key.rstrip(":")] = int(value) / 1024
    return {
        "rss": fields["Rss"],
        "pss": fields["Pss"],
        "uss": fields.get("Private_Clean", 0.0) + fields.get("Private_Dirty", 0.0),
    }


def role_of(pid: int, workers: list[dict]) -> str | None:
    worker = next((w["worker"] for w in workers if w["pid"] == pid), None)
    if worker is None:
        return None
    return "single process" if len(workers) == 1 else f"worker {worker}"


def processes(server: base.ServerProcess) -> list[tuple[str, int]]:
    """(role, pid) below the launcher's guard: the supervisor (or the single process), workers, sink."""
    assert server.process is not None
    listing = httpx.get(f"{server.url}/v1/models", timeout=5).json()["workers"]
    found = []
    for pid in base.process_tree(server.process.pid)[1:]:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        role = role_of(pid, listing)
        if role is None:
            role = "supervisor"
            if "resource_tracker" in cmdline:
                role = "multiprocessing resource tracker"
            elif "multiprocessing" in cmdline:
                role = "prediction-log sink process"
        found.append((role, pid))
    return sorted(found, key=lambda item: (not item[0].startswith(("supervisor", "single")), item[0]))


def tree_cpu(server: base.ServerProcess) -> float:
    """CPU seconds so far of model-api's processes (supervisor, workers, sink), not of the launcher's guard."""
    assert server.process is not None
    total = 0.0
    for pid in base.process_tree(server.process.pid)[1:]:
        with contextlib.suppress(OSError):
            total += base.cpu_seconds(pid)
    return total


def fresh(server: base.ServerProcess, teams: list[str], seconds: int, connections: int, work: Path) -> dict:
    """A wrk run, with model-api's CPU per request (the same for 1 and N workers unless something serializes
    them or wrk and the rest of the machine take the cores), and the sink process's share of it."""
    before, sink_before = tree_cpu(server), base.sink_cpu(server)
    # wrk with one thread: it shares the cores with the workers here, and a second thread took CPU from them
    result = base.wrk(
        f"{server.url}/v1/{TASK}/predict", teams, seconds, connections, work, fresh="instances", threads=1
    )
    result["cpu_ms"] = (tree_cpu(server) - before) * 1000 / max(result["requests"], 1)
    result["sink_cpu_ms"] = (base.sink_cpu(server) - sink_before) * 1000 / max(result["requests"], 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=max(2, usable_cores()))
    parser.add_argument("--starts", type=int, default=3, help="restarts timed per worker count")
    parser.add_argument("--swap-every", type=float, default=2.0, help="seconds between swaps under load")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    from scoreline.lifecycle.promotion import TAG_DECISION
    from scoreline.lifecycle.registry import CHAMPION, Registry, log_training

    work = Path(tempfile.mkdtemp(prefix="scoreline-workers-bench-"))
    logs = work / "logs"
    logs.mkdir()
    print(f"work folder: {work}; {usable_cores()} usable cores; N = {args.workers}")
    with ExitStack() as stack:
        mlflow = base.mlflow_server(work, logs)
        stack.enter_context(mlflow.start(timeout_s=180))
        print("training two versions with the real pipeline (the bundled international results) ...")
        first, second = base.train_small(seed=1, max_depth=3), base.train_small(seed=2, max_depth=5)
        v1 = log_training(first, base.training_dataset(), "bench-1", "bench", mlflow.url).version
        v2 = log_training(second, base.training_dataset(), "bench-2", "bench", mlflow.url).version
        registry = Registry(mlflow.url)
        for version in (v1, v2):  # model-api serves only versions that passed promotion
            registry.set_version_tags(TASK, version, {TAG_DECISION: "promoted"})
        registry.set_alias(TASK, CHAMPION, v1)
        teams = [json.dumps(name) for name in sorted(first.bundle.serving_state["teams"])]

        # ---- 3. cold start (first: fills the disk cache; then restarts) ---------------------------------
        print(f"3. cold start: 1 and {args.workers} workers, {args.starts} restarts each ...")
        starts: dict[int, list[tuple[float, float]]] = {}
        first_start: dict[int, tuple[float, float]] = {}
        servers: dict[int, base.ServerProcess] = {}
        for count in (1, args.workers):
            server = launch(work, mlflow.url, logs, count, f"api-{count}")
            first_start[count] = start_timed(server, v1, count)
            starts[count] = []
            for _ in range(args.starts):
                server.stop()
                starts[count].append(start_timed(server, v1, count))
            servers[count] = server
            stack.callback(server.stop)

        # ---- 4. memory --------------------------------------------------------------------------
        mem = {
            count: [(role, pid, memory(pid)) for role, pid in processes(server)] for count, server in servers.items()
        }

        # ---- 1. throughput, 1 vs N workers, logging on and off --------------------------------------
        print(f"1. throughput on fresh bodies: 1 vs {args.workers} workers, logging on and off, {args.rounds} rounds "
              f"of {args.seconds} s")  # fmt: skip
        unlogged: dict[int, base.ServerProcess] = {}
        for count in (1, args.workers):
            unlogged[count] = launch(work, mlflow.url, logs, count, f"api-{count}-unlogged", log_predictions=False)
            stack.enter_context(unlogged[count].start(timeout_s=120, ready=base.ready))
        variants = {(log, count): (servers if log else unlogged)[count] for log in (True, False) for count in servers}
        for server in variants.values():  # warm up
            fresh(server, teams, 2, args.connections, work)
        runs: dict[tuple[bool, int], list[dict]] = {variant: [] for variant in variants}
        for _ in range(args.rounds):
            for variant, server in variants.items():
                runs[variant].append(fresh(server, teams, args.seconds, args.connections, work))
        for server in unlogged.values():
            server.stop()

        # ---- 2. p99 under hot swaps vs without ----------------------------------------------------
        print(f"2. {args.workers} workers: the champion swapped every {args.swap_every} s under load vs no swap ...")
        many = servers[args.workers]
        quiet = fresh(many, teams, args.seconds, args.connections, work)
        stop = threading.Event()
        swaps: list[float] = []

        def swapper() -> None:
            target = [v2, v1]
            while not stop.wait(args.swap_every):
                version = target[len(swaps) % 2]
                registry.set_alias(TASK, CHAMPION, version)
                started = time.perf_counter()
                response = httpx.post(
                    f"{many.url}/v1/admin/reload", headers={"Authorization": f"Bearer {base.ADMIN_KEY}"}, timeout=120
                )
                outcome = response.json()["outcomes"][0]
                if outcome["outcome"] == "swapped" and served_everywhere(many, version, args.workers):
                    swaps.append(time.perf_counter() - started)

        thread = threading.Thread(target=swapper, daemon=True)
        thread.start()
        swapping = fresh(many, teams, args.seconds, args.connections, work)
        stop.set()
        thread.join(timeout=180)

    print()
    print(f"{'figure':<52}{'1 worker':>14}{f'{args.workers} workers':>14}{'ratio':>10}")

    def wall(timed: list[tuple[float, float]]) -> float:
        return statistics.median(w for w, _ in timed)

    def cpu(timed: list[tuple[float, float]]) -> float:
        return statistics.median(c for _, c in timed)

    figures = ("rps", "p50_ms", "p99_ms", "cpu_ms", "sink_cpu_ms")
    med = {v: {k: statistics.median(r[k] for r in runs[v]) for k in figures} for v in runs}
    n = args.workers
    rows = []
    for log, what in ((True, "fresh bodies"), (False, "fresh, logging off")):
        rows += [
            (f"{what}: requests/s", med[log, 1]["rps"], med[log, n]["rps"]),
            (f"{what}: p50 ms", med[log, 1]["p50_ms"], med[log, n]["p50_ms"]),
            (f"{what}: p99 ms", med[log, 1]["p99_ms"], med[log, n]["p99_ms"]),
            (f"{what}: model-api CPU ms per request", med[log, 1]["cpu_ms"], med[log, n]["cpu_ms"]),
        ]
        if log:
            rows.append((f"{what}: of which the sink process", med[log, 1]["sink_cpu_ms"], med[log, n]["sink_cpu_ms"]))
    rows += [
        ("restart to ready from the disk cache, wall s (median)", *(wall(starts[c]) for c in (1, n))),
        ("restart to ready from the disk cache, CPU s (median)", *(cpu(starts[c]) for c in (1, n))),
        ("first start (downloads into the disk cache), wall s", first_start[1][0], first_start[n][0]),
    ]
    for label, one, more in rows:
        print(f"{label:<52}{one:>14.2f}{more:>14.2f}{more / one:>9.2f}x")
    print()
    print(f"{f'{n} workers under load':<52}{'no swap':>14}{'swapping':>14}{'ratio':>10}")
    for label, key in (("p99 ms", "p99_ms"), ("requests/s", "rps")):
        print(f"{label:<52}{quiet[key]:>14.2f}{swapping[key]:>14.2f}{swapping[key] / quiet[key]:>9.2f}x")
    failed = [run["non_2xx"] + run["socket_errors"] for run in (quiet, swapping)]
    print(f"{'failed requests (non-2xx + socket errors)':<52}{failed[0]:>14}{failed[1]:>14}")
    if swaps:
        print(f"swaps completed on every worker: {len(swaps)}, admin reload to all flipped: median "
              f"{statistics.median(swaps):.2f} s")  # fmt: skip
    print()
    print(f"{'memory (MiB)':<34}{'pid':>8}{'RSS':>10}{'PSS':>10}{'USS':>10}")
    for count, measured in mem.items():
        print(f"-- model-api with {count} worker{'s' if count > 1 else ''}")
        for role, pid, figures in measured:
            print(f"{role:<34}{pid:>8}{figures['rss']:>10.1f}{figures['pss']:>10.1f}{figures['uss']:>10.1f}")
    single = next((f for role, _, f in mem[1] if role == "single process"), None)
    extra = [f for role, _, f in mem[n] if role.startswith("worker") and role != "worker 0"]
    if single and extra:
        uss = statistics.median(f["uss"] for f in extra)
        pss = statistics.median(f["pss"] for f in extra)
        print(f"an extra worker: USS {uss:.1f} MiB, PSS {pss:.1f} MiB = {uss / single['rss']:.2f}x (USS) and "
              f"{pss / single['rss']:.2f}x (PSS) of the single process's RSS {single['rss']:.1f} MiB")  # fmt: skip
    if os.environ.get("KEEP_WORK") is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    main()
