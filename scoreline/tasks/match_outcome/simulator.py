"""Seeded simulator of international football results with their true outcome probabilities.

The generating process, all of it vectorized:

* about 200 national teams in six confederations of uneven size and depth;
* each team has an attack and a defence rating that drift year by year (a mean-reverting
  random walk, interpolated linearly within a year), so form changes over decades;
* a schedule like the real one: friendlies (mostly within the confederation), World Cup and
  continental qualifiers within the confederation, continental finals and World Cup finals
  between the stronger teams, mostly at neutral venues; the number of matches per year grows
  over time as in the real record;
* goals from a Dixon-Coles adjusted double Poisson with home advantage depending on the
  competition tier, and a lower goal rate in finals.

Scores are drawn from exactly the distribution whose outcome sums give the returned ``p_home``,
``p_draw`` and ``p_away``, so the truth file holds the exact probabilities of the process that
generated every row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SUM_GOALS = 48  # outcome sums run to here; the Poisson tail beyond is negligible at rates below 6.1
FIRST_YEAR = 1960
LAST_YEAR = 2025
_CHUNK = 65_536
_NAMES_SEED = 20_240_601  # team names do not depend on the data seed, so datasets share teams

RAW_COLUMNS = ("date", "home_team", "away_team", "home_score", "away_score", "tournament", "city", "country", "neutral")
TRUTH_COLUMNS = ("p_home", "p_draw", "p_away")


@dataclass(frozen=True)
class Confederation:
    name: str
    teams: int
    mean_strength: float  # shifts the attack and defence ratings of its teams
    cup: str


CONFEDERATIONS: tuple[Confederation, ...] = (
    Confederation("UEFA", 54, 0.25, "UEFA Euro"),
    Confederation("CAF", 50, -0.05, "African Cup of Nations"),
    Confederation("AFC", 44, -0.15, "AFC Asian Cup"),
    Confederation("CONCACAF", 34, -0.15, "CONCACAF Gold Cup"),
    Confederation("CONMEBOL", 10, 0.35, "Copa América"),
    Confederation("OFC", 10, -0.45, "OFC Nations Cup"),
)


@dataclass(frozen=True)
class Tier:
    kind: str
    share: float  # share of all matches
    home_advantage: float  # added to the home side's log goal rate at a home venue
    rate_shift: float  # added to both log goal rates (finals are tighter)
    strength_scale: float  # friendlies field weakened sides, so ratings matter less
    neutral_share: float  # share of matches at a neutral venue
    elite: bool  # participants weighted towards the strongest teams
    cross_confederation: float  # share of matches between confederations


TIERS: tuple[Tier, ...] = (
    Tier("Friendly", 0.42, 0.30, 0.0, 0.85, 0.12, False, 0.35),
    Tier("FIFA World Cup qualification", 0.24, 0.42, 0.0, 1.0, 0.01, False, 0.0),
    Tier("qualification", 0.17, 0.40, 0.0, 1.0, 0.01, False, 0.0),
    Tier("cup", 0.09, 0.36, -0.12, 1.0, 0.75, True, 0.0),
    Tier("FIFA World Cup", 0.03, 0.36, -0.15, 1.0, 0.92, True, 1.0),
    Tier("Nations League", 0.05, 0.38, -0.05, 1.0, 0.02, False, 0.0),
)

_BASE_LOG_RATE = 0.12  # log of the typical goal rate at a neutral venue between equal sides
DIXON_COLES_RHO = -0.08  # more 0-0 and 1-1, fewer 1-0 and 0-1 than independent Poisson
_DRIFT_PHI = 0.93  # year-to-year persistence of a team's rating deviation
_DRIFT_SD = 0.07  # yearly innovation of the ratings


def team_names(count: int) -> list[str]:
    """Distinct, pronounceable, made-up country names; the same list for every seed."""
    rng = np.random.default_rng(_NAMES_SEED)
    onsets = ["B", "C", "D", "F", "G", "K", "L", "M", "N", "P", "R", "S", "T", "V", "Z", "Br", "Kr", "St", "Tr", "Gl"]
    vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou"]
    middles = ["l", "n", "r", "s", "t", "v", "nd", "rk", "st", "lm", "sh", "m"]
    endings = ["ia", "land", "stan", "ovia", "ania", "ador", "ea", "ica", "istan", "onia", "ria", "mark"]
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        parts = [rng.choice(onsets), rng.choice(vowels), rng.choice(middles)]
        if rng.random() < 0.4:
            parts += [rng.choice(vowels), rng.choice(middles)]
        name = "".join(parts) + rng.choice(endings)
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def simulate(
    n: int, seed: int, *, home_advantage_collapse: tuple[int, float] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` matches in the international results format, and row for row their true H/D/A probabilities.

    ``home_advantage_collapse=(year, factor)``: a regime change, every home advantage times ``factor`` in the
    matches of that calendar year only (as in the season without crowds), back to normal afterwards.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if home_advantage_collapse is not None and not FIRST_YEAR <= home_advantage_collapse[0] <= LAST_YEAR:
        raise ValueError(f"the collapse year must lie in {FIRST_YEAR}..{LAST_YEAR}, got {home_advantage_collapse[0]}")
    rng = np.random.default_rng(seed)
    conf_of_team = np.repeat(np.arange(len(CONFEDERATIONS)), [c.teams for c in CONFEDERATIONS])
    n_teams = len(conf_of_team)
    conf_start = np.concatenate([[0], np.cumsum([c.teams for c in CONFEDERATIONS])[:-1]])
    conf_size = np.array([c.teams for c in CONFEDERATIONS])
    names = np.array(team_names(n_teams), dtype=object)
    cities = np.array([f"{name} City" for name in names], dtype=object)

    attack, defence = _drifting_ratings(rng, conf_of_team)
    n_years = LAST_YEAR - FIRST_YEAR + 1

    # Dates: the yearly volume grows roughly linearly, like the real record.
    year_weights = np.linspace(1.0, 4.0, n_years)
    years = rng.choice(n_years, size=n, p=year_weights / year_weights.sum())
    day_of_year = rng.random(n)
    order = np.lexsort((day_of_year, years))
    years, day_of_year = years[order], day_of_year[order]
    year_time = years + day_of_year  # in years since FIRST_YEAR, fractional

    tier_index = rng.choice(len(TIERS), size=n, p=np.array([t.share for t in TIERS]) / sum(t.share for t in TIERS))
    tier_home_adv = np.array([t.home_advantage for t in TIERS])[tier_index]
    if home_advantage_collapse is not None:
        collapse_year, factor = home_advantage_collapse
        tier_home_adv = np.where(years == collapse_year - FIRST_YEAR, tier_home_adv * factor, tier_home_adv)
    tier_rate_shift = np.array([t.rate_shift for t in TIERS])[tier_index]
    tier_scale = np.array([t.strength_scale for t in TIERS])[tier_index]
    neutral = rng.random(n) < np.array([t.neutral_share for t in TIERS])[tier_index]
    elite = np.array([t.elite for t in TIERS])[tier_index]
    cross = rng.random(n) < np.array([t.cross_confederation for t in TIERS])[tier_index]

    # Participants: the home side from its confederation's share, the away side from the same
    # confederation (or any other team when the match crosses confederations).
    overall = (attack + defence).mean(axis=1)  # long-run quality, used to pick finalists
    conf = rng.choice(len(CONFEDERATIONS), size=n, p=conf_size / conf_size.sum())
    home = _pick_in_confederation(rng, conf, conf_start, conf_size, overall, elite)
    away_same = _pick_other_in_confederation(rng, conf, conf_start, conf_size, home, overall, elite)
    away_any = _pick_other(rng, n_teams, home, overall, elite)
    away = np.where(cross, away_any, away_same)

    year_idx = np.minimum(years, n_years - 1)
    frac = year_time - years
    att_h = _at(attack, home, year_idx, frac)
    att_a = _at(attack, away, year_idx, frac)
    def_h = _at(defence, home, year_idx, frac)
    def_a = _at(defence, away, year_idx, frac)

    log_home = _BASE_LOG_RATE + tier_rate_shift + tier_scale * (att_h - def_a) + np.where(neutral, 0.0, tier_home_adv)
    log_away = _BASE_LOG_RATE + tier_rate_shift + tier_scale * (att_a - def_h)
    rate_home = np.exp(np.clip(log_home, -2.0, 1.8))
    rate_away = np.exp(np.clip(log_away, -2.0, 1.8))

    home_score, away_score, truth = _draw_scores(rng, rate_home, rate_away)

    tournament = _tournament_names(tier_index, conf)
    host = np.where(neutral, _neutral_host(rng, home, away, n_teams), home)
    base = pd.Timestamp(f"{FIRST_YEAR}-01-01")
    days_in_year = 365
    dates = base + pd.to_timedelta(
        ((years * 365.25).astype(np.int64) + (day_of_year * days_in_year).astype(np.int64)), unit="D"
    )
    raw = pd.DataFrame(
        {
            "date": dates.strftime("%Y-%m-%d"),
            "home_team": names[home],
            "away_team": names[away],
            "home_score": home_score,
            "away_score": away_score,
            "tournament": tournament,
            "city": cities[host],
            "country": names[host],
            "neutral": neutral,
        }
    )
    return raw, pd.DataFrame(truth, columns=list(TRUTH_COLUMNS))


def _drifting_ratings(rng: np.random.Generator, conf_of_team: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Attack and defence per team and year knot: a long-run level plus a mean-reverting AR(1) deviation."""
    n_teams = len(conf_of_team)
    n_knots = LAST_YEAR - FIRST_YEAR + 2
    conf_mean = np.array([c.mean_strength for c in CONFEDERATIONS])[conf_of_team]
    level = conf_mean + rng.normal(0.0, 0.45, n_teams)
    style = rng.normal(0.0, 0.08, n_teams)  # some teams score and concede more than others
    ratings = []
    for _ in range(2):
        deviation = np.empty((n_teams, n_knots))
        deviation[:, 0] = rng.normal(0.0, _DRIFT_SD / np.sqrt(1 - _DRIFT_PHI**2), n_teams)
        shocks = rng.normal(0.0, _DRIFT_SD, (n_teams, n_knots))
        for knot in range(1, n_knots):
            deviation[:, knot] = _DRIFT_PHI * deviation[:, knot - 1] + shocks[:, knot]
        ratings.append(level[:, None] / 2 + deviation)
    attack = ratings[0] + style[:, None]
    defence = ratings[1] - style[:, None]
    return attack, defence


