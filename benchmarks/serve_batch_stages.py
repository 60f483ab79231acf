"""A 100,000-row Parquet batch through model-api's file path, stage by stage, against in-process predict_proba.

In process, no HTTP: thread CPU (``time.thread_time``, min of ``--repeat``) of each stage of
``scoreline.serving.files.predict_file`` on a champion trained by the real pipeline (simulated matches),
the prediction log's hand-off of the batch (``entry_to_arrow``, the request process's writer thread) and
the sink process's document build (``arrow_to_records``), each as a ratio to ``bundle.predict_proba`` on
the same rows. CPU time, so a busy machine moves the figures less than wall time. XGBoost gets one
thread on both sides (``OMP_NUM_THREADS=1`` is set here) so thread CPU counts all of its work.

    uv run python benchmarks/serve_batch_stages.py [--rows 100000] [--repeat 5]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve as base  # train_small: the real training pipeline on simulated matches
from serve_logging import batch_frame

from scoreline.predlog.columns import arrow_to_records, entry_to_arrow
from scoreline.predlog.writer import PredictionEntry
from scoreline.serving import files
from scoreline.serving.model import Predictor
from scoreline.serving.validation import EntityIndex, validate_frame
from scoreline.tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bundle = base.train_small(seed=1, max_depth=3).bundle
    task = get_task(base.TASK)
    predictor = Predictor(bundle, task)
    entities = EntityIndex(task, bundle.serving_state)
    frame = batch_frame(bundle, args.rows)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    payload = buffer.getvalue()
    figures: dict[str, float] = {}

    def stage(name: str, work: Callable[[], Any]) -> Any:
        best, out = float("inf"), None
        for _ in range(args.repeat):
            started = time.thread_time()
            out = work()
            best = min(best, time.thread_time() - started)
        figures[name] = best
        return out

    stage("in-process predict_proba (features + booster)", lambda: bundle.predict_proba(frame))
    read = stage("read upload (Parquet -> Arrow + pandas)", lambda: files._read_upload(payload, "rows.parquet"))
    _, table, raw = read
    requests = stage("validate + entity checks", lambda: validate_frame(task.request_model, raw, entities))
    outputs, features = stage("features + booster (predict_frame)", lambda: predictor.predict_frame(requests))
    feature_table = bundle.features(requests)
    stage("  of which the booster", lambda: bundle.predict_features(feature_table))
    classes = list(predictor.classes)
    codes = outputs.argmax(axis=1)
    labels = stage("answers (labels, describe_batch)", lambda: task.describe_batch(
        requests, list(np.asarray(classes, dtype=object)[codes]), outputs, bundle.serving_state))  # fmt: skip
    answer = table
    for j, name in enumerate(classes):
        answer = answer.append_column(f"prob_{name}", pa.array(outputs[:, j], pa.float64()))
    answer = answer.append_column("label", labels if isinstance(labels, pa.Array) else pa.array(list(labels)))
    stage("write answer (Parquet)", lambda: files._write_arrow(answer, "parquet"))
    entry = PredictionEntry(
        task=task.id, model_name="bench", model_version="1", inputs=requests, feature_names=predictor.feature_names,
        features=features, predictions=list(np.asarray(classes, dtype=object)[codes]), classes=classes,
        probabilities=outputs, latency_ms=1.0,
    )  # fmt: skip
    columns = stage("log hand-off (entry_to_arrow, writer thread)", lambda: entry_to_arrow(entry))
    stage("log documents (arrow_to_records, sink process)", lambda: arrow_to_records(columns))

    local = figures["in-process predict_proba (features + booster)"]
    answered = sum(
        figures[name]
        for name in ("read upload (Parquet -> Arrow + pandas)", "validate + entity checks",
                     "features + booster (predict_frame)", "answers (labels, describe_batch)", "write answer (Parquet)")
    )  # fmt: skip
    print(f"\n{args.rows:,} rows, thread CPU ms (min of {args.repeat}), ratio to in-process predict_proba")
    for name, seconds in figures.items():
        print(f"{name:<50}{seconds * 1000:>10.1f}{seconds / local:>9.2f}x")
    handoff = figures["log hand-off (entry_to_arrow, writer thread)"]
    print(f"{'answer path (request thread) total':<50}{answered * 1000:>10.1f}{answered / local:>9.2f}x")
    print(f"in-process predict_proba / answer path: {local / answered:.2f}x (goal >= 0.8x); with the log hand-off in "
          f"the request process: {local / (answered + handoff):.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
