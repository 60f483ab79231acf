"""Prediction logging benchmark: what logging every prediction to Elasticsearch costs model-api, in one run.

1. model-api (one process) with the Elasticsearch sink (osmem, the stand-in, at nice 19) against the same
   model-api with logging off, rounds alternating the two. By default fresh bodies (random teams and dates) at a
   fixed rate the stand-in can index (``--rate``, below its ~1,000 documents/s): both servers answer every request,
   so the figure is the serving processes' CPU per request (their idle CPU measured just before and taken off),
   off / ES, which is the ratio of what the serving core could answer (goal >= 0.9x), and p99 at that rate.
   Each ES round is drained (nothing queued, buffered or spooled) and its documents counted against the requests.
   ``--closed-loop`` adds closed-loop rounds (memo hits and fresh bodies): model-api then answers several times
   what the stand-in indexes, so the backlog goes to the spool, as in an Elasticsearch slowdown; the throughput
   ratio and the share of records the request process had to spool itself are printed for those.
2. A 100,000-row Parquet file through /predict/batch with the Elasticsearch sink on, against the same rows
   in process (features + booster, and the booster alone); and how long until the sink process has the
   rows' records acknowledged (in the index or its spool). Both sides may use every core here (model-api's
   booster runs a batch on all the cores it may use, as the in-process one does); the sink process and osmem
   share them.

In part 1 model-api has one core (SERVER_CPUS, as in benchmarks/serve.py); wrk, osmem and the prediction log's sink
process share the other: the sink is a process of its own so that the log does not take the serving core.
The sink's CPU seconds per 1,000 records are printed too, so its cost is visible wherever it runs.

    uv run python benchmarks/serve_logging.py [--seconds 10] [--rounds 3] [--rate 600] [--closed-loop] [--rows 100000]

Needs wrk. Reuses benchmarks/serve.py's helpers. Each drain waits (up to --drain-timeout) until the stand-in has
indexed the round's records; the stand-in's documents are then counted against the requests answered and deleted, so
that it starts every round with an empty index.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from osmem_server import OsmemServer
from scoreline_launcher.processes import ServerProcess

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import (
    ALL_CPUS,
    CLIENT_CPUS,
    JSON,
    LUA,
    LUA_FRESH,
    LUA_PACED,
    SERVER_CPUS,
    TASK,
    lowest_priority,
    metric,
    mlflow_server,
    model_api,
    process_tree,
    ready,
    sink_pids,
    train_small,
    training_dataset,
)
from serve import (
    cpu_seconds as process_cpu_seconds,
)

REPO = Path(__file__).resolve().parents[1]
IDLE_S = 2.0
sys.path.insert(0, str(REPO))


def serving_pids(api: ServerProcess) -> list[int]:
    """model-api's own processes: the one serving, without its prediction log sink process."""
    assert api.process is not None
    sinks = set(sink_pids(api))
    return [pid for pid in process_tree(api.process.pid) if pid not in sinks]


