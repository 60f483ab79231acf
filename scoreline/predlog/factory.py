"""Prediction log settings and the sink factory."""

from __future__ import annotations

from pathlib import Path

from scoreline.predlog.record import PredictionSink
from scoreline.settings import DEFAULT_HOME, ElasticSettings


class PredictionLogSettings(ElasticSettings):
    prediction_log_dir: Path = (DEFAULT_HOME / "predictions").resolve()
    prediction_log_max_file_bytes: int = 64 * 1024 * 1024
    prediction_log_queue_size: int = 10_000  # entries (one per request or batch file)
    prediction_log_batch_records: int = 1_000
    prediction_log_flush_interval_s: float = 0.5


def make_sink(settings: PredictionLogSettings) -> PredictionSink:
    """The sink the settings ask for; the embedded default is rotated JSON Lines files."""
    from scoreline.predlog.jsonl import JsonlSink

    return JsonlSink(settings.prediction_log_dir, max_file_bytes=settings.prediction_log_max_file_bytes)
