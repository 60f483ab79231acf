"""The match-outcome task: data side from ``data``/``simulator``, features and serving from ``features``."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import pandas as pd

from scoreline.tasks.base import MetricSpec, Task


class MatchOutcomeTask(Task):
    id: ClassVar[str] = "match-outcome"
    kind: ClassVar[Literal["multiclass", "binary", "regression"]] = "multiclass"
    classes: ClassVar[tuple[str, ...]] = ("home", "draw", "away")
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("rps", greater_is_better=False),
        MetricSpec("log_loss", greater_is_better=False),
        MetricSpec("brier", greater_is_better=False),
        MetricSpec("accuracy", greater_is_better=True),
        MetricSpec("ece", greater_is_better=False),
    )
    primary_metric: ClassVar[str] = "rps"

    def to_canonical(self, raw: bytes, filename: str) -> pd.DataFrame:
        from scoreline.tasks.match_outcome.data import to_canonical

        return to_canonical(raw, filename)

    def simulate(self, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        from scoreline.tasks.match_outcome.simulator import simulate

        return simulate(n, seed)

    # The training and serving side is filled in by the trainer work (features.py).
    def build_features(self, canonical: pd.DataFrame) -> pd.DataFrame:
        raise NotImplementedError

    def target(self, canonical: pd.DataFrame) -> pd.Series:
        raise NotImplementedError

    def serving_state(self, canonical: pd.DataFrame) -> dict[str, Any]:
        raise NotImplementedError

    def serving_features(self, state: dict[str, Any], requests: pd.DataFrame) -> pd.DataFrame:
        raise NotImplementedError
