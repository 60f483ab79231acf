"""Seeded traffic of a sports service per (sport, service, region) with the event calendar that drives it.

Per series: a base level, a log-linear trend, a weekly profile (the sport's plus the series' own) and a
yearly season curve (higher in the sport's season). Per sport: a league of teams with a latent
popularity and a strength that drifts; the ranks published in the calendar come from the strength.
Games: regular season most days (more at weekends), playoffs in spring, a best-of final series in June,
nothing in summer. Each game lifts the day's traffic by an amount that grows with the stage
(regular < playoff < final), the teams' popularity and their rank; the day before a playoff game or a
final carries a pre-event buzz (part of the lift). The calendar's ``mentions`` (pre-event social volume)
follow popularity, stage and rank with noise: big events spike. Each series reacts to events with its
own sensitivity (streaming more than stats, regions differ). Outages remove whole days (1-3 in a row)
from the traffic file. Daily noise is multiplicative log-normal around the true expectation, which is
returned for every series-day (:func:`simulate_parts`), including outage days.
"""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pandas as pd

START = np.datetime64("2024-01-01")
SPORTS: dict[str, tuple[str, int]] = {"hockey": ("Northern Hockey League", 16), "basketball": ("Pro Hoops", 14)}
SERVICES: dict[str, float] = {"streaming": 1.0, "scores": 0.55}  # how strongly a service reacts to events
REGIONS: dict[str, float] = {"EU": 0.8, "NA": 1.3, "APAC": 0.6}
STAGE_LIFT = {"regular": 1.0, "playoff": 2.6, "final": 7.0}
NOISE_SIGMA = 0.07
CALENDAR_AHEAD = 10  # days of scheduled events after the last traffic day
OUTAGE_RATE = 0.008  # outages started per series-day
TEAM_NAMES = ("Wolves", "Bears", "Hawks", "Lions", "Sharks", "Foxes", "Storm", "Kings", "Rangers", "Comets",
              "Pirates", "Titans", "Eagles", "Vipers", "Giants", "Owls", "Bulls", "Knights")  # fmt: skip
CITIES = ("Oslo", "Boston", "Tampere", "Denver", "Leeds", "Osaka", "Lyon", "Calgary", "Turin", "Austin",
          "Riga", "Dallas", "Porto", "Seattle", "Graz", "Perth", "Bern", "Tulsa")  # fmt: skip