def _at(rating: np.ndarray, team: np.ndarray, year_idx: np.ndarray, frac: np.ndarray) -> np.ndarray:
    return rating[team, year_idx] * (1 - frac) + rating[team, year_idx + 1] * frac


def _elite_weights(overall: np.ndarray) -> np.ndarray:
    weights = np.exp(4.0 * (overall - overall.max()))
    return weights


def _pick_in_confederation(
    rng: np.random.Generator,
    conf: np.ndarray,
    conf_start: np.ndarray,
    conf_size: np.ndarray,
    overall: np.ndarray,
    elite: np.ndarray,
) -> np.ndarray:
    uniform = conf_start[conf] + (rng.random(len(conf)) * conf_size[conf]).astype(np.int64)
    strong = _weighted_in_confederation(rng, conf, conf_start, conf_size, overall)
    return np.where(elite, strong, uniform)


def _weighted_in_confederation(
    rng: np.random.Generator, conf: np.ndarray, conf_start: np.ndarray, conf_size: np.ndarray, overall: np.ndarray
) -> np.ndarray:
    picked = np.empty(len(conf), dtype=np.int64)
    for c, (start, size) in enumerate(zip(conf_start, conf_size, strict=True)):
        rows = np.flatnonzero(conf == c)
        weights = _elite_weights(overall[start : start + size])
        picked[rows] = start + rng.choice(size, size=len(rows), p=weights / weights.sum())
    return picked