def cpu_seconds(pids: list[int]) -> float:
    """CPU seconds of these processes (those gone are left out)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += process_cpu_seconds(pid)
    return total


def pin_pids(pids: list[int], cpus: frozenset[int]) -> None:
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                os.sched_setaffinity(int(task.name), cpus)
            except OSError:
                continue


def place(api: ServerProcess) -> None:
    """model-api on the serving core, its sink process beside wrk and osmem."""
    assert api.process is not None
    sinks = set(sink_pids(api))
    pin_pids([pid for pid in process_tree(api.process.pid) if pid not in sinks], SERVER_CPUS)
    pin_pids(list(sinks), CLIENT_CPUS)


def run_wrk(
    url: str, data: list[str], seconds: int, connections: int, work: Path, fresh: str | None, rate: float | None = None
) -> dict[str, float]:
    """A bounded wrk run: closed loop, or ``rate`` fresh requests per second in all (paced connections)."""
    script, bodies = work / ("fresh.lua" if fresh else "post.lua"), work / f"bodies-{fresh}.txt"
    if rate is not None:
        script = work / "paced.lua"
    script.write_text(LUA_PACED if rate is not None else LUA_FRESH if fresh else LUA)
    bodies.write_text("\n".join(data) + "\n")
    extra = [fresh] if fresh else []
    if rate is not None:
        extra.append(f"{connections * 1000 / rate:.3f}")
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s", "-s", str(script), url,
         "--", str(bodies), *extra],
        capture_output=True, text=True, check=True, timeout=seconds + 60,
        preexec_fn=lambda: os.sched_setaffinity(0, CLIENT_CPUS),
    ).stdout  # fmt: skip
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    if not match:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    requests, duration_us, p50, p99, non2xx, errors = (int(g) for g in match.groups())
    return {"rps": requests / (duration_us / 1e6), "p50_ms": p50 / 1000, "p99_ms": p99 / 1000,
            "failed": non2xx + errors, "requests": requests}  # fmt: skip


def drain(api: ServerProcess, timeout_s: float = 300.0) -> float:
    """Seconds until nothing waits in the writer's queue, unacknowledged, in the sink's memory or spool."""
    started = time.perf_counter()
    names = ("scoreline_predlog_queue_depth", "scoreline_predlog_es_buffered", "scoreline_predlog_spool_records")
    while time.perf_counter() - started < timeout_s:
        if all(metric(api, name) == 0 for name in names):
            break
        time.sleep(0.1)
    return time.perf_counter() - started


def empty_stand_in(url: str) -> int:
    """The prediction documents the stand-in holds, which it then deletes, so that every round starts with an
    empty index: the stand-in keeps its documents in memory (GBs after a few closed-loop rounds), and the count
    shows that each request's record arrived."""
    from scoreline.predlog.elastic import PREDICTIONS_PREFIX

    pattern = f"{PREDICTIONS_PREFIX}*"
    httpx.post(f"{url}/{pattern}/_refresh", timeout=60)
    count = int(httpx.get(f"{url}/{pattern}/_count", timeout=60).json().get("count", 0))
    httpx.delete(f"{url}/{pattern}", timeout=60).raise_for_status()
    return count