def simulate_parts(days: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(traffic file rows, calendar file rows, true expectation per series-day incl. outage days)."""
    rng = np.random.default_rng(seed)
    traffic_days = days
    days += CALENDAR_AHEAD  # the schedule is published ahead of the traffic
    dates = START + np.arange(days)
    day_of_year = (dates - dates.astype("datetime64[Y]")).astype(int)
    weekday = (dates.astype(int) + 3) % 7  # Monday = 0
    calendars, lifts_by_sport = [], {}
    for sport, (league, teams) in SPORTS.items():
        calendar, lifts = _games(rng, sport, league, teams, dates, weekday)
        calendars.append(calendar)
        lifts_by_sport[sport] = lifts
    calendar = pd.concat(calendars, ignore_index=True).sort_values(["date", "sport", "start_time"], kind="stable")

    traffic_parts, truth_parts = [], []
    for sport_index, sport in enumerate(SPORTS):
        sport_week = np.array([0.0, -0.04, -0.02, 0.0, 0.05, 0.12, 0.15]) * (1 + 0.5 * sport_index)
        season_peak = 40 + 60 * sport_index  # day of year of the season's peak interest
        for service, service_sensitivity in SERVICES.items():
            for region, region_sensitivity in REGIONS.items():
                level = np.exp(rng.normal(np.log(20_000), 0.6))
                trend = rng.normal(0.12, 0.12) / 365.0
                week = sport_week + rng.normal(0, 0.04, 7)
                season = rng.uniform(0.08, 0.25) * np.cos(2 * np.pi * (day_of_year - season_peak) / 365.25)
                sensitivity = service_sensitivity * region_sensitivity * rng.uniform(0.8, 1.2)
                log_expected = np.log(level) + trend * np.arange(days) + week[weekday] + season
                expected = np.exp(log_expected) * (1.0 + sensitivity * lifts_by_sport[sport])
                observed = expected * np.exp(rng.normal(-(NOISE_SIGMA**2) / 2, NOISE_SIGMA, days))
                present = ~_outages(rng, days)
                present[traffic_days - 1], present[traffic_days:] = True, False
                keys = {"sport": sport, "service": service, "region": region}
                day_text = pd.Series(dates).dt.strftime("%Y-%m-%d").to_numpy()
                requests = np.round(observed[present]).astype(np.int64)
                traffic_parts.append(pd.DataFrame({"date": day_text[present], **keys, "requests": requests}))
                truth_parts.append(pd.DataFrame({"date": day_text, **keys, "expected": expected, "observed": present}))
    traffic = pd.concat(traffic_parts, ignore_index=True)
    truth = pd.concat(truth_parts, ignore_index=True)
    truth = truth.loc[truth["date"] < str(START + traffic_days)].reset_index(drop=True)
    return traffic, calendar.reset_index(drop=True), truth


def _games(
    rng: np.random.Generator, sport: str, league: str, n_teams: int, dates: np.ndarray, weekday: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray]:
    """The sport's calendar and its event lift per day (before each series' sensitivity)."""
    names = [f"{city} {team}" for city, team in zip(rng.permutation(CITIES), rng.permutation(TEAM_NAMES), strict=False)]
    names = names[:n_teams]
    popularity = np.exp(rng.normal(0, 0.55, n_teams))
    strength = rng.normal(0, 1, n_teams)
    month_day = pd.Series(dates).dt
    month, day = month_day.month.to_numpy(), month_day.day.to_numpy()
    regular = (month >= 10) | (month <= 3) | ((month == 4) & (day <= 12))
    playoff = ((month == 4) & (day >= 16)) | ((month == 5) & (day <= 28))
    final_window = (month == 6) & (day >= 2) & (day <= 16)
    lifts = np.zeros(len(dates))
    rows = []
    final_pair: tuple[int, int] | None = None
    final_games = 0
    for index, today in enumerate(dates):
        strength += rng.normal(0, 0.03, n_teams)
        rank = np.empty(n_teams, dtype=int)
        rank[np.argsort(-strength)] = np.arange(1, n_teams + 1)
        if regular[index]:
            stage, games = "regular", rng.poisson(2.0 + 2.0 * (weekday[index] >= 4))
            final_pair, final_games = None, 0
        elif playoff[index]:
            stage, games = "playoff", rng.poisson(1.6)
        elif final_window[index] and index % 2 == 0 and final_games < 7:
            stage, games = "final", 1
        else:
            stage, games = "", 0
        for _ in range(min(games, n_teams // 2)):
            if stage == "final":
                if final_pair is None:
                    final_pair = tuple(np.argsort(rank)[:2])
                home, away = final_pair if final_games % 2 == 0 else final_pair[::-1]
                final_games += 1
            elif stage == "playoff":
                top = np.argsort(rank)[:8]
                home, away = rng.choice(top, 2, replace=False)
            else:
                home, away = rng.choice(n_teams, 2, replace=False)
            best_rank = min(rank[home], rank[away])
            rank_factor = 1.0 + 1.2 * np.exp(-(best_rank - 1) / 3.0)
            lift = 0.035 * STAGE_LIFT[stage] * (popularity[home] + popularity[away]) / 2 * rank_factor
            lifts[index] += lift
            if stage != "regular" and index > 0:
                lifts[index - 1] += 0.3 * lift  # pre-event buzz
            hype = (popularity[home] + popularity[away]) * STAGE_LIFT[stage] * rank_factor
            rows.append({
                "date": str(today), "sport": sport, "league": league,
                "home_team": names[home], "away_team": names[away],
                "start_time": f"{int(rng.choice([13, 16, 19, 19, 20, 21])):02d}:{int(rng.choice([0, 30])):02d}",
                "stage": {"regular": "Regular Season", "playoff": "Playoffs", "final": "Final"}[stage],
                "home_rank": int(rank[home]), "away_rank": int(rank[away]),
                "mentions": int(np.rint(1500 * hype * np.exp(rng.normal(0, 0.35)))),
            })  # fmt: skip
    columns = ["date", "sport", "league", "home_team", "away_team", "start_time", "stage", "home_rank", "away_rank",
               "mentions"]  # fmt: skip
    calendar = pd.DataFrame(rows, columns=columns)
    # two games of a day can share a start time and teams only by chance: keep one row per event
    calendar = calendar.drop_duplicates(["date", "sport", "home_team", "away_team", "start_time"])
    return calendar, lifts


def _outages(rng: np.random.Generator, days: int) -> np.ndarray:
    missing = np.zeros(days, dtype=bool)
    for start in np.flatnonzero(rng.random(days) < OUTAGE_RATE):
        missing[start : start + int(rng.integers(1, 4))] = True
    missing[0] = False  # the series' span starts on the first day
    return missing


def simulate(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The combined raw file (traffic rows then event rows, ``record`` says which) and, row for row, the truth:
    the expected requests of traffic rows (NaN for events)."""
    traffic, calendar, truth = simulate_parts(n, seed)
    observed = truth.loc[truth["observed"]].reset_index(drop=True)
    combined = pd.concat([traffic.assign(record="traffic"), calendar.assign(record="event")], ignore_index=True)
    combined = combined[["record", *[c for c in combined.columns if c != "record"]]]
    expected = np.concatenate([observed["expected"].to_numpy(), np.full(len(calendar), np.nan)])
    return combined, pd.DataFrame({"expected": expected})


def simulated_zip(n: int, seed: int) -> bytes:
    traffic, calendar, _ = simulate_parts(n, seed)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("traffic.csv", traffic.to_csv(index=False))
        archive.writestr("calendar.csv", calendar.to_csv(index=False))
    return buffer.getvalue()