def _pick_other_in_confederation(
    rng: np.random.Generator,
    conf: np.ndarray,
    conf_start: np.ndarray,
    conf_size: np.ndarray,
    home: np.ndarray,
    overall: np.ndarray,
    elite: np.ndarray,
) -> np.ndarray:
    # Uniform over the other members: draw among size-1 slots and skip the home team's slot.
    slot = (rng.random(len(conf)) * (conf_size[conf] - 1)).astype(np.int64)
    home_slot = home - conf_start[conf]
    uniform = conf_start[conf] + slot + (slot >= home_slot)
    strong = _weighted_in_confederation(rng, conf, conf_start, conf_size, overall)
    clash = strong == home
    strong[clash] = uniform[clash]
    return np.where(elite, strong, uniform)


def _pick_other(
    rng: np.random.Generator, n_teams: int, home: np.ndarray, overall: np.ndarray, elite: np.ndarray
) -> np.ndarray:
    slot = (rng.random(len(home)) * (n_teams - 1)).astype(np.int64)
    uniform = slot + (slot >= home)
    weights = _elite_weights(overall)
    strong = rng.choice(n_teams, size=len(home), p=weights / weights.sum())
    clash = strong == home
    strong[clash] = uniform[clash]
    return np.where(elite, strong, uniform)


def _neutral_host(rng: np.random.Generator, home: np.ndarray, away: np.ndarray, n_teams: int) -> np.ndarray:
    host = (rng.random(len(home)) * n_teams).astype(np.int64)
    taken = (host == home) | (host == away)
    host[taken] = (host[taken] + 1) % n_teams
    taken = (host == home) | (host == away)
    host[taken] = (host[taken] + 1) % n_teams
    return host


