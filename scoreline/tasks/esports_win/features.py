"""Features of a game's 10-minute state, the same code for training rows and serving requests.

Every feature table has the same columns, whatever subset of the 10-minute table a dataset had:
per side, the 15 base statistics (``blue_kills``, ``red_total_gold``, ...) and their blue-minus-red
differences (``kills_diff``, ``gold_diff``, ...). Statistics that can be derived exactly from the
columns present are derived (gold from gold per minute, red gold from blue gold and the gold
difference, red kills from blue deaths, ...); what stays unknown is 0 in every row, so a model
trained on a 15-column copy simply has constant columns there. Only the state at 10:00 is used:
nothing a game's table holds happens after the cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from scoreline.tasks.esports_win.columns import MINUTES, SIDES, STAT_COLUMNS

BASE_STATS: tuple[str, ...] = (
    "wards_placed",
    "wards_destroyed",
    "first_blood",
    "kills",
    "deaths",
    "assists",
    "elite_monsters",
    "dragons",
    "heralds",
    "towers_destroyed",
    "total_gold",
    "avg_level",
    "total_experience",
    "total_minions_killed",
    "total_jungle_minions_killed",
)
DIFF_NAMES: dict[str, str] = {"total_gold": "gold_diff", "total_experience": "experience_diff"}
SIDE_FEATURES: tuple[str, ...] = tuple(f"{side}_{stat}" for side in SIDES for stat in BASE_STATS)
DIFF_FEATURES: tuple[str, ...] = tuple(DIFF_NAMES.get(stat, f"{stat}_diff") for stat in BASE_STATS)
FEATURE_NAMES: tuple[str, ...] = (*DIFF_FEATURES, *SIDE_FEATURES)

Values = dict[str, np.ndarray]


def present_columns(frame: pd.DataFrame) -> list[str]:
    """The 10-minute columns a canonical table really has (in canonical order)."""
    return [c for c in STAT_COLUMNS if c in frame.columns and frame[c].notna().any()]


def column_values(frame: pd.DataFrame, columns: Sequence[str]) -> Values:
    return {c: frame[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in columns}


def _derived(values: Mapping[str, np.ndarray]) -> tuple[Values, np.ndarray | None, np.ndarray | None]:
    """Per-side base statistics (those known or exactly derivable), the gold and experience differences."""
    side: Values = {}
    for s in SIDES:
        for stat in BASE_STATS:
            if f"{s}_{stat}" in values:
                side[f"{s}_{stat}"] = values[f"{s}_{stat}"]
        if f"{s}_total_gold" not in side and f"{s}_gold_per_min" in values:
            side[f"{s}_total_gold"] = values[f"{s}_gold_per_min"] * MINUTES
        if f"{s}_total_minions_killed" not in side and f"{s}_cs_per_min" in values:
            side[f"{s}_total_minions_killed"] = values[f"{s}_cs_per_min"] * MINUTES
        if f"{s}_elite_monsters" not in side and {f"{s}_dragons", f"{s}_heralds"} <= side.keys():
            side[f"{s}_elite_monsters"] = side[f"{s}_dragons"] + side[f"{s}_heralds"]
    for a, b in (("blue", "red"), ("red", "blue")):  # one side's kills are the other's deaths
        if f"{a}_kills" not in side and f"{b}_deaths" in side:
            side[f"{a}_kills"] = side[f"{b}_deaths"]
        if f"{a}_deaths" not in side and f"{b}_kills" in side:
            side[f"{a}_deaths"] = side[f"{b}_kills"]
    diffs = []
    for total, diff in (("total_gold", "gold_diff"), ("total_experience", "experience_diff")):
        found = None
        if f"blue_{diff}" in values:
            found = values[f"blue_{diff}"]
        elif f"red_{diff}" in values:
            found = -values[f"red_{diff}"]
        elif f"blue_{total}" in side and f"red_{total}" in side:
            found = side[f"blue_{total}"] - side[f"red_{total}"]
        if found is not None and f"blue_{total}" in side and f"red_{total}" not in side:
            side[f"red_{total}"] = side[f"blue_{total}"] - found
        if found is not None and f"red_{total}" in side and f"blue_{total}" not in side:
            side[f"blue_{total}"] = side[f"red_{total}"] + found
        diffs.append(found)
    return side, diffs[0], diffs[1]


def feature_matrix(values: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """The feature matrix (rows, FEATURE_NAMES) of rows whose known 10-minute columns are ``values``."""
    side, gold_diff, experience_diff = _derived(values)
    out = np.zeros((n, len(FEATURE_NAMES)))
    index = {name: i for i, name in enumerate(FEATURE_NAMES)}
    for name, value in side.items():
        out[:, index[name]] = value
    for stat, name in zip(BASE_STATS, DIFF_FEATURES, strict=True):
        if stat == "total_gold" and gold_diff is not None:
            out[:, index[name]] = gold_diff
        elif stat == "total_experience" and experience_diff is not None:
            out[:, index[name]] = experience_diff
        elif f"blue_{stat}" in side and f"red_{stat}" in side:
            out[:, index[name]] = side[f"blue_{stat}"] - side[f"red_{stat}"]
    return out


def known_features(columns: Sequence[str]) -> list[str]:
    """The features that carry information for a dataset with these columns (the others are constant 0)."""
    probe = {c: np.ones(1) for c in columns}
    side, gold_diff, experience_diff = _derived(probe)
    known = set(side)
    for stat, name in zip(BASE_STATS, DIFF_FEATURES, strict=True):
        if (
            (stat == "total_gold" and gold_diff is not None)
            or (stat == "total_experience" and experience_diff is not None)
            or (f"blue_{stat}" in side and f"red_{stat}" in side)
        ):
            known.add(name)
    return [name for name in FEATURE_NAMES if name in known]


def build_features(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Features of each row of ``frame`` from ``columns`` only (the columns the model was trained with)."""
    matrix = feature_matrix(column_values(frame, columns), len(frame))
    return pd.DataFrame(matrix, columns=list(FEATURE_NAMES), index=frame.index, copy=False)