def batch_frame(bundle: Any, rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    teams = sorted(bundle.serving_state["teams"])
    home = rng.choice(len(teams), rows)
    away = (home + rng.integers(1, len(teams), rows)) % len(teams)
    return pd.DataFrame({
        "home_team": np.asarray(teams, dtype=object)[home], "away_team": np.asarray(teams, dtype=object)[away],
        "date": "2026-06-15", "neutral": rng.random(rows) < 0.3,
        "competition": rng.choice(["Friendly", "FIFA World Cup", "UEFA Euro qualification"], rows),
    })  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument(
        "--drain-timeout", type=float, default=300.0,
        help="seconds each drain waits for the stand-in to index a round's records (osmem indexes a few hundred/s)",
    )  # fmt: skip
    parser.add_argument(
        "--rate", type=float, default=600.0,
        help="fresh requests per second offered in part 1: below what the stand-in indexes (~1,000/s)",
    )  # fmt: skip
    parser.add_argument(
        "--closed-loop", action="store_true",
        help="part 1 also closed loop (memo hits, fresh bodies): the stand-in then falls behind and the sink spools",
    )  # fmt: skip
    parser.add_argument("--only", choices=["serve", "batch"], help="one part only (1: serve, 2: batch)")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install -y wrk")
    from scoreline.lifecycle.promotion import TAG_DECISION
    from scoreline.lifecycle.registry import CHAMPION, Registry, log_training

    work = Path(tempfile.mkdtemp(prefix="scoreline-logging-bench-"))
    logs = work / "logs"
    logs.mkdir()
    print(f"work folder: {work}")
    with ExitStack() as stack:
        mlflow = mlflow_server(work, logs)
        stack.enter_context(mlflow.start(timeout_s=180))
        print("training a champion with the real pipeline (the bundled international results) ...")
        result = train_small(seed=1, max_depth=3)
        version = log_training(result, training_dataset(), "bench-1", "bench", mlflow.url).version
        registry = Registry(mlflow.url)
        registry.set_version_tags(TASK, version, {TAG_DECISION: "promoted"})
        registry.set_alias(TASK, CHAMPION, version)
        bundle = result.bundle
        bodies = [json.dumps({"instances": [dict(i)]}) for i in bundle.input_example]
        teams = [json.dumps(name) for name in sorted(bundle.serving_state["teams"])]

        osmem = stack.enter_context(OsmemServer.start())
        lowest_priority(osmem.pid)
        pin_pids([osmem.pid], CLIENT_CPUS)
        common = {"model_api_workers": "1", "model_poll_interval_s": "0"}
        quiet = stack.enter_context(
            model_api(work, mlflow.url, logs, log_predictions="false", **common).start(timeout_s=180, ready=ready)
        )
        logged = stack.enter_context(
            model_api(
                work, mlflow.url, logs, module="tests.es_launch", elasticsearch_url=osmem.url,
                elasticsearch_replay_interval_s="0.5", **common,
            ).start(timeout_s=180, ready=ready)
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while not sink_pids(logged) and time.monotonic() < deadline:
            time.sleep(0.2)
        sinks = sink_pids(logged)
        for server in (quiet, logged):
            for body in bodies:
                httpx.post(f"{server.url}/v1/{TASK}/predict", content=body, headers=JSON, timeout=10)
        drain(logged)
        empty_stand_in(osmem.url)

        paced = f"fresh at {args.rate:g}/s"
        plans: dict[str, tuple[list[str], str | None, float | None]] = {paced: (teams, "instances", args.rate)}
        if args.closed_loop:
            plans |= {"memo hits": (bodies, None, None), "fresh bodies": (teams, "instances", None)}
        runs: dict[tuple[str, str], list[dict[str, float]]] = {}
        sink_cpu_per_k: list[float] = []
        drains: list[float] = []
        print(f"1. logging to osmem vs off: {args.rounds} rounds of {args.seconds} s, {args.connections} connections: "
              f"{', '.join(plans)}")  # fmt: skip
        indexed_per_s: list[float] = []  # the stand-in's indexing rate while it drains a round's backlog

        def measure(kind: str, name: str, server: ServerProcess) -> dict[str, float]:
            data, fresh, rate = plans[kind]
            place(server)
            sink_before, serving = cpu_seconds(sinks), serving_pids(server)
            idle_started, idle_before = time.perf_counter(), cpu_seconds(serving)
            time.sleep(IDLE_S)  # what the serving processes spend idle (timers, the writer's wakes): not per request
            idle_per_s = (cpu_seconds(serving) - idle_before) / (time.perf_counter() - idle_started)
            client_spooled = metric(server, "scoreline_predlog_records_to_fallback") if name == "es" else 0.0
            serving_before, started = cpu_seconds(serving), time.perf_counter()  # /metrics above: not counted
            measured = run_wrk(
                f"{server.url}/v1/{TASK}/predict", data, args.seconds, args.connections, work, fresh, rate
            )
            busy = cpu_seconds(serving) - serving_before - idle_per_s * (time.perf_counter() - started)
            measured["serving_us"] = busy / max(measured["requests"], 1) * 1e6
            if name == "es":
                measured["client_spooled"] = metric(server, "scoreline_predlog_records_to_fallback") - client_spooled
                delivered = metric(server, "scoreline_predlog_es_delivered")
                drains.append(drain(logged, args.drain_timeout))
                indexed_per_s.append((metric(server, "scoreline_predlog_es_delivered") - delivered) / drains[-1])
                sink_cpu_per_k.append((cpu_seconds(sinks) - sink_before) / max(measured["requests"], 1) * 1000)
                measured["indexed"] = empty_stand_in(osmem.url)
            return measured

        for round_number in range(0 if args.only == "batch" else args.rounds):
            for kind in plans:
                for name, server in (("off", quiet), ("es", logged)):
                    runs.setdefault((kind, name), []).append(measure(kind, name, server))
            latest = ", ".join(f"{kind}/{name} {r[-1]['rps']:.0f}/s" for (kind, name), r in runs.items())
            print(f"   round {round_number + 1}: {latest}; load {os.getloadavg()[0]:.2f}")

        frame = batch_frame(bundle, args.rows)
        buffer = io.BytesIO()
        frame.to_parquet(buffer, index=False)
        payload = buffer.getvalue()
        url = f"{logged.url}/v1/{TASK}/predict/batch"
        print(f"2. batch: {args.rows:,} rows through /predict/batch with the Elasticsearch sink ...")
        assert logged.process is not None
        pin_pids(process_tree(logged.process.pid), ALL_CPUS)  # the CPUs the in-process side has

        def post() -> float:
            started = time.perf_counter()
            httpx.post(url, files={"file": ("rows.parquet", payload)}, timeout=600).raise_for_status()
            return time.perf_counter() - started

        if args.only != "serve":
            post()
            drain(logged, args.drain_timeout)
            empty_stand_in(osmem.url)
        answer, acknowledged, local, booster = [], [], [], []
        backlog: list[float] = []  # records the sink still held when the drain gave up (osmem indexes slowly)
        for _ in range(0 if args.only == "serve" else args.batches):
            answer.append(post())
            started = time.perf_counter()
            waiting = ("scoreline_predlog_queue_depth", "scoreline_predlog_es_buffered")
            deadline = started + args.drain_timeout
            while any(metric(logged, name) for name in waiting) and time.perf_counter() < deadline:
                time.sleep(0.05)
            acknowledged.append(time.perf_counter() - started)
            drain(logged, args.drain_timeout)
            empty_stand_in(osmem.url)
            backlog.append(sum(metric(logged, name) for name in (*waiting, "scoreline_predlog_spool_records")))
            started = time.perf_counter()
            bundle.predict_proba(frame)
            local.append(time.perf_counter() - started)
            features = bundle.features(frame)
            started = time.perf_counter()
            bundle.predict_features(features)
            booster.append(time.perf_counter() - started)
        stored = metric(logged, "scoreline_predlog_es_delivered")

    median = statistics.median
    if runs:
        print()
        print(f"{'model-api, one process':<28}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'failed':>8}"
              f"{'serving CPU us/req':>20}")  # fmt: skip
        for (kind, name), measured in runs.items():
            label = f"{kind}, " + ("logging off" if name == "off" else "ES sink")
            print(f"{label:<28}{median(r['rps'] for r in measured):>9.0f}"
                  f"{median(r['p50_ms'] for r in measured):>9.2f}{median(r['p99_ms'] for r in measured):>9.2f}"
                  f"{sum(r['failed'] for r in measured):>8.0f}"
                  f"{median(r['serving_us'] for r in measured):>20.0f}")  # fmt: skip
        print()
        for kind in plans:
            pairs = list(zip(runs[(kind, "es")], runs[(kind, "off")], strict=True))
            capacity = median(o["serving_us"] / e["serving_us"] for e, o in pairs)
            if plans[kind][2] is not None:
                print(f"ES sink / logging off, {kind}: what the serving core can answer (CPU per request, off / ES) "
                      f"{capacity:.2f}x   (goal >= 0.9x); p99 {median(e['p99_ms'] for e, _ in pairs):.2f} vs "
                      f"{median(o['p99_ms'] for _, o in pairs):.2f} ms")  # fmt: skip
                by_round = ", ".join(f"{o['serving_us'] / e['serving_us']:.2f}x" for e, o in pairs)
                print(f"    by round: {by_round}")
                continue
            print(f"ES sink / logging off, {kind:<13} throughput {median(e['rps'] / o['rps'] for e, o in pairs):.2f}x"
                  "   (closed loop: the stand-in falls behind)")  # fmt: skip
            print(f"ES sink / logging off, {kind:<13} serving CPU per request, off / ES {capacity:.2f}x")
        for kind in plans:
            measured = runs[(kind, "es")]
            print(f"{kind}: records the request process spooled itself (the sink process behind): "
                  f"{median(r['client_spooled'] / r['requests'] for r in measured):.0%}; documents in the stand-in "
                  f"after the drains / requests answered: {sum(r['indexed'] for r in measured):,.0f} / "
                  f"{sum(r['requests'] for r in measured):,.0f}")  # fmt: skip
        print(f"the stand-in indexed {median(indexed_per_s):,.0f} documents/s while draining (median of rounds)")
    if runs:
        print(f"sink process CPU: {median(sink_cpu_per_k):.3f} s per 1,000 records (median of rounds; on the other "
              f"core); drained after each round in {median(drains):.1f} s")  # fmt: skip
    if answer:
        rows = args.rows
        print(
            f"batch {rows:,} rows: answer {median(answer) * 1000:.0f} ms ({rows / median(answer):,.0f} rows/s), "
            f"in-process predict_proba {median(local) * 1000:.0f} ms, booster alone {median(booster) * 1000:.0f} ms"
        )
        print(
            f"batch with ES logging / in-process predict_proba  {median(local) / median(answer):.2f}x   (goal >= 0.8x)"
        )
        print(f"batch with ES logging / in-process booster alone  {median(booster) / median(answer):.2f}x")
        print(f"batch records acknowledged by the sink process {median(acknowledged) * 1000:.0f} ms after the "
              f"answer (Arrow columns built, sent, documents built and delivered or spooled); ES delivered "
              f"{stored:,.0f}")  # fmt: skip
        print(f"records still queued, buffered or spooled when each batch's drain stopped waiting "
              f"(--drain-timeout {args.drain_timeout:g} s): {', '.join(f'{b:,.0f}' for b in backlog)}")  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
