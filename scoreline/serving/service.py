"""The prediction service behind model-api: validate, predict on one served version, log.

Each call takes the served model reference once (:meth:`ModelHolder.get`) and uses only it, so a
swap during the call cannot mix versions. Logging is one non-blocking queue put.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from scoreline.predlog.writer import (
    LoggedRow,
    LogSlot,
    PredictionEntry,
    PredictionLogWriter,
    memoized_document,
    model_head,
    row_fragment,
)
from scoreline.serving.holder import ModelHolder
from scoreline.serving.model import ServedModel
from scoreline.serving.validation import check_entities, instances_of, validate_instances
from scoreline.tasks import get_task
from scoreline.tasks.base import Task

if TYPE_CHECKING:
    import pandas as pd

    from scoreline.serving.files import BatchResult, FileFormat

_ids = random.Random()  # seeded from the OS once; os.urandom per request costs ~0.4 ms on some VMs
# Seeded again in a forked child: model-api's workers are forks and would otherwise draw the same ids.
os.register_at_fork(after_in_child=_ids.seed)


def new_request_id() -> str:
    """A random 128-bit hex id (unique per predicted instance; the prediction log's _id)."""
    return f"{_ids.getrandbits(128):032x}"


class PredictionService:
    def __init__(
        self,
        holder: ModelHolder,
        writer: PredictionLogWriter | None,
        *,
        max_instances: int = 1000,
        max_batch_rows: int = 1_000_000,
    ) -> None:
        self.holder = holder
        self.writer = writer
        self.max_instances = max_instances
        self.max_batch_rows = max_batch_rows
        self._tasks: dict[str, Task] = {}

    def task(self, task_id: str) -> Task:
        """The task object (unknown task → 404), built once per task id."""
        task = self._tasks.get(task_id)
        if task is None:
            task = self._tasks[task_id] = get_task(task_id)
        return task

    def served(self, task_id: str) -> ServedModel:
        self.task(task_id)  # unknown task → 404 before anything else
        return self.holder.get(task_id)

    # ---- JSON ---------------------------------------------------------------------------------
    def predict(self, task_id: str, body: Any) -> tuple[dict[str, Any], ServedModel]:
        started = time.perf_counter()
        task = self.task(task_id)
        instances = instances_of(body, self.max_instances)
        rows = validate_instances(task.request_model, instances)
        served = self.holder.get(task_id)
        check_entities(served.entities, rows)
        outputs, features, memo = served.predictor.predict_memoized(rows)
        ids = [new_request_id() for _ in rows]
        predictions, logged = _answers(task, served, rows, outputs, ids)
        if task.explain_top and hasattr(served.bundle, "contributions"):
            _explain(task, served, features, predictions)
        payload = {
            "task": task_id,
            "model_name": served.model_name,
            "model_version": served.version,
            "predictions": predictions,
        }
        self._log(served, rows, features, logged, outputs, ids, started, memo)
        return payload, served

    # ---- files --------------------------------------------------------------------------------
    def predict_file(
        self, task_id: str, content: bytes, filename: str | None, output: FileFormat | None
    ) -> BatchResult:
        """A CSV or Parquet file of requests answered as a file (:func:`scoreline.serving.files.predict_file`)."""
        from scoreline.serving.files import predict_file  # pyarrow only when a batch comes

        return predict_file(self, task_id, content, filename, output)

    # ---- logging ------------------------------------------------------------------------------
    def _log(
        self,
        served: ServedModel,
        inputs: list[dict[str, Any]] | pd.DataFrame,
        features: np.ndarray,
        labels: list[Any],
        probabilities: np.ndarray,
        ids: list[str] | None,
        started: float,
        log_slots: Sequence[LogSlot] | None = None,
    ) -> None:
        if self.writer is None:
            return
        latency_ms = (time.perf_counter() - started) * 1000.0
        if log_slots is not None and ids is not None and len(ids) == 1 and self.writer.takes_rows:
            # One row to a sink process: queued as it is (the memo's arrays, the validated inputs); the
            # documents are built in the sink process, not on the serving core.
            predictor = served.predictor
            self.writer.submit_row(
                LoggedRow(
                    ids[0], latency_ms, served.task, served.model_name, served.version, predictor.feature_names,
                    predictor.classes, inputs[0], features.reshape(-1), labels[0],
                    None if probabilities is None else probabilities.reshape(-1),
                )  # type: ignore[index]
            )  # fmt: skip
            return
        if log_slots is not None and ids is not None and len(ids) == 1:
            # One row: its record is its memo slot's fragment (built now on a miss, kept for the repeats of
            # the same fixture) plus the time, id and latency, assembled without an entry or a dict.
            slot = log_slots[0]
            fragment = slot.log_fragment
            if fragment is None:
                try:
                    fragment = slot.log_fragment = _row_fragment(served, inputs, features, labels, probabilities)
                except Exception:  # the writer's own path counts what it cannot build
                    fragment = None
            if fragment is not None:
                head = model_head(served.task, served.model_name, served.version)
                timestamp, document = memoized_document(head, ids[0], fragment, latency_ms)
                self.writer.submit_document(ids[0], timestamp, document)
                return
        self.writer.submit(
            PredictionEntry(
                task=served.task,
                model_name=served.model_name,
                model_version=served.version,
                inputs=inputs,
                feature_names=served.predictor.feature_names,
                features=features,
                predictions=labels,
                classes=served.predictor.classes,
                probabilities=probabilities,
                latency_ms=latency_ms,
                request_ids=ids,
                log_slots=log_slots,
            )
        )


def _row_fragment(
    served: ServedModel, inputs: Any, features: np.ndarray, labels: list[Any], probabilities: np.ndarray | None
) -> bytes:
    """The prediction log fragment of a one-row request (the bytes ``encode`` builds for it)."""
    predictor = served.predictor
    values = None if probabilities is None else np.asarray(probabilities, dtype=float).reshape(1, -1)[0].tolist()
    row = np.asarray(features, dtype=float).reshape(1, -1)[0].tolist()
    return row_fragment(inputs[0], predictor.feature_names, row, labels[0], predictor.classes, values)


def _interval(served: ServedModel) -> tuple[list[float], list[float]]:
    """A forecast version's interval as ratios to the forecast per horizon day (1.0 when it has none)."""
    interval = (getattr(served.bundle, "metadata", {}) or {}).get("interval") or {}
    days = len(served.predictor.classes)
    return list(interval.get("low_ratio") or [1.0] * days), list(interval.get("high_ratio") or [1.0] * days)


def _explain(task: Task, served: ServedModel, features: np.ndarray, answers: list[dict[str, Any]]) -> None:
    """Add each answer's top features by absolute SHAP value (XGBoost ``pred_contribs``, on the margin)."""
    values = served.bundle.contributions(features)
    names = served.predictor.feature_names
    for answer, row in zip(answers, values, strict=True):
        top = np.argsort(-np.abs(row))[: task.explain_top]
        answer["contributions"] = {names[j]: float(row[j]) for j in top.tolist()}


def _answers(
    task: Task, served: ServedModel, rows: list[dict[str, Any]], outputs: np.ndarray, ids: list[str]
) -> tuple[list[dict[str, Any]], list[Any]]:
    """The answer per instance by prediction kind, and what the prediction log records as its prediction."""
    head = {"model_name": served.model_name, "model_version": served.version}
    columns = served.predictor.classes
    state = served.serving_state
    answers: list[dict[str, Any]] = []
    logged: list[Any] = []
    if task.kind in ("binary", "multiclass"):
        winners = outputs.argmax(axis=1).tolist()
        for i, (row, row_outputs) in enumerate(zip(rows, outputs.tolist(), strict=True)):
            label = columns[winners[i]]
            logged.append(label)
            probabilities = dict(zip(columns, row_outputs, strict=True))
            answers.append({
                "request_id": ids[i], "prediction": label, "label": task.describe(row, label, probabilities, state),
                "probabilities": probabilities, **head,
            })  # fmt: skip
    elif task.kind == "regression":
        for i, (row, value) in enumerate(zip(rows, outputs[:, 0].tolist(), strict=True)):
            logged.append(value)
            answers.append(
                {"request_id": ids[i], "prediction": value, "label": task.describe(row, value, None, state), **head}
            )
    else:
        low, high = _interval(served)
        quantiles = task.interval_quantiles
        low_name, high_name = (f"p{round(q * 100)}" for q in quantiles)
        for i, (row, values) in enumerate(zip(rows, outputs.tolist(), strict=True)):
            logged.append(values[0])
            answers.append({
                "request_id": ids[i], "prediction": values, "label": task.describe(row, values, None, state),
                "horizon": list(range(1, len(values) + 1)),
                "intervals": {
                    low_name: [v * r for v, r in zip(values, low, strict=False)],
                    high_name: [v * r for v, r in zip(values, high, strict=False)],
                },
                **head,
            })  # fmt: skip
    return answers, logged