def _tournament_names(tier_index: np.ndarray, conf: np.ndarray) -> np.ndarray:
    labels = np.empty((len(TIERS), len(CONFEDERATIONS)), dtype=object)
    for t, tier in enumerate(TIERS):
        for c, confederation in enumerate(CONFEDERATIONS):
            if tier.kind == "qualification":
                labels[t, c] = f"{confederation.cup} qualification"
            elif tier.kind == "cup":
                labels[t, c] = confederation.cup
            elif tier.kind == "Nations League":
                labels[t, c] = f"{confederation.name} Nations League"
            else:
                labels[t, c] = tier.kind
    return labels[tier_index, conf]


def outcome_probabilities(rate_home: np.ndarray, rate_away: np.ndarray) -> np.ndarray:
    """Exact P(home win), P(draw), P(away win) of the Dixon-Coles double Poisson, shape (n, 3).

    Independent Poisson sums over 0..SUM_GOALS (the tail beyond is below 1e-15 for the clipped
    rates), plus the Dixon-Coles corrections of the four low-score cells, which move mass between
    outcomes but keep the total at 1.
    """
    goals = np.arange(SUM_GOALS + 1)
    log_fact = np.cumsum(np.log(np.maximum(goals, 1)))
    out = np.empty((len(rate_home), 3))
    for start in range(0, len(rate_home), _CHUNK):
        lh = rate_home[start : start + _CHUNK]
        la = rate_away[start : start + _CHUNK]
        pmf_home = np.exp(goals * np.log(lh)[:, None] - lh[:, None] - log_fact)
        pmf_away = np.exp(goals * np.log(la)[:, None] - la[:, None] - log_fact)
        cdf_home = np.cumsum(pmf_home, axis=1)
        cdf_away = np.cumsum(pmf_away, axis=1)
        draw = (pmf_home * pmf_away).sum(axis=1)
        home = (pmf_away * (1.0 - cdf_home)).sum(axis=1)
        away = (pmf_home * (1.0 - cdf_away)).sum(axis=1)
        p00 = np.exp(-lh - la)
        rho = DIXON_COLES_RHO
        # cell corrections: (0,0) and (1,1) are draws, (1,0) a home win, (0,1) an away win
        draw += p00 * (-lh * la * rho) + p00 * lh * la * (-rho)
        home += p00 * lh * (la * rho)
        away += p00 * la * (lh * rho)
        block = np.stack([home, draw, away], axis=1)
        out[start : start + _CHUNK] = block / block.sum(axis=1, keepdims=True)
    return out


def dixon_coles_tau(home: np.ndarray, away: np.ndarray, rate_home: np.ndarray, rate_away: np.ndarray) -> np.ndarray:
    """The Dixon-Coles weight of each score (1 outside the four low-score cells)."""
    rho = DIXON_COLES_RHO
    tau = np.ones(len(home))
    tau = np.where((home == 0) & (away == 0), 1.0 - rate_home * rate_away * rho, tau)
    tau = np.where((home == 0) & (away == 1), 1.0 + rate_home * rho, tau)
    tau = np.where((home == 1) & (away == 0), 1.0 + rate_away * rho, tau)
    return np.where((home == 1) & (away == 1), 1.0 - rho, tau)


def _draw_scores(
    rng: np.random.Generator, rate_home: np.ndarray, rate_away: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores by rejection from independent Poisson draws, accepted with probability tau / max(tau).

    That yields exactly the Dixon-Coles distribution whose outcome probabilities
    ``outcome_probabilities`` returns.
    """
    n = len(rate_home)
    home_score = np.empty(n, dtype=np.int64)
    away_score = np.empty(n, dtype=np.int64)
    rho = DIXON_COLES_RHO
    bound = np.maximum.reduce([np.ones(n), 1.0 - rate_home * rate_away * rho, np.full(n, 1.0 - rho)])
    pending = np.arange(n)
    while len(pending):
        lh, la = rate_home[pending], rate_away[pending]
        home = rng.poisson(lh)
        away = rng.poisson(la)
        accept = rng.random(len(pending)) * bound[pending] < dixon_coles_tau(home, away, lh, la)
        home_score[pending[accept]] = home[accept]
        away_score[pending[accept]] = away[accept]
        pending = pending[~accept]
    return home_score, away_score, outcome_probabilities(rate_home, rate_away)
