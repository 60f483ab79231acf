"""Rookie features, one code path for training and serving.

A rookie row is described only by its rookie season (the canonical table holds nothing else but the label):

* the 19 rookie-table stats (per game, percentages 0-100; a missing percentage is made/attempts, 0 without
  attempts), age when known (``age``; ``age_offset`` = age - 22, 0 when unknown, for the logistic prior);
* efficiency and rates: true shooting % (TS%), effective FG%, per-36-minute rates, assists per turnover,
  season minutes, games share and minutes share (of the class's season length, 48 minutes a game);
* era-normalised stats: z-scores against the rookies of the same class and the two classes before it (a
  three-class window, rookies only). A class is complete at the end of its rookie season, so these use nothing
  from later seasons: adding or changing later classes or later seasons changes no earlier row's features;
* draft-class context: the rookie's percentile within that window by season minutes and by points per game.

The normalisation tables (per class: means, standard deviations, quantiles, season length) are the serving
state. A request names its rookie season: its class's table is used; a season after the last known class uses
the latest table (the nearest earlier class), a request without season the table of the training rows without
season when there were any, else the latest one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.player_investment.data import PERCENT_OF, STAT_COLUMNS

REQUEST_COLUMNS: tuple[str, ...] = ("player", "rookie_season", "age", *STAT_COLUMNS)
CLASS_WINDOW = 3  # the class itself and the two before it
TYPICAL_ROOKIE_AGE = 22.0
FULL_SEASON_GAMES = 82.0
SHORTEST_SEASON_GAMES = 40.0
Z_CLIP = 4.0
PER_36: tuple[str, ...] = ("pts", "reb", "ast", "stl", "blk", "tov", "fga", "fta", "fg3a", "oreb")
Z_STATS: tuple[str, ...] = (
    "gp", "min", "total_min", "pts", "reb", "ast", "stl", "blk", "tov", "fg_pct", "ft_pct", "fg3a", "ts_pct",
    "pts36", "reb36", "ast36", "stl36", "blk36", "tov36", "fga36", "fta36", "fg3a36", "oreb36",
)  # fmt: skip
RANK_STATS: tuple[str, ...] = ("total_min", "pts")
QUANTILE_LEVELS = np.linspace(0.0, 1.0, 11)
UNKNOWN_SEASON = "unknown"
THRESHOLDS_VARIABLE = "SCORELINE_PLAYER_INVEST_THRESHOLDS"
DEFAULT_THRESHOLDS: dict[str, float] = {"invest": 0.7, "watch": 0.4}
STATE_VERSION = 1

FEATURE_NAMES: tuple[str, ...] = (
    *STAT_COLUMNS, "age", "age_offset", "ts_pct", "efg_pct", *(f"{s}36" for s in PER_36), "ast_tov",
    "total_min", "games_share", "minutes_share", *(f"z_{s}" for s in Z_STATS),
    *(f"class_pct_{s}" for s in RANK_STATS),
)  # fmt: skip


# ---- per-row quantities -------------------------------------------------------------------------------


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A float array of a request or canonical column (None, NA and missing columns as NaN)."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    values = frame[name]
    if values.dtype == object:
        return np.array([np.nan if v is None or v is pd.NA else v for v in values.to_numpy()], dtype=float)
    return values.to_numpy(dtype=float, na_value=np.nan)


def base_quantities(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The stats and everything derived from one row alone (no class context)."""
    q = {name: _column(frame, name) for name in STAT_COLUMNS}
    with np.errstate(divide="ignore", invalid="ignore"):
        for pct, (made, attempts) in PERCENT_OF.items():
            computed = np.where(q[attempts] > 0, 100.0 * q[made] / q[attempts], np.where(q[attempts] == 0, 0.0, np.nan))
            q[pct] = np.where(np.isnan(q[pct]), computed, q[pct])
        q["age"] = _column(frame, "age")
        q["age_offset"] = np.where(np.isnan(q["age"]), 0.0, q["age"] - TYPICAL_ROOKIE_AGE)
        shots = 2.0 * (q["fga"] + 0.44 * q["fta"])
        q["ts_pct"] = np.where(shots > 0, 100.0 * q["pts"] / shots, 0.0)
        q["efg_pct"] = np.where(q["fga"] > 0, 100.0 * (q["fgm"] + 0.5 * q["fg3m"]) / q["fga"], 0.0)
        for stat in PER_36:
            q[f"{stat}36"] = np.where(q["min"] > 0, 36.0 * q[stat] / q["min"], np.nan)
        q["ast_tov"] = q["ast"] / (q["tov"] + 0.1)
        q["total_min"] = q["gp"] * q["min"]
    return q


