"""Serving features: requests (series, origin, events ahead) → ``HORIZON`` feature rows each, request-major.

The rows come from :func:`features.features` over a :class:`features.History` rebuilt from the serving
state, so they equal the training table's rows for the same series and origin. The compiled history of a
state is cached (by identity); a request's own ``events`` are added for that request only, and replace a
calendar event with the same sport, date and teams.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from scoreline.core.identity_cache import IdentityCache
from scoreline.tasks.event_traffic.data import STAGES, stage_of
from scoreline.tasks.event_traffic.features import HORIZON, LOOKBACK, History, features, history_from_state
from scoreline.tasks.event_traffic.task import invalid

# The history a state compiles to, built once per state object (serving asks for it per request).
compiled_history: IdentityCache[dict[str, Any], History] = IdentityCache(history_from_state)


def serving_features(state: dict[str, Any], requests: pd.DataFrame) -> pd.DataFrame:
    base = compiled_history(state)
    count = len(requests)
    series = np.empty(count, dtype=np.int64)
    origin = np.empty(count, dtype=np.int64)
    problems: list[dict[str, Any]] = []
    dates = requests["date"].to_numpy(dtype=object) if "date" in requests else np.full(count, None, dtype=object)
    keys = zip(requests["sport"].astype(str), requests["service"].astype(str), requests["region"].astype(str),
               strict=True)  # fmt: skip
    for row, key in enumerate(keys):
        index = base.series_index(key)
        if index is None:
            problems.append({"row": row, "column": "sport/service/region", "value": "/".join(key),
                             "expected": f"a known series: {', '.join(sorted(state['series']))}"})  # fmt: skip
            series[row] = origin[row] = 0
            continue
        series[row] = index
        stated = state["series"].get("/".join(key), {}).get("first_origin")
        first = int(np.datetime64(stated, "D").astype(np.int64)) if stated else int(base.starts[index]) + LOOKBACK - 1
        last = int(base.starts[index]) + len(base.values[index]) - 1
        day = last if _missing(dates[row]) else _day(dates[row])
        if day is None or not first <= day <= last:
            problems.append({"row": row, "column": "date", "value": dates[row],
                             "expected": f"an origin from {_iso(first)} to {_iso(last)} (the last day with known "
                                         f"traffic of {'/'.join(key)} in this model, or up to "
                                         f"{last - first} days before it)"})  # fmt: skip
        origin[row] = day if day is not None else last
    if problems:
        raise invalid(f"request {problems[0]['row']}: {problems[0]['column']} {problems[0]['value']!r} is not usable; "
                      f"expected {problems[0]['expected']}", problems)  # fmt: skip

    history = base
    if "events" in requests and any(isinstance(v, list | tuple | np.ndarray) and len(v) for v in requests["events"]):
        history = _with_request_events(state, base, requests["events"].to_numpy(dtype=object), series, origin)
    request = np.repeat(np.arange(count, dtype=np.int64), HORIZON)
    horizon = np.tile(np.arange(1, HORIZON + 1, dtype=np.int64), count)
    return features(history, np.repeat(series, HORIZON), np.repeat(origin, HORIZON), horizon, request)


def _with_request_events(
    state: dict[str, Any], base: History, events: np.ndarray, series: np.ndarray, origin: np.ndarray
) -> History:
    rows: list[dict[str, Any]] = []
    problems: list[dict[str, Any]] = []
    for request, listed in enumerate(events):
        if not isinstance(listed, list | tuple | np.ndarray) or not len(listed):
            continue
        sport = base.series[series[request]][0]
        for position, event in enumerate(listed):
            event = dict(event)
            day = _day(event.get("date"))
            stage = stage_of(event.get("stage") or "regular")
            where = f"events[{position}]"
            if day is None or day <= origin[request]:
                problems.append({"row": request, "column": f"{where}.date", "value": event.get("date"),
                                 "expected": f"a date after the origin {_iso(int(origin[request]))}"})  # fmt: skip
                continue
            if stage is None:
                problems.append({"row": request, "column": f"{where}.stage", "value": event.get("stage"),
                                 "expected": "regular, playoff or final"})  # fmt: skip
                continue
            rows.append({
                "day": day, "sport": sport, "home_team": str(event["home_team"]), "away_team": str(event["away_team"]),
                "stage_code": float(STAGES.index(stage)), "home_rank": _number(event.get("home_rank")),
                "away_rank": _number(event.get("away_rank")), "mentions": _number(event.get("mentions")),
                "request": request,
            })  # fmt: skip
    if problems:
        first = problems[0]
        raise invalid(f"request {first['row']}: {first['column']} {first['value']!r}; expected {first['expected']}",
                      problems)  # fmt: skip
    if not rows:
        return base
    extra = pd.DataFrame(rows)
    calendar = base.events
    positions: dict[tuple[Any, ...], list[int]] = {}
    for position, key in enumerate(zip(calendar["sport"], calendar["day"], calendar["home_team"],
                                       calendar["away_team"], strict=True)):  # fmt: skip
        positions.setdefault(key, []).append(position)
    excluded = [  # calendar events a request restates
        (int(row["request"]), position)
        for row in rows
        for position in positions.get((row["sport"], row["day"], row["home_team"], row["away_team"]), [])
    ]
    return history_from_state(state, extra, excluded)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT


def _day(value: Any) -> int | None:
    if _missing(value):
        return None
    try:
        return int(np.datetime64(str(value)[:10], "D").astype(np.int64))
    except ValueError:
        return None


def _iso(day: int) -> str:
    return str(np.datetime64(day, "D"))


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)
