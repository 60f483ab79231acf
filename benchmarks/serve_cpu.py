"""CPU per single prediction through model-api's real predict handler, and the prediction log channel's CPU per record.

Wall-clock throughput (benchmarks/serve.py) moves with whatever else runs on the machine; thread CPU time moves
less, so options are compared here:

1. ``PredictHandler`` (JSON parse, validation, features, trees, answer, log record, metrics) on a champion trained
   by the real pipeline (the bundled international results, as benchmarks/serve.py), for fresh random bodies (memo
   misses: random known teams, date, venue and competition) and for repeated input examples (memo hits), with
   logging off and with the channel to a real sink process (JSON Lines): the handler thread's CPU per request, the
   minimum over many short blocks (the least disturbed), and the median;
2. the channel: memoized records (1.6 kB each) submitted at a fixed rate to a real sink process: CPU per record on
   the submitting thread, on the request process's other threads (writer, channel) and in the sink process.

    uv run python benchmarks/serve_cpu.py [--blocks 200] [--block 50] [--records 50000] [--rate 5000]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def handler_for(bundle: Any, writer: Any) -> Any:
    from prometheus_client import CollectorRegistry
    from scoreline_model_api.metrics import ModelApiMetrics, RequestObserver
    from scoreline_model_api.routes.predict import PredictHandler

    from scoreline.serving.holder import ModelHolder
    from scoreline.serving.model import Predictor, ServedModel, smoke_test
    from scoreline.serving.service import PredictionService
    from scoreline.serving.validation import EntityIndex
    from scoreline.tasks import get_task

    task = get_task(bundle.task_id)
    predictor = Predictor(bundle, task)
    smoke_test(predictor, bundle.input_example, "1")
    predictor.enable_fast_path(bundle.input_example)
    holder = ModelHolder((task.id,))
    holder.swap(ServedModel(task.id, f"scoreline-{task.id}", "1", "champion", "cache", bundle, predictor,
                            entities=EntityIndex(task, bundle.serving_state)))  # fmt: skip
    state = SimpleNamespace(serving=SimpleNamespace(service=PredictionService(holder, writer)))
    return PredictHandler(state, RequestObserver(ModelApiMetrics(CollectorRegistry()), (task.id,)))


def fresh_bodies(teams: list[str], n: int, rng: random.Random) -> list[bytes]:
    competitions = ["Friendly", "FIFA World Cup", "UEFA Euro qualification", "Copa America", "UEFA Nations League"]
    bodies = []
    for _ in range(n):
        home, away = rng.sample(teams, 2)
        day = f"{rng.randint(2024, 2027):04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        instance = {"home_team": home, "away_team": away, "date": day, "neutral": rng.random() < 0.3,
                    "competition": rng.choice(competitions)}  # fmt: skip
        bodies.append(orjson.dumps({"instances": [instance]}))
    return bodies


def per_request(handler: Any, task: str, bodies: list[bytes]) -> float:
    started = time.thread_time_ns()
    for body in bodies:
        status, content, _ = handler(task, body)
        if status != 200:
            raise RuntimeError(f"predict answered {status}: {content[:300]!r}")
    return (time.thread_time_ns() - started) / len(bodies) / 1000


def handler_figures(bundle: Any, writer: Any, blocks: int, block: int) -> dict[str, list[float]]:
    handler = handler_for(bundle, writer)
    task, teams, rng = bundle.task_id, sorted(bundle.serving_state["teams"]), random.Random(7)
    hits = [orjson.dumps({"instances": [instance]}) for instance in bundle.input_example]
    per_request(handler, task, fresh_bodies(teams, 300, rng) + hits)  # warm up (JIT, caches, memo of the hits)
    figures: dict[str, list[float]] = {"miss": [], "hit": []}
    for _ in range(blocks):
        figures["miss"].append(per_request(handler, task, fresh_bodies(teams, block, rng)))
        figures["hit"].append(per_request(handler, task, (hits * block)[:block]))
    return figures


def channel_figures(settings: Any, address: str, sink_pid: int, records: int, rate: float) -> dict[str, float]:
    from scoreline.predlog.sinkd import connect_writer
    from scoreline.predlog.writer import memoized_document, model_head

    writer = connect_writer(settings, address)
    head = model_head("match-outcome", "scoreline-match-outcome", "1")
    features = b",".join(b'"feature_%d":%r' % (i, random.random() * 1000) for i in range(38))
    fragment = (
        b'"inputs":{"home_team":"Brazil","away_team":"Peru","date":"2026-06-15","neutral":false,'
        b'"competition":"Friendly"},"features":{' + features + b'},"prediction":"home",'
        b'"probabilities":{"home":0.4,"draw":0.3,"away":0.3}'
    )
    documents = [memoized_document(head, "0" * 32, fragment, 1.25) for _ in range(100)]
    writer.flush(10)
    return_value: dict[str, float] = {}
    started = time.monotonic()
    process0, thread0 = time.process_time(), time.thread_time()
    sink0 = process_cpu(sink_pid)
    for i in range(records):
        timestamp, document = documents[i % len(documents)]
        writer.submit_document(f"{i:032x}", timestamp, document)
        if i % 100 == 99:  # paced: the records of a server answering ``rate`` requests per second
            due = started + (i + 1) / rate
            while (left := due - time.monotonic()) > 0:
                time.sleep(left)
    thread1 = time.thread_time()
    if not writer.flush(120):
        raise RuntimeError("the sink process did not acknowledge every record")
    process1, sink1 = time.process_time(), process_cpu(sink_pid)
    writer.close()
    return_value["submitting thread"] = (thread1 - thread0) / records * 1e6
    return_value["other request-process threads"] = ((process1 - process0) - (thread1 - thread0)) / records * 1e6
    return_value["sink process"] = (sink1 - sink0) / records * 1e6
    return return_value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--blocks", type=int, default=200, help="blocks of requests per kind")
    parser.add_argument("--block", type=int, default=50, help="requests per block")
    parser.add_argument("--records", type=int, default=50_000, help="records sent through the channel")
    parser.add_argument("--rate", type=float, default=5_000, help="records per second offered to the channel")
    args = parser.parse_args()

    from benchmarks.serve import train_small
    from scoreline.predlog.factory import PredictionLogSettings
    from scoreline.predlog.sinkd import connect_writer, start_sink_process

    bundle = train_small(seed=1, max_depth=3).bundle
    work = Path(tempfile.mkdtemp(prefix="serve-cpu-"))
    settings = PredictionLogSettings(prediction_log_dir=work / "log", predlog_spool_dir=work / "spool")
    sink = start_sink_process(settings, address=str(work / "sink.sock"), wait_s=30)
    try:
        runs = {"logging off": handler_figures(bundle, None, args.blocks, args.block)}
        writer = connect_writer(settings, sink.address)
        runs["sink process (JSON Lines)"] = handler_figures(bundle, writer, args.blocks, args.block)
        writer.close()
        channel = channel_figures(settings, sink.address, sink.pid, args.records, args.rate)
    finally:
        sink.stop()
    print(f"\nhandler thread CPU per request, us (min | median of {args.blocks} blocks of {args.block}):")
    print(f"  {'':28s} {'memo miss':>18s} {'memo hit':>18s} {'miss / hit':>10s}")
    for name, figures in runs.items():
        miss, hit = figures["miss"], figures["hit"]
        print(f"  {name:28s} {min(miss):8.1f} | {statistics.median(miss):6.1f} {min(hit):8.1f} | "
              f"{statistics.median(hit):6.1f} {min(miss) / min(hit):9.2f}x")  # fmt: skip
    off, on = runs["logging off"], runs["sink process (JSON Lines)"]
    print(f"  logging / off (min): misses {min(off['miss']) / min(on['miss']):.2f}x, "
          f"hits {min(off['hit']) / min(on['hit']):.2f}x (of the handler thread's speed)")  # fmt: skip
    print(f"\nchannel CPU per record, us ({args.records:,} records of 1.6 kB at {args.rate:,.0f}/s):")
    for name, value in channel.items():
        print(f"  {name:32s} {value:6.2f}")
    print(f"  {'total':32s} {sum(channel.values()):6.2f}")


if __name__ == "__main__":
    main()
