"""A fifth task that lives in the tests only: ``goal-total``, the number of goals in a football match.

It proves that a task is a plug-in: registered through ``SCORELINE_TASK_PLUGINS=tests.fifth_task:GoalTotalTask``
(or :func:`scoreline.tasks.register_task`), it goes through ingest, training, registration, promotion,
model-api, the prediction log, drift and the dashboard without a change to any file outside ``tests/``.
A regression task, so it also exercises the paths that classification does not.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date as Date
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.base import EntityField, MetricSpec, PredictionKind, Task

COLUMNS = ("date", "home_team", "away_team", "goals")
FORM_WEIGHT = 0.9  # exponential decay of a team's goal average per match played


class GoalTotalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    home_team: str = Field(min_length=1, max_length=100, examples=["Team 0"])
    away_team: str = Field(min_length=1, max_length=100, examples=["Team 1"])


class GoalTotalTask(Task):
    id: ClassVar[str] = "goal-total"
    title: ClassVar[str] = "Goals in a match (test plug-in)"
    kind: ClassVar[PredictionKind] = "regression"
    metrics: ClassVar[tuple[MetricSpec, ...]] = (MetricSpec("mae", False), MetricSpec("rmse", False))
    primary_metric: ClassVar[str] = "mae"
    request_model: ClassVar[type[BaseModel]] = GoalTotalRequest
    entity_fields: ClassVar[tuple[EntityField, ...]] = (
        EntityField("home_team", "team", "teams"),
        EntityField("away_team", "team", "teams"),
    )
    distinct_fields: ClassVar[tuple[tuple[str, str], ...]] = (("home_team", "away_team"),)
    simulation_rows: ClassVar[int] = 3_000

    def to_canonical(self, raw: bytes, filename: str) -> pd.DataFrame:
        try:
            frame = pd.read_csv(io.BytesIO(raw), dtype=str)
        except Exception as exc:
            raise ScorelineError(ErrorCode.INVALID_INPUT, f"unreadable CSV {filename!r}: {exc}") from exc
        missing = [c for c in COLUMNS if c not in frame.columns]
        if missing:
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                f"{filename!r} lacks the column(s) {missing}; expected a header {','.join(COLUMNS)}",
                {"problems": [{"row": 1, "column": c, "expected": "a column"} for c in missing]},
            )
        goals = pd.to_numeric(frame["goals"], errors="coerce")
        bad = np.flatnonzero(goals.isna().to_numpy() | (goals < 0).to_numpy())
        if len(bad):
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                f"invalid file: row {bad[0] + 2}, column 'goals': {frame['goals'].iloc[bad[0]]!r}; "
                "expected a whole number of goals >= 0",
                {"problems": [{"row": int(r) + 2, "column": "goals", "expected": "goals >= 0"} for r in bad[:50]]},
            )
        return pd.DataFrame(
            {
                "date": pd.to_datetime(frame["date"]),
                "home_team": frame["home_team"].str.strip(),
                "away_team": frame["away_team"].str.strip(),
                "goals": goals.astype(int),
            }
        )

    def simulate(self, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        rng = np.random.default_rng(seed)
        teams = 16
        attack = rng.gamma(4.0, 0.3, teams)
        home = rng.integers(0, teams, n)
        away = (home + rng.integers(1, teams, n)) % teams
        expected = attack[home] + attack[away]
        dates = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.integers(0, 700, n)), unit="D")
        raw = pd.DataFrame(
            {
                "date": dates.strftime("%Y-%m-%d"),
                "home_team": [f"Team {i}" for i in home],
                "away_team": [f"Team {i}" for i in away],
                "goals": rng.poisson(expected),
            }
        )
        return raw, pd.DataFrame({"expected_goals": expected})

    def build_features(self, canonical: pd.DataFrame) -> pd.DataFrame:
        return self._pass(canonical)[0]

    def target(self, canonical: pd.DataFrame) -> pd.Series:
        return canonical["goals"].astype(float)

    def serving_state(self, canonical: pd.DataFrame) -> dict[str, Any]:
        return {"teams": self._pass(canonical)[1]}

    def serving_features(self, state: dict[str, Any], requests: pd.DataFrame) -> pd.DataFrame:
        teams = state["teams"]
        return pd.DataFrame(
            {
                "home_goal_average": [teams[name]["average"] for name in requests["home_team"]],
                "away_goal_average": [teams[name]["average"] for name in requests["away_team"]],
            }
        )

    def outcomes(self, canonical: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "home_team": canonical["home_team"].astype(str),
                "away_team": canonical["away_team"].astype(str),
                "outcome": canonical["goals"].astype(float),
            }
        )

    outcome_keys: ClassVar[tuple[str, ...]] = ("home_team", "away_team")

    def prediction_requests(self, canonical: pd.DataFrame) -> pd.DataFrame:
        """The return fixtures of the last day's matches (a scheduled prediction run's list)."""
        last = canonical[canonical["date"] == canonical["date"].max()]
        return pd.DataFrame({"home_team": last["away_team"].to_numpy(), "away_team": last["home_team"].to_numpy()})

    def describe(
        self,
        instance: Mapping[str, Any],
        prediction: Any,
        probabilities: Mapping[str, float] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> str:
        return f"{float(prediction):.1f} goals expected in {instance['home_team']} v {instance['away_team']}"

    @staticmethod
    def _pass(canonical: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, dict[str, float]]]:
        """Each team's decayed goal average before each match (matches of one day don't see each other)."""
        data = canonical.sort_values("date", kind="stable")
        state: dict[str, dict[str, float]] = {}
        rows = []
        for day, group in data.groupby("date", sort=True):
            for record in group.itertuples(index=False):
                rows.append(
                    (
                        state.get(record.home_team, {}).get("average", np.nan),
                        state.get(record.away_team, {}).get("average", np.nan),
                    )
                )
            for record in group.itertuples(index=False):
                for team in (record.home_team, record.away_team):
                    entry = state.setdefault(team, {"average": float(record.goals), "last": ""})
                    entry["average"] = FORM_WEIGHT * entry["average"] + (1 - FORM_WEIGHT) * float(record.goals)
                    entry["last"] = str(Date.fromisoformat(str(day)[:10]))
        features = pd.DataFrame(rows, columns=["home_goal_average", "away_goal_average"], index=data.index)
        return features.loc[canonical.index], state
