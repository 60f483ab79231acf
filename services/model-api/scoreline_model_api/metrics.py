"""Prometheus collectors of model-api, registered on the app's registry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from scoreline.predlog.writer import PredictionLogWriter
from scoreline.serving.holder import ModelHolder
from scoreline.serving.reloader import ReloadOutcome

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class ModelApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "scoreline_predict_requests_total",
            "Prediction requests by task, endpoint and HTTP status",
            ["task", "endpoint", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "scoreline_predict_seconds",
            "Prediction request latency by task, endpoint and HTTP status",
            ["task", "endpoint", "status"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.instances = Counter(
            "scoreline_predicted_instances_total", "Instances predicted", ["task", "endpoint"], registry=registry
        )
        self.served_version = Gauge(
            "scoreline_served_model_version", "Version number served per task (0 = none)", ["task"], registry=registry
        )
        self.served_from_cache = Gauge(
            "scoreline_served_model_from_cache", "1 when the served model came from the local cache", ["task"],
            registry=registry,
        )  # fmt: skip
        self.reloads = Counter(
            "scoreline_model_reloads_total", "Reload attempts by task and outcome", ["task", "outcome"],
            registry=registry,
        )  # fmt: skip
        self.reload_seconds = Histogram(
            "scoreline_model_reload_seconds", "Time from trigger to swap", ["task"], registry=registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
        )  # fmt: skip
        self.reload_error = Gauge(
            "scoreline_model_reload_error", "1 while the last reload of a task failed", ["task"], registry=registry
        )
        self.log_queue_depth = Gauge(
            "scoreline_predlog_queue_depth", "Entries waiting in the prediction log queue", registry=registry
        )
        self.log_written = Gauge(
            "scoreline_predlog_records_written", "Prediction records written by the sink", registry=registry
        )
        self.log_dropped = Gauge(
            "scoreline_predlog_records_dropped", "Prediction records lost (queue full or sink and fallback failed)",
            registry=registry,
        )  # fmt: skip
        self.log_fallback = Gauge(
            "scoreline_predlog_records_to_fallback", "Records handed to the sink's fallback (spool)", registry=registry
        )

    def observe_reload(self, outcome: ReloadOutcome) -> None:
        self.reloads.labels(outcome.task, outcome.outcome).inc()
        if outcome.outcome in ("swapped", "cached"):
            self.reload_seconds.labels(outcome.task).observe(outcome.seconds)
        self.reload_error.labels(outcome.task).set(1 if outcome.outcome in ("failed", "unreachable") else 0)

    def bind(self, holder: ModelHolder, writer: PredictionLogWriter | None) -> None:
        """Gauges read live state at scrape time."""
        for task in holder.tasks:
            self.served_version.labels(task).set_function(lambda task=task: _version_number(holder, task))
            self.served_from_cache.labels(task).set_function(
                lambda task=task: float(getattr(holder.peek(task), "source", "") == "cache")
            )
        if writer is not None:
            self.log_queue_depth.set_function(writer.depth)
            self.log_written.set_function(lambda: writer.records_written)
            self.log_dropped.set_function(lambda: writer.records_dropped)
            self.log_fallback.set_function(lambda: writer.records_to_fallback)


def _version_number(holder: ModelHolder, task: str) -> float:
    served = holder.peek(task)
    try:
        return float(served.version) if served else 0.0
    except ValueError:
        return -1.0


class RequestObserver:
    """Counts and times prediction requests per task, endpoint and status (unknown tasks as "unknown")."""

    def __init__(self, metrics: ModelApiMetrics, tasks: tuple[str, ...]) -> None:
        self.metrics = metrics
        self.tasks = frozenset(tasks)
        self._children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}  # labels() costs more than inc()

    def observe(self, task_id: str, endpoint: str, started: float, status: int, instances: int = 0) -> None:
        elapsed = time.perf_counter() - started
        task_label = task_id if task_id in self.tasks else "unknown"
        key = (task_label, endpoint, status)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = (
                self.metrics.requests.labels(task_label, endpoint, str(status)),
                self.metrics.latency.labels(task_label, endpoint, str(status)),
                self.metrics.instances.labels(task_label, endpoint),
            )
        found[0].inc()
        found[1].observe(elapsed)
        if instances:
            found[2].inc(instances)


class SpoolCollector(Collector):
    """Spool size and age (and sink health) of the Elasticsearch sink, read at scrape time."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink

    def collect(self) -> Iterator[GaugeMetricFamily]:
        stats = self.sink.stats()
        for name, doc, value in (
            ("scoreline_predlog_spool_records", "Prediction records waiting in the disk spool", stats.spool.records),
            ("scoreline_predlog_spool_bytes", "Size of the disk spool in bytes", stats.spool.bytes),
            (
                "scoreline_predlog_spool_oldest_age_seconds",
                "Age of the oldest spooled record",
                stats.spool.oldest_age_s,
            ),
            ("scoreline_predlog_es_delivered", "Prediction records Elasticsearch acknowledged", stats.delivered),
            ("scoreline_predlog_es_spooled", "Prediction records that went to the spool", stats.spooled),
            ("scoreline_predlog_es_buffered", "Prediction records in memory waiting for a bulk", stats.buffered),
            ("scoreline_predlog_es_rejected", "Prediction records Elasticsearch refused for good", stats.rejected),
            ("scoreline_predlog_es_healthy", "1 while Elasticsearch takes prediction records", int(stats.healthy)),
        ):
            yield GaugeMetricFamily(name, doc, value=float(value))


def register_sink_metrics(registry: CollectorRegistry, sink: Any) -> None:
    """Expose the spool metrics when the sink is the Elasticsearch one (it has ``stats``)."""
    if hasattr(sink, "stats") and hasattr(sink, "spool"):
        registry.register(SpoolCollector(sink))