def _class_quantities(q: Mapping[str, np.ndarray], class_games: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "games_share": q["gp"] / class_games,
        "minutes_share": q["total_min"] / (48.0 * class_games),
    }


# ---- the normalisation state ---------------------------------------------------------------------------


def _table(q: Mapping[str, np.ndarray], rows: np.ndarray, class_rows: np.ndarray) -> dict[str, Any]:
    """Means, standard deviations and quantiles of the window's rookies; season length from the class itself."""
    games = q["gp"][class_rows]
    class_games = float(np.clip(np.nanmax(games, initial=FULL_SEASON_GAMES if len(games) == 0 else 0.0),
                                SHORTEST_SEASON_GAMES, FULL_SEASON_GAMES))  # fmt: skip
    shares = _class_quantities(q, np.full(len(q["gp"]), class_games))
    values = {**q, **shares}
    mean, sd = [], []
    for stat in Z_STATS:
        x = values[stat][rows]
        x = x[np.isfinite(x)]
        mean.append(float(x.mean()) if len(x) >= 2 else None)
        sd.append(float(x.std()) if len(x) >= 2 and x.std() > 0 else None)
    quantiles = []
    for stat in RANK_STATS:
        x = values[stat][rows]
        x = x[np.isfinite(x)]
        quantiles.append([float(v) for v in np.quantile(x, QUANTILE_LEVELS)] if len(x) >= 2 else None)
    return {"count": len(rows), "class_games": class_games, "mean": mean, "sd": sd, "quantiles": quantiles}


def build_state(canonical: pd.DataFrame, thresholds: Mapping[str, float] | None = None) -> dict[str, Any]:
    """JSON-able normalisation tables per rookie class (genuine rookies only: left-censored rows are not)."""
    rookies = canonical[canonical["censoring"].astype(str) != "left"] if "censoring" in canonical else canonical
    q = base_quantities(rookies)
    seasons = _column(rookies, "rookie_season")
    known = np.isfinite(seasons)
    tables: dict[str, Any] = {}
    for season in np.unique(seasons[known]):
        window = np.flatnonzero(known & (seasons > season - CLASS_WINDOW) & (seasons <= season))
        tables[str(int(season))] = _table(q, window, np.flatnonzero(seasons == season))
    if (~known).any() or not tables:
        unknown = np.flatnonzero(~known)
        tables[UNKNOWN_SEASON] = _table(q, unknown, unknown)
    return {
        "version": STATE_VERSION,
        "z_stats": list(Z_STATS),
        "rank_stats": list(RANK_STATS),
        "class_window": CLASS_WINDOW,
        "tables": tables,
        "seasons": sorted(int(s) for s in np.unique(seasons[known])),
        "thresholds": dict(thresholds or thresholds_from_environment()),
    }


def thresholds_from_environment() -> dict[str, float]:
    """``SCORELINE_PLAYER_INVEST_THRESHOLDS``: ``{"invest": 0.7, "watch": 0.4}`` or ``0.7,0.4``; else the defaults."""
    text = os.environ.get(THRESHOLDS_VARIABLE, "").strip()
    if not text:
        return dict(DEFAULT_THRESHOLDS)
    try:
        if text.startswith("{"):
            parsed = {str(k): float(v) for k, v in json.loads(text).items()}
        else:
            invest, watch = (float(part) for part in text.split(","))
            parsed = {"invest": invest, "watch": watch}
        invest, watch = parsed["invest"], parsed["watch"]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f'{THRESHOLDS_VARIABLE}={text!r}; expected JSON like {{"invest": 0.7, "watch": 0.4}} or \'0.7,0.4\'',
        ) from exc
    if not 0.0 < watch < invest < 1.0:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{THRESHOLDS_VARIABLE}={text!r}; expected 0 < watch < invest < 1",
        )
    return {"invest": invest, "watch": watch}


