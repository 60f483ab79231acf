"""The event-traffic task: a sports service's daily requests per (sport, service, region), 10 days ahead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date as Date
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.base import EntityField, MetricSpec, SplitStrategy, Task, TrainingTable

HORIZON = 10  # mirrors features.HORIZON without importing the feature module at import time
MAX_EVENTS_PER_REQUEST = 200


class EventAhead(BaseModel):
    """An event after the origin that the calendar in the model does not hold (or holds with older figures)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    date: Date = Field(examples=["2026-03-14"])
    league: str | None = Field(default=None, max_length=200, examples=["Northern Hockey League"])
    home_team: str = Field(min_length=1, max_length=100, examples=["Oslo Wolves"])
    away_team: str = Field(min_length=1, max_length=100, examples=["Boston Bears"])
    stage: str = Field(default="regular", max_length=60, examples=["regular", "playoff", "final"])
    home_rank: float | None = Field(default=None, ge=0, examples=[3])
    away_rank: float | None = Field(default=None, ge=0, examples=[7])
    mentions: float | None = Field(default=None, ge=0, description="pre-event social-media volume", examples=[12000])


class TrafficRequest(BaseModel):
    """One series to forecast 10 days ahead from an origin (an instance of ``POST /v1/event-traffic/predict``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sport: str = Field(min_length=1, max_length=100, examples=["hockey"])
    service: str = Field(min_length=1, max_length=100, examples=["streaming"])
    region: str = Field(min_length=1, max_length=100, examples=["EU"])
    date: Date | None = Field(
        default=None, description="forecast origin: the last day with known traffic; the series' last day when omitted"
    )
    events: list[EventAhead] | None = Field(
        default=None, max_length=MAX_EVENTS_PER_REQUEST,
        description="events ahead that are not in the model's calendar (same teams and date: these figures win)",
    )  # fmt: skip


class EventTrafficTask(Task):
    id: ClassVar[str] = "event-traffic"
    title: ClassVar[str] = "Sports service traffic, 10 days ahead"
    kind: ClassVar[Literal["forecast"]] = "forecast"
    horizon: ClassVar[int] = HORIZON
    # One model for series of very different sizes: it learns requests / the series' 28-day level at the origin.
    target_scale_feature: ClassVar[str | None] = "level"
    # ... in logs: seasons, weekdays and event lifts multiply the level, so the trees add them up
    log_target: ClassVar[bool] = True
    # depth 4: the lift is a product of the series' response and the day's events (simulator: SMAPE 6.10 -> 6.00)
    booster_params: ClassVar[dict[str, Any]] = {"max_depth": 4}
    metrics: ClassVar[tuple[MetricSpec, ...]] = (
        MetricSpec("smape", greater_is_better=False),
        MetricSpec("mae", greater_is_better=False),
        MetricSpec("mape", greater_is_better=False),
        MetricSpec("rmse", greater_is_better=False),
    )
    primary_metric: ClassVar[str] = "smape"
    split: ClassVar[SplitStrategy] = SplitStrategy("walk_forward")
    simulation_rows: ClassVar[int] = 730  # days

    request_model: ClassVar[type[BaseModel]] = TrafficRequest
    entity_fields: ClassVar[tuple[EntityField, ...]] = (
        EntityField("sport", "sport", "sports"),
        EntityField("service", "service", "services"),
        EntityField("region", "region", "regions"),
    )
    outcome_keys: ClassVar[tuple[str, ...]] = ("sport", "service", "region")
    categorical_features: ClassVar[tuple[str, ...]] = (
        "sport_code", "service_code", "region_code", "weekday", "max_stage",
    )  # fmt: skip

    # ---- data side -------------------------------------------------------------------
    def to_canonical(self, raw: bytes, filename: str) -> pd.DataFrame:
        from scoreline.tasks.event_traffic.data import to_canonical

        return to_canonical(raw, filename)

    def simulate(self, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        from scoreline.tasks.event_traffic.simulator import simulate

        return simulate(n, seed)

    def simulated_file(self, n: int, seed: int) -> tuple[bytes, str]:
        from scoreline.tasks.event_traffic.simulator import simulated_zip

        return simulated_zip(n, seed), f"{self.id}-simulated.zip"

    # ---- training side ---------------------------------------------------------------
    def training_table(self, canonical: pd.DataFrame) -> TrainingTable:
        from scoreline.tasks.event_traffic.features import training_rows

        rows = training_rows(canonical)
        history = rows.history
        keys = np.array(history.series, dtype=object).reshape(-1, 3) if history.series else np.empty((0, 3))
        origins = rows.origin_day.astype("datetime64[D]").astype(str)
        requests = pd.DataFrame({
            "sport": keys[rows.series, 0], "service": keys[rows.series, 1], "region": keys[rows.series, 2],
            "date": origins, "events": None,
        })  # fmt: skip
        return TrainingTable(
            features=rows.features,
            target=rows.target,
            dates=rows.target_day.astype("datetime64[D]"),
            horizon=rows.features["horizon"].to_numpy(dtype=np.int64),
            requests=requests,
        )

    def baselines(self, table: TrainingTable, fit_rows: np.ndarray, score_rows: np.ndarray) -> dict[str, np.ndarray]:
        """Seasonal naive (the target's weekday, last time it was known at the origin) and the 7-day mean."""
        features = table.features.iloc[score_rows]
        moving_average = features["mean_7"].to_numpy(dtype=float)
        moving_average = np.where(np.isnan(moving_average), features["mean_28"].to_numpy(dtype=float), moving_average)
        seasonal = features["lag_same_weekday"].to_numpy(dtype=float)
        seasonal = np.where(np.isnan(seasonal), features["lag_same_weekday_2"].to_numpy(dtype=float), seasonal)
        seasonal = np.where(np.isnan(seasonal), moving_average, seasonal)
        return {"seasonal_naive": seasonal, "moving_average": moving_average}

    # ---- serving side ----------------------------------------------------------------
    def serving_state(self, canonical: pd.DataFrame) -> dict[str, Any]:
        from scoreline.tasks.event_traffic.features import serving_state

        return serving_state(canonical)

    def serving_features(self, state: dict[str, Any], requests: pd.DataFrame) -> pd.DataFrame:
        from scoreline.tasks.event_traffic.serving import serving_features

        return serving_features(state, requests)

    def example_request(self, state: Mapping[str, Any], input_example: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        series = state.get("series") or {}
        if not series:
            return super().example_request(state, input_example)
        entry = next(iter(series.values()))
        return {"sport": entry["sport"], "service": entry["service"], "region": entry["region"],
                "date": entry["last_day"]}  # fmt: skip

    def state_summary(self, state: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Per series: the last known day, the 28-day level, missing days in the kept window, events ahead."""
        upcoming = pd.Series(state["events"]["sport"], dtype=object)[
            np.array(state["events"]["date"], dtype=str) > str(state.get("last_day"))
        ].value_counts()
        return {
            name: {
                "last_day": entry["last_day"],
                "level_requests_per_day": None if entry["level"] is None else round(entry["level"]),
                "missing_days_in_window": sum(v is None for v in entry["values"]),
                "calendar_events_ahead": int(upcoming.get(entry["sport"], 0)),
            }
            for name, entry in state["series"].items()
        }

    def describe(
        self,
        instance: Mapping[str, Any],
        prediction: Any,
        probabilities: Mapping[str, float] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> str:
        values = [float(v) for v in (prediction if isinstance(prediction, list | tuple | np.ndarray) else [prediction])]
        series = f"{instance.get('sport')}/{instance.get('service')}/{instance.get('region')}"
        if not values:
            return f"{series}: no forecast"
        peak = int(np.argmax(values))
        origin = instance.get("date")  # a batch file's empty cell is missing (NaN), as an omitted date
        when = str(np.datetime64(str(origin)[:10], "D") + peak + 1) if _given(origin) else f"day {peak + 1}"
        return (f"{series}: {values[0]:,.0f} → {values[peak]:,.0f} requests/day over the next {len(values)} days "
                f"(peak on {when})")  # fmt: skip

    def prediction_requests(self, canonical: pd.DataFrame) -> pd.DataFrame:
        """Every series forecast from its last day with known traffic (the daily prediction pipeline)."""
        traffic = canonical[(canonical["record"] == "traffic") & canonical["requests"].notna()]
        if traffic.empty:
            return pd.DataFrame(columns=["sport", "service", "region", "date"])
        last = traffic.assign(day=pd.to_datetime(traffic["date"])).groupby(["sport", "service", "region"])["day"].max()
        return last.dt.strftime("%Y-%m-%d").rename("date").reset_index()

    def outcomes(self, canonical: pd.DataFrame) -> pd.DataFrame:
        """Requests per series and day; ``date`` (= ``target_date``) is the day the traffic was measured."""
        from scoreline.tasks.event_traffic.data import traffic_rows

        traffic = traffic_rows(canonical)
        day = pd.to_datetime(traffic["date"]).dt.strftime("%Y-%m-%d")
        return pd.DataFrame({
            "sport": traffic["sport"].astype(str), "service": traffic["service"].astype(str),
            "region": traffic["region"].astype(str), "date": day, "target_date": day,
            "outcome": traffic["requests"].to_numpy(dtype=float),
        })  # fmt: skip


def invalid(message: str, problems: list[dict[str, Any]], **extra: Any) -> ScorelineError:
    return ScorelineError(
        ErrorCode.INVALID_INPUT, message, {"problems": problems[:50], "count": len(problems), **extra}
    )


def _given(value: Any) -> bool:
    """Whether a request value is there: not None, NaN, NA or empty."""
    return value is not None and not pd.isna(value) and value != ""
