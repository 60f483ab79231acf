"""The interface every prediction task implements (DESIGN.md §2).

A task declares its raw formats and how they become one canonical table, its point-in-time
feature builder, its objective and metrics, its baselines, its serving schemas and the
serving state that travels inside the model artifact. Trainer, registry, evaluation and
serving are generic over this interface.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import pandas as pd
from pydantic import BaseModel


@dataclass(frozen=True)
class MetricSpec:
    name: str  # one of log_loss, rps, brier, accuracy, ece, roc_auc, f1, mae, mape, smape
    greater_is_better: bool


class Task(ABC):
    """One prediction task. Subclasses are stateless singletons registered in ``scoreline.tasks``."""

    id: ClassVar[str]  # e.g. "match-outcome"
    kind: ClassVar[Literal["multiclass", "binary", "regression"]]
    classes: ClassVar[tuple[str, ...]] = ()  # label order of predicted probabilities
    metrics: ClassVar[tuple[MetricSpec, ...]]
    primary_metric: ClassVar[str]
    date_column: ClassVar[str] = "date"  # walk-forward splits are by this column

    # ---- data side -------------------------------------------------------------------
    @abstractmethod
    def to_canonical(self, raw: bytes, filename: str) -> pd.DataFrame:
        """Detect the raw format, adapt it and validate it into the canonical table.

        Raises ``ScorelineError(INVALID_INPUT)`` whose details list the problems
        (row, column, value, expected), the first 50 plus the total count.
        """

    @abstractmethod
    def simulate(self, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Seeded realistic raw data and, row for row, its true probabilities / expectations."""

    # ---- training side ---------------------------------------------------------------
    @abstractmethod
    def build_features(self, canonical: pd.DataFrame) -> pd.DataFrame:
        """Point-in-time features, one row per canonical row, same index.

        No feature of a row may use anything dated at or after that row.
        """

    @abstractmethod
    def target(self, canonical: pd.DataFrame) -> pd.Series:
        """Encoded target per canonical row (class index for classification)."""

    @property
    def primary(self) -> MetricSpec:
        return next(m for m in self.metrics if m.name == self.primary_metric)

    # ---- serving side ----------------------------------------------------------------
    request_model: ClassVar[type[BaseModel]]  # one instance of POST /v1/{task}/predict

    @abstractmethod
    def serving_state(self, canonical: pd.DataFrame) -> dict[str, Any]:
        """JSON-able state at the end of the data (ratings, form, ...) stored in the model."""

    @abstractmethod
    def serving_features(self, state: dict[str, Any], requests: pd.DataFrame) -> pd.DataFrame:
        """Features for serving requests from the stored state; same code path as training."""

    def state_summary(self, state: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """What the served state says about each entity (e.g. a team's rating and form), for people to read."""
        return {}
