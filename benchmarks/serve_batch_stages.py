"""A 100,000-row Parquet batch through model-api's file path, stage by stage, against in-process predict_proba.

In process, no HTTP: thread CPU (``time.thread_time``, min of ``--repeat``) of each stage of
``scoreline.serving.files.predict_file`` on a champion trained by the real pipeline (the bundled international results),
the prediction log's hand-off of the batch (``SinkChannel.write_columns``, the request process's writer
thread: the Arrow stream built and sent over a Unix socket to a stand-in sink thread that acknowledges each
frame) and the sink process's document build (``arrow_to_records``), each as a ratio to
``bundle.predict_proba`` on the same rows. CPU time, so a busy machine moves the figures less than wall
time. Everything runs on one core (the process pins itself to its lowest CPU, and ``OMP_NUM_THREADS=1`` is
set here): a batch then runs its features and booster in the calling thread, so thread CPU counts all of
their work (on several cores both sides split them over threads; ``serve_logging.py`` measures that in wall
time).

    uv run python benchmarks/serve_batch_stages.py [--rows 100000] [--repeat 5]
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import io
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve as base  # train_small: the real training pipeline on the bundled international results
from serve_logging import batch_frame

from scoreline.predlog.channel import ACK, SinkChannel, frame, read_frame
from scoreline.predlog.columns import arrow_to_records, entry_to_arrow
from scoreline.predlog.writer import PredictionEntry
from scoreline.serving import files
from scoreline.serving.model import Predictor, ServedModel
from scoreline.serving.validation import EntityIndex, text_columns, validate_frame
from scoreline.tasks import get_task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    bundle = base.train_small(seed=1, max_depth=3).bundle
    task = get_task(base.TASK)
    predictor = Predictor(bundle, task)
    predictor.enable_fast_path(bundle.input_example)  # as model-api serves it: a batch's trees in machine code
    entities = EntityIndex(task, bundle.serving_state)
    frame = batch_frame(bundle, args.rows)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    payload = buffer.getvalue()
    figures: dict[str, float] = {}

    def stage(name: str, work: Callable[[], Any], before: Callable[[], Any] | None = None) -> Any:
        best, out = float("inf"), None
        for _ in range(args.repeat):
            if before is not None:
                before()
            started = time.thread_time()
            out = work()
            best = min(best, time.thread_time() - started)
        figures[name] = best
        return out

    stage(LOCAL, lambda: bundle.predict_proba(frame))
    text = text_columns(task.request_model)
    read = stage("read upload (Parquet -> Arrow + pandas)", lambda: files._read_upload(payload, "rows.parquet", text))
    _, table, raw = read
    requests = stage("validate + entity checks", lambda: validate_frame(task.request_model, raw, entities))
    outputs, features = stage("features + booster (predict_frame)", lambda: predictor.predict_frame(requests))
    feature_table = bundle.features(requests)
    stage("  of which the booster", lambda: bundle.predict_features(feature_table))
    classes = list(predictor.classes)
    codes = outputs.argmax(axis=1)
    predicted = pd.Categorical.from_codes(codes, categories=classes)  # as files.predict_file logs them
    labels = stage("answers (labels, describe_batch)", lambda: task.describe_batch(
        requests, pd.Categorical.from_codes(codes, categories=classes), outputs, bundle.serving_state))  # fmt: skip
    answer = table
    for j, name in enumerate(classes):
        answer = answer.append_column(f"prob_{name}", pa.array(outputs[:, j], pa.float64()))
    answer = answer.append_column("label", labels if isinstance(labels, pa.Array) else pa.array(list(labels)))
    stage("write answer (Parquet)", lambda: files._write_arrow(answer, "parquet"))
    entry = PredictionEntry(
        task=task.id, model_name="bench", model_version="1", inputs=requests, feature_names=predictor.feature_names,
        features=features, predictions=predicted, classes=classes,
        probabilities=outputs, latency_ms=1.0,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as folder, _AckingSink(Path(folder) / "sink.sock") as address:
        channel = SinkChannel(address)
        while not channel.connected:
            time.sleep(0.01)

        def delivered() -> None:  # the previous batch acknowledged: a full buffer would spool or drop this one
            assert channel.wait_delivered(30.0) and channel.connected

        stage(HANDOFF, lambda: channel.write_columns(entry), delivered)
        # The whole of files.predict_file, the log's hand-off done in the same thread (the writer thread's work).
        served = ServedModel(task.id, "bench", "1", "champion", "cache", bundle, predictor, entities)
        service: Any = SimpleNamespace(
            task=lambda _: task, max_batch_rows=args.rows, holder=SimpleNamespace(get=lambda _: served), writer=None
        )
        stage(WHOLE, lambda: files.predict_file(service, task.id, payload, "rows.parquet", None))
        service.writer = SimpleNamespace(submit=channel.write_columns)
        stage(WHOLE_LOGGED, lambda: files.predict_file(service, task.id, payload, "rows.parquet", None), delivered)
        assert channel.wait_delivered(30.0)
        channel.close()
    columns = entry_to_arrow(entry)
    stage("log documents (arrow_to_records, sink process)", lambda: arrow_to_records(columns))

    first = figures[LOCAL]
    stage(LOCAL, lambda: bundle.predict_proba(frame))  # again last: the min of both, whatever the load did meanwhile
    local = figures[LOCAL] = min(first, figures[LOCAL])
    answered = sum(
        figures[name]
        for name in ("read upload (Parquet -> Arrow + pandas)", "validate + entity checks",
                     "features + booster (predict_frame)", "answers (labels, describe_batch)", "write answer (Parquet)")
    )  # fmt: skip
    print(f"\n{args.rows:,} rows, thread CPU ms (min of {args.repeat}), ratio to in-process predict_proba")
    for name, seconds in figures.items():
        print(f"{name:<50}{seconds * 1000:>10.1f}{seconds / local:>9.2f}x")
    handoff = figures[HANDOFF]
    print(f"{'answer path (request thread) total':<50}{answered * 1000:>10.1f}{answered / local:>9.2f}x")
    print(f"{'answer path + log hand-off (request process)':<50}{(answered + handoff) * 1000:>10.1f}"
          f"{(answered + handoff) / local:>9.2f}x")  # fmt: skip
    print(f"in-process predict_proba / answer path: {local / answered:.2f}x (goal >= 0.8x)")
    print(f"predict_proba / whole predict_file with the log hand-off: {local / figures[WHOLE_LOGGED]:.2f}x")
    print(f"answer + hand-off vs predict_proba: {local / (answered + handoff):.2f}x (goal >= 0.8x; predict_proba / "
          "(answer path + the log hand-off in the request process))")  # fmt: skip


LOCAL = "in-process predict_proba (features + booster)"
HANDOFF = "log hand-off (write_columns: Arrow + send)"
WHOLE = "whole predict_file (no log)"
WHOLE_LOGGED = "whole predict_file + log hand-off"


class _AckingSink:
    """A stand-in for the sink process: a thread that reads the channel's frames and acknowledges each."""

    def __init__(self, address: Path) -> None:
        self.address = address
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Path:
        self.server.bind(str(self.address))
        self.server.listen(1)
        self.thread.start()
        return self.address

    def __exit__(self, *_: object) -> None:
        self.server.close()
        self.thread.join(5)

    def _serve(self) -> None:
        connection, _ = self.server.accept()
        with connection:
            while (received := read_frame(connection)) is not None:
                kind, sequence, _payload = received
                if kind in (b"R", b"C"):
                    connection.sendall(frame(ACK, sequence))


if __name__ == "__main__":
    main()