@dataclass(frozen=True)
class CompiledState:
    """The state as arrays: one row per table (known seasons in order, then ``unknown`` if any)."""

    seasons: np.ndarray  # known season end years, ascending
    unknown_index: int | None
    class_games: np.ndarray  # (tables,)
    mean: np.ndarray  # (tables, len(Z_STATS))
    sd: np.ndarray
    quantiles: np.ndarray  # (tables, len(RANK_STATS), 11)

    @classmethod
    def from_json(cls, state: Mapping[str, Any]) -> CompiledState:
        if list(state.get("z_stats", ())) != list(Z_STATS) or list(state.get("rank_stats", ())) != list(RANK_STATS):
            raise ScorelineError(
                ErrorCode.INTERNAL, "the model's player-investment state was built by another feature version"
            )
        tables = state["tables"]
        seasons = [int(s) for s in state["seasons"]]
        order = [str(s) for s in seasons] + ([UNKNOWN_SEASON] if UNKNOWN_SEASON in tables else [])

        def numbers(values: Any) -> np.ndarray:
            return np.array([np.nan if v is None else v for v in values], dtype=float)

        quantiles = np.full((len(order), len(RANK_STATS), len(QUANTILE_LEVELS)), np.nan)
        for t, key in enumerate(order):
            for r, values in enumerate(tables[key]["quantiles"]):
                if values is not None:
                    quantiles[t, r] = values
        return cls(
            seasons=np.array(seasons, dtype=float),
            unknown_index=len(seasons) if UNKNOWN_SEASON in tables else None,
            class_games=np.array([tables[k]["class_games"] for k in order], dtype=float),
            mean=np.vstack([numbers(tables[k]["mean"]) for k in order]),
            sd=np.vstack([numbers(tables[k]["sd"]) for k in order]),
            quantiles=quantiles,
        )

    def table_index(self, seasons: np.ndarray) -> np.ndarray:
        """The table of each row: its class, else the nearest earlier (later classes than known: the latest)."""
        fallback = self.unknown_index if self.unknown_index is not None else len(self.seasons) - 1
        if len(self.seasons) == 0:
            return np.full(len(seasons), fallback, dtype=int)
        nearest = np.clip(np.searchsorted(self.seasons, np.nan_to_num(seasons), side="right") - 1, 0, None)
        return np.where(np.isnan(seasons), fallback, nearest).astype(int)


def _percentile(x: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """Piecewise-linear percentile (0-1) of each x within its own row of 11 quantiles (NaN rows give NaN)."""
    below = (quantiles <= x[:, None]).sum(axis=1)
    upper = np.clip(below, 0, len(QUANTILE_LEVELS) - 1)
    lower = np.clip(below - 1, 0, len(QUANTILE_LEVELS) - 1)
    rows = np.arange(len(x))
    lo, hi = quantiles[rows, lower], quantiles[rows, upper]
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = np.where(hi > lo, (x - lo) / (hi - lo), 0.0)
    level = (lower + np.clip(fraction, 0.0, 1.0)) / (len(QUANTILE_LEVELS) - 1)
    level = np.where(below == 0, 0.0, np.where(below >= len(QUANTILE_LEVELS), 1.0, level))
    return np.where(np.isnan(quantiles).any(axis=1) | np.isnan(x), np.nan, level)


def compute_features(state: CompiledState, frame: pd.DataFrame) -> pd.DataFrame:
    """Features of request-like rows (columns of ``REQUEST_COLUMNS``), in ``FEATURE_NAMES`` order."""
    q = base_quantities(frame)
    table = state.table_index(_column(frame, "rookie_season"))
    q.update(_class_quantities(q, state.class_games[table]))
    mean, sd = state.mean[table], state.sd[table]
    with np.errstate(divide="ignore", invalid="ignore"):
        for j, stat in enumerate(Z_STATS):
            q[f"z_{stat}"] = np.clip((q[stat] - mean[:, j]) / sd[:, j], -Z_CLIP, Z_CLIP)
    for r, stat in enumerate(RANK_STATS):
        q[f"class_pct_{stat}"] = _percentile(q[stat], state.quantiles[table, r])
    return pd.DataFrame({name: q[name].astype(np.float64) for name in FEATURE_NAMES})


def request_frame(canonical: pd.DataFrame) -> pd.DataFrame:
    """Canonical rows as serving requests (JSON-like: ints, floats, None for missing)."""
    out = {}
    for name in REQUEST_COLUMNS:
        values = canonical[name]
        if name == "player":
            out[name] = values.astype(str).to_numpy(dtype=object)
        elif name == "rookie_season":
            out[name] = np.array([None if pd.isna(v) else int(v) for v in values], dtype=object)
        else:
            floats = values.to_numpy(dtype=float, na_value=np.nan)
            out[name] = np.array([None if np.isnan(v) else float(v) for v in floats], dtype=object)
    return pd.DataFrame(out)


def row_keys(canonical: pd.DataFrame) -> np.ndarray:
    """A stable text id per rookie: player | rookie season | a short hash of the rookie stats."""
    stats = canonical[list(STAT_COLUMNS)].astype("float64").round(6)
    digest = pd.util.hash_pandas_object(stats, index=False).to_numpy()
    seasons = canonical["rookie_season"]
    return np.array(
        [
            f"{player}|{'' if pd.isna(season) else int(season)}|{int(h) % 16**8:08x}"
            for player, season, h in zip(canonical["player"].astype(str), seasons, digest, strict=True)
        ],
        dtype=object,
    )
