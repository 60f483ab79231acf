"""The player-investment task: will an NBA rookie's career last five seasons or more?

Data side in ``data`` (rookie table, Basketball-Reference season tables) and ``simulator``; features, the
normalisation state and serving in ``features`` (one code path for training and serving).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from scoreline.core.identity_cache import IdentityCache
from scoreline.tasks.base import EntityField, MetricSpec, SplitStrategy, Task, TrainingTable

POSITIVE_CLASS = "five_plus"
# the 19 rookie-table stats (the seed's original logistic regression)
STAT_COLUMNS: tuple[str, ...] = (
    "gp", "min", "pts", "fgm", "fga", "fg_pct", "fg3m", "fg3a", "fg3_pct", "ftm", "fta", "ft_pct", "oreb", "dreb",
    "reb", "ast", "stl", "blk", "tov",
)  # fmt: skip


def _stat(aliases: Sequence[str], example: float, description: str, *, required: bool = True, high: float = 200.0
          ) -> Any:  # fmt: skip
    return Field(
        ... if required else None,
        ge=0.0,
        le=high,
        validation_alias=AliasChoices(*aliases),
        examples=[example],
        description=description,
    )


class RookieRequest(BaseModel):
    """A rookie's season (per-game averages, percentages 0-100), in the rookie table's or the season table's names."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)

    player: str | None = Field(default=None, max_length=200, examples=["Brandon Ingram"],
                               validation_alias=AliasChoices("player", "Name", "Player"))  # fmt: skip
    rookie_season: int | None = Field(
        default=None, ge=1900, le=2100, examples=[2017],
        validation_alias=AliasChoices("rookie_season", "Season", "season", "Year"),
        description="end year of the rookie season (2016-17 → 2017); '2016-17' is accepted too",
    )  # fmt: skip
    age: float | None = Field(default=None, ge=14, le=50, examples=[19], validation_alias=AliasChoices("age", "Age"))
    gp: int = Field(ge=1, le=200, examples=[79], validation_alias=AliasChoices("gp", "GP", "G"),
                    description="games played")  # fmt: skip
    min: float = _stat(("min", "MIN", "MP"), 28.8, "minutes per game", high=48.0)
    pts: float = _stat(("pts", "PTS"), 9.4, "points per game")
    fgm: float = _stat(("fgm", "FGM", "FG"), 3.5, "field goals made per game")
    fga: float = _stat(("fga", "FGA"), 8.7, "field goals attempted per game")
    fg_pct: float | None = _stat(("fg_pct", "FG%", "FG."), 40.2, "FG% (0-100); from FGM/FGA when omitted",
                                 required=False, high=100.0)  # fmt: skip
    fg3m: float = _stat(("fg3m", "3P Made", "3PM", "3P", "X3P", "X3P.Made"), 0.7, "three-pointers made per game")
    fg3a: float = _stat(("fg3a", "3PA", "X3PA"), 2.4, "three-pointers attempted per game")
    fg3_pct: float | None = _stat(("fg3_pct", "3P%", "X3P."), 29.4, "3P% (0-100); from 3PM/3PA (0 without attempts) "
                                  "when omitted", required=False, high=100.0)  # fmt: skip
    ftm: float = _stat(("ftm", "FTM", "FT"), 1.7, "free throws made per game")
    fta: float = _stat(("fta", "FTA"), 2.7, "free throws attempted per game")
    ft_pct: float | None = _stat(("ft_pct", "FT%", "FT."), 62.1, "FT% (0-100); from FTM/FTA when omitted",
                                 required=False, high=100.0)  # fmt: skip
    oreb: float | None = _stat(("oreb", "OREB", "ORB"), 0.8, "offensive rebounds per game (unknown: omit)",
                               required=False)  # fmt: skip
    dreb: float | None = _stat(("dreb", "DREB", "DRB"), 3.2, "defensive rebounds per game (unknown: omit)",
                               required=False)  # fmt: skip
    reb: float = _stat(("reb", "REB", "TRB"), 4.0, "rebounds per game")
    ast: float = _stat(("ast", "AST"), 1.0, "assists per game")
    stl: float | None = _stat(("stl", "STL"), 0.6, "steals per game (unknown: omit)", required=False)
    blk: float | None = _stat(("blk", "BLK"), 0.5, "blocks per game (unknown: omit)", required=False)
    tov: float | None = _stat(("tov", "TOV", "TO"), 1.5, "turnovers per game (unknown: omit)", required=False)

    @field_validator("rookie_season", mode="before")
    @classmethod
    def _season_text(cls, value: Any) -> Any:
        """'2016-17' or '2016-2017' → 2017 (the end year), as the season tables write it."""
        if isinstance(value, str):
            found = re.fullmatch(r"\s*(\d{4})\s*[-\u2013/]\s*(\d{2}|\d{4})\s*", value)
            if found:
                return int(found.group(1)) + 1
        return value


