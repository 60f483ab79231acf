"""The served model of each task, replaced in one atomic step, and the last reload error.

With several workers (``scoreline.serving.workers``) the holder's :class:`SwapGate` holds a swap to
another version until every worker has loaded it, so all of them flip together.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from scoreline.core.errors import ErrorCode, ScorelineError, redact_urls
from scoreline.serving.model import ServedModel
from scoreline.serving.workers import SwapGate


@dataclass(frozen=True)
class ReloadError:
    version: str | None
    message: str
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


class ModelHolder:
    """Readers call :meth:`get` once per request and keep the object; writers :meth:`swap`.

    The mapping is copied on write and the new dict is published by one reference assignment,
    so a reader sees either the old or the new model, never a mix.
    """

    def __init__(self, tasks: tuple[str, ...], gate: SwapGate | None = None) -> None:
        self.tasks = tasks
        self.gate = gate
        self._models: dict[str, ServedModel] = {}
        self._errors: dict[str, ReloadError] = {}
        self._write_lock = threading.Lock()
        if gate is not None:
            gate.publish(self.versions())

    def get(self, task_id: str) -> ServedModel:
        model = self._models.get(task_id)
        if model is None:
            error = self._errors.get(task_id)
            why = f" (last error: {redact_urls(error.message)})" if error else ""  # public: no internal URLs
            raise ScorelineError(
                ErrorCode.UNAVAILABLE,
                f"no model is served for {task_id} yet{why}; expected a version with alias champion",
                {"task": task_id},
                retry_after_s=5,
            )
        return model

    def peek(self, task_id: str) -> ServedModel | None:
        return self._models.get(task_id)

    def swap(self, model: ServedModel, *, unpromoted: bool = False) -> ServedModel | None:
        """Serve ``model``; with a gate, a change of version waits for the other workers (bounded).

        Called by one writer per task at a time (the reloader's per-task lock)."""
        current = self._models.get(model.task)
        if self.gate is not None and current is not None and current.version != model.version:
            self.gate.swap_together(model.task, model.version, lambda: self._publish(model), unpromoted=unpromoted)
        else:
            self._publish(model)
            if self.gate is not None:
                self.gate.publish(self.versions())
        return current

    def _publish(self, model: ServedModel) -> None:
        with self._write_lock:
            self._models = {**self._models, model.task: model}

    def versions(self) -> dict[str, str | None]:
        models = self._models
        return {task: models[task].version if task in models else None for task in self.tasks}

    def record_error(self, task_id: str, error: ReloadError | None) -> None:
        with self._write_lock:
            errors = dict(self._errors)
            if error is None:
                errors.pop(task_id, None)
            else:
                errors[task_id] = error
            self._errors = errors

    def last_error(self, task_id: str) -> ReloadError | None:
        return self._errors.get(task_id)

    def ready(self) -> bool:
        return all(task in self._models for task in self.tasks)
