"""The match-outcome task: data side from ``data``/``simulator``, features and serving from ``features``."""

from __future__ import annotations

from datetime import date as Date
from typing import Any, ClassVar

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from scoreline.tasks.base import EntityField, MetricSpec, PredictionKind, Task


class MatchRequest(BaseModel):
    """One match to predict (an instance of ``POST /v1/match-outcome/predict``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    home_team: str = Field(min_length=1, max_length=100, examples=["Brazil"])
    away_team: str = Field(min_length=1, max_length=100, examples=["Argentina"])
    date: Date | None = Field(default=None, description="kick-off date; today when omitted")
    neutral: bool = Field(default=False, description="played at a neutral venue (no home advantage)")
    competition: str = Field(default="Friendly", max_length=200, examples=["FIFA World Cup", "Friendly"])


class MatchOutcomeTask(Task):
    id: ClassVar[str] = "match-outcome"
    kind: ClassVar[PredictionKind] = "multiclass"
    classes: ClassVar[tuple[str, ...]] = ("home", "draw", "away")
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("rps", greater_is_better=False),
        MetricSpec("log_loss", greater_is_better=False),
        MetricSpec("brier", greater_is_better=False),
        MetricSpec("accuracy", greater_is_better=True),
        MetricSpec("ece", greater_is_better=False),
    )
    primary_metric: ClassVar[str] = "rps"
    title: ClassVar[str] = "Football match outcome"
    simulation_rows: ClassVar[int] = 20_000
    entity_fields: ClassVar[tuple[EntityField, ...]] = (
        EntityField("home_team", "team", "teams"),
        EntityField("away_team", "team", "teams"),
    )
    distinct_fields: ClassVar[tuple[tuple[str, str], ...]] = (("home_team", "away_team"),)
    outcome_keys: ClassVar[tuple[str, ...]] = ("date", "home_team", "away_team")

    def to_canonical(self, raw: bytes, filename: str) -> pd.DataFrame:
        from scoreline.tasks.match_outcome.data import to_canonical

        return to_canonical(raw, filename)

    def simulate(self, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        from scoreline.tasks.match_outcome.simulator import simulate

        return simulate(n, seed)

    # ---- training and serving side: one feature code path (features.py) ----------------
    request_model: ClassVar[type[BaseModel]] = MatchRequest
    # Feature columns that are codes rather than quantities (for drift profiles).
    categorical_features: ClassVar[tuple[str, ...]] = ("tier", "neutral")
    # Baselines beyond base rates: a logistic regression on these feature columns each.
    baseline_features: ClassVar[dict[str, tuple[str, ...]]] = {"elo": ("elo_diff",)}
    # The booster starts from a logistic regression on these (its base margin) and learns corrections.
    prior_features: ClassVar[tuple[str, ...]] = ("elo_diff", "goal_log_ratio", "goal_log_ratio_slow", "goal_log_total")

    def build_features(self, canonical: pd.DataFrame) -> pd.DataFrame:
        from scoreline.tasks.match_outcome.features import build_features

        return build_features(canonical)[0]

    def target(self, canonical: pd.DataFrame) -> pd.Series:
        home = canonical["home_score"].to_numpy()
        away = canonical["away_score"].to_numpy()
        codes = (home < away).astype("int64") * 2 + (home == away).astype("int64")
        return pd.Series(codes, index=canonical.index, name="outcome")

    def serving_state(self, canonical: pd.DataFrame) -> dict[str, Any]:
        from scoreline.tasks.match_outcome.features import build_features

        return build_features(canonical)[1].to_json()

    def serving_features(self, state: dict[str, Any], requests: pd.DataFrame) -> pd.DataFrame:
        from scoreline.tasks.match_outcome.features import serving_features

        return serving_features(_compiled_state(state), requests)

    def state_summary(self, state: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Every team's Elo rating and recent form (exponentially weighted, per match) at the end of training."""
        summary = {}
        for team, entry in state["teams"].items():
            weight = entry["form_weight"] or 1.0
            summary[team] = {
                "elo": round(entry["elo"], 1),
                "form_points_per_match": round(entry["form_points"] / weight, 2),
                "form_goals_for_per_match": round(entry["form_goals_for"] / weight, 2),
                "form_goals_against_per_match": round(entry["form_goals_against"] / weight, 2),
                "matches_played": entry["played"],
                "last_match": entry["last_date"],
            }
        return summary


_COMPILED: list[tuple[dict[str, Any], Any]] = []  # (state dict, RatingState): a few recent, by identity


def _compiled_state(state: dict[str, Any]) -> Any:
    """The array form of a JSON state, built once per state object (serving calls this per request)."""
    from scoreline.tasks.match_outcome.features import RatingState

    for known, compiled in _COMPILED:
        if known is state:
            return compiled
    compiled = RatingState.from_json(state)
    _COMPILED.insert(0, (state, compiled))
    del _COMPILED[4:]
    return compiled
