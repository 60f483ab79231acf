"""Serving requests → features: the 10-minute columns of each request, or those of its Riot timeline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.esports_win.columns import GAME_ID, export_name
from scoreline.tasks.esports_win.features import FEATURE_NAMES, feature_matrix

MAX_REPORTED = 50


def serving_features(state: Mapping[str, Any], requests: pd.DataFrame) -> pd.DataFrame:
    """Features of each request from the columns the model was trained with (``state["columns"]``)."""
    columns: list[str] = list(state["columns"])
    n = len(requests)
    values = {
        c: (requests[c].to_numpy(dtype=np.float64, na_value=np.nan) if c in requests else np.full(n, np.nan))
        for c in columns
    }
    if "timeline" in requests and requests["timeline"].notna().any():
        _fill_from_timelines(values, columns, requests)
    missing_by_column = {c: np.flatnonzero(np.isnan(v)) for c, v in values.items()}
    missing = [c for c, rows in missing_by_column.items() if len(rows)]
    if missing:
        problems = [
            {"row": int(row), "field": column, "value": None,
             "expected": f"a value (the model was trained with {column}, also accepted as {export_name(column)})"}
            for column in missing for row in missing_by_column[column][:MAX_REPORTED]
        ]  # fmt: skip
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"the model was trained with {len(columns)} columns at 10:00 and the request lacks {', '.join(missing)}; "
            "expected every one of them, or a Riot timeline that reaches 10:00",
            {"missing": missing, "trained_columns": columns, "problems": problems[:MAX_REPORTED],
             "count": len(problems)},
        )  # fmt: skip
    return pd.DataFrame(feature_matrix(values, n), columns=list(FEATURE_NAMES), index=requests.index, copy=False)


def _fill_from_timelines(values: dict[str, np.ndarray], columns: list[str], requests: pd.DataFrame) -> None:
    """Missing columns of rows with a timeline come from it (explicit values win); same code as the adapter."""
    from scoreline.tasks.esports_win.riot import RiotGame, aggregate

    rows = np.flatnonzero(requests["timeline"].notna().to_numpy())
    timelines = requests["timeline"].to_numpy()[rows]
    matches = requests["match"].to_numpy()[rows] if "match" in requests else np.full(len(rows), None)
    ids = requests[GAME_ID].to_numpy()[rows] if GAME_ID in requests else np.full(len(rows), None)
    games = []
    for row, timeline, match, game_id in zip(rows.tolist(), timelines, matches, ids, strict=True):
        if isinstance(timeline, Mapping) and "timeline" in timeline:  # the whole {"match", "timeline"} pasted
            match = match or timeline.get("match")
            timeline = timeline["timeline"]
        games.append(RiotGame(str(game_id or f"request {row}"), timeline, match, f"instance {row}"))
    table, skipped = aggregate(games, need_winner=False, what="Riot timeline in the request")
    if skipped:
        first = skipped[0]
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{first['where']}: {first['reason']}; expected a timeline that reaches 10:00",
            {"problems": [{"row": s["where"], "field": "timeline", "value": None, "expected": s["reason"]}
                          for s in skipped], "count": len(skipped)},
        )  # fmt: skip
    for column in columns:
        target = values[column]
        from_timeline = table[column].to_numpy(dtype=np.float64)
        target[rows] = np.where(np.isnan(target[rows]), from_timeline, target[rows])
