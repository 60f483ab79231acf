"""The match-outcome task: data side from ``data``/``simulator``, features and serving from ``features``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date as Date
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from scoreline.core.identity_cache import IdentityCache
from scoreline.tasks.base import EntityField, MetricSpec, PredictionKind, Task, TrainingTable

# The international results (CC0) kept in the repository: data/international_results/ (README.md there).
BUNDLED_RESULTS = Path(__file__).resolve().parents[3] / "data" / "international_results" / "results.csv"
BUNDLED_DATASET = "international-results"


class MatchRequest(BaseModel):
    """One match to predict (an instance of ``POST /v1/match-outcome/predict``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    home_team: str = Field(min_length=1, max_length=100, examples=["Brazil"])
    away_team: str = Field(min_length=1, max_length=100, examples=["Argentina"])
    date: Date | None = Field(default=None, description="kick-off date; today when omitted")
    neutral: bool = Field(default=False, description="played at a neutral venue (no home advantage)")
    competition: str = Field(default="Friendly", max_length=200, examples=["FIFA World Cup", "Friendly"])


@dataclass
class MatchTrainingTable(TrainingTable):
    """A match table with the betting market's home/draw/away probabilities per row (NaN without odds)."""

    market: np.ndarray | None = None


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
    # The bundled real results (make run, Airflow's default); the simulator writes to "simulated".
    default_dataset: ClassVar[str] = BUNDLED_DATASET
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

    def bundled_dataset(self) -> tuple[str, bytes, str] | None:
        """The international results from 1872 on (CC0), when the repository's data folder is present."""
        if not BUNDLED_RESULTS.is_file():
            return None
        return BUNDLED_DATASET, BUNDLED_RESULTS.read_bytes(), BUNDLED_RESULTS.name

    # ---- training and serving side: one feature code path (features.py) ----------------
    request_model: ClassVar[type[BaseModel]] = MatchRequest
    # Feature columns that are codes rather than quantities (for drift profiles).
    categorical_features: ClassVar[tuple[str, ...]] = ("tier", "neutral")
    # Baselines beyond base rates: a logistic regression on these feature columns each.
    baseline_features: ClassVar[dict[str, tuple[str, ...]]] = {"elo": ("elo_diff",)}
    # The booster starts from a logistic regression on these (its base margin) and learns corrections.
    prior_features: ClassVar[tuple[str, ...]] = (
        "elo_diff", "goal_log_ratio", "goal_log_ratio_slow", "goal_log_total",
        "elo2_diff", "goal_logit_home_away", "goal_logit_draw",
        "kalman_log_ratio", "kalman_log_total", "kalman_log_ratio_shrunk",
        "goal_logp_home", "goal_logp_draw", "goal_logp_away", "venue_edge_home", "venue_edge_away",
    )  # fmt: skip
    # The goal models' own H/D/A forecast: on a few club seasons the prior stays it (a regression on so few rows
    # only adds noise), on decades of internationals it learns the corrections the other features bring.
    prior_anchor: ClassVar[tuple[str, ...]] = ("goal_logp_home", "goal_logp_draw", "goal_logp_away")
    # Training rows weigh half as much per 40 years before each fit's latest match (prior and trees): football of
    # the 1900s tells less about today's. Chosen on the pre-2018 folds (issue 16) over none, 20 and 80 years.
    recency_half_life_days: ClassVar[float | None] = 40 * 365.25
    # Trees as corrections to the prior need a lot of evidence per leaf: with the recency weights, early stopping
    # on min_child_weight 20 kept as few as 88 trees and lost fold 0 of the 2018 run; 100 is steadier (issue 16,
    # chosen on the pre-2018 windows).
    booster_params: ClassVar[dict[str, Any]] = {"min_child_weight": 100.0}

    def build_features(self, canonical: pd.DataFrame) -> pd.DataFrame:
        from scoreline.tasks.match_outcome.features import build_features

        return build_features(canonical)[0]

    def training_table(self, canonical: pd.DataFrame) -> TrainingTable:
        """The default table, plus the betting market's probabilities per row when the data has odds."""
        table = super().training_table(canonical)
        if not any(str(c).startswith("odds_") for c in canonical.columns):
            return table
        from scoreline.tasks.match_outcome.data import market_probabilities

        order = pd.to_datetime(canonical["date"]).to_numpy().argsort(kind="stable")  # the default table's order
        market = market_probabilities(canonical.iloc[order])
        return MatchTrainingTable(**{f.name: getattr(table, f.name) for f in fields(TrainingTable)}, market=market)

    def baselines(self, table: TrainingTable, fit_rows: Any, score_rows: Any) -> dict[str, Any]:
        """``bookmaker``: the market's probabilities (1/odds normalised, closing prices first) when any scored row
        has odds (football-data.co.uk files), NaN on rows without; users judge a football model against the market
        on the matches it priced."""
        market = getattr(table, "market", None)
        if market is None:
            return {}
        scored = market[score_rows]
        if not np.isfinite(scored).all(axis=1).any():
            return {}
        return {"bookmaker": scored}

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

    def compile_serving(self, state: dict[str, Any], feature_names: Sequence[str]) -> Any | None:
        from scoreline.tasks.match_outcome.features import ServingArrays

        return ServingArrays(_compiled_state(state), feature_names)

    def serving_rows(self, compiled: Any, instances: Sequence[Mapping[str, Any]]) -> Any:
        from scoreline.tasks.match_outcome.features import serving_rows

        return serving_rows(compiled, instances)

    def describe(
        self,
        instance: Mapping[str, Any],
        prediction: Any,
        probabilities: Mapping[str, float] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> str:
        if prediction == "home":
            return f"{instance.get('home_team', 'home team')} win"
        if prediction == "away":
            return f"{instance.get('away_team', 'away team')} win"
        return "draw"

    def describe_batch(
        self,
        requests: pd.DataFrame,
        predictions: Sequence[Any],
        probabilities: Any = None,
        state: Mapping[str, Any] | None = None,
    ) -> Any:
        """Labels as an Arrow dictionary column built per distinct team (no Python string per row)."""
        import numpy as np
        import pyarrow as pa

        home_codes, home_names = _distinct(requests["home_team"])
        away_codes, away_names = _distinct(requests["away_team"])
        names = [f"{team} win" for team in home_names] + [f"{team} win" for team in away_names] + ["draw"]
        codes = np.where(
            _rows_equal(predictions, "home"),
            home_codes,
            np.where(_rows_equal(predictions, "away"), len(home_names) + away_codes, len(names) - 1),
        )
        dictionary = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(names, pa.string()))
        return dictionary.cast(pa.string())

    def outcomes(self, canonical: pd.DataFrame) -> pd.DataFrame:
        """Each played match's result, keyed by its date and teams."""
        import numpy as np

        home, away = canonical["home_score"].to_numpy(), canonical["away_score"].to_numpy()
        index = (home < away).astype(int) * 2 + (home == away).astype(int)
        return pd.DataFrame(
            {
                "date": pd.to_datetime(canonical["date"]).dt.strftime("%Y-%m-%d").to_numpy(),
                "home_team": canonical["home_team"].astype(str).str.strip().to_numpy(),
                "away_team": canonical["away_team"].astype(str).str.strip().to_numpy(),
                "outcome": np.asarray(self.classes, dtype=object)[index],
            }
        )

    def raw_file(self, canonical: pd.DataFrame) -> tuple[bytes, str]:
        """The rows in the international results layout (``competition`` is its ``tournament``), with any odds."""
        frame = canonical.rename(columns={"competition": "tournament"}).assign(
            date=pd.to_datetime(canonical["date"]).dt.strftime("%Y-%m-%d")
        )
        return frame.to_csv(index=False).encode(), "results.csv"

    def example_request(self, state: Mapping[str, Any], input_example: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The request model's example teams (Brazil v Argentina) when the model knows both, else the two
        highest-rated teams it knows; at a neutral venue."""
        teams = state.get("teams") or {}
        if len(teams) < 2:
            return super().example_request(state, input_example)
        fields = MatchRequest.model_fields
        home, away = fields["home_team"].examples[0], fields["away_team"].examples[0]  # type: ignore[index]
        if home not in teams or away not in teams:
            home, away = sorted(teams, key=lambda name: -float(teams[name].get("elo", 0.0)))[:2]
        return {"home_team": home, "away_team": away, "neutral": True}

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


def _rating_state(state: dict[str, Any]) -> Any:
    from scoreline.tasks.match_outcome.features import RatingState

    return RatingState.from_json(state)


# The array form of a JSON state, built once per state object (serving asks for it per request).
_compiled_state: IdentityCache[dict[str, Any], Any] = IdentityCache(_rating_state)


def _rows_equal(predictions: Sequence[Any], value: str) -> Any:
    """Which predictions equal ``value``; a categorical (model-api's batch files) by its codes."""
    if isinstance(predictions, pd.Categorical):
        categories = list(predictions.categories)
        if value not in categories:
            return np.zeros(len(predictions), dtype=bool)
        return np.asarray(predictions.codes) == categories.index(value)
    return np.asarray(predictions, dtype=object) == value


def _distinct(values: pd.Series) -> tuple[Any, Any]:
    """Row codes and distinct values of a column (a validated text column is categorical: its own)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), values.cat.categories
    return pd.factorize(values)
