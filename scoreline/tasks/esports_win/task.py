"""The esports-win task: P(blue side wins) a League of Legends game from its first 10 minutes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, create_model

from scoreline.tasks.base import MetricSpec, SplitStrategy, Task, TrainingTable
from scoreline.tasks.esports_win.columns import GAME_ID, LABEL, STAT_COLUMNS, export_name, stat_of
from scoreline.tasks.esports_win.features import SIDE_FEATURES

# Typical values at 10:00 (medians of ranked high-diamond games), for examples and the dashboard's defaults.
TYPICAL: dict[str, float] = {
    "wards_placed": 16, "wards_destroyed": 1, "first_blood": 1, "kills": 6, "deaths": 6, "assists": 6,
    "elite_monsters": 0, "dragons": 0, "heralds": 0, "towers_destroyed": 0, "total_gold": 16_400,
    "avg_level": 7.0, "total_experience": 17_950, "total_minions_killed": 218, "total_jungle_minions_killed": 50,
    "gold_diff": 0, "experience_diff": 0, "cs_per_min": 21.8, "gold_per_min": 1_640,
}  # fmt: skip
STATE_FORMAT = "esports-win-state/1"
# No side's count, rate or difference at 10:00 comes near it (gold ~16,000, experience ~18,000); a bound keeps
# every value the model sees finite in float32 and its logistic prior from overflowing.
MAX_STAT = 1_000_000


def _field(column: str) -> tuple[Any, Any]:
    stat = stat_of(column)
    side = column.partition("_")[0]
    bounds: dict[str, Any] = {}
    kind: Any = float | None
    if stat.kind == "count":
        kind, bounds = int | None, {"ge": 0, "le": MAX_STAT}
    elif stat.kind == "flag":
        kind = bool | None
    elif stat.kind == "level":
        bounds = {"ge": 1, "le": 18}
    elif stat.kind == "rate":
        bounds = {"ge": 0, "le": MAX_STAT}
    else:  # signed: a difference between the sides
        bounds = {"ge": -MAX_STAT, "le": MAX_STAT}
    example = TYPICAL[stat.name]
    if stat.kind == "flag":
        example = side == "blue"
    return kind, Field(
        default=None,
        validation_alias=AliasChoices(column, export_name(column)),
        description=f"{side} side: {stat.description} at 10:00 (also accepted as {export_name(column)})",
        examples=[example],
        **bounds,
    )


GameState: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "GameState",
    __config__=ConfigDict(extra="forbid", str_strip_whitespace=True),
    __doc__=(
        "One game at 10:00 (an instance of POST /v1/esports-win/predict): the 10-minute columns the model was "
        "trained with (any other is optional and ignored), or a Riot match-v5 `timeline` (with its `match`, "
        "optional) from which they are computed; explicit columns override the timeline's."
    ),
    game_id=(
        str | None,
        Field(default=None, max_length=100, validation_alias=AliasChoices("game_id", "gameId", "matchId"),
              description="the game's id (Riot match id such as EUW1_6912345678), to join its outcome later",
              examples=["EUW1_6912345678"]),
    ),
    timeline=(
        dict[str, Any] | None,
        Field(default=None, description="a Riot match-v5 timeline JSON that reaches 10:00; the state is read from it"),
    ),
    match=(
        dict[str, Any] | None,
        Field(default=None, description="the Riot match-v5 match JSON of the timeline (teams of participants)"),
    ),
    **{column: _field(column) for column in STAT_COLUMNS},
)  # fmt: skip


class EsportsWinTask(Task):
    id: ClassVar[str] = "esports-win"
    title: ClassVar[str] = "League of Legends: blue side wins, from the first 10 minutes"
    kind: ClassVar[Literal["multiclass", "binary", "regression"]] = "binary"
    classes: ClassVar[tuple[str, ...]] = ("red", "blue")  # probability column 1 = P(blue wins)
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("log_loss", greater_is_better=False),
        MetricSpec("roc_auc", greater_is_better=True),
        MetricSpec("accuracy", greater_is_better=True),
        MetricSpec("brier", greater_is_better=False),
        MetricSpec("ece", greater_is_better=False),
    )
    primary_metric: ClassVar[str] = "log_loss"
    # Games have no reliable date and game ids are not a time order across regions: a stable hash of the
    # game id picks the holdout, seeded stratified folds the rest.
    split: ClassVar[SplitStrategy] = SplitStrategy("stratified", folds=3, holdout_fraction=0.2)
    request_model: ClassVar[type[BaseModel]] = GameState
    outcome_keys: ClassVar[tuple[str, ...]] = ("game_id",)
    categorical_features: ClassVar[tuple[str, ...]] = ()
    # Feature names are fixed whatever subset a dataset had (see features.py); unknown ones are constant 0.
    baseline_features: ClassVar[dict[str, tuple[str, ...]]] = {
        "gold_logistic": ("gold_diff",),
        "all_columns_logistic": SIDE_FEATURES,
    }
    # The booster starts from a logistic regression on these (its base margin) and learns what it misses.
    prior_features: ClassVar[tuple[str, ...]] = ("gold_diff", "experience_diff")
    simulation_rows: ClassVar[int] = 10_000
    explain_top: ClassVar[int] = 5  # the answer names the columns that pushed P(blue) most

    # ---- data side -------------------------------------------------------------------
    def to_canonical(self, raw: bytes, filename: str) -> pd.DataFrame:
        from scoreline.tasks.esports_win.data import to_canonical

        return to_canonical(raw, filename)

    def simulate(self, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        from scoreline.tasks.esports_win.simulator import simulate

        return simulate(n, seed)

    # ---- training side ---------------------------------------------------------------
    def training_table(self, canonical: pd.DataFrame) -> TrainingTable:
        from scoreline.tasks.esports_win.features import build_features, present_columns

        columns = present_columns(canonical)
        data = canonical.reset_index(drop=True)
        return TrainingTable(
            features=build_features(data, columns).reset_index(drop=True),
            target=data[LABEL].to_numpy(dtype=np.int64),
            keys=data[GAME_ID].astype(str).to_numpy(),
            requests=data[[GAME_ID, *columns]],
        )

    # ---- serving side ----------------------------------------------------------------
    def serving_state(self, canonical: pd.DataFrame) -> dict[str, Any]:
        from scoreline.tasks.esports_win.features import known_features, present_columns

        columns = present_columns(canonical)
        ranges = {
            column: {
                "min": float(values.min()),
                "median": float(values.median()),
                "max": float(values.max()),
            }
            for column in columns
            for values in [canonical[column].astype(float)]
        }
        return {
            "format": STATE_FORMAT,
            "columns": columns,  # the 10-minute columns the model was trained with: every request needs them
            "known_features": known_features(columns),
            "games": len(canonical),
            "blue_win_rate": float(canonical[LABEL].mean()) if len(canonical) else None,
            "column_ranges": ranges,
        }

    def serving_features(self, state: dict[str, Any], requests: pd.DataFrame) -> pd.DataFrame:
        from scoreline.tasks.esports_win.serving import serving_features

        return serving_features(state, requests)

    def example_request(self, state: Mapping[str, Any], input_example: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        columns = list(state.get("columns", ()))
        if input_example:
            last = dict(input_example[-1])
            example = {k: _plain(last[k]) for k in (GAME_ID, *columns) if last.get(k) is not None}
        else:
            ranges = state.get("column_ranges", {})
            example = {c: ranges[c]["median"] if c in ranges else TYPICAL[stat_of(c).name] for c in columns}
        for column in columns:
            if stat_of(column).kind == "flag" and column in example:
                example[column] = bool(example[column])
            elif stat_of(column).kind == "count" and column in example:
                example[column] = round(float(example[column]))
        return example

    def describe(
        self,
        instance: Mapping[str, Any],
        prediction: Any,
        probabilities: Mapping[str, float] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> str:
        return "blue side wins" if prediction == "blue" else "red side wins"

    def describe_batch(
        self,
        requests: pd.DataFrame,
        predictions: Sequence[Any],
        probabilities: Any = None,
        state: Mapping[str, Any] | None = None,
    ) -> list[str]:
        return ["blue side wins" if p == "blue" else "red side wins" for p in predictions]

    def outcomes(self, canonical: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {
                GAME_ID: canonical[GAME_ID].astype(str).to_numpy(),
                "outcome": np.where(canonical[LABEL].to_numpy() == 1, "blue", "red"),
            }
        )


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
