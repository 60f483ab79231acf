"""One monitoring run: drift and live accuracy for every served task over a window, results stored
(``scoreline-drift`` / ``scoreline-outcomes`` in Elasticsearch, or local JSON Lines files), and the
alert rule evaluated per task. The trainer exposes it at ``POST /v1/monitor/runs`` (the served models come from
MLflow's champions); ``scoreline monitor`` calls that route.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from pydantic import BaseModel

from scoreline.core.errors import ScorelineError
from scoreline.monitoring.drift import TaskDrift, compute_drift, drift_documents
from scoreline.monitoring.indices import DRIFT_INDEX, OUTCOMES_INDEX
from scoreline.monitoring.logs import (
    ElasticLogReader,
    ElasticResultStore,
    JsonlLogReader,
    JsonlResultStore,
    PredictionLogReader,
    ResultStore,
)
from scoreline.monitoring.outcomes import TaskAccuracy, live_accuracy, outcome_documents
from scoreline.monitoring.settings import MonitoringSettings

log = logging.getLogger(__name__)

ResultsLoader = Callable[[str], pd.DataFrame]


@dataclass(frozen=True)
class MonitoredModel:
    """What monitoring needs to know about a served model."""

    task: str
    model_version: str
    reference_profile: dict[str, Any]
    holdout_metrics: dict[str, float]
    classes: tuple[str, ...] = ()


class TaskMonitorResult(BaseModel):
    task: str
    model_version: str | None
    status: str  # the drift status: ok / warn / alert / insufficient_data / no_reference / not_served
    alert: bool  # the alert rule holds: retrain
    reason: str | None
    drift: TaskDrift | None
    accuracy: TaskAccuracy | None
    accuracy_error: str | None = None


class MonitorRun(BaseModel):
    run_id: str
    started_at: str
    window_start: str
    window_end: str
    alert: bool  # any task alerts
    alert_tasks: list[str]
    tasks: list[TaskMonitorResult]


@dataclass
class Monitor:
    settings: MonitoringSettings
    reader: PredictionLogReader
    store: ResultStore
    results_loader: ResultsLoader | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def run(
        self,
        models: Sequence[MonitoredModel],
        tasks: Sequence[str] | None = None,
        *,
        window_hours: float | None = None,
        accuracy_days: float | None = None,
    ) -> MonitorRun:
        now = self.clock()
        start = now - timedelta(hours=window_hours or self.settings.monitor_window_hours)
        accuracy_start = now - timedelta(days=accuracy_days or self.settings.monitor_accuracy_days)
        run_id = uuid.uuid4().hex
        stamp = now.isoformat()
        served = {m.task: m for m in models}
        results: list[TaskMonitorResult] = []
        for task in tasks or sorted(served):
            model = served.get(task)
            if model is None:
                results.append(
                    TaskMonitorResult(
                        task=task, model_version=None, status="not_served", alert=False,
                        reason="no model is served for this task", drift=None, accuracy=None,
                    )
                )  # fmt: skip
                continue
            window = self.reader.read(task, start, now, self.settings.monitor_max_records)
            current = window[window["model_version"] == model.model_version] if len(window) else window
            drift = compute_drift(
                task, model.reference_profile, current, self.settings, model_version=model.model_version
            )
            self.store.write(DRIFT_INDEX, drift_documents(drift, run_id, stamp, self.settings))
            accuracy, accuracy_error = self._accuracy(task, model, served, accuracy_start, now, stamp)
            results.append(
                TaskMonitorResult(
                    task=task,
                    model_version=model.model_version,
                    status=drift.status,
                    alert=drift.alert,
                    reason=_reason(drift, self.settings),
                    drift=drift,
                    accuracy=accuracy,
                    accuracy_error=accuracy_error,
                )
            )
        alert_tasks = [r.task for r in results if r.alert]
        return MonitorRun(
            run_id=run_id,
            started_at=stamp,
            window_start=start.isoformat(),
            window_end=now.isoformat(),
            alert=bool(alert_tasks),
            alert_tasks=alert_tasks,
            tasks=results,
        )

    def _accuracy(
        self,
        task: str,
        model: MonitoredModel,
        served: dict[str, MonitoredModel],
        start: datetime,
        end: datetime,
        stamp: str,
    ) -> tuple[TaskAccuracy | None, str | None]:
        from scoreline.tasks import get_task

        task_spec = get_task(task)
        if not task_spec.outcome_keys or self.results_loader is None:
            return None, None
        try:
            results = self.results_loader(task)
        except ScorelineError as error:
            return None, f"results unavailable: {error.message}"
        predictions = self.reader.read(task, start, end, self.settings.monitor_max_records)
        holdout = {m.model_version: m.holdout_metrics for m in served.values() if m.task == task}
        report, joined = live_accuracy(task_spec, predictions, results, holdout)
        documents, ids = outcome_documents(task_spec, joined, report, stamp)
        self.store.write(OUTCOMES_INDEX, documents, ids)
        return report, None

    def latest_drift(self, task: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        return self.store.latest(DRIFT_INDEX, task, limit=limit)

    def latest_accuracy(self, task: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        return self.store.latest(OUTCOMES_INDEX, task, kind="daily", limit=limit)


def _reason(drift: TaskDrift, settings: MonitoringSettings) -> str | None:
    if not drift.alert:
        return None
    parts = []
    if len(drift.features_in_alert) >= settings.drift_alert_min_features:
        parts.append(f"{len(drift.features_in_alert)} features in alert: {', '.join(drift.features_in_alert)}")
    if drift.prediction_drift:
        parts.append("the predicted-class distribution drifted")
    return "; ".join(parts)


def local_monitor(
    settings: MonitoringSettings, prediction_log_dir: Any, results_loader: ResultsLoader | None
) -> Monitor:
    """Embedded default: the local JSON Lines prediction log in, local JSON Lines results out."""
    return Monitor(
        settings, JsonlLogReader(prediction_log_dir), JsonlResultStore(settings.monitoring_dir), results_loader
    )


def elastic_monitor(settings: MonitoringSettings, client: Any, results_loader: ResultsLoader | None) -> Monitor:
    return Monitor(settings, ElasticLogReader(client), ElasticResultStore(client), results_loader)


def catalog_results_loader(storage_settings: Any) -> ResultsLoader:
    """Results = the latest version of every dataset ingested for the task (canonical tables, concatenated)."""

    def load(task: str) -> pd.DataFrame:
        from scoreline.data.datasets import DatasetCatalog
        from scoreline.data.storage import open_store

        catalog = DatasetCatalog(open_store(storage_settings))
        frames = [
            catalog.load(task, summary.dataset, summary.latest.version)
            for summary in catalog.list_datasets()
            if summary.task == task
        ]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    return load
