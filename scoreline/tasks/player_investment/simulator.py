"""Seeded simulator of NBA careers with each rookie's true probability of lasting five seasons or more.

The generating process:

* every player has a latent talent, a size ("bigness": rebounds and blocks against assists and threes) and a
  shooting touch, and a rookie age (talented players come in younger);
* each season's box score is drawn from them: games (binomial over the season length, shortened seasons in
  1999, 2012, 2020 and 2021), minutes, shot volume, made shots and free throws as binomials, counting stats as
  Poisson totals, so small samples give noisy percentages;
* era effects: rookies get more minutes in early decades than in deep modern rotations (and the teams judge
  them against their era), the three-point line arrives in 1979-80 and its share of shots grows to ~40 %,
  the pace (and so scoring) falls into the 2000s and rises again;
* the career: the teams decide on what they see in the rookie season. The true log-odds of a career of five
  seasons or more are a fixed function of the rookie season's minutes share, pace-adjusted production per 36
  minutes, shooting efficiency (trusted in proportion to the minutes) and age; the outcome is drawn from
  exactly that probability, and the career length from the outcome;
* both file formats come from the same players: the rookie table (``simulate``) and Basketball-Reference
  season totals (``simulate_seasons``) for 1975-76 to 2023-24, with veterans who started before the file
  (left-censored), recent careers still running (right-censored), traded players (a ``TOT`` row plus one row
  per team), names shared by players born years apart, Hall of Fame marks and accented names, and ``NA`` for
  stats not recorded yet (3P before 1979-80, TOV before 1977-78, GS before 1981-82).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

FIRST_FILE_SEASON = 1976  # end years: the season table covers 1975-76 .. 2023-24
LAST_FILE_SEASON = 2024
FIRST_ROOKIE_CLASS = FIRST_FILE_SEASON + 1
VETERAN_CLASSES = (1966, 1975)
THREE_POINT_LINE = 1980
TURNOVERS_RECORDED = 1978
STARTS_RECORDED = 1982
MAX_CAREER = 20

ROOKIE_TABLE_COLUMNS: tuple[str, ...] = (
    "Name", "GP", "MIN", "PTS", "FGM", "FGA", "FG%", "3P Made", "3PA", "3P%", "FTM", "FTA", "FT%", "OREB", "DREB",
    "REB", "AST", "STL", "BLK", "TOV", "TARGET_5Yrs",
)  # fmt: skip
SEASON_TABLE_COLUMNS: tuple[str, ...] = (
    "Season", "Player", "Pos", "Age", "Tm", "G", "GS", "MP", "FG", "FGA", "FG%", "3P", "3PA", "3P%", "2P", "2PA",
    "2P%", "eFG%", "FT", "FTA", "FT%", "ORB", "DRB", "TRB", "AST", "STL", "BLK", "TOV", "PF", "PTS",
)  # fmt: skip
TEAMS: tuple[str, ...] = (
    "ATL", "BOS", "BRK", "CHI", "CHO", "CLE", "DAL", "DEN", "DET", "GSW", "HOU", "IND", "LAC", "LAL", "MEM", "MIA",
    "MIL", "MIN", "NOP", "NYK", "OKC", "ORL", "PHI", "PHO", "POR", "SAC", "SAS", "TOR", "UTA", "WAS",
)  # fmt: skip
FIRST_NAMES: tuple[str, ...] = (
    "Aaron", "Al", "Alex", "Allen", "Andre", "Anthony", "Antoine", "Ben", "Bill", "Bobby", "Brandon", "Brian",
    "Bruce", "Calvin", "Carl", "Charles", "Chris", "Clyde", "Corey", "Curtis", "Dale", "Damon", "Danny", "Darius",
    "Darnell", "Dave", "David", "Dennis", "Derek", "Derrick", "Devin", "Dominique", "Donald", "Doug", "Dwayne",
    "Eddie", "Elton", "Eric", "Frank", "Gary", "Gene", "George", "Gerald", "Glen", "Greg", "Harold", "Henry",
    "Isaiah", "Jalen", "Jamal", "James", "Jason", "Jeff", "Jerome", "Jerry", "Joe", "John", "Jordan", "Juan",
    "Julius", "Kareem", "Keith", "Kelvin", "Kenny", "Kevin", "Kyle", "Lamar", "Larry", "Lionel", "Luka", "Marcus",
    "Mark", "Maurice", "Michael", "Mike", "Nate", "Nikola", "Otis", "Patrick", "Paul", "Ray", "Reggie", "Ricky",
    "Robert", "Rodney", "Ron", "Sam", "Scott", "Sean", "Shawn", "Stephen", "Steve", "Terry", "Tim", "Tony",
    "Travis", "Tyrone", "Vince", "Walter", "Willie",
)  # fmt: skip
LAST_NAMES: tuple[str, ...] = (
    "Adams", "Allen", "Anderson", "Armstrong", "Bailey", "Baker", "Barnes", "Bell", "Bennett", "Brooks", "Brown",
    "Bryant", "Butler", "Campbell", "Carter", "Clark", "Coleman", "Collins", "Cook", "Cooper", "Davis", "Dončić",
    "Edwards", "Ellis", "Evans", "Fisher", "Ford", "Foster", "Gasol", "Ginóbili", "Gordon", "Graham", "Grant",
    "Gray", "Green", "Griffin", "Hall", "Hamilton", "Harris", "Hayes", "Henderson", "Hill", "Holmes", "Howard",
    "Hughes", "Jackson", "James", "Jenkins", "Johnson", "Jokić", "Jones", "Jordan", "Kemp", "King", "Lee", "Lewis",
    "Long", "Malone", "Marshall", "Martin", "Mason", "Miller", "Mitchell", "Moore", "Morris", "Murphy", "Murray",
    "Myers", "Nelson", "Nowitzki", "Nurkić", "Owens", "Parker", "Patterson", "Payton", "Perkins", "Perry",
    "Phillips", "Pierce", "Porter", "Price", "Reed", "Richardson", "Roberts", "Robinson", "Rogers", "Ross",
    "Russell", "Sanders", "Scott", "Simmons", "Smith", "Stewart", "Stojaković", "Sullivan", "Šarić", "Taylor",
    "Thomas", "Thompson", "Tucker", "Turner", "Valančiūnas", "Walker", "Wallace", "Ward", "Washington", "Watson",
    "West", "White", "Williams", "Wilson", "Wright", "Young",
)  # fmt: skip
NAME_SUFFIXES: tuple[str, ...] = ("", " Jr.", " II", " III", " Sr.")


# ---- eras ---------------------------------------------------------------------------------------------


def season_games(season: np.ndarray) -> np.ndarray:
    """Regular-season length by end year (lockouts and the 2020-21 seasons were shorter)."""
    games = np.full(np.shape(season), 82, dtype=np.int64)
    for year, length in ((1999, 50), (2012, 66), (2020, 72), (2021, 72)):
        games = np.where(season == year, length, games)
    return games


def pace(season: np.ndarray) -> np.ndarray:
    """Scoring level relative to a typical era (possessions per game fell into the 2000s and rose again)."""
    years = (1966, 1976, 1985, 1995, 2000, 2005, 2012, 2018, 2024)
    levels = (1.18, 1.10, 1.08, 0.98, 0.92, 0.93, 0.95, 1.03, 1.06)
    return np.interp(season, years, levels)


def three_share(season: np.ndarray) -> np.ndarray:
    """Share of field-goal attempts taken from three (no line before 1979-80)."""
    years = (1979, 1980, 1990, 1995, 2000, 2010, 2015, 2020, 2024)
    shares = (0.0, 0.03, 0.07, 0.15, 0.16, 0.22, 0.27, 0.38, 0.40)
    return np.where(season < THREE_POINT_LINE, 0.0, np.interp(season, years, shares))


def rookie_minutes_level(season: np.ndarray) -> np.ndarray:
    """Minutes per game a rookie of given talent gets, against the 2000s (deeper benches later, fewer minutes)."""
    return np.interp(season, (1966, 1990, 2000, 2010, 2024), (2.5, 1.5, 0.0, -1.5, -3.0))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# ---- players and seasons ------------------------------------------------------------------------------


@dataclass
class Players:
    name: np.ndarray  # as written in the files (Hall of Famers with "*")
    rookie_season: np.ndarray
    rookie_age: np.ndarray
    talent: np.ndarray
    big: np.ndarray
    shooter: np.ndarray
    p_five_plus: np.ndarray
    five_plus: np.ndarray
    career: np.ndarray  # seasons played in total (also after the file's last season)
    veteran: np.ndarray  # started before the season table's first season
    rookie_stats: dict[str, np.ndarray]


def season_stats(rng: np.random.Generator, talent: np.ndarray, big: np.ndarray, shooter: np.ndarray,
                 season: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    """Season totals of a box score for players with these traits in these seasons."""
    n = len(talent)
    e = rng.standard_normal((9, n))
    length = season_games(season)
    games = np.maximum(rng.binomial(length, _sigmoid(0.6 + 0.9 * talent + 0.6 * e[0])), 1)
    level = rookie_minutes_level(season)
    minutes = np.maximum(np.round(games * np.clip(15.0 + level + 6.5 * talent + 3.0 * e[1], 2.0, 40.0)), 1)
    per36 = minutes / 36.0
    fga36 = np.clip(13.0 + 1.8 * talent + 2.2 * e[2], 5.0, 30.0) * pace(season)
    fga = rng.poisson(per36 * fga36)
    fg3a = rng.binomial(fga, np.clip(three_share(season) * np.exp(0.7 * shooter - 0.6 * big), 0.0, 0.85))
    fg2a = fga - fg3a
    fg2 = rng.binomial(fg2a, np.clip(0.46 + 0.02 * talent + 0.03 * big + 0.025 * e[3], 0.3, 0.65))
    fg3 = rng.binomial(fg3a, np.clip(0.33 + 0.035 * shooter + 0.01 * talent + 0.02 * e[4], 0.1, 0.5))
    fta = rng.poisson(per36 * fga36 * 0.28 * np.exp(0.25 * big + 0.2 * e[5]))
    ft = rng.binomial(fta, np.clip(0.73 + 0.05 * shooter - 0.05 * big + 0.04 * e[6], 0.35, 0.95))
    orb = rng.poisson(per36 * np.clip(1.5 + 0.9 * big, 0.2, None))
    drb = rng.poisson(per36 * np.clip(4.5 + 1.6 * big + 0.3 * talent, 0.8, None))
    ast36 = np.clip(3.0 - 1.1 * big + 0.6 * talent + 0.7 * e[7], 0.3, None)
    ast = rng.poisson(per36 * ast36)
    stl = rng.poisson(per36 * np.clip(1.2 + 0.15 * talent + 0.2 * e[8], 0.2, None))
    blk = rng.poisson(per36 * np.clip(0.6 + 0.6 * big + 0.1 * talent, 0.05, None))
    tov = rng.poisson(per36 * (1.6 + 0.25 * ast36))
    return {
        "g": games, "gs": rng.binomial(games, _sigmoid(-1.2 + 1.8 * talent)), "mp": minutes.astype(np.int64),
        "fg": fg2 + fg3, "fga": fga, "fg3": fg3, "fg3a": fg3a, "ft": ft, "fta": fta, "orb": orb, "drb": drb,
        "trb": orb + drb, "ast": ast, "stl": stl, "blk": blk, "tov": tov, "pf": rng.poisson(per36 * 3.6),
        "pts": 2 * fg2 + 3 * fg3 + ft,
    }  # fmt: skip


def true_log_odds(stats: dict[str, np.ndarray], season: np.ndarray, age: np.ndarray) -> np.ndarray:
    """What the teams read from a rookie season: minutes share, pace-adjusted production, efficiency, age."""
    minutes = stats["mp"].astype(float)
    # judged against the minutes rookies of that era get
    share = np.maximum(minutes - stats["g"] * rookie_minutes_level(season), 1.0) / (48.0 * season_games(season))
    playing_time = (np.sqrt(share) - 0.42) / 0.16
    per36 = 36.0 / minutes
    production = (stats["pts"] / pace(season) + stats["trb"] + 1.4 * stats["ast"] + 2.0 * stats["stl"]
                  + 2.0 * stats["blk"]) * per36  # fmt: skip
    shots = 2.0 * (stats["fga"] + 0.44 * stats["fta"])
    true_shooting = np.where(shots > 0, stats["pts"] / np.maximum(shots, 1e-9), 0.45)
    efficiency = np.clip((true_shooting - 0.52) / 0.06, -2.5, 2.5) * minutes / (minutes + 300.0)
    return (
        0.35 + 1.5 * playing_time - 0.4 * np.maximum(-playing_time, 0.0)
        + 0.45 * np.clip((production - 28.0) / 5.0, -3.0, 3.0) + 0.3 * efficiency - 0.25 * (age - 22.0)
    )  # fmt: skip


def _names(rng: np.random.Generator, count: int) -> np.ndarray:
    combos = len(FIRST_NAMES) * len(LAST_NAMES)
    picks = rng.choice(combos * len(NAME_SUFFIXES), size=count, replace=False) if count <= combos * len(
        NAME_SUFFIXES) else rng.integers(0, combos * len(NAME_SUFFIXES), size=count)  # fmt: skip
    picks = np.sort(picks % (combos * len(NAME_SUFFIXES)))  # plain names first, suffixes only when needed
    rng.shuffle(picks)
    suffix, rest = np.divmod(picks, combos)
    first, last = np.divmod(rest, len(LAST_NAMES))
    return np.array(
        [f"{FIRST_NAMES[f]} {LAST_NAMES[s]}{NAME_SUFFIXES[x]}" for f, s, x in zip(first, last, suffix, strict=True)],
        dtype=object,
    )


def _share_names(rng: np.random.Generator, names: np.ndarray, birth: np.ndarray, rookies: int) -> None:
    """A few players get the name of another one born at least three years apart (as in the real league)."""
    pairs = max(2, rookies // 100)
    for _ in range(pairs * 20):
        if pairs == 0:
            break
        i, j = rng.integers(0, rookies, size=2)
        if abs(birth[i] - birth[j]) >= 3 and names[i] != names[j]:
            names[j] = names[i]
            pairs -= 1


def simulate_players(n: int, seed: int) -> Players:
    """``n`` rookies of the classes 1976-77 .. 2023-24 and a few veterans who started before 1975-76."""
    rng = np.random.default_rng(seed)
    veterans = max(10, n // 25)
    total = n + veterans
    classes = np.arange(FIRST_ROOKIE_CLASS, LAST_FILE_SEASON + 1)
    weights = np.linspace(0.7, 1.2, len(classes))  # the league expanded
    rookie_season = np.concatenate(
        [
            rng.choice(classes, size=n, p=weights / weights.sum()),
            rng.integers(VETERAN_CLASSES[0], VETERAN_CLASSES[1] + 1, size=veterans),
        ]
    )
    talent = rng.standard_normal(total)
    big = rng.standard_normal(total)
    shooter = rng.standard_normal(total)
    age = np.clip(np.round(22.3 - 0.5 * talent + 1.1 * rng.standard_normal(total)), 19, 28)
    stats = season_stats(rng, talent, big, shooter, rookie_season)
    p = _sigmoid(true_log_odds(stats, rookie_season, age))
    five_plus = rng.random(total) < p
    short = rng.choice([1, 2, 3, 4], size=total, p=[0.3, 0.3, 0.25, 0.15])
    long = np.minimum(4 + rng.geometric(0.18, size=total), MAX_CAREER)
    career = np.where(five_plus, long, short)
    veteran = np.arange(total) >= n
    # a veteran's career reaches into the file (that is why the file has them)
    career = np.where(veteran, np.maximum(career, FIRST_FILE_SEASON - rookie_season + 1 + rng.integers(0, 6, total)),
                      career)  # fmt: skip
    names = _names(rng, total)
    _share_names(rng, names, rookie_season - age, n)
    hall_of_fame = (talent > np.quantile(talent, 0.985)) & (career >= 10)
    names = np.where(hall_of_fame, names + "*", names)
    return Players(names, rookie_season, age, talent, big, shooter, p, five_plus, career, veteran, stats)


# ---- the two formats ------------------------------------------------------------------------------------


def _percent(made: np.ndarray, attempts: np.ndarray, scale: float, digits: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(attempts > 0, np.round(scale * made / np.maximum(attempts, 1), digits), np.nan)


def rookie_table(players: Players) -> pd.DataFrame:
    """The classic rookie table of the non-veteran players (per game, 1 decimal, 3P% blank without attempts)."""
    rows = ~players.veteran
    s = {k: v[rows].astype(float) for k, v in players.rookie_stats.items()}
    games = s["g"]

    def per_game(total: np.ndarray) -> np.ndarray:
        return np.round(total / games, 1)

    fg_pct = _percent(s["fg"], s["fga"], 100.0, 1)
    ft_pct = _percent(s["ft"], s["fta"], 100.0, 1)
    return pd.DataFrame(
        {
            "Name": players.name[rows], "GP": games.astype(int), "MIN": per_game(s["mp"]), "PTS": per_game(s["pts"]),
            "FGM": per_game(s["fg"]), "FGA": per_game(s["fga"]), "FG%": np.nan_to_num(fg_pct),
            "3P Made": per_game(s["fg3"]), "3PA": per_game(s["fg3a"]), "3P%": _percent(s["fg3"], s["fg3a"], 100.0, 1),
            "FTM": per_game(s["ft"]), "FTA": per_game(s["fta"]), "FT%": np.nan_to_num(ft_pct),
            "OREB": per_game(s["orb"]), "DREB": per_game(s["drb"]), "REB": per_game(s["trb"]),
            "AST": per_game(s["ast"]), "STL": per_game(s["stl"]), "BLK": per_game(s["blk"]),
            "TOV": per_game(s["tov"]), "TARGET_5Yrs": players.five_plus[rows].astype(float),
        }
    )  # fmt: skip


def _truth(players: Players, rows: np.ndarray) -> pd.DataFrame:
    in_file = np.minimum(players.rookie_season + players.career - 1, LAST_FILE_SEASON) - np.maximum(
        players.rookie_season, FIRST_FILE_SEASON) + 1  # fmt: skip
    return pd.DataFrame(
        {
            "player": pd.Series(players.name[rows]).str.replace("*", "", regex=False).to_numpy(),
            "rookie_season": players.rookie_season[rows],
            "age": players.rookie_age[rows],
            "birth_year": players.rookie_season[rows] - players.rookie_age[rows],
            "talent": players.talent[rows],
            "p_five_plus": players.p_five_plus[rows],
            "five_plus": players.five_plus[rows].astype(int),
            "career_seasons": players.career[rows],
            "seasons_in_file": in_file[rows],
            "left_censored": players.veteran[rows],
            "label_known": ~players.veteran[rows]
            & ((in_file[rows] >= 5) | (players.rookie_season[rows] + 4 <= LAST_FILE_SEASON)),
        }
    )


def simulate(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The rookie table of ``n`` simulated rookies and, row for row, the truth (``p_five_plus`` and more)."""
    players = simulate_players(n, seed)
    rows = np.flatnonzero(~players.veteran)
    return rookie_table(players), _truth(players, rows).reset_index(drop=True)


