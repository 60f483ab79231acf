"""Prediction log settings and the sink factory."""

from __future__ import annotations

from pathlib import Path

from scoreline.core.settings import DEFAULT_HOME
from scoreline.predlog.elastic import ElasticSinkSettings
from scoreline.predlog.record import PredictionSink


class PredictionLogSettings(ElasticSinkSettings):
    prediction_log_dir: Path = (DEFAULT_HOME / "predictions").resolve()
    prediction_log_max_file_bytes: int = 64 * 1024 * 1024  # a file never passes this; the next one starts
    prediction_log_max_total_bytes: int = 2 * 1024 * 1024 * 1024  # oldest files deleted past this
    prediction_log_retention_days: float = 30.0  # files last written longer ago are deleted
    prediction_log_queue_size: int = 10_000  # entries (one per request or batch file)
    prediction_log_batch_records: int = 1_000
    prediction_log_flush_interval_s: float = 0.5
    # A running sink process (scoreline.predlog.sinkd) to log through; unset: model-api starts its own.
    prediction_log_sink_address: str | None = None
    prediction_log_sink_process: bool = True  # False: the sink runs in the serving process (embedded tools)
    prediction_log_max_unacked_records: int = 20_000  # sent to the sink process, not yet acknowledged
    # The sink process's niceness added to the server's: on cores the requests saturate it yields to them (its
    # queue is bounded and it gets every idle cycle), so logging does not put latency spikes on answers.
    prediction_log_sink_niceness: int = 5


def make_sink(settings: PredictionLogSettings, writer: str = "") -> PredictionSink:
    """The sink the settings ask for; the embedded default is rotated JSON Lines files.

    With ``SCORELINE_ELASTICSEARCH_URL`` set: the Elasticsearch sink with its disk spool
    (``SCORELINE_PREDLOG_SPOOL_DIR``); its ``spill`` is the writer's fallback. ``writer`` names the
    process in the JSON Lines file names (another process than model-api logging into the same folder).
    """
    if settings.elasticsearch_url:
        from scoreline.predlog.elastic import ElasticsearchSink

        return ElasticsearchSink.from_settings(settings)
    from scoreline.predlog.jsonl import JsonlSink

    return JsonlSink(
        settings.prediction_log_dir,
        max_file_bytes=settings.prediction_log_max_file_bytes,
        writer=writer,
        max_total_bytes=settings.prediction_log_max_total_bytes,
        retention_s=settings.prediction_log_retention_days * 86_400,
    )
