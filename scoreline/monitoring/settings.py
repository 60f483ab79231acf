"""Monitoring thresholds and windows (SCORELINE_DRIFT_*, SCORELINE_MONITOR_*); composed into service settings."""

from __future__ import annotations

from pathlib import Path

from scoreline.core.settings import DEFAULT_HOME, ScorelineSettings


class MonitoringSettings(ScorelineSettings):
    # Population stability index on the reference's quantile bins: the usual 0.1 / 0.25 rule of thumb.
    drift_psi_warn: float = 0.1
    drift_psi_alert: float = 0.25
    # Two-sample Kolmogorov-Smirnov statistic D (numbers) and Jensen-Shannon distance, base 2 (categories).
    drift_ks_warn: float = 0.1
    drift_ks_alert: float = 0.2
    drift_js_warn: float = 0.1
    drift_js_alert: float = 0.2
    # Below this many logged predictions in the window, drift is "insufficient_data", never an alert.
    drift_min_rows: int = 100
    # The alert rule: at least this many features in alert, or the predicted-class distribution in alert.
    drift_alert_min_features: int = 2
    monitor_window_hours: float = 24.0
    # Live accuracy looks further back: predictions are made days before the results are in.
    monitor_accuracy_days: float = 30.0
    monitor_max_records: int = 50_000
    # Embedded default: drift and outcome results as JSON Lines here when Elasticsearch is not configured.
    monitoring_dir: Path = DEFAULT_HOME / "monitoring"