class PlayerInvestmentTask(Task):
    id: ClassVar[str] = "player-investment"
    title: ClassVar[str] = "NBA rookie: a career of five seasons or more?"
    kind: ClassVar[Literal["binary"]] = "binary"
    classes: ClassVar[tuple[str, ...]] = ("short", POSITIVE_CLASS)
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("log_loss", greater_is_better=False),
        MetricSpec("roc_auc", greater_is_better=True),
        MetricSpec("pr_auc", greater_is_better=True),
        MetricSpec("f1", greater_is_better=True),
        MetricSpec("precision", greater_is_better=True),
        MetricSpec("recall", greater_is_better=True),
        MetricSpec("brier", greater_is_better=False),
        MetricSpec("accuracy", greater_is_better=True),
    )
    primary_metric: ClassVar[str] = "log_loss"
    # By draft class (rookie season): later classes are the holdout. Tables without seasons have no groups
    # and the trainer falls back to the stratified split on the row keys.
    split: ClassVar[SplitStrategy] = SplitStrategy(kind="group", folds=3, holdout_fraction=0.2)

    request_model: ClassVar[type[BaseModel]] = RookieRequest
    entity_fields: ClassVar[tuple[EntityField, ...]] = ()  # rookies are new by definition
    outcome_keys: ClassVar[tuple[str, ...]] = ("player", "rookie_season")
    baseline_features: ClassVar[dict[str, tuple[str, ...]]] = {"stats_logistic": STAT_COLUMNS}  # the seed's model
    # The booster starts from a logistic regression on era-normalised playing time and production (always
    # finite: unknown ages count as typical) and learns the rest (age, nonlinear effects, class context).
    prior_features: ClassVar[tuple[str, ...]] = (
        "z_total_min", "z_gp", "z_min", "minutes_share", "z_pts36", "z_reb36", "z_ast36", "z_ts_pct", "z_fta36",
        "class_pct_total_min", "age_offset",
    )  # fmt: skip
    default_dataset: ClassVar[str] = "simulated"
    simulation_rows: ClassVar[int] = 5_000
    explain_top: ClassVar[int] = 5  # the answer names the stats that pushed the probability most

    # ---- data side ---------------------------------------------------------------------------------------
    def to_canonical(self, raw: bytes, filename: str) -> pd.DataFrame:
        from scoreline.tasks.player_investment.data import to_canonical

        return to_canonical(raw, filename)

    def simulate(self, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The rookie table (classic format, one row per rookie) and its truth, row for row."""
        from scoreline.tasks.player_investment.simulator import simulate

        return simulate(n, seed)

    def simulated_file(self, n: int, seed: int) -> tuple[bytes, str]:
        """A Basketball-Reference season table of the simulated players (rookie seasons known: group split)."""
        from scoreline.tasks.player_investment.simulator import simulate_seasons

        seasons, _ = simulate_seasons(n, seed)
        return seasons.to_csv(index=False).encode(), f"{self.id}-seasons-simulated.csv"

    # ---- training side -----------------------------------------------------------------------------------
    def training_table(self, canonical: pd.DataFrame) -> TrainingTable:
        """Labelled, genuine rookies (not left-censored), sorted by rookie season; groups = rookie season."""
        from scoreline.tasks.player_investment import features as f

        state = f.CompiledState.from_json(f.build_state(canonical, f.DEFAULT_THRESHOLDS))
        labelled = canonical[canonical["target"].notna() & (canonical["censoring"].astype(str) != "left")]
        labelled = labelled.sort_values("rookie_season", kind="stable", na_position="first").reset_index(drop=True)
        requests = f.request_frame(labelled)
        seasons = labelled["rookie_season"]
        groups = seasons.to_numpy(dtype=float, na_value=np.nan).astype(int) if seasons.notna().all() else None
        return TrainingTable(
            features=f.compute_features(state, requests),
            target=labelled["target"].to_numpy(dtype=float).astype(np.int64),
            groups=groups if groups is not None and len(groups) else None,
            keys=f.row_keys(labelled),
            requests=requests,
        )

    def target(self, canonical: pd.DataFrame) -> pd.Series:
        return canonical["target"].rename("five_plus")

    # ---- serving side ------------------------------------------------------------------------------------
    def serving_state(self, canonical: pd.DataFrame) -> dict[str, Any]:
        from scoreline.tasks.player_investment.features import build_state

        return build_state(canonical)

    def serving_features(self, state: dict[str, Any], requests: pd.DataFrame) -> pd.DataFrame:
        from scoreline.tasks.player_investment.features import compute_features

        return compute_features(_compiled_state(state), requests)

    def state_summary(self, state: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Per rookie class: how many rookies its normalisation window holds and its season length."""
        return {
            season: {"rookies_in_window": table["count"], "season_games": table["class_games"]}
            for season, table in state["tables"].items()
        }

    def example_request(self, state: Mapping[str, Any], input_example: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        if not input_example:
            return {name: field.examples[0] for name, field in RookieRequest.model_fields.items() if field.examples}
        example = dict(input_example[-1])
        return {k: v for k, v in example.items() if not (v is None or (isinstance(v, float) and np.isnan(v)))}

    def describe(
        self,
        instance: Mapping[str, Any],
        prediction: Any,
        probabilities: Mapping[str, float] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> str:
        """ "invest (P=0.78 of 5+ seasons)", "watch (...)" or "pass (...)" by the thresholds.

        ``prediction``: the probability of five seasons or more, the two class probabilities (a sequence in
        ``classes`` order or a mapping), or only a class label (then without P)."""
        from scoreline.tasks.player_investment.features import thresholds_from_environment

        probability = _positive_probability(probabilities if probabilities is not None else prediction)
        if probability is None:
            return "likely 5+ seasons" if str(prediction) == POSITIVE_CLASS else "likely a short career"
        thresholds = (state or {}).get("thresholds") or thresholds_from_environment()
        word = (
            "invest" if probability >= thresholds["invest"] else "watch" if probability >= thresholds["watch"]
            else "pass"
        )  # fmt: skip
        return f"{word} (P={probability:.2f} of 5+ seasons)"

    def prediction_requests(self, canonical: pd.DataFrame) -> pd.DataFrame:
        """Every rookie whose career length is not known yet (the investment list of a batch prediction run)."""
        open_careers = canonical[canonical["target"].isna() & (canonical["censoring"].astype(str) != "left")]
        fields = [name for name in self.request_model.model_fields if name in open_careers.columns]
        return open_careers[fields].reset_index(drop=True)

    def outcomes(self, canonical: pd.DataFrame) -> pd.DataFrame:
        """Rookies whose career length is known: player, rookie season (text, '' when unknown), outcome."""
        known = canonical[canonical["target"].notna() & (canonical["censoring"].astype(str) != "left")]
        return pd.DataFrame(
            {
                "player": known["player"].astype(str).to_numpy(),
                "rookie_season": [("" if pd.isna(s) else str(int(s))) for s in known["rookie_season"]],
                "outcome": np.where(known["target"].to_numpy() >= 0.5, POSITIVE_CLASS, "short"),
            }
        )


def _positive_probability(prediction: Any) -> float | None:
    if isinstance(prediction, bool | str) or prediction is None:
        return None
    if isinstance(prediction, Mapping):
        value = prediction.get(POSITIVE_CLASS)
        return None if value is None else float(value)
    if isinstance(prediction, int | float | np.floating):
        return float(prediction)
    values = np.asarray(prediction, dtype=float).ravel()
    return float(values[-1]) if len(values) in (1, 2) else None


def _compiled_form(state: dict[str, Any]) -> Any:
    from scoreline.tasks.player_investment.features import CompiledState

    return CompiledState.from_json(state)


# The array form of a JSON state, built once per state object (serving asks for it per request).
_compiled_state: IdentityCache[dict[str, Any], Any] = IdentityCache(_compiled_form)
