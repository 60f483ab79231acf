"""Prediction records for tests, shaped like model-api's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from scoreline.predlog.record import PredictionRecord


def make_record(index: int = 0, *, timestamp: str | None = None) -> PredictionRecord:
    return PredictionRecord(
        timestamp=timestamp or datetime.now(UTC).isoformat(),
        request_id=uuid.uuid4().hex,
        task="match-outcome",
        model_name="scoreline-match-outcome",
        model_version="3",
        inputs={"home_team": f"Team {index % 7}", "away_team": f"Team {(index + 3) % 7}", "neutral": False},
        features={"elo_diff": float(index % 50) - 25.0, "home_elo": 1500.0 + index % 13},
        prediction="home",
        probabilities={"home": 0.5, "draw": 0.3, "away": 0.2},
        latency_ms=1.5,
    )
