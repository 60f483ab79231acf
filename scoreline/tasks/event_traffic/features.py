"""Point-in-time forecast features: one code path for the training table and for serving.

A row is (series, forecast origin ``o``, horizon day ``h``); its target is the series' requests on
``o + h``. Everything a row sees is known at ``o``:

* the series' own traffic on days ``<= o`` only: the value at ``o`` and ``o - 1``, the same weekday as the
  target in the last week available at ``o`` (and the three weeks before), means of the last 7 and 28 days,
  the weekday profile over the last 4 weeks; missing days stay missing (NaN-aware means, NaN lags);
* the calendar of the target day: events are scheduled ahead, so the events on ``o + h`` (and on the day
  after, for pre-event buzz) are known at ``o``. Their ``mentions`` are the calendar's pre-event social
  volume, treated as published with the schedule (a forecastable hype figure; at serving time the caller
  passes it for events ahead). A team's popularity is the mean mentions of its events dated ``<= o``;
* expected mentions of each target-day event from history up to ``o``: the stage's mean mentions, the teams'
  stage-normalised hype (deconvolved from their opponents) and the better rank's mean ratio; blended with the
  listed mentions (a quarter's weight: they are noisier), summed per day;
* long views up to ``o``: the weekday's share over the last 52 weeks, last year's move over the same dates, the
  series' response to mentions (a weekday-adjusted regression over its last year) and a structural forecast
  (log requests ~ weekday + trend + yearly harmonic + expected mentions over the last year, read at the target);
  the serving state keeps FULL_LOOKBACK days so serving rows equal training rows;
* calendar features of the target day and the series' identity codes (so one direct model covers all series).

:class:`History` holds the inputs (traffic per series, events, team popularity before the listed events);
the training table builds it from a canonical table, serving from the state, and both call
:func:`features`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scoreline.tasks.event_traffic.data import SERIES_KEYS, STAGES, event_rows, traffic_rows

HORIZON = 10
WINDOW = 28  # the rolling-mean look-back, in days up to and including the origin
PROFILE_WEEKS = 12  # the weekday profile's look-back
YEAR = 364  # days back to the same weekday a year before
LOOKBACK = 7 * PROFILE_WEEKS  # the longest look-back of any feature (an origin needs this much history)
FULL_LOOKBACK = YEAR + WINDOW  # the year-ago features' look-back: traffic an origin's features may read
STATE_DAYS = FULL_LOOKBACK + 7  # traffic days per series kept in the serving state
MAX_TRAINING_ROWS = 300_000
NO_STAGE = -1.0
MENTIONS_UNIT = 10_000.0  # expected mentions per unit in the event-response regression
MIN_RESPONSE_DAYS = 56  # known days in the last year the event-response regression needs
RANK_GROUPS = 20  # expected mentions per better rank 1..20 (worse ranks with 20, unknown ones as 0)
_DAY_KEY = 1_000_000  # key = group * _DAY_KEY + day number (days since 1970 stay far below)
FEATURE_COLUMNS: tuple[str, ...] = (
    "horizon", "sport_code", "service_code", "region_code",
    "level", "value_origin", "value_before_origin", "lag_same_weekday", "lag_same_weekday_2", "mean_7", "mean_28",
    "known_days_28", "weekday_profile", "weekday_profile_12w", "mean_84", "lag_day_events", "lag_day_mentions",
    "window_mentions_mean",
    "weekday", "month", "day_of_year", "events", "max_stage", "best_rank", "mean_rank", "mentions_sum",
    "mentions_max", "popularity_max", "popularity_sum", "next_day_max_stage", "next_day_mentions",
    "expected_mentions_sum", "blended_mentions_sum", "blended_mentions_max", "mentions_vs_window", "year_ratio",
    "weekday_profile_52w", "level_vs_year", "event_response", "lift_estimate",
    "structural_ratio",
)  # fmt: skip
CATEGORICAL_FEATURES: tuple[str, ...] = ("sport_code", "service_code", "region_code", "weekday", "max_stage")


def day_numbers(dates: Any) -> np.ndarray:
    return np.asarray(pd.to_datetime(dates).to_numpy(dtype="datetime64[D]").astype(np.int64))


def codes_of(names: Any) -> dict[str, int]:
    return {name: code for code, name in enumerate(sorted({str(n) for n in names}))}


@dataclass
class History:
    """What the features may look at: each series' daily traffic, the events and team popularity bases."""

    series: list[tuple[str, str, str]]
    starts: np.ndarray  # day number of each series' first value
    values: list[np.ndarray]  # daily requests from its start, NaN for missing days
    events: pd.DataFrame  # day, sport, home_team, away_team, stage_code, home_rank, away_rank, mentions[, request]
    codes: dict[str, dict[str, int]]  # sport / service / region → name → code
    team_base: dict[str, tuple[float, float]] = field(default_factory=dict)  # "sport|team" → (sum, count) before
    excluded: list[tuple[int, int]] = field(default_factory=list)  # (request, row of ``events``) not for that request
    # sums before the listed events: "stage:<sport>|<code>" raw mentions, "league:<sport>" and "team:<sport>|<team>"
    # stage-normalised mentions, each (sum, count)
    hype_base: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = np.array([len(v) for v in self.values], dtype=np.int64)
        self._offsets = np.concatenate([[0], np.cumsum(lengths)])[:-1]
        self._lengths = lengths
        self._flat = np.concatenate(self.values) if self.values else np.empty(0)
        # per series: running sums (and counts of known days) over all days and over every 7th day, for long means
        self._sums = [_running(v, 1) for v in self.values]
        self._week_sums = [_running(v, 7) for v in self.values]
        self._index = {key: i for i, key in enumerate(self.series)}
        self._compile_events()

    def series_index(self, key: tuple[str, str, str]) -> int | None:
        return self._index.get(key)

    def value(self, series: np.ndarray, day: np.ndarray) -> np.ndarray:
        position = day - self.starts[series]
        inside = (position >= 0) & (position < self._lengths[series])
        picked = self._flat[self._offsets[series] + np.where(inside, position, 0)] if len(self._flat) else 0.0
        return np.where(inside, picked, np.nan)

    def window_mean(self, series: np.ndarray, end: np.ndarray, days: int, step: int = 1) -> np.ndarray:
        """Mean of the known values on ``end``, ``end - step``, … back to ``end - days + 1`` (NaN when none)."""
        running = self._sums if step == 1 else self._week_sums
        total, count = np.zeros(len(series)), np.zeros(len(series))
        for index in np.unique(series):
            rows = np.flatnonzero(series == index)
            sums, counts = running[index]
            length = len(self.values[index])
            position = end[rows] - self.starts[index]
            first = position - days  # the position before the window: its running sum is subtracted
            beyond = np.maximum(position - (length - 1), 0)
            last = position - step * ((beyond + step - 1) // step)  # the last known position of the window
            take = (last >= 0) & (last > first)
            pick = np.where(take, last, 0)
            before = np.where(take & (first >= 0), first, 0)
            total[rows] = np.where(take, sums[pick] - np.where(first >= 0, sums[before], 0.0), 0.0)
            count[rows] = np.where(take, counts[pick] - np.where(first >= 0, counts[before], 0.0), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def _compile_events(self) -> None:
        events = self.events
        sports = self.codes["sport"]
        sport_code = np.array([sports.get(s, -1) for s in events["sport"]], dtype=np.int64)
        keep = sport_code >= 0
        days = events["day"].to_numpy(dtype=np.int64)
        order = np.lexsort((days, sport_code))
        order = order[keep[order]]
        self._event_key = sport_code[order] * _DAY_KEY + days[order]
        self._event_stage = events["stage_code"].to_numpy(dtype=float)[order]
        home_rank = events["home_rank"].to_numpy(dtype=float)[order]
        away_rank = events["away_rank"].to_numpy(dtype=float)[order]
        self._event_best_rank = np.fmin(home_rank, away_rank)
        ranks_known = (~np.isnan(home_rank)).astype(float) + ~np.isnan(away_rank)
        with np.errstate(invalid="ignore", divide="ignore"):
            self._event_mean_rank = (np.nan_to_num(home_rank) + np.nan_to_num(away_rank)) / ranks_known
        self._event_mentions = events["mentions"].to_numpy(dtype=float)[order]
        request = events["request"].to_numpy(dtype=np.int64) if "request" in events else np.full(len(events), -1)
        self._event_request = request[order]
        self._event_day = days[order]
        sorted_position = np.full(len(events), -1, dtype=np.int64)
        sorted_position[order] = np.arange(len(order))
        self._excluded = np.array(
            [r * (len(order) + 1) + sorted_position[e] for r, e in self.excluded if sorted_position[e] >= 0],
            dtype=np.int64,
        )
        # team popularity: mean mentions of the team's events up to a day (events in day order per team)
        sport_names = events["sport"].to_numpy(dtype=object)[order]
        teams = {}
        team_ids = []
        for side in ("home_team", "away_team"):
            names = events[side].to_numpy(dtype=object)[order]
            team_ids.append(np.array([teams.setdefault(f"{s}|{t}", len(teams)) for s, t in zip(sport_names, names,
                                      strict=True)], dtype=np.int64))  # fmt: skip
        self._teams = teams
        self._event_home, self._event_away = team_ids
        # the history of a team counts calendar events only (a request's own events are in the future)
        calendar = self._event_request < 0
        team = np.concatenate([team_ids[0][calendar], team_ids[1][calendar]])
        day = np.concatenate([self._event_day[calendar]] * 2)
        mentions = np.concatenate([self._event_mentions[calendar]] * 2)
        known = ~np.isnan(mentions)
        team, day, mentions = team[known], day[known], mentions[known]
        team_order = np.lexsort((day, team))
        self._team_key = team[team_order] * _DAY_KEY + day[team_order]
        self._team_sum = np.concatenate([[0.0], np.cumsum(mentions[team_order])])
        base = np.zeros((len(teams) + 1, 2))
        for name, (total, count) in self.team_base.items():
            if name in teams:
                base[teams[name]] = (total, count)
        self._team_base = base
        self._compile_hype(sport_code[order], calendar)

    def _compile_hype(self, sport: np.ndarray, calendar: np.ndarray) -> None:
        """Stage-normalised mentions: each calendar event's mentions ÷ the mean mentions of its sport's events of
        that stage up to its day; a team's hype is the mean of its events' normalised mentions, the league's the
        mean over all of them (both up to a day), so a pairing's expected mentions at a stage need no mentions."""
        stage = np.clip(np.nan_to_num(self._event_stage), 0, len(STAGES) - 1).astype(np.int64)
        self._event_stage_group = sport * len(STAGES) + stage
        known = calendar & ~np.isnan(self._event_mentions)
        groups = max(len(self.codes["sport"]), 1) * len(STAGES)
        stage_base = np.zeros((groups, 2))
        league_base = np.zeros((max(len(self.codes["sport"]), 1), 2))
        for name, (total, count) in self.hype_base.items():
            kind, _, rest = name.partition(":")
            sport_name, _, stage_name = rest.partition("|")
            if sport_name not in self.codes["sport"]:
                continue
            code = self.codes["sport"][sport_name]
            if kind == "stage" and stage_name.isdigit() and int(stage_name) < len(STAGES):
                stage_base[code * len(STAGES) + int(stage_name)] = (total, count)
            elif kind == "league":
                league_base[code] = (total, count)
        self._stage_sums = _Cumulative(self._event_stage_group[known], self._event_day[known],
                                       self._event_mentions[known], stage_base)  # fmt: skip
        total, count = self._stage_sums.totals(self._event_stage_group, self._event_day)
        with np.errstate(invalid="ignore", divide="ignore"):
            normalised = np.where(known & (total > 0), self._event_mentions * count / total, np.nan)
        self._event_normalised = normalised
        has = ~np.isnan(normalised)
        self._league_sums = _Cumulative(sport[has], self._event_day[has], normalised[has], league_base)
        team_base = np.zeros((len(self._teams) + 1, 2))
        for name, (total_n, count_n) in self.hype_base.items():
            kind, _, team = name.partition(":")
            if kind == "team" and team in self._teams:
                team_base[self._teams[team]] = (total_n, count_n)
        both = np.concatenate([self._event_home[has], self._event_away[has]])
        self._team_hype_sums = _Cumulative(both, np.concatenate([self._event_day[has]] * 2),
                                           np.concatenate([normalised[has]] * 2), team_base)  # fmt: skip
        # the better-ranked team's rank: mentions ÷ the pairing's expectation, per rank, up to a day
        rank = np.nan_to_num(self._event_best_rank, nan=0.0)
        self._event_rank_group = sport * (RANK_GROUPS + 1) + np.clip(rank, 0, RANK_GROUPS).astype(np.int64)
        rank_base = np.zeros((max(len(self.codes["sport"]), 1) * (RANK_GROUPS + 1), 2))
        for name, (total_r, count_r) in self.hype_base.items():
            kind, _, rest = name.partition(":")
            sport_name, _, group = rest.partition("|")
            if kind == "rank" and sport_name in self.codes["sport"] and group.isdigit() and int(group) <= RANK_GROUPS:
                rank_base[self.codes["sport"][sport_name] * (RANK_GROUPS + 1) + int(group)] = (total_r, count_r)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = self._event_mentions / self._pairing(np.arange(len(self._event_day)), self._event_day)
        self._event_rank_ratio = np.where(has & np.isfinite(ratio), ratio, np.nan)
        rated = ~np.isnan(self._event_rank_ratio)
        self._rank_sums = _Cumulative(self._event_rank_group[rated], self._event_day[rated],
                                      self._event_rank_ratio[rated], rank_base)  # fmt: skip

    def hype_before(self, day: int) -> dict[str, list[float]]:
        """:attr:`hype_base` for the calendar events dated before ``day`` (what a state that lists the events from
        ``day`` on needs to normalise them as the full calendar does)."""
        totals: dict[str, list[float]] = {name: [float(v[0]), float(v[1])] for name, v in self.hype_base.items()}
        sports = {code: name for name, code in self.codes["sport"].items()}
        teams = {code: name for name, code in self._teams.items()}
        before = (self._event_request < 0) & (self._event_day < day)

        def add(name: str, value: float) -> None:
            entry = totals.setdefault(name, [0.0, 0.0])
            entry[0] += float(value)
            entry[1] += 1.0

        for event in np.flatnonzero(before & ~np.isnan(self._event_mentions)):
            group = int(self._event_stage_group[event])
            add(f"stage:{sports[group // len(STAGES)]}|{group % len(STAGES)}", self._event_mentions[event])
        for event in np.flatnonzero(before & ~np.isnan(self._event_rank_ratio)):
            group = int(self._event_rank_group[event])
            add(f"rank:{sports[group // (RANK_GROUPS + 1)]}|{group % (RANK_GROUPS + 1)}", self._event_rank_ratio[event])
        for event in np.flatnonzero(before & ~np.isnan(self._event_normalised)):
            value = self._event_normalised[event]
            add(f"league:{sports[int(self._event_stage_group[event]) // len(STAGES)]}", value)
            add(f"team:{teams[int(self._event_home[event])]}", value)
            add(f"team:{teams[int(self._event_away[event])]}", value)
        return totals

    def expected_mentions(self, events: np.ndarray, origin: np.ndarray) -> np.ndarray:
        """Each event's mentions as expected at ``origin`` from its stage, teams and ranks: the stage's mean
        mentions * (home hype + away hype - league hype) * the mean ratio of mentions to that at the better rank."""
        total, count = self._rank_sums.totals(self._event_rank_group[events], origin)
        with np.errstate(invalid="ignore", divide="ignore"):
            rank_ratio = np.where(count > 0, total / np.maximum(count, 1), 1.0)
        return self._pairing(events, origin) * rank_ratio

    def _pairing(self, events: np.ndarray, origin: np.ndarray) -> np.ndarray:
        """The stage's mean mentions * (home hype + away hype - league hype) at ``origin``, a team without history
        counting as the league's mean."""
        sport = self._event_stage_group[events] // len(STAGES)
        stage_total, stage_count = self._stage_sums.totals(self._event_stage_group[events], origin)
        league_total, league_count = self._league_sums.totals(sport, origin)
        with np.errstate(invalid="ignore", divide="ignore"):
            stage_mean = np.where(stage_count > 0, stage_total / np.maximum(stage_count, 1), np.nan)
            league = np.where(league_count > 0, league_total / np.maximum(league_count, 1), 1.0)
            hype = []
            for team in (self._event_home[events], self._event_away[events]):
                total, count = self._team_hype_sums.totals(team, origin)
                hype.append(np.where(count > 0, total / np.maximum(count, 1), league))
        return stage_mean * np.maximum(hype[0] + hype[1] - league, 0.1 * league)

    def popularity(self, team: np.ndarray, origin: np.ndarray) -> np.ndarray:
        """Mean mentions of each team's events dated on or before ``origin`` (NaN for a team never seen)."""
        first = np.searchsorted(self._team_key, team * _DAY_KEY, side="left")
        last = np.searchsorted(self._team_key, team * _DAY_KEY + origin, side="right")
        total = self._team_base[team, 0] + self._team_sum[last] - self._team_sum[first]
        count = self._team_base[team, 1] + (last - first)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def events_on(self, sport: np.ndarray, day: np.ndarray, request: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, event) pairs: the events of each row's sport on its day, calendar ones plus the row's request's."""
        key = sport * _DAY_KEY + day
        first = np.searchsorted(self._event_key, key, side="left")
        last = np.searchsorted(self._event_key, key, side="right")
        counts = last - first
        rows = np.repeat(np.arange(len(key)), counts)
        events = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts) + np.repeat(first, counts)
        owner = self._event_request[events]
        keep = (owner < 0) | (owner == request[rows])
        if len(self._excluded):  # calendar events a request restated with its own figures
            keep &= ~np.isin(request[rows] * (len(self._event_key) + 1) + events, self._excluded)
        return rows[keep], events[keep]


def history_from_canonical(canonical: pd.DataFrame) -> History:
    traffic = traffic_rows(canonical)
    events = event_rows(canonical)
    codes = {key: codes_of(traffic[key]) for key in SERIES_KEYS}
    series, starts, values = [], [], []
    days = day_numbers(traffic["date"])
    requests = traffic["requests"].to_numpy(dtype=float)
    for key, rows in traffic.groupby(list(SERIES_KEYS), sort=True).indices.items():
        series_days = days[rows]
        start = int(series_days.min())
        dense = np.full(int(series_days.max()) - start + 1, np.nan)
        dense[series_days - start] = requests[rows]
        series.append(tuple(str(k) for k in key))
        starts.append(start)
        values.append(dense)
    return History(series, np.array(starts, dtype=np.int64), values, compiled_events(events), codes)


def compiled_events(events: pd.DataFrame) -> pd.DataFrame:
    """Calendar rows → the event columns the features use (day numbers, stage codes)."""
    stage = events["stage"].map({name: float(code) for code, name in enumerate(STAGES)})
    return pd.DataFrame({
        "day": day_numbers(events["date"]) if len(events) else np.empty(0, dtype=np.int64),
        "sport": events["sport"].astype(object).to_numpy(),
        "home_team": events["home_team"].astype(object).to_numpy(),
        "away_team": events["away_team"].astype(object).to_numpy(),
        "stage_code": stage.fillna(0.0).to_numpy(dtype=float),
        "home_rank": events["home_rank"].to_numpy(dtype=float),
        "away_rank": events["away_rank"].to_numpy(dtype=float),
        "mentions": events["mentions"].to_numpy(dtype=float),
    })  # fmt: skip


def features(
    history: History, series: np.ndarray, origin: np.ndarray, horizon: np.ndarray, request: np.ndarray | None = None
) -> pd.DataFrame:
    """One feature row per (series index, origin day number, horizon day)."""
    rows = len(series)
    request = np.full(rows, -1, dtype=np.int64) if request is None else request
    target = origin + horizon
    weeks_back = 7 * ((horizon + 6) // 7)
    same_weekday = target - weeks_back  # the target's weekday, last time it was on or before the origin
    window = origin[:, None] - np.arange(WINDOW)[None, :]  # origin, origin-1, ..., origin-27
    window_values = history.value(np.repeat(series, WINDOW), window.ravel()).reshape(rows, WINDOW)
    known = ~np.isnan(window_values)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_7 = _nanmean(window_values[:, :7])
        mean_28 = _nanmean(window_values)
        weekly = same_weekday[:, None] - 7 * np.arange(PROFILE_WEEKS)[None, :]
        weekly_values = history.value(np.repeat(series, PROFILE_WEEKS), weekly.ravel()).reshape(rows, PROFILE_WEEKS)
        profile = _nanmean(weekly_values[:, :4]) / mean_28
        long_window = origin[:, None] - np.arange(LOOKBACK)[None, :]
        long_values = history.value(np.repeat(series, LOOKBACK), long_window.ravel()).reshape(rows, LOOKBACK)
        mean_long = _nanmean(long_values)
        profile_long = _nanmean(weekly_values) / mean_long
        # last year's move from the origin's 28 days to the target's week (season, also before the history's end)
        year_target = target[:, None] - YEAR + np.arange(-3, 4)[None, :]
        year_values = history.value(np.repeat(series, 7), year_target.ravel()).reshape(rows, 7)
        year_window = window - YEAR
        year_window_values = history.value(np.repeat(series, WINDOW), year_window.ravel()).reshape(rows, WINDOW)
        year_ratio = _nanmean(year_values) / _nanmean(year_window_values)
        # the weekday's share over the last 52 weeks (every weekday equally often: the season cancels out)
        mean_year = history.window_mean(series, origin, YEAR)
        profile_year = history.window_mean(series, same_weekday, YEAR, 7) / mean_year

    sport_code = np.array([history.codes["sport"][history.series[s][0]] for s in range(len(history.series))])[series]
    service_code = np.array([history.codes["service"][history.series[s][1]] for s in range(len(history.series))])
    region_code = np.array([history.codes["region"][history.series[s][2]] for s in range(len(history.series))])

    target_events = _event_aggregates(history, sport_code, target, origin, request)
    next_events = _event_aggregates(history, sport_code, target + 1, origin, request, light=True)
    lag_events = _event_aggregates(history, sport_code, same_weekday, origin, request, light=True)
    window_mentions = _event_aggregates(
        history, np.repeat(sport_code, WINDOW), window.ravel(), np.repeat(origin, WINDOW), np.repeat(request, WINDOW),
        light=True,
    )["mentions_sum"].reshape(rows, WINDOW)  # fmt: skip

    response = _event_response(history, series, origin, sport_code)
    target_mentions = target_events["blended_mentions_sum"]
    structural = _structural(history, series, origin, target, sport_code, target_mentions, mean_28)
    typical_mentions = np.where(window_mentions.mean(axis=1) > 0, window_mentions.mean(axis=1), np.nan)
    target_dates = pd.DatetimeIndex(target.astype("datetime64[D]"))
    columns = {
        "horizon": horizon.astype(float),
        "sport_code": sport_code.astype(float),
        "service_code": service_code[series].astype(float),
        "region_code": region_code[series].astype(float),
        "level": mean_28,
        "value_origin": window_values[:, 0],
        "value_before_origin": window_values[:, 1],
        "lag_same_weekday": weekly_values[:, 0],
        "lag_same_weekday_2": weekly_values[:, 1],
        "mean_7": mean_7,
        "mean_28": mean_28,
        "known_days_28": known.sum(axis=1).astype(float),
        "weekday_profile": profile,
        "weekday_profile_12w": profile_long,
        "mean_84": mean_long,
        "lag_day_events": lag_events["events"],
        "lag_day_mentions": lag_events["mentions_sum"],
        "window_mentions_mean": window_mentions.mean(axis=1),
        "year_ratio": year_ratio,
        "weekday_profile_52w": profile_year,
        "event_response": response,
        "lift_estimate": response * target_events["blended_mentions_sum"] / MENTIONS_UNIT,
        "structural_ratio": structural,
        "level_vs_year": mean_28 / mean_year,
        "mentions_vs_window": target_events["blended_mentions_sum"] / typical_mentions,
        "weekday": ((target + 3) % 7).astype(float),
        "month": target_dates.month.to_numpy(dtype=float),
        "day_of_year": target_dates.day_of_year.to_numpy(dtype=float),
        **target_events,
        "next_day_max_stage": next_events["max_stage"],
        "next_day_mentions": next_events["mentions_sum"],
    }
    return pd.DataFrame({name: np.asarray(columns[name], dtype=float) for name in FEATURE_COLUMNS})


def _event_response(history: History, series: np.ndarray, origin: np.ndarray, sport_code: np.ndarray) -> np.ndarray:
    """Per row: how much the series' traffic rises per unit of the day's expected mentions, from its last year up
    to the origin: the slope of requests ÷ the trailing 28-day mean on the day's expected mentions (calendar events
    as known that day), with one intercept per weekday. NaN without enough known days."""
    result = np.full(len(series), np.nan)
    key = series * _DAY_KEY + origin
    unique, inverse = np.unique(key, return_inverse=True)
    pair_series, pair_origin = unique // _DAY_KEY, unique % _DAY_KEY
    pair_result = np.full(len(unique), np.nan)
    for index in np.unique(pair_series):
        picked = np.flatnonzero(pair_series == index)
        origins = pair_origin[picked]
        days, ones, mentions = _look_back_days(history, series, sport_code, index, origins)
        first = int(days[0])
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = history.value(ones, days) / history.window_mean(ones, days, WINDOW)
        x = np.zeros((len(days), 8))
        x[np.arange(len(days)), (days + 3) % 7] = 1.0
        x[:, 7] = mentions / MENTIONS_UNIT
        known = np.isfinite(ratio)
        x[~known] = 0.0
        outer = np.concatenate([np.zeros((YEAR - 1, 8, 8)), x[:, :, None] * x[:, None, :]])
        cross = np.concatenate([np.zeros((YEAR - 1, 8)), x * np.where(known, ratio, 0.0)[:, None]])
        count = np.concatenate([np.zeros(YEAR - 1), known.astype(float)])
        end = origins - first + YEAR - 1  # the window of an origin: padded positions end - YEAR + 1 .. end
        for chunk in range(0, len(end), 64):
            ends = end[chunk : chunk + 64]
            window = ends[:, None] - np.arange(YEAR)[None, :]
            gram = outer[window].sum(axis=1) + 1e-6 * np.eye(8)
            right = cross[window].sum(axis=1)
            enough = count[window].sum(axis=1) >= MIN_RESPONSE_DAYS
            # the mentions vary beyond the weekdays' means
            per_weekday = np.maximum(np.einsum("nkk->nk", gram[:, :7, :7]), 1e-9)
            explained = np.einsum("nk,nk->n", gram[:, 7, :7], gram[:, 7, :7] / per_weekday)
            enough &= gram[:, 7, 7] - explained > 1e-6
            solved = np.linalg.solve(gram, right[:, :, None])[:, 7, 0]
            pair_result[picked[chunk : chunk + 64]] = np.where(enough, solved, np.nan)
    result[:] = pair_result[inverse]
    return result


def _structural(
    history: History,
    series: np.ndarray,
    origin: np.ndarray,
    target: np.ndarray,
    sport_code: np.ndarray,
    target_mentions: np.ndarray,
    level: np.ndarray,
) -> np.ndarray:
    """Per row: a structural forecast of the target ÷ the 28-day level. Fitted on the series' last year up to the
    origin: log requests ~ one intercept per weekday + trend + a yearly cosine and sine + the day's expected
    mentions (as known that day); read at the target with the target's expected mentions as known at the origin.
    NaN without enough known days."""
    key = series * _DAY_KEY + origin
    unique, inverse = np.unique(key, return_inverse=True)
    pair_series, pair_origin = unique // _DAY_KEY, unique % _DAY_KEY
    width = 11
    coefficients = np.full((len(unique), width), np.nan)
    for index in np.unique(pair_series):
        picked = np.flatnonzero(pair_series == index)
        origins = pair_origin[picked]
        days, ones, mentions = _look_back_days(history, series, sport_code, index, origins)
        first = int(days[0])
        with np.errstate(invalid="ignore", divide="ignore"):
            logged = np.log(history.value(ones, days))
        x = _structural_design(days, mentions)
        known = np.isfinite(logged)
        x[~known] = 0.0
        outer = np.concatenate([np.zeros((YEAR - 1, width, width)), x[:, :, None] * x[:, None, :]])
        cross = np.concatenate([np.zeros((YEAR - 1, width)), x * np.where(known, logged, 0.0)[:, None]])
        count = np.concatenate([np.zeros(YEAR - 1), known.astype(float)])
        end = origins - first + YEAR - 1
        for chunk in range(0, len(end), 64):
            ends = end[chunk : chunk + 64]
            window = ends[:, None] - np.arange(YEAR)[None, :]
            gram = outer[window].sum(axis=1) + 1e-3 * np.eye(width)
            right = cross[window].sum(axis=1)
            enough = count[window].sum(axis=1) >= 2 * MIN_RESPONSE_DAYS
            solved = np.linalg.solve(gram, right[:, :, None])[:, :, 0]
            coefficients[picked[chunk : chunk + 64]] = np.where(enough[:, None], solved, np.nan)
    fitted = np.einsum("nk,nk->n", _structural_design(target, target_mentions), coefficients[inverse])
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return np.exp(fitted) / level


def _look_back_days(
    history: History, series: np.ndarray, sport_code: np.ndarray, index: int, origins: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The days a series' per-origin fits read (a year before its first origin up to its last), the series index
    per day, and each day's expected mentions as known that day."""
    days = np.arange(int(origins.min()) - YEAR + 1, int(origins.max()) + 1)
    ones = np.full(len(days), index)
    sport = np.full(len(days), sport_code[np.flatnonzero(series == index)[0]])
    mentions = _event_aggregates(history, sport, days, days, np.full(len(days), -1))["blended_mentions_sum"]
    return days, ones, mentions


def _structural_design(days: np.ndarray, mentions: np.ndarray) -> np.ndarray:
    x = np.zeros((len(days), 11))
    x[np.arange(len(days)), (days + 3) % 7] = 1.0
    x[:, 7] = (days - 20_000) / 365.0
    angle = 2 * np.pi * days / 365.25
    x[:, 8], x[:, 9] = np.cos(angle), np.sin(angle)
    x[:, 10] = mentions / MENTIONS_UNIT
    return x


def _nanmean(matrix: np.ndarray) -> np.ndarray:
    known = ~np.isnan(matrix)
    count = known.sum(axis=1)
    total = np.where(known, matrix, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _event_aggregates(
    history: History,
    sport: np.ndarray,
    day: np.ndarray,
    origin: np.ndarray,
    request: np.ndarray,
    light: bool = False,
) -> dict[str, np.ndarray]:
    rows, events = history.events_on(sport, day, request)
    n = len(day)
    count = np.bincount(rows, minlength=n).astype(float)
    mentions = np.nan_to_num(history._event_mentions[events])
    result = {
        "events": count,
        "max_stage": _group_max(rows, history._event_stage[events], n, NO_STAGE),
        "mentions_sum": np.bincount(rows, weights=mentions, minlength=n),
    }
    if light:
        return result
    best = _group_min(rows, history._event_best_rank[events], n)
    rank_sum = np.bincount(rows, weights=np.nan_to_num(history._event_mean_rank[events]), minlength=n)
    rank_count = np.bincount(rows, weights=~np.isnan(history._event_mean_rank[events]), minlength=n)
    pair_origin = origin[rows]
    home = history.popularity(history._event_home[events], pair_origin)
    away = history.popularity(history._event_away[events], pair_origin)
    pair_popularity = np.nansum(np.vstack([home, away]), axis=0) if len(events) else np.empty(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        result.update({
            "best_rank": best,
            "mean_rank": np.where(rank_count > 0, rank_sum / np.maximum(rank_count, 1), np.nan),
            "mentions_max": _group_max(rows, history._event_mentions[events], n, np.nan),
            "popularity_max": _group_max(rows, pair_popularity, n, np.nan),
            "popularity_sum": np.bincount(rows, weights=np.nan_to_num(pair_popularity), minlength=n),
        })  # fmt: skip
    expected = history.expected_mentions(events, pair_origin) if len(events) else np.empty(0)
    listed = history._event_mentions[events]
    # the listed mentions are noisier than the expectation from a season of the teams' events: a quarter's weight
    with np.errstate(invalid="ignore", divide="ignore"):
        blended = np.where(np.isnan(listed) | ~(expected > 0), expected,
                           np.nan_to_num(expected) ** 0.75 * np.nan_to_num(listed) ** 0.25)  # fmt: skip
    result.update({
        "expected_mentions_sum": np.bincount(rows, weights=np.nan_to_num(expected), minlength=n),
        "blended_mentions_sum": np.bincount(rows, weights=np.nan_to_num(blended), minlength=n),
        "blended_mentions_max": _group_max(rows, blended, n, 0.0),
    })  # fmt: skip
    return result


def _running(values: np.ndarray, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Running sums of the known values and their count, each position adding to the one ``step`` before it."""
    known = ~np.isnan(values)
    sums, counts = np.where(known, values, 0.0), known.astype(float)
    for offset in range(step):
        sums[offset::step] = np.cumsum(sums[offset::step])
        counts[offset::step] = np.cumsum(counts[offset::step])
    return sums, counts


class _Cumulative:
    """Sums and counts of values per group up to and including a day, plus a base per group (before any day)."""

    def __init__(self, group: np.ndarray, day: np.ndarray, values: np.ndarray, base: np.ndarray) -> None:
        order = np.lexsort((day, group))
        self._key = group[order] * _DAY_KEY + day[order]
        self._sum = np.concatenate([[0.0], np.cumsum(values[order])])
        self._base = base

    def totals(self, group: np.ndarray, day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        first = np.searchsorted(self._key, group * _DAY_KEY, side="left")
        last = np.searchsorted(self._key, group * _DAY_KEY + day, side="right")
        inside = group < len(self._base)
        base = self._base[np.where(inside, group, 0)] * inside[:, None]
        return base[:, 0] + self._sum[last] - self._sum[first], base[:, 1] + (last - first)


def _group_max(rows: np.ndarray, values: np.ndarray, n: int, empty: float) -> np.ndarray:
    out = np.full(n, -np.inf)
    np.fmax.at(out, rows, values)
    return np.where(np.isneginf(out), empty, out)


def _group_min(rows: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.inf)
    np.fmin.at(out, rows, values)
    return np.where(np.isposinf(out), np.nan, out)


# ---- training table ---------------------------------------------------------------------------------------


@dataclass
class TrainingRows:
    features: pd.DataFrame
    target: np.ndarray
    target_day: np.ndarray
    origin_day: np.ndarray
    series: np.ndarray
    history: History


def training_rows(canonical: pd.DataFrame, max_rows: int = MAX_TRAINING_ROWS) -> TrainingRows:
    """Every (series, origin, horizon) whose origin is a known day with a full look-back and whose target is known.

    Origins are thinned to every k-th day (counted back from the last) when the table would exceed ``max_rows``.
    """
    history = history_from_canonical(canonical)
    series_parts, origin_parts = [], []
    for index, values in enumerate(history.values):
        start = int(history.starts[index])
        origins = np.flatnonzero(~np.isnan(values[:-1]))
        origins = origins[origins >= LOOKBACK - 1]
        series_parts.append(np.full(len(origins), index, dtype=np.int64))
        origin_parts.append(origins + start)
    series = np.concatenate(series_parts) if series_parts else np.empty(0, dtype=np.int64)
    origin = np.concatenate(origin_parts) if origin_parts else np.empty(0, dtype=np.int64)
    if len(origin) * HORIZON > max_rows:
        stride = int(np.ceil(len(origin) * HORIZON / max_rows))
        last = origin.max()
        keep = (last - origin) % stride == 0
        series, origin = series[keep], origin[keep]
    series = np.repeat(series, HORIZON)
    origin = np.repeat(origin, HORIZON)
    horizon = np.tile(np.arange(1, HORIZON + 1, dtype=np.int64), len(series) // HORIZON)
    target = history.value(series, origin + horizon)
    known = ~np.isnan(target)
    series, origin, horizon, target = series[known], origin[known], horizon[known], target[known]
    order = np.lexsort((horizon, series, origin + horizon))  # by target date, as the walk-forward split reads it
    series, origin, horizon, target = series[order], origin[order], horizon[order], target[order]
    table = features(history, series, origin, horizon)
    return TrainingRows(table, target, origin + horizon, origin, series, history)


# ---- serving ------------------------------------------------------------------------------------------------


def serving_state(canonical: pd.DataFrame) -> dict[str, Any]:
    """Per series the last STATE_DAYS days of traffic; the events from the window start on; team bases; codes."""
    history = history_from_canonical(canonical)
    ends = np.array([history.starts[i] + len(v) - 1 for i, v in enumerate(history.values)], dtype=np.int64)
    window_start = int((ends - STATE_DAYS + 1).min()) if len(ends) else 0
    series_state = {}
    for index, key in enumerate(history.series):
        start = max(int(ends[index]) - STATE_DAYS + 1, int(history.starts[index]))
        values = history.value(np.full(int(ends[index]) - start + 1, index), np.arange(start, ends[index] + 1))
        # a state cut inside the series' history serves the origins whose whole look-back it holds
        first_origin = start + (LOOKBACK if start == int(history.starts[index]) else FULL_LOOKBACK) - 1
        series_state["/".join(key)] = {
            "sport": key[0], "service": key[1], "region": key[2],
            "start": _iso(start), "last_day": _iso(int(ends[index])), "first_origin": _iso(first_origin),
            "values": [None if np.isnan(v) else float(v) for v in values],
            "level": float(np.nanmean(values[-WINDOW:])) if np.isfinite(values[-WINDOW:]).any() else None,
        }  # fmt: skip
    events = history.events
    before = events.loc[events["day"] < window_start]
    team_base: dict[str, list[float]] = {}
    for side in ("home_team", "away_team"):
        known = before.loc[before["mentions"].notna()]
        grouped = known.groupby(["sport", side])["mentions"].agg(["sum", "count"])
        for (sport, team), row in grouped.iterrows():
            entry = team_base.setdefault(f"{sport}|{team}", [0.0, 0.0])
            entry[0] += float(row["sum"])
            entry[1] += float(row["count"])
    listed = events.loc[events["day"] >= window_start]
    return {
        "series": series_state,
        "sports": history.codes["sport"],
        "services": history.codes["service"],
        "regions": history.codes["region"],
        "events": {
            "date": [_iso(int(d)) for d in listed["day"]],
            **{
                c: [_json_value(v) for v in listed[c]]
                for c in ("sport", "home_team", "away_team", "stage_code", "home_rank", "away_rank", "mentions")
            },
        },
        "team_base": team_base,
        "hype_base": history.hype_before(window_start),
        "last_day": _iso(int(ends.max())) if len(ends) else None,
        "horizon": HORIZON,
    }


def history_from_state(
    state: dict[str, Any], extra_events: pd.DataFrame | None = None, excluded: list[tuple[int, int]] | None = None
) -> History:
    series, starts, values = [], [], []
    for entry in state["series"].values():
        series.append((entry["sport"], entry["service"], entry["region"]))
        starts.append(int(np.datetime64(entry["start"], "D").astype(np.int64)))
        values.append(np.array([np.nan if v is None else v for v in entry["values"]], dtype=float))
    listed = state["events"]
    events = pd.DataFrame({
        "day": np.array(listed["date"], dtype="datetime64[D]").astype(np.int64),
        **{c: np.array(listed[c], dtype=object) for c in ("sport", "home_team", "away_team")},
        **{c: np.array([np.nan if v is None else v for v in listed[c]], dtype=float)
           for c in ("stage_code", "home_rank", "away_rank", "mentions")},
    })  # fmt: skip
    if extra_events is not None and len(extra_events):
        events = pd.concat([events.assign(request=-1), extra_events], ignore_index=True)
    codes = {"sport": state["sports"], "service": state["services"], "region": state["regions"]}
    team_base = {name: (float(v[0]), float(v[1])) for name, v in state["team_base"].items()}
    hype_base = {name: (float(v[0]), float(v[1])) for name, v in state.get("hype_base", {}).items()}
    return History(
        series, np.array(starts, dtype=np.int64), values, events, codes, team_base, excluded or [], hype_base
    )


def _iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _json_value(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    return value