def simulate_seasons(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Basketball-Reference season totals of the same players as ``simulate(n, seed)`` (plus veterans) and the
    truth per player (rookies first, in the rookie table's order, then the veterans)."""
    players = simulate_players(n, seed)
    rng = np.random.default_rng([seed, 1])
    season_index = np.concatenate([np.arange(c) for c in players.career])
    who = np.repeat(np.arange(len(players.career)), players.career)
    season = players.rookie_season[who] + season_index
    keep = (season >= FIRST_FILE_SEASON) & (season <= LAST_FILE_SEASON)
    who, season, season_index = who[keep], season[keep], season_index[keep]
    growth = 0.25 * np.minimum(season_index, 4) - 0.1 * np.maximum(season_index - 8, 0)
    drift = 0.3 * rng.standard_normal(len(who))
    stats = season_stats(rng, players.talent[who] + growth + drift, players.big[who], players.shooter[who], season)
    rookie_rows = season_index == 0  # the rookie season's box score is the one the truth was drawn from
    for key, values in players.rookie_stats.items():
        stats[key] = np.where(rookie_rows, values[who], stats[key])
    age = players.rookie_age[who] + season_index
    frame = pd.DataFrame({"who": who, "season": season, "age": age, **stats})
    frame["team"] = np.asarray(TEAMS, dtype=object)[rng.integers(0, len(TEAMS), len(frame))]
    frame = _with_trades(rng, frame)
    return _season_table(frame, players), _truth(players, np.arange(len(players.career)))


def _with_trades(rng: np.random.Generator, frame: pd.DataFrame) -> pd.DataFrame:
    """Some player-seasons become a TOT row followed by one row per team (totals split by a share of games)."""
    traded = (rng.random(len(frame)) < 0.08) & (frame["g"].to_numpy() >= 10)
    pieces = [frame.assign(order=0)]
    if traded.any():
        total = frame[traded]
        share = rng.uniform(0.25, 0.75, len(total))
        first, second = total.copy(), total.copy()
        for column in ("g", "gs", "mp", "orb", "drb", "ast", "stl", "blk", "tov", "pf"):
            values = total[column].to_numpy()
            first[column] = np.minimum(np.round(values * share).astype(np.int64), values)
            second[column] = values - first[column].to_numpy()
        made_attempts = {"fg2": ("fg2", "fg2a"), "fg3": ("fg3", "fg3a"), "ft": ("ft", "fta")}
        parts = {}
        for made_name, attempts_name in made_attempts.values():
            made = (
                total["fg"].to_numpy() - total["fg3"].to_numpy() if made_name == "fg2" else total[made_name].to_numpy()
            )
            attempts = (total["fga"].to_numpy() - total["fg3a"].to_numpy() if attempts_name == "fg2a"
                        else total[attempts_name].to_numpy())  # fmt: skip
            first_attempts = np.round(attempts * share).astype(np.int64)
            second_attempts = attempts - first_attempts
            first_made = np.clip(np.round(made * share).astype(np.int64), made - second_attempts, first_attempts)
            parts[made_name] = (first_made, made - first_made)
            parts[attempts_name] = (first_attempts, second_attempts)
        for index, piece in enumerate((first, second)):
            piece["fg3"], piece["fg3a"] = parts["fg3"][index], parts["fg3a"][index]
            piece["fg"] = parts["fg2"][index] + parts["fg3"][index]
            piece["fga"] = parts["fg2a"][index] + parts["fg3a"][index]
            piece["ft"], piece["fta"] = parts["ft"][index], parts["fta"][index]
            piece["pts"] = 2 * parts["fg2"][index] + 3 * parts["fg3"][index] + parts["ft"][index]
            piece["trb"] = piece["orb"] + piece["drb"]
        second["team"] = np.asarray(TEAMS, dtype=object)[(np.searchsorted(TEAMS, first["team"]) + 7) % len(TEAMS)]
        pieces = [frame[~traded].assign(order=0), total.assign(team="TOT", order=0), first.assign(order=1),
                  second.assign(order=2)]  # fmt: skip
    return pd.concat(pieces, ignore_index=True)


def _position(big: np.ndarray) -> np.ndarray:
    return np.select([big > 0.8, big > 0.2, big > -0.4, big > -1.0], ["C", "PF", "SF", "SG"], "PG")


def _season_table(frame: pd.DataFrame, players: Players) -> pd.DataFrame:
    frame = frame.assign(name=players.name[frame["who"].to_numpy()])
    frame = frame.sort_values(["season", "name", "who", "order"], kind="stable").reset_index(drop=True)
    s = {k: frame[k].to_numpy(dtype=float) for k in frame.columns if k not in ("name", "team")}
    season = s["season"]
    no_line = season < THREE_POINT_LINE
    fg2, fg2a = s["fg"] - s["fg3"], s["fga"] - s["fg3a"]
    out = pd.DataFrame(
        {
            "Season": [f"{int(y) - 1}-{int(y) % 100:02d}" for y in season],
            "Player": frame["name"].to_numpy(),
            "Pos": _position(players.big[frame["who"].to_numpy()]),
            "Age": s["age"].astype(int),
            "Tm": frame["team"].to_numpy(),
            "G": s["g"].astype(int),
            "GS": np.where(season < STARTS_RECORDED, np.nan, s["gs"]),
            "MP": s["mp"].astype(int),
            "FG": s["fg"].astype(int),
            "FGA": s["fga"].astype(int),
            "FG%": _percent(s["fg"], s["fga"], 1.0, 3),
            "3P": np.where(no_line, np.nan, s["fg3"]),
            "3PA": np.where(no_line, np.nan, s["fg3a"]),
            "3P%": np.where(no_line, np.nan, _percent(s["fg3"], s["fg3a"], 1.0, 3)),
            "2P": fg2.astype(int),
            "2PA": fg2a.astype(int),
            "2P%": _percent(fg2, fg2a, 1.0, 3),
            "eFG%": _percent(s["fg"] + 0.5 * s["fg3"], s["fga"], 1.0, 3),
            "FT": s["ft"].astype(int),
            "FTA": s["fta"].astype(int),
            "FT%": _percent(s["ft"], s["fta"], 1.0, 3),
            "ORB": s["orb"].astype(int),
            "DRB": s["drb"].astype(int),
            "TRB": s["trb"].astype(int),
            "AST": s["ast"].astype(int),
            "STL": s["stl"].astype(int),
            "BLK": s["blk"].astype(int),
            "TOV": np.where(season < TURNOVERS_RECORDED, np.nan, s["tov"]),
            "PF": s["pf"].astype(int),
            "PTS": s["pts"].astype(int),
        }
    )
    for column in ("GS", "3P", "3PA", "TOV"):
        out[column] = out[column].astype("Int64")
    return out
