"""Point-in-time match features: Elo, form, rest, experience, head-to-head, competition tier.

One chronological pass over the canonical table keeps every team's state (Elo rating,
exponentially weighted form, last match day, matches played) and every pairing's
head-to-head record. The features of a match are read from the state *before* its day;
the state is updated only after every match of that day has been read, so matches on the
same day never see each other and nothing dated at or after a match reaches its features.

Serving reads the state at the end of the data through the very same row function
(``_write_row``), so a request's features equal the training features of the same match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, Literal

import numba
import numpy as np
import pandas as pd

from scoreline.core.cores import PARALLEL_ROWS, usable_cores
from scoreline.core.errors import ErrorCode, ScorelineError

FEATURE_NAMES: tuple[str, ...] = (
    "elo_home",
    "elo_away",
    "elo_diff",  # home minus away, plus the home advantage unless neutral
    "elo_expected_home",
    "form_points_home",
    "form_points_away",
    "form_goals_for_home",
    "form_goals_against_home",
    "form_goals_for_away",
    "form_goals_against_away",
    "rest_days_home",
    "rest_days_away",
    "played_home",
    "played_away",
    "goal_rate_home",  # expected goals of the home side from online Poisson attack/defence ratings
    "goal_rate_away",
    "h2h_matches",
    "h2h_home_score",  # (wins + draws / 2) / meetings, from the home side's view
    "h2h_home_goal_diff",  # mean goal difference per meeting, from the home side's view
    "tier",
    "neutral",
    "goal_rate_home_slow",  # the same ratings with a smaller step: less noise, slower to follow change
    "goal_rate_away_slow",
    # Log scale of the goal rates: linear in the ratings, so a logistic prior can use them directly.
    "goal_log_ratio",  # log(goal_rate_home / goal_rate_away)
    "goal_log_ratio_slow",
    "goal_log_total",  # log(goal_rate_home * goal_rate_away): low-scoring matches draw more often
    # Candidate ratings (issue 16): a margin-aware Elo with a learned home advantage per competition tier, K by
    # uncertainty and regression to the mean over idle time; H/D/A of the goal model (Dixon-Coles); congestion.
    "elo2_diff",  # home minus away of the second Elo, plus its learned home advantage of the tier unless neutral
    "home_advantage_elo2",  # that learned home advantage (0 at a neutral venue)
    "goal_p_home",  # Dixon-Coles outcome probabilities of the goal ratings (speed ``outcome_speed``)
    "goal_p_draw",
    "goal_p_away",
    "goal_logit_home_away",  # log(goal_p_home / goal_p_away)
    "goal_logit_draw",  # log(goal_p_draw / (1 - goal_p_draw))
    "congestion_home",  # matches in the recent past, decayed with ``congestion_days``
    "congestion_away",
    # Goal ratings as a Kalman filter: each team's attack/defence has a variance that grows with idle time and
    # shrinks with every match, so a newcomer or a long-idle side moves fast and a regular one steadily.
    "kalman_log_ratio",  # log(expected home goals / expected away goals)
    "kalman_log_total",  # log(expected home goals * expected away goals)
    # The ratio shrunk by its uncertainty (the four ratings' variances): unsure ratings, less extreme odds.
    "kalman_log_ratio_shrunk",
    # Log of the two goal models' mean outcome probabilities (Dixon-Coles on the online and on the Kalman goal
    # ratings): a calibrated forecast by itself, which the logistic prior starts from (``prior_anchor``).
    "goal_logp_home",
    "goal_logp_draw",
    "goal_logp_away",
    # Each team's own venue effect beyond its tier's home advantage (altitude, travel, crowds): a shrunk, decayed
    # mean of the Kalman goal model's goal-difference residuals in its home matches (``venue_edge_home``, of the
    # home side) and in its away matches (``venue_edge_away``, of the away side, from its own view); 0 at a neutral
    # venue.
    "venue_edge_home",
    "venue_edge_away",
)
GOAL_RATING_SPEEDS = 2  # goal-rate feature columns: 14/15 for the first speed, 21/22 for the second
N_FEATURES = len(FEATURE_NAMES)

# Competition tiers, lowest stakes first; the Elo K factor grows with them.
TIER_FRIENDLY = 0
TIER_OTHER = 1
TIER_NATIONS_LEAGUE = 2
TIER_QUALIFIER = 3
TIER_CONTINENTAL = 4
TIER_WORLD_CUP = 5
TIER_NAMES: tuple[str, ...] = (
    "friendly",
    "other tournament",
    "nations league",
    "qualifier",
    "continental finals",
    "world cup",
)

_CONTINENTAL_FINALS = re.compile(
    r"^(uefa euro|copa am[eé]rica|african cup of nations|africa cup of nations|afc asian cup|(concacaf )?gold cup|"
    r"concacaf championship|oceania nations cup|ofc nations cup|confederations cup)$"
)
_WORLD_CUP = re.compile(r"^(fifa )?world cup$")


@lru_cache(maxsize=4096)
def competition_tier(name: str) -> int:
    """Tier of a competition from its name (international results naming, case-insensitive)."""
    text = " ".join(str(name).lower().split())
    if "friendly" in text:
        return TIER_FRIENDLY
    if "qualification" in text or "qualifier" in text:
        return TIER_QUALIFIER
    if "nations league" in text:
        return TIER_NATIONS_LEAGUE
    if _WORLD_CUP.match(text):
        return TIER_WORLD_CUP
    if _CONTINENTAL_FINALS.match(text):
        return TIER_CONTINENTAL
    return TIER_OTHER


_DROPPED_PARAMS = frozenset({"goal_weight_by_tier"})


@dataclass(frozen=True)
class FeatureParams:
    elo_initial: float = 1500.0
    elo_home_advantage: float = 100.0
    k_by_tier: tuple[float, ...] = (20.0, 30.0, 40.0, 40.0, 50.0, 60.0)
    form_decay: float = 0.85  # weight of the previous form per match (half-life about 4 matches)
    goal_learning_rates: tuple[float, ...] = (0.04, 0.012)  # steps of the online Poisson attack/defence ratings
    goal_home_advantage: float = 0.25  # added to the home side's log goal rate unless neutral
    goal_cap: int = 6  # goals above this count as this many in the goal ratings (blowouts)
    # Learned home advantage per competition tier: one step per home match on the residual (0 = fixed).
    goal_home_advantage_rate: float = 0.03  # log goal rate per goal of residual
    elo2_home_advantage_rate: float = 1.0  # Elo points per unit of (result - expected)
    elo2_k_scale: float = 1.0  # the second Elo's K: k_by_tier * this * margin multiplier ...
    elo2_k_uncertainty: float = 3.0  # ... * (1 + this * exp(-played / 10)): newcomers move faster
    elo2_regression: float = 0.0  # per idle year, the share of a rating's distance to the start that fades
    # Goal-rating steps * (1 + this * exp(-played / 10)): newcomers move faster. 2.5 over 5: pre-2018 fold-mean RPS
    # 0.17066 -> 0.17061 with kalman_initial_variance 0.6 (1.0 gave 0.17063).
    goal_rate_uncertainty: float = 2.5
    dixon_coles_rho: float = -0.08
    outcome_speed: int = 1  # which goal-rating speed the outcome probabilities use
    congestion_days: float = 30.0
    # Of a new team's attack and defence (log goal rate), also the cap. 0.6 over 0.3: fold-mean RPS 0.17103 ->
    # 0.17066 on the pre-2018 folds of the international results (0.45 and 0.8 gave 0.17081 and 0.17065).
    kalman_initial_variance: float = 0.6
    kalman_variance_per_year: float = 0.02  # added per idle year: form drifts while a team does not play
    kalman_mu_rate: float = 0.0005  # step of the era's mean log goal rate per goal of residual
    kalman_home_advantage_rate: float = 0.002  # step of each tier's home advantage per home goal of residual
    kalman_goal_cap: int = 10  # goals above this count as this many in the Kalman goal ratings
    # Club leagues (football-data ``Div`` codes): a team entering a division from another one (or new to a
    # division that has already played a season) starts from the learned level of such entrants.
    division_settle_matches: int = 10  # an entrant's ratings after this many matches teach the entry level
    division_memory: float = 0.8  # weight of the earlier entrants in the entry level, per new one
    venue_edge_decay: float = 0.97  # weight of a team's earlier venue residuals per new match at that venue
    venue_edge_prior_matches: float = 10.0  # the venue edge is shrunk to 0 as if this many matches showed none
    # Each team's long-run level: slow Poisson attack/defence ratings (this step per goal of residual). After an
    # idle gap of at least ``longrun_gap_days`` (a season break), the Kalman goal ratings close this share of
    # their distance to it: a one-season surge or slump is trusted less than years of results.
    longrun_rate: float = 0.004
    longrun_share: float = 0.5
    longrun_gap_days: float = 60.0

    def __post_init__(self) -> None:
        if len(self.goal_learning_rates) != GOAL_RATING_SPEEDS or len(self.k_by_tier) != len(TIER_NAMES):
            raise ValueError(
                f"expected {GOAL_RATING_SPEEDS} goal learning rates and {len(TIER_NAMES)} K factors, got "
                f"{self.goal_learning_rates} and {self.k_by_tier}"
            )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["k_by_tier"] = list(self.k_by_tier)
        data["goal_learning_rates"] = list(self.goal_learning_rates)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureParams:
        # Dropped knobs that params saved before still carry: goal_weight_by_tier was 1 for every tier.
        data = {name: value for name, value in data.items() if name not in _DROPPED_PARAMS}
        # Params saved before the long-run levels: their models were trained without the return to it.
        data.setdefault("longrun_share", 0.0)
        tuples = {name: tuple(data[name]) for name in ("k_by_tier", "goal_learning_rates") if name in data}
        return cls(**{**data, **tuples})


@dataclass
class RatingState:
    """Every team's and pairing's state after a prefix of matches; JSON round-trippable."""

    params: FeatureParams
    teams: list[str]
    elo: np.ndarray
    form_weight: np.ndarray
    form_points: np.ndarray
    form_goals_for: np.ndarray
    form_goals_against: np.ndarray
    attack: np.ndarray  # log goal-rate ratings, shape (teams, speeds)
    defence: np.ndarray
    goal_mu: np.ndarray  # shape (speeds,): log goal rate between equal sides at a neutral venue, drifts with the era
    last_day: np.ndarray  # days since 1970-01-01 of the team's last match
    played: np.ndarray
    pair_first: np.ndarray  # team index of each pairing's first side (the lower index)
    pair_second: np.ndarray
    h2h_matches: np.ndarray
    h2h_first_wins: np.ndarray
    h2h_draws: np.ndarray
    h2h_first_goal_diff: np.ndarray
    elo2: np.ndarray | None = None  # the second Elo
    congestion: np.ndarray | None = None  # decayed match count as of each team's last match
    venue: np.ndarray | None = None  # per tier: the second Elo's home advantage, then the goal model's per speed
    # (teams, 10): Kalman goal ratings' attack, defence and their variances; then the venue edges' decayed sums of
    # residuals and their weights, at home and away; then the long-run attack and defence.
    kalman: np.ndarray | None = None
    kalman_global: np.ndarray | None = None  # the Kalman model's mean log goal rate, then each tier's home advantage
    # Club league divisions (football-data ``Div`` codes) and each team's place in them.
    divisions: list[str] = field(default_factory=list)
    team_division: np.ndarray | None = None  # index in ``divisions`` of the team's current division, -1 none
    division_matches: np.ndarray | None = None  # matches since the team entered it
    division_from: np.ndarray | None = None  # the division it came from; -1 new to the data, -2 a founding member
    division_first_day: np.ndarray | None = None  # per division, its first match day (-1 not yet played)
    # Ratings (``_rating_vector`` order) of entrants after settling, per (came from + 1, entered); last column is
    # the weight. ``exit_levels``: ratings of teams as they left each division.
    entry_levels: np.ndarray | None = None
    exit_levels: np.ndarray | None = None
    as_of: str | None = None  # date of the last match in the state
    team_index: dict[str, int] = field(default_factory=dict, repr=False)
    pair_index: dict[tuple[int, int], int] = field(default_factory=dict, repr=False)
    # Vectorized lookups for serving: team name → index, pair key (first * teams + second) → pair index.
    team_lookup: pd.Index = field(default_factory=lambda: pd.Index([], dtype=object), repr=False)
    pair_lookup: pd.Index = field(default_factory=lambda: pd.Index([], dtype=np.int64), repr=False)
    division_lookup: pd.Index = field(default_factory=lambda: pd.Index([], dtype=object), repr=False)
    division_index: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        n_teams, speeds = len(self.teams), len(self.goal_mu)
        if self.elo2 is None:
            self.elo2 = np.full(n_teams, self.params.elo_initial)
        if self.congestion is None:
            self.congestion = np.zeros(n_teams)
        if self.venue is None:
            self.venue = initial_venue(self.params, speeds)
        if self.kalman is None:
            self.kalman = np.zeros((n_teams, _KALMAN_COLUMNS))
            self.kalman[:, _KALMAN_VAR_ATTACK : _KALMAN_VAR_DEFENCE + 1] = self.params.kalman_initial_variance
        if self.kalman_global is None:
            self.kalman_global = np.concatenate([[0.3], np.full(len(TIER_NAMES), self.params.goal_home_advantage)])
        n_divisions, ratings = len(self.divisions), n_ratings(speeds)
        if self.team_division is None:
            self.team_division = np.full(n_teams, -1, dtype=np.int64)
        if self.division_matches is None:
            self.division_matches = np.zeros(n_teams, dtype=np.int64)
        if self.division_from is None:
            self.division_from = np.full(n_teams, -1, dtype=np.int64)
        if self.division_first_day is None:
            self.division_first_day = np.full(n_divisions, -1, dtype=np.int64)
        if self.entry_levels is None:
            self.entry_levels = np.zeros((n_divisions + 1, n_divisions, ratings + 1))
        if self.exit_levels is None:
            self.exit_levels = np.zeros((n_divisions, ratings + 1))
        self.division_lookup = pd.Index(self.divisions, dtype=object)
        self.division_index = {name: i for i, name in enumerate(self.divisions)}
        self.team_index = {name: i for i, name in enumerate(self.teams)}
        self.pair_index = {
            (int(a), int(b)): i for i, (a, b) in enumerate(zip(self.pair_first, self.pair_second, strict=True))
        }
        self.team_lookup = pd.Index(self.teams, dtype=object)
        keys = np.asarray(self.pair_first, dtype=np.int64) * max(len(self.teams), 1) + np.asarray(
            self.pair_second, dtype=np.int64
        )
        self.pair_lookup = pd.Index(keys, dtype=np.int64)

    def to_json(self) -> dict[str, Any]:
        teams = {
            name: {
                "elo": float(self.elo[i]),
                "form_weight": float(self.form_weight[i]),
                "form_points": float(self.form_points[i]),
                "form_goals_for": float(self.form_goals_for[i]),
                "form_goals_against": float(self.form_goals_against[i]),
                "attack": self.attack[i].tolist(),
                "defence": self.defence[i].tolist(),
                "last_date": _day_to_iso(int(self.last_day[i])) if self.played[i] > 0 else None,
                "played": int(self.played[i]),
                "elo2": float(self.elo2[i]),  # type: ignore[index]
                "congestion": float(self.congestion[i]),  # type: ignore[index]
                "kalman": self.kalman[i].tolist(),  # type: ignore[index]
                "division": self._division_name(int(self.team_division[i])),  # type: ignore[index]
                "division_matches": int(self.division_matches[i]),  # type: ignore[index]
                "division_from": int(self.division_from[i]),  # type: ignore[index]
            }
            for i, name in enumerate(self.teams)
        }
        h2h = [
            [
                self.teams[int(self.pair_first[p])],
                self.teams[int(self.pair_second[p])],
                int(self.h2h_matches[p]),
                int(self.h2h_first_wins[p]),
                int(self.h2h_draws[p]),
                int(self.h2h_first_goal_diff[p]),
            ]
            for p in range(len(self.pair_first))
        ]
        return {
            "format": "match-outcome-state/1",
            "as_of": self.as_of,
            "goal_mu": self.goal_mu.tolist(),
            "venue": self.venue.tolist(),  # type: ignore[union-attr]
            "kalman_global": self.kalman_global.tolist(),  # type: ignore[union-attr]
            "divisions": list(self.divisions),
            "division_first_day": self.division_first_day.tolist(),  # type: ignore[union-attr]
            "entry_levels": self.entry_levels.tolist(),  # type: ignore[union-attr]
            "exit_levels": self.exit_levels.tolist(),  # type: ignore[union-attr]
            "params": self.params.to_json(),
            "teams": teams,
            "h2h_columns": ["team_a", "team_b", "matches", "team_a_wins", "draws", "team_a_goal_diff"],
            "h2h": h2h,
        }

    def _division_name(self, index: int) -> str | None:
        return self.divisions[index] if index >= 0 else None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RatingState:
        names = list(data["teams"])
        divisions = list(data.get("divisions", []))
        division_index = {name: i for i, name in enumerate(divisions)}
        speeds = len(data["goal_mu"])
        rows = [data["teams"][name] for name in names]
        index = {name: i for i, name in enumerate(names)}
        h2h = data["h2h"]
        firsts = np.array([index[row[0]] for row in h2h], dtype=np.int64)
        seconds = np.array([index[row[1]] for row in h2h], dtype=np.int64)
        swap = firsts > seconds  # keep the invariant first < second, whatever order the JSON used
        wins = np.array([row[3] for row in h2h], dtype=np.int64)
        matches = np.array([row[2] for row in h2h], dtype=np.int64)
        draws = np.array([row[4] for row in h2h], dtype=np.int64)
        goal_diff = np.array([row[5] for row in h2h], dtype=np.int64)
        return cls(
            params=FeatureParams.from_json(data["params"]),
            teams=names,
            elo=np.array([r["elo"] for r in rows], dtype=np.float64),
            form_weight=np.array([r["form_weight"] for r in rows], dtype=np.float64),
            form_points=np.array([r["form_points"] for r in rows], dtype=np.float64),
            form_goals_for=np.array([r["form_goals_for"] for r in rows], dtype=np.float64),
            form_goals_against=np.array([r["form_goals_against"] for r in rows], dtype=np.float64),
            attack=np.array([r["attack"] for r in rows], dtype=np.float64).reshape(len(rows), speeds),
            defence=np.array([r["defence"] for r in rows], dtype=np.float64).reshape(len(rows), speeds),
            goal_mu=np.array(data["goal_mu"], dtype=np.float64),
            last_day=np.array([_iso_to_day(r["last_date"]) if r["last_date"] else 0 for r in rows], dtype=np.int64),
            played=np.array([r["played"] for r in rows], dtype=np.int64),
            pair_first=np.where(swap, seconds, firsts),
            pair_second=np.where(swap, firsts, seconds),
            h2h_matches=matches,
            h2h_first_wins=np.where(swap, matches - wins - draws, wins),
            h2h_draws=draws,
            h2h_first_goal_diff=np.where(swap, -goal_diff, goal_diff),
            elo2=np.array([r.get("elo2", r["elo"]) for r in rows], dtype=np.float64),
            congestion=np.array([r.get("congestion", 0.0) for r in rows], dtype=np.float64),
            venue=np.array(data["venue"], dtype=np.float64) if "venue" in data else None,
            kalman=_kalman_columns([r["kalman"] for r in rows]) if "kalman_global" in data else None,
            kalman_global=np.array(data["kalman_global"], dtype=np.float64) if "kalman_global" in data else None,
            divisions=divisions,
            team_division=np.array([division_index.get(r.get("division"), -1) for r in rows], dtype=np.int64),
            division_matches=np.array([r.get("division_matches", 0) for r in rows], dtype=np.int64),
            division_from=np.array([r.get("division_from", -1) for r in rows], dtype=np.int64),
            division_first_day=np.array(data["division_first_day"], dtype=np.int64) if divisions else None,
            entry_levels=np.array(data["entry_levels"], dtype=np.float64).reshape(
                len(divisions) + 1, len(divisions), n_ratings(speeds) + 1
            )
            if divisions
            else None,
            exit_levels=np.array(data["exit_levels"], dtype=np.float64).reshape(len(divisions), n_ratings(speeds) + 1)
            if divisions
            else None,
            as_of=data.get("as_of"),
        )


def n_ratings(speeds: int) -> int:
    """Length of a team's rating vector (``_rating_vector``): both Elos, the goal ratings, the Kalman means."""
    return 4 + 2 * speeds


_LEAGUE_DIVISION = re.compile(r"^[A-Z]{1,3}(\d|C)$")  # football-data Div codes: E0, E1, EC, SC0, SP1, D1, ...


@lru_cache(maxsize=4096)
def league_division(name: str) -> bool:
    """Whether a competition name is a club league division (a football-data.co.uk ``Div`` code)."""
    return bool(_LEAGUE_DIVISION.match(str(name).strip()))


def initial_venue(params: FeatureParams, speeds: int) -> np.ndarray:
    venue = np.empty((len(TIER_NAMES), 1 + speeds))
    venue[:, 0] = params.elo_home_advantage
    venue[:, 1:] = params.goal_home_advantage
    return venue


def _extra_params(params: FeatureParams) -> np.ndarray:
    """The candidate ratings' parameters as the kernel reads them (``_X_*`` indices)."""
    return np.array(
        [
            params.dixon_coles_rho,
            float(params.outcome_speed),
            params.elo2_regression,
            params.congestion_days,
            params.elo2_home_advantage_rate,
            params.goal_home_advantage_rate,
            params.elo2_k_scale,
            params.elo2_k_uncertainty,
            params.goal_rate_uncertainty,
            params.kalman_initial_variance,
            params.kalman_variance_per_year,
            params.kalman_mu_rate,
            params.kalman_home_advantage_rate,
            float(params.division_settle_matches),
            params.division_memory,
            float(params.kalman_goal_cap),
            params.venue_edge_decay,
            params.venue_edge_prior_matches,
            params.longrun_rate,
            params.longrun_share,
            params.longrun_gap_days,
        ]
    )


_X_RHO, _X_SPEED, _X_REGRESSION, _X_CONGESTION, _X_ELO2_HA_RATE, _X_GOAL_HA_RATE = range(6)
_X_K2, _X_K2_NEW, _X_GOAL_NEW = range(6, 9)
_X_KALMAN_V0, _X_KALMAN_Q, _X_KALMAN_MU, _X_KALMAN_HA, _X_SETTLE, _X_MEMORY, _X_KALMAN_CAP = range(9, 16)
_X_EDGE_DECAY, _X_EDGE_PRIOR = 16, 17
_X_LONG_RATE, _X_LONG_SHARE, _X_LONG_GAP = 18, 19, 20
_KALMAN_ATTACK, _KALMAN_DEFENCE, _KALMAN_VAR_ATTACK, _KALMAN_VAR_DEFENCE = range(4)
_EDGE_HOME_SUM, _EDGE_HOME_WEIGHT, _EDGE_AWAY_SUM, _EDGE_AWAY_WEIGHT = range(4, 8)
_LONG_ATTACK, _LONG_DEFENCE = 8, 9
_KALMAN_COLUMNS = 10


def _kalman_columns(rows: list[list[float]]) -> np.ndarray:
    """The stored Kalman rows as an array with every column this code keeps (states saved before the venue
    edges have 4, before the long-run levels 8: the missing columns start at 0)."""
    kalman = np.zeros((len(rows), _KALMAN_COLUMNS))
    for i, row in enumerate(rows):
        kalman[i, : len(row)] = row
    return kalman


_FOUNDING_DAYS = 180  # teams first seen this soon after a division's first match are its founders, not entrants


# ---- the kernel ----------------------------------------------------------------------------


@numba.njit(cache=True)
def _write_row(
    out: np.ndarray,
    row: int,
    home: int,
    away: int,
    day: int,
    neutral: bool,
    tier: int,
    pair: int,
    home_is_first: bool,
    elo: np.ndarray,
    form_weight: np.ndarray,
    form_points: np.ndarray,
    form_goals_for: np.ndarray,
    form_goals_against: np.ndarray,
    attack: np.ndarray,
    defence: np.ndarray,
    goal_mu: np.ndarray,
    last_day: np.ndarray,
    played: np.ndarray,
    h2h_matches: np.ndarray,
    h2h_first_wins: np.ndarray,
    h2h_draws: np.ndarray,
    h2h_first_goal_diff: np.ndarray,
    elo_initial: float,
    home_advantage: float,
    elo2: np.ndarray,
    congestion: np.ndarray,
    venue: np.ndarray,
    xp: np.ndarray,
    kalman: np.ndarray,
    kalman_global: np.ndarray,
    team_division: np.ndarray,
) -> None:
    """Features of one match from the state as it is; a team or pair index below 0 means never seen."""
    nan = np.nan
    for side in range(2):
        team = home if side == 0 else away
        if team >= 0 and played[team] > 0:
            rating = elo[team]
            weight = form_weight[team]
            points = form_points[team] / weight
            goals_for = form_goals_for[team] / weight
            goals_against = form_goals_against[team] / weight
            rest = float(max(day - last_day[team], 0))
            count = float(played[team])
        else:
            rating = elo_initial if team < 0 else elo[team]
            points = nan
            goals_for = nan
            goals_against = nan
            rest = nan
            count = 0.0
        out[row, side] = rating
        out[row, 4 + side] = points
        out[row, 6 + 2 * side] = goals_for
        out[row, 7 + 2 * side] = goals_against
        out[row, 10 + side] = rest
        out[row, 12 + side] = count
    diff = out[row, 0] - out[row, 1] + (0.0 if neutral else home_advantage)
    out[row, 2] = diff
    out[row, 3] = 1.0 / (1.0 + 10.0 ** (-diff / 400.0))
    for speed in range(goal_mu.shape[0]):
        at_venue = 0.0 if neutral else venue[tier, 1 + speed]
        attack_home = attack[home, speed] if home >= 0 else 0.0
        attack_away = attack[away, speed] if away >= 0 else 0.0
        defence_home = defence[home, speed] if home >= 0 else 0.0
        defence_away = defence[away, speed] if away >= 0 else 0.0
        column_home = 14 if speed == 0 else 19 + 2 * speed
        out[row, column_home] = np.exp(goal_mu[speed] + at_venue + attack_home - defence_away)
        out[row, column_home + 1] = np.exp(goal_mu[speed] + attack_away - defence_home)
        out[row, 23 + speed] = at_venue + attack_home - defence_away - attack_away + defence_home
        if speed == 0:
            out[row, 25] = 2.0 * goal_mu[speed] + at_venue + attack_home - defence_away + attack_away - defence_home
    if pair >= 0 and h2h_matches[pair] > 0:
        meetings = h2h_matches[pair]
        first_wins = h2h_first_wins[pair]
        draws = h2h_draws[pair]
        home_wins = first_wins if home_is_first else meetings - first_wins - draws
        goal_diff = h2h_first_goal_diff[pair] if home_is_first else -h2h_first_goal_diff[pair]
        out[row, 16] = float(meetings)
        out[row, 17] = (home_wins + 0.5 * draws) / meetings
        out[row, 18] = goal_diff / meetings
    else:
        out[row, 16] = 0.0
        out[row, 17] = nan
        out[row, 18] = nan
    out[row, 19] = float(tier)
    out[row, 20] = 1.0 if neutral else 0.0
    # The second Elo: ratings fade towards the start over idle time, home advantage learned per tier.
    advantage = 0.0 if neutral else venue[tier, 0]
    out[row, 26] = (
        _faded(elo2, played, last_day, home, day, xp[_X_REGRESSION], elo_initial)
        - _faded(elo2, played, last_day, away, day, xp[_X_REGRESSION], elo_initial)
        + advantage
    )
    out[row, 27] = advantage
    # Dixon-Coles outcome probabilities of the goal ratings at one speed.
    speed = min(int(xp[_X_SPEED]), goal_mu.shape[0] - 1)
    column_home = 14 if speed == 0 else 19 + 2 * speed
    p_home, p_draw, p_away = _dixon_coles(out[row, column_home], out[row, column_home + 1], xp[_X_RHO])
    out[row, 28] = p_home
    out[row, 29] = p_draw
    out[row, 30] = p_away
    out[row, 31] = np.log(p_home / p_away)
    out[row, 32] = np.log(p_draw / (1.0 - p_draw))
    for side in range(2):
        team = home if side == 0 else away
        load = 0.0
        if team >= 0 and played[team] > 0:
            load = congestion[team] * np.exp(-max(day - last_day[team], 0) / xp[_X_CONGESTION])
        out[row, 33 + side] = load
    advantage = 0.0 if neutral else kalman_global[1 + tier]
    attack_home = _kalman_mean(kalman, played, last_day, team_division, home, _KALMAN_ATTACK, day, xp)
    defence_home = _kalman_mean(kalman, played, last_day, team_division, home, _KALMAN_DEFENCE, day, xp)
    attack_away = _kalman_mean(kalman, played, last_day, team_division, away, _KALMAN_ATTACK, day, xp)
    defence_away = _kalman_mean(kalman, played, last_day, team_division, away, _KALMAN_DEFENCE, day, xp)
    log_home = kalman_global[0] + advantage + attack_home - defence_away
    log_away = kalman_global[0] + attack_away - defence_home
    out[row, 35] = log_home - log_away
    out[row, 36] = log_home + log_away
    variance = 0.0
    for team in (home, away):
        for column in (_KALMAN_VAR_ATTACK, _KALMAN_VAR_DEFENCE):
            variance += _kalman_variance(kalman, played, last_day, team, column, day, xp)
    out[row, 37] = out[row, 35] / np.sqrt(1.0 + variance)
    k_home, k_draw, k_away = _dixon_coles(np.exp(log_home), np.exp(log_away), xp[_X_RHO])
    out[row, 38] = np.log(max(0.5 * (p_home + k_home), 1e-9))
    out[row, 39] = np.log(max(0.5 * (p_draw + k_draw), 1e-9))
    out[row, 40] = np.log(max(0.5 * (p_away + k_away), 1e-9))
    out[row, 41] = 0.0
    out[row, 42] = 0.0
    if not neutral:
        if home >= 0:
            out[row, 41] = kalman[home, _EDGE_HOME_SUM] / (kalman[home, _EDGE_HOME_WEIGHT] + xp[_X_EDGE_PRIOR])
        if away >= 0:
            out[row, 42] = kalman[away, _EDGE_AWAY_SUM] / (kalman[away, _EDGE_AWAY_WEIGHT] + xp[_X_EDGE_PRIOR])


@numba.njit(cache=True)
def _kalman_mean(
    kalman: np.ndarray,
    played: np.ndarray,
    last_day: np.ndarray,
    team_division: np.ndarray,
    team: int,
    column: int,
    day: int,
    xp: np.ndarray,
) -> float:
    """A Kalman rating's mean on ``day``: a team in a league division, back after an idle gap of ``_X_LONG_GAP``
    days or more (a season break), has closed ``_X_LONG_SHARE`` of its distance to its long-run level. National
    teams are idle for months between every window: theirs stays."""
    if team < 0:
        return 0.0
    mean = kalman[team, column]
    if team_division[team] >= 0 and played[team] > 0 and day - last_day[team] >= xp[_X_LONG_GAP]:
        level = kalman[team, _LONG_ATTACK if column == _KALMAN_ATTACK else _LONG_DEFENCE]
        mean += xp[_X_LONG_SHARE] * (level - mean)
    return mean


@numba.njit(cache=True)
def _kalman_variance(
    kalman: np.ndarray, played: np.ndarray, last_day: np.ndarray, team: int, column: int, day: int, xp: np.ndarray
) -> float:
    """A Kalman rating's variance on ``day``: it grows with idle years, up to the initial variance."""
    if team < 0:
        return xp[_X_KALMAN_V0]
    variance = kalman[team, column]
    if played[team] > 0:
        variance += xp[_X_KALMAN_Q] * max(day - last_day[team], 0) / 365.25
    return min(variance, xp[_X_KALMAN_V0])


@numba.njit(cache=True)
def _rating_vector(
    team: int, elo: np.ndarray, elo2: np.ndarray, attack: np.ndarray, defence: np.ndarray, kalman: np.ndarray
) -> np.ndarray:
    """A team's ratings as one vector: Elo, second Elo, goal attack per speed, defence per speed, Kalman means."""
    speeds = attack.shape[1]
    vector = np.empty(4 + 2 * speeds)
    vector[0] = elo[team]
    vector[1] = elo2[team]
    vector[2 : 2 + speeds] = attack[team]
    vector[2 + speeds : 2 + 2 * speeds] = defence[team]
    vector[2 + 2 * speeds] = kalman[team, _KALMAN_ATTACK]
    vector[3 + 2 * speeds] = kalman[team, _KALMAN_DEFENCE]
    return vector


@numba.njit(cache=True)
def _set_ratings(
    team: int,
    vector: np.ndarray,
    elo: np.ndarray,
    elo2: np.ndarray,
    attack: np.ndarray,
    defence: np.ndarray,
    kalman: np.ndarray,
) -> None:
    speeds = attack.shape[1]
    elo[team] = vector[0]
    elo2[team] = vector[1]
    attack[team] = vector[2 : 2 + speeds]
    defence[team] = vector[2 + speeds : 2 + 2 * speeds]
    kalman[team, _KALMAN_ATTACK] = vector[2 + 2 * speeds]
    kalman[team, _KALMAN_DEFENCE] = vector[3 + 2 * speeds]


@numba.njit(cache=True)
def _learn_level(level: np.ndarray, vector: np.ndarray, memory: float) -> None:
    """Exponentially weighted mean of rating vectors in ``level[:-1]``, its weight in ``level[-1]``."""
    kept = memory * level[-1]
    level[-1] = kept + 1.0
    level[:-1] = (kept * level[:-1] + vector) / level[-1]


@numba.njit(cache=True)
def _entry_level(came_from: int, entered: int, entry_levels: np.ndarray, exit_levels: np.ndarray) -> np.ndarray:
    """Where an entrant's ratings start: the learned level of earlier entrants from the same place, else the
    ratings of teams as they left the division it enters (the sides it replaces); empty when neither is known."""
    if entry_levels[came_from + 1, entered, -1] > 0.0:
        return entry_levels[came_from + 1, entered, :-1]
    if exit_levels[entered, -1] > 0.0:
        return exit_levels[entered, :-1]
    return np.empty(0)


@numba.njit(cache=True)
def _enter_division(
    team: int,
    entered: int,
    day: int,
    elo: np.ndarray,
    elo2: np.ndarray,
    attack: np.ndarray,
    defence: np.ndarray,
    kalman: np.ndarray,
    team_division: np.ndarray,
    division_matches: np.ndarray,
    division_from: np.ndarray,
    division_first_day: np.ndarray,
    entry_levels: np.ndarray,
    exit_levels: np.ndarray,
    xp: np.ndarray,
) -> None:
    """A team's first match in a league division: it leaves its old one and starts from the entry level."""
    came_from = team_division[team]
    team_division[team] = entered
    division_matches[team] = 0
    if day - division_first_day[entered] <= _FOUNDING_DAYS:
        division_from[team] = -2  # in the division's first season: a founding member, no entrant
        return
    division_from[team] = came_from
    level = _entry_level(came_from, entered, entry_levels, exit_levels)
    if level.shape[0]:
        _start_from(team, level, elo, elo2, attack, defence, kalman, xp)


@numba.njit(cache=True)
def _start_from(
    team: int,
    level: np.ndarray,
    elo: np.ndarray,
    elo2: np.ndarray,
    attack: np.ndarray,
    defence: np.ndarray,
    kalman: np.ndarray,
    xp: np.ndarray,
) -> None:
    _set_ratings(team, level, elo, elo2, attack, defence, kalman)
    kalman[team, _LONG_ATTACK] = kalman[team, _KALMAN_ATTACK]  # its long-run level: that of such entrants
    kalman[team, _LONG_DEFENCE] = kalman[team, _KALMAN_DEFENCE]
    floor = 0.5 * xp[_X_KALMAN_V0]  # an entrant's goal ratings are uncertain again
    kalman[team, _KALMAN_VAR_ATTACK] = max(kalman[team, _KALMAN_VAR_ATTACK], floor)
    kalman[team, _KALMAN_VAR_DEFENCE] = max(kalman[team, _KALMAN_VAR_DEFENCE], floor)


@numba.njit(cache=True)
def _faded(
    elo2: np.ndarray, played: np.ndarray, last_day: np.ndarray, team: int, day: int, fade: float, initial: float
) -> float:
    """A team's second-Elo rating on ``day``: its distance to the start fades with idle time (``fade`` per year)."""
    if team < 0:
        return initial
    rating = elo2[team]
    if played[team] > 0 and fade > 0.0:
        idle_years = max(day - last_day[team], 0) / 365.25
        rating = initial + (rating - initial) * np.exp(-fade * idle_years)
    return rating


@numba.njit(cache=True)
def _dixon_coles(rate_home: float, rate_away: float, rho: float) -> tuple[float, float, float]:
    """P(home win), P(draw), P(away win) of a Dixon-Coles double Poisson (scores to 15 each)."""
    pmf_home = np.empty(16)
    pmf_away = np.empty(16)
    pmf_home[0] = np.exp(-rate_home)
    pmf_away[0] = np.exp(-rate_away)
    for goals in range(1, 16):
        pmf_home[goals] = pmf_home[goals - 1] * rate_home / goals
        pmf_away[goals] = pmf_away[goals - 1] * rate_away / goals
    home = 0.0
    draw = 0.0
    away = 0.0
    for h in range(16):
        for a in range(16):
            cell = pmf_home[h] * pmf_away[a]
            if h == 0 and a == 0:
                cell *= 1.0 - rate_home * rate_away * rho
            elif h == 0 and a == 1:
                cell *= 1.0 + rate_home * rho
            elif h == 1 and a == 0:
                cell *= 1.0 + rate_away * rho
            elif h == 1 and a == 1:
                cell *= 1.0 - rho
            if h > a:
                home += cell
            elif h == a:
                draw += cell
            else:
                away += cell
    total = home + draw + away
    floor = 1e-6
    return max(home / total, floor), max(draw / total, floor), max(away / total, floor)


@numba.njit(cache=True)
def _goal_multiplier(goal_diff: int) -> float:
    margin = abs(goal_diff)
    if margin <= 1:
        return 1.0
    if margin == 2:
        return 1.5
    return 1.75 + (margin - 3) / 8.0


@numba.njit(cache=True)
def _pass(
    home: np.ndarray,
    away: np.ndarray,
    day: np.ndarray,
    home_score: np.ndarray,
    away_score: np.ndarray,
    neutral: np.ndarray,
    tier: np.ndarray,
    pair: np.ndarray,
    home_is_first: np.ndarray,
    elo: np.ndarray,
    form_weight: np.ndarray,
    form_points: np.ndarray,
    form_goals_for: np.ndarray,
    form_goals_against: np.ndarray,
    attack: np.ndarray,
    defence: np.ndarray,
    goal_mu: np.ndarray,
    last_day: np.ndarray,
    played: np.ndarray,
    h2h_matches: np.ndarray,
    h2h_first_wins: np.ndarray,
    h2h_draws: np.ndarray,
    h2h_first_goal_diff: np.ndarray,
    elo_initial: float,
    home_advantage: float,
    elo2: np.ndarray,
    congestion: np.ndarray,
    venue: np.ndarray,
    xp: np.ndarray,
    kalman: np.ndarray,
    kalman_global: np.ndarray,
    division: np.ndarray,
    team_division: np.ndarray,
    division_matches: np.ndarray,
    division_from: np.ndarray,
    division_first_day: np.ndarray,
    entry_levels: np.ndarray,
    exit_levels: np.ndarray,
    k_by_tier: np.ndarray,
    form_decay: float,
    goal_learning_rates: np.ndarray,
    goal_cap: int,
    out: np.ndarray,
) -> None:
    """Rows must be sorted by day. Reads a whole day's features, then applies that day's results."""
    n = home.shape[0]
    start = 0
    while start < n:
        stop = start
        while stop < n and day[stop] == day[start]:
            stop += 1
        # Entrants start from the levels as they were before the day; who left where is learned after it.
        leavers = np.empty((2 * (stop - start), 1 + 4 + 2 * attack.shape[1]))
        n_leavers = 0
        for i in range(start, stop):
            entered = division[i]
            if entered < 0:
                continue
            if division_first_day[entered] < 0:
                division_first_day[entered] = day[i]
            for team in (home[i], away[i]):
                if team_division[team] != entered:
                    if team_division[team] >= 0:
                        leavers[n_leavers, 0] = team_division[team]
                        leavers[n_leavers, 1:] = _rating_vector(team, elo, elo2, attack, defence, kalman)
                        n_leavers += 1
                    _enter_division(
                        team, entered, day[i], elo, elo2, attack, defence, kalman, team_division, division_matches,
                        division_from, division_first_day, entry_levels, exit_levels, xp,
                    )  # fmt: skip
        for k in range(n_leavers):
            _learn_level(exit_levels[int(leavers[k, 0])], leavers[k, 1:], xp[_X_MEMORY])
        for i in range(start, stop):
            _write_row(
                out, i, home[i], away[i], day[i], neutral[i], tier[i], pair[i], home_is_first[i],
                elo, form_weight, form_points, form_goals_for, form_goals_against, attack, defence, goal_mu,
                last_day, played, h2h_matches, h2h_first_wins, h2h_draws, h2h_first_goal_diff, elo_initial,
                home_advantage, elo2, congestion, venue, xp, kalman, kalman_global, team_division,
            )  # fmt: skip
        for i in range(start, stop):
            h = home[i]
            a = away[i]
            gh = home_score[i]
            ga = away_score[i]
            # Elo from the ratings as read before the day, so same-day order does not matter for it.
            expected = out[i, 3]
            result = 1.0 if gh > ga else (0.5 if gh == ga else 0.0)
            delta = k_by_tier[tier[i]] * _goal_multiplier(gh - ga) * (result - expected)
            elo[h] += delta
            elo[a] -= delta
            # The second Elo: from the faded ratings, K larger for newcomers, home advantage learned per tier.
            expected2 = 1.0 / (1.0 + 10.0 ** (-out[i, 26] / 400.0))
            base_k = k_by_tier[tier[i]] * xp[_X_K2] * _goal_multiplier(gh - ga) * (result - expected2)
            faded_home = _faded(elo2, played, last_day, h, day[i], xp[_X_REGRESSION], elo_initial)
            faded_away = _faded(elo2, played, last_day, a, day[i], xp[_X_REGRESSION], elo_initial)
            elo2[h] = faded_home + base_k * (1.0 + xp[_X_K2_NEW] * np.exp(-played[h] / 10.0))
            elo2[a] = faded_away - base_k * (1.0 + xp[_X_K2_NEW] * np.exp(-played[a] / 10.0))
            if not neutral[i]:
                venue[tier[i], 0] += xp[_X_ELO2_HA_RATE] * (result - expected2)
            for side in range(2):
                team = h if side == 0 else a
                gap = max(day[i] - last_day[team], 0) if played[team] > 0 else 0
                congestion[team] = congestion[team] * np.exp(-gap / xp[_X_CONGESTION]) + 1.0
            # Poisson attack/defence ratings: one gradient step on the log-likelihood of the score.
            for speed in range(goal_mu.shape[0]):
                rate = goal_learning_rates[speed]
                column_home = 14 if speed == 0 else 19 + 2 * speed
                residual_home = min(gh, goal_cap) - out[i, column_home]
                residual_away = min(ga, goal_cap) - out[i, column_home + 1]
                rate_home = rate * (1.0 + xp[_X_GOAL_NEW] * np.exp(-played[h] / 10.0))
                rate_away = rate * (1.0 + xp[_X_GOAL_NEW] * np.exp(-played[a] / 10.0))
                attack[h, speed] += rate_home * residual_home
                defence[a, speed] -= rate_away * residual_home
                attack[a, speed] += rate_away * residual_away
                defence[h, speed] -= rate_home * residual_away
                goal_mu[speed] += 0.02 * rate * (residual_home + residual_away)
                if not neutral[i]:
                    venue[tier[i], 1 + speed] += xp[_X_GOAL_HA_RATE] * rate * residual_home
            kalman_cap = int(xp[_X_KALMAN_CAP])
            _kalman_update(i, h, a, day[i], min(gh, kalman_cap), min(ga, kalman_cap), neutral[i], tier[i], out,
                           kalman, kalman_global, last_day, played, team_division, xp)  # fmt: skip
            if division[i] >= 0:
                for team in (h, a):
                    division_matches[team] += 1
                    if division_matches[team] == int(xp[_X_SETTLE]) and division_from[team] >= -1:
                        _learn_level(
                            entry_levels[division_from[team] + 1, team_division[team]],
                            _rating_vector(team, elo, elo2, attack, defence, kalman),
                            xp[_X_MEMORY],
                        )
            points_home = 3.0 if gh > ga else (1.0 if gh == ga else 0.0)
            points_away = 3.0 if ga > gh else (1.0 if gh == ga else 0.0)
            form_weight[h] = form_decay * form_weight[h] + 1.0
            form_points[h] = form_decay * form_points[h] + points_home
            form_goals_for[h] = form_decay * form_goals_for[h] + gh
            form_goals_against[h] = form_decay * form_goals_against[h] + ga
            form_weight[a] = form_decay * form_weight[a] + 1.0
            form_points[a] = form_decay * form_points[a] + points_away
            form_goals_for[a] = form_decay * form_goals_for[a] + ga
            form_goals_against[a] = form_decay * form_goals_against[a] + gh
            last_day[h] = day[i]
            last_day[a] = day[i]
            played[h] += 1
            played[a] += 1
            p = pair[i]
            h2h_matches[p] += 1
            if gh == ga:
                h2h_draws[p] += 1
            elif (gh > ga) == home_is_first[i]:
                h2h_first_wins[p] += 1
            h2h_first_goal_diff[p] += (gh - ga) if home_is_first[i] else (ga - gh)
        start = stop


@numba.njit(cache=True)
def _kalman_update(
    row: int,
    home: int,
    away: int,
    day: int,
    goals_home: int,
    goals_away: int,
    neutral: bool,
    tier: int,
    out: np.ndarray,
    kalman: np.ndarray,
    kalman_global: np.ndarray,
    last_day: np.ndarray,
    played: np.ndarray,
    team_division: np.ndarray,
    xp: np.ndarray,
) -> None:
    """One extended-Kalman step of the Poisson goal ratings on a score (before ``last_day`` moves to ``day``).

    Each score is a Poisson count with log rate ``eta``; linearised, it is an observation of ``eta`` with
    variance ``1 / rate``. The gain splits the step between the scorer's attack and the other side's defence
    by their variances, which grow by ``_X_KALMAN_Q`` per idle year (capped at the initial variance)."""
    for team in (home, away):
        for column in (_KALMAN_VAR_ATTACK, _KALMAN_VAR_DEFENCE):
            kalman[team, column] = _kalman_variance(kalman, played, last_day, team, column, day, xp)
        for column in (_KALMAN_ATTACK, _KALMAN_DEFENCE):
            kalman[team, column] = _kalman_mean(kalman, played, last_day, team_division, team, column, day, xp)
    # The long-run levels: a slow Poisson step on the score, from their own expected goals.
    advantage = 0.0 if neutral else kalman_global[1 + tier]
    for side in range(2):
        scorer, other = (home, away) if side == 0 else (away, home)
        log_rate = kalman_global[0] + kalman[scorer, _LONG_ATTACK] - kalman[other, _LONG_DEFENCE]
        if side == 0:
            log_rate += advantage
        residual = (goals_home if side == 0 else goals_away) - np.exp(log_rate)
        kalman[scorer, _LONG_ATTACK] += xp[_X_LONG_RATE] * residual
        kalman[other, _LONG_DEFENCE] -= xp[_X_LONG_RATE] * residual
    log_home = 0.5 * (out[row, 36] + out[row, 35])
    log_away = 0.5 * (out[row, 36] - out[row, 35])
    residual_home = 0.0
    residual_away = 0.0
    for side in range(2):
        scorer, other = (home, away) if side == 0 else (away, home)
        rate = np.exp(log_home if side == 0 else log_away)
        residual = (goals_home if side == 0 else goals_away) - rate
        var_attack = kalman[scorer, _KALMAN_VAR_ATTACK]
        var_defence = kalman[other, _KALMAN_VAR_DEFENCE]
        denominator = (var_attack + var_defence) * rate + 1.0
        kalman[scorer, _KALMAN_ATTACK] += var_attack * residual / denominator
        kalman[other, _KALMAN_DEFENCE] -= var_defence * residual / denominator
        kalman[scorer, _KALMAN_VAR_ATTACK] -= var_attack * var_attack * rate / denominator
        kalman[other, _KALMAN_VAR_DEFENCE] -= var_defence * var_defence * rate / denominator
        kalman_global[0] += xp[_X_KALMAN_MU] * residual
        if side == 0:
            residual_home = residual
        else:
            residual_away = residual
    if not neutral:
        kalman_global[1 + tier] += xp[_X_KALMAN_HA] * residual_home
        # Venue edges: the goal-difference residual, as the home side saw it at home and the away side away.
        margin = residual_home - residual_away
        decay = xp[_X_EDGE_DECAY]
        kalman[home, _EDGE_HOME_SUM] = decay * kalman[home, _EDGE_HOME_SUM] + margin
        kalman[home, _EDGE_HOME_WEIGHT] = decay * kalman[home, _EDGE_HOME_WEIGHT] + 1.0
        kalman[away, _EDGE_AWAY_SUM] = decay * kalman[away, _EDGE_AWAY_SUM] - margin
        kalman[away, _EDGE_AWAY_WEIGHT] = decay * kalman[away, _EDGE_AWAY_WEIGHT] + 1.0


@numba.njit(cache=True, nogil=True)
def _serve(
    home: np.ndarray,
    away: np.ndarray,
    day: np.ndarray,
    neutral: np.ndarray,
    tier: np.ndarray,
    pair: np.ndarray,
    home_is_first: np.ndarray,
    elo: np.ndarray,
    form_weight: np.ndarray,
    form_points: np.ndarray,
    form_goals_for: np.ndarray,
    form_goals_against: np.ndarray,
    attack: np.ndarray,
    defence: np.ndarray,
    goal_mu: np.ndarray,
    last_day: np.ndarray,
    played: np.ndarray,
    h2h_matches: np.ndarray,
    h2h_first_wins: np.ndarray,
    h2h_draws: np.ndarray,
    h2h_first_goal_diff: np.ndarray,
    elo_initial: float,
    home_advantage: float,
    elo2: np.ndarray,
    congestion: np.ndarray,
    venue: np.ndarray,
    xp: np.ndarray,
    kalman: np.ndarray,
    kalman_global: np.ndarray,
    division: np.ndarray,
    team_division: np.ndarray,
    division_first_day: np.ndarray,
    entry_levels: np.ndarray,
    exit_levels: np.ndarray,
    out: np.ndarray,
) -> None:
    """Training's ``_write_row`` per request; a team requested in a league division it has not played in yet is
    rated from the entry level, as its first match there would be in training (the state is left as it was)."""
    for i in range(home.shape[0]):
        saved = np.empty((2, 4 + 2 * attack.shape[1]))
        saved_kalman = np.empty((2, kalman.shape[1]))
        moved = np.zeros(2, dtype=np.bool_)
        saved_division = np.full(2, -2, dtype=np.int64)
        entered = division[i]
        if entered >= 0:  # read as members of the division they play in, as training's first match there is
            for side in range(2):
                team = home[i] if side == 0 else away[i]
                if team >= 0 and team_division[team] != entered:
                    saved_division[side] = team_division[team]
                    team_division[team] = entered
        if entered >= 0 and division_first_day[entered] >= 0 and day[i] - division_first_day[entered] > _FOUNDING_DAYS:
            for side in range(2):
                team = home[i] if side == 0 else away[i]
                if team < 0 or saved_division[side] == -2 or (side == 1 and team == home[i]):
                    continue
                level = _entry_level(saved_division[side], entered, entry_levels, exit_levels)
                if level.shape[0]:
                    saved[side] = _rating_vector(team, elo, elo2, attack, defence, kalman)
                    saved_kalman[side] = kalman[team]
                    _start_from(team, level, elo, elo2, attack, defence, kalman, xp)
                    moved[side] = True
        _write_row(
            out, i, home[i], away[i], day[i], neutral[i], tier[i], pair[i], home_is_first[i],
            elo, form_weight, form_points, form_goals_for, form_goals_against, attack, defence, goal_mu,
            last_day, played, h2h_matches, h2h_first_wins, h2h_draws, h2h_first_goal_diff, elo_initial,
            home_advantage, elo2, congestion, venue, xp, kalman, kalman_global, team_division,
        )  # fmt: skip
        for side in range(2):
            if moved[side]:
                team = home[i] if side == 0 else away[i]
                _set_ratings(team, saved[side], elo, elo2, attack, defence, kalman)
                kalman[team] = saved_kalman[side]
        for side in range(2):
            if saved_division[side] > -2:
                team_division[home[i] if side == 0 else away[i]] = saved_division[side]


# ---- the Python side -----------------------------------------------------------------------

_EPOCH = np.datetime64("1970-01-01", "D")


def _day_to_iso(day: int) -> str:
    return str(_EPOCH + np.timedelta64(day, "D"))


def _iso_to_day(text: str) -> int:
    return int((np.datetime64(text, "D") - _EPOCH).astype(np.int64))


def _days(dates: pd.Series) -> np.ndarray:
    return pd.to_datetime(dates).to_numpy(dtype="datetime64[D]").astype(np.int64)


def _distinct(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Each row's code (-1 if missing) and the distinct non-missing values (a categorical's own categories).

    Request columns hold few distinct values (teams, competitions, dates): derived values are
    computed once per distinct value and taken by code (:func:`_by_code`).
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), values.cat.categories
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes, pd.Index(uniques)


def _by_code(per_value: np.ndarray, missing: Any, codes: np.ndarray) -> np.ndarray:
    """``per_value[codes]`` with ``missing`` where a code is -1 (missing)."""
    return np.append(per_value, np.asarray(missing, dtype=per_value.dtype))[codes]


def _request_days(dates: pd.Series, today: int) -> np.ndarray:
    """Each row's day number; missing dates are ``today``."""
    codes, values = _distinct(dates)
    parsed = pd.to_datetime(values)
    per_value = parsed.to_numpy(dtype="datetime64[D]").astype(np.int64)
    per_value[parsed.isna()] = today
    return _by_code(per_value, today, codes)


def _tiers(competitions: pd.Series, missing: int = TIER_OTHER) -> np.ndarray:
    """Each row's competition tier; a missing name is ``missing`` (in training data: another tournament)."""
    codes, names = _distinct(competitions)
    per_name = np.fromiter((competition_tier(str(name)) for name in names), dtype=np.int64, count=len(names))
    return _by_code(per_name, missing, codes)


def _divisions(competitions: pd.Series, known: pd.Index | None = None) -> tuple[np.ndarray, list[str]]:
    """Each row's league division index (-1 if the competition is not one) and the division names, in order of
    first appearance (``known``: index into these names instead, -1 for others)."""
    codes, names = _distinct(competitions)
    text = [str(name).strip() for name in names]
    if known is not None:
        per_name = known.get_indexer(pd.Index(text, dtype=object)).astype(np.int64)
        return _by_code(per_name, -1, codes), list(known)
    found = list(dict.fromkeys(name for name in text if league_division(name)))
    position = {name: i for i, name in enumerate(found)}
    per_name = np.array([position.get(name, -1) for name in text], dtype=np.int64)
    return _by_code(per_name, -1, codes), found


def _team_codes(state: RatingState, names: pd.Series) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    """Each row's team index in ``state`` (-1 if unknown), and the row codes of the distinct names (as ``str``)."""
    codes, uniques = _distinct(names)
    unique_names = uniques.astype(str)
    return _by_code(state.team_lookup.get_indexer(unique_names).astype(np.int64), -1, codes), codes, unique_names


def _neutral(values: pd.Series) -> np.ndarray:
    if values.dtype == bool:
        return values.to_numpy()
    codes, uniques = _distinct(values)
    return _by_code(pd.Series(uniques, copy=False).astype(bool).to_numpy(), False, codes)


def build_features(canonical: pd.DataFrame, params: FeatureParams | None = None) -> tuple[pd.DataFrame, RatingState]:
    """Point-in-time features of every row (same index) and the state after the last row."""
    params = params or FeatureParams()
    n = len(canonical)
    day = _days(canonical["date"])
    order = np.argsort(day, kind="stable")
    team_codes, teams = pd.factorize(
        pd.concat([canonical["home_team"], canonical["away_team"]], ignore_index=True).astype(str), sort=False
    )
    home = team_codes[:n].astype(np.int64)
    away = team_codes[n:].astype(np.int64)
    first = np.minimum(home, away)
    second = np.maximum(home, away)
    pair, pair_keys = pd.factorize(first * max(len(teams), 1) + second, sort=False)
    n_teams, n_pairs = len(teams), len(pair_keys)
    division, divisions = _divisions(canonical["competition"])
    state = RatingState(
        params=params,
        teams=[str(t) for t in teams],
        elo=np.full(n_teams, params.elo_initial),
        form_weight=np.zeros(n_teams),
        form_points=np.zeros(n_teams),
        form_goals_for=np.zeros(n_teams),
        form_goals_against=np.zeros(n_teams),
        attack=np.zeros((n_teams, len(params.goal_learning_rates))),
        defence=np.zeros((n_teams, len(params.goal_learning_rates))),
        goal_mu=np.full(len(params.goal_learning_rates), 0.3),
        last_day=np.zeros(n_teams, dtype=np.int64),
        played=np.zeros(n_teams, dtype=np.int64),
        pair_first=(np.asarray(pair_keys, dtype=np.int64) // max(n_teams, 1)),
        pair_second=(np.asarray(pair_keys, dtype=np.int64) % max(n_teams, 1)),
        h2h_matches=np.zeros(n_pairs, dtype=np.int64),
        h2h_first_wins=np.zeros(n_pairs, dtype=np.int64),
        h2h_draws=np.zeros(n_pairs, dtype=np.int64),
        h2h_first_goal_diff=np.zeros(n_pairs, dtype=np.int64),
        divisions=divisions,
    )
    out = np.empty((n, N_FEATURES))
    _pass(
        home[order], away[order], day[order],
        canonical["home_score"].to_numpy(dtype=np.int64)[order],
        canonical["away_score"].to_numpy(dtype=np.int64)[order],
        _neutral(canonical["neutral"])[order], _tiers(canonical["competition"])[order],
        pair.astype(np.int64)[order], (home == first)[order],
        state.elo, state.form_weight, state.form_points, state.form_goals_for, state.form_goals_against,
        state.attack, state.defence, state.goal_mu,
        state.last_day, state.played, state.h2h_matches, state.h2h_first_wins, state.h2h_draws,
        state.h2h_first_goal_diff, params.elo_initial, params.elo_home_advantage,
        state.elo2, state.congestion, state.venue, _extra_params(params), state.kalman, state.kalman_global,
        division[order], state.team_division, state.division_matches, state.division_from, state.division_first_day,
        state.entry_levels, state.exit_levels,
        np.asarray(params.k_by_tier, dtype=np.float64), params.form_decay,
        np.asarray(params.goal_learning_rates, dtype=np.float64),
        params.goal_cap, out,
    )  # fmt: skip
    if n:
        state.as_of = _day_to_iso(int(day.max()))
    features = np.empty_like(out)
    features[order] = out
    return pd.DataFrame(features, index=canonical.index, columns=list(FEATURE_NAMES)), state


def serving_features(
    state: RatingState,
    requests: pd.DataFrame,
    *,
    unknown_teams: Literal["error", "new"] = "error",
) -> pd.DataFrame:
    """Features of requested matches (home_team, away_team, date, neutral, competition) from ``state``.

    ``date`` may be missing or null (today). A team never seen in training is an input error
    unless ``unknown_teams="new"``, which rates it like a newcomer (as training does).
    """
    n = len(requests)
    home, home_codes, home_names = _team_codes(state, requests["home_team"])
    away, away_codes, away_names = _team_codes(state, requests["away_team"])
    if unknown_teams == "error" and (home.min(initial=0) < 0 or away.min(initial=0) < 0):
        problems = [
            {
                "row": row,
                "field": side,
                "value": names[codes[row]] if codes[row] >= 0 else None,
                "expected": "a team that played in the training data",
            }
            for side, teams, codes, names in (
                ("home_team", home, home_codes, home_names),
                ("away_team", away, away_codes, away_names),
            )
            for row in np.flatnonzero(teams < 0).tolist()
        ]
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{len(problems)} unknown team name(s); expected teams the model was trained on",
            {"problems": problems[:50], "count": len(problems)},
        )
    today = _iso_to_day(date.today().isoformat())
    day = _request_days(requests["date"], today) if "date" in requests else np.full(n, today, dtype=np.int64)
    neutral = _neutral(requests["neutral"]) if "neutral" in requests else np.zeros(n, dtype=bool)
    tier = (
        _tiers(requests["competition"], missing=TIER_FRIENDLY)
        if "competition" in requests
        else np.zeros(n, dtype=np.int64)
    )
    first = np.minimum(home, away)
    second = np.maximum(home, away)
    pair = np.where(first >= 0, state.pair_lookup.get_indexer(first * max(len(state.teams), 1) + second), -1)
    division = (
        _divisions(requests["competition"], state.division_lookup)[0]
        if "competition" in requests and state.divisions
        else np.full(n, -1, dtype=np.int64)
    )
    out = np.empty((n, N_FEATURES))
    ratings, tables = _serve_state(state)
    requested = (home, away, day, neutral, tier, pair, home == first)
    cores = usable_cores() if n >= PARALLEL_ROWS else 1  # it reads the cgroup quota: not for every few rows
    if cores <= 1:
        _serve(*requested, *ratings, division, *tables, out)
        return pd.DataFrame(out, index=requests.index, columns=list(FEATURE_NAMES), copy=False)
    # _serve moves a division entrant's ratings and division for its row and back: each part gets its own copies
    # of those, so the parts can run at once (it releases the GIL).
    moved = {id(array) for array in (state.elo, state.elo2, state.attack, state.defence, state.kalman)}

    def serve(start: int, stop: int) -> None:
        own = [array.copy() if id(array) in moved else array for array in ratings]
        team_division, *division_tables = tables
        _serve(
            *(array[start:stop] for array in requested), *own, division[start:stop], team_division.copy(),
            *division_tables, out[start:stop],
        )  # fmt: skip

    bounds = np.linspace(0, n, cores + 1).astype(int)  # a batch file: equal parts on every usable core
    with ThreadPoolExecutor(cores) as pool:
        list(pool.map(serve, bounds[:-1], bounds[1:]))
    return pd.DataFrame(out, index=requests.index, columns=list(FEATURE_NAMES), copy=False)


@numba.njit(cache=True)
def _serve_codes(codes: np.ndarray, columns: np.ndarray, state: tuple, tables: tuple) -> np.ndarray:  # type: ignore[type-arg]
    """``_serve`` of requests given as one (rows, 7) code matrix (home, away, day, neutral, tier, pair,
    division), returning only the model's ``columns``: the slicing and gathering done here, not per request
    in numpy calls. ``state`` and ``tables`` are ``_serve_state``'s two tuples."""
    home, away = codes[:, 0].copy(), codes[:, 1].copy()
    out = np.empty((codes.shape[0], N_FEATURES))
    _serve(
        home, away, codes[:, 2].copy(), codes[:, 3] != 0, codes[:, 4].copy(), codes[:, 5].copy(), home <= away,
        *state, codes[:, 6].copy(), *tables, out,
    )  # fmt: skip
    chosen = np.empty((codes.shape[0], columns.shape[0]))
    for i in range(codes.shape[0]):
        for j in range(columns.shape[0]):
            chosen[i, j] = out[i, columns[j]]
    return chosen


def _serve_state(state: RatingState) -> tuple[tuple[Any, ...], tuple[np.ndarray, ...]]:
    """``_serve``'s arguments from the state: those before the requests' league divisions (ratings, parameters,
    Kalman arrays) and the division tables after them."""
    params = state.params
    ratings = (
        state.elo, state.form_weight, state.form_points, state.form_goals_for, state.form_goals_against,
        state.attack, state.defence, state.goal_mu, state.last_day, state.played, state.h2h_matches,
        state.h2h_first_wins, state.h2h_draws, state.h2h_first_goal_diff, params.elo_initial,
        params.elo_home_advantage, state.elo2, state.congestion, state.venue, _extra_params(params), state.kalman,
        state.kalman_global,
    )  # fmt: skip
    return ratings, (state.team_division, state.division_first_day, state.entry_levels, state.exit_levels)


# ---- a few requests at a time (model-api's single predictions) --------------------------------------


class ServingArrays:
    """A state ready for few-row serving: team name → index, pair → index, today's day number, and the
    columns of a model's ``feature_names`` among ``FEATURE_NAMES`` (built once per served version)."""

    def __init__(self, state: RatingState, feature_names: Sequence[str]) -> None:
        unknown = [name for name in feature_names if name not in FEATURE_NAMES]
        if unknown:
            raise ValueError(f"features {unknown} are not match-outcome features; expected some of {FEATURE_NAMES}")
        self.state = state
        self.columns = np.array([FEATURE_NAMES.index(name) for name in feature_names], dtype=np.int64)
        # ``_serve_codes``'s arguments after the codes (the same arrays every request).
        self.kernel_arguments = (self.columns, *_serve_state(state))
        self._today = (-1, 0)  # (date.today() ordinal, its day number)

    def today(self) -> int:
        ordinal = date.today().toordinal()
        if self._today[0] != ordinal:
            self._today = (ordinal, ordinal - _EPOCH_ORDINAL)
        return self._today[1]


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@lru_cache(maxsize=65_536)
def _day_of(text: str) -> int:
    """Day number of a request's date text (JSON mode: ``YYYY-MM-DD``); others as pandas reads them."""
    try:
        return date.fromisoformat(text).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        return int(_request_days(pd.Series([text], dtype=object), 0)[0])


def serving_rows(compiled: ServingArrays, instances: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """:func:`serving_features` of a few validated request dicts, as a float matrix in ``compiled.columns``
    order, without a DataFrame: team indices from dicts into the state's arrays, then the same kernel."""
    state = compiled.state
    teams, pairs, divisions = state.team_index, state.pair_index, state.division_index
    today = -1
    codes = []  # per row: home, away, day, neutral, tier, pair, division (one array built from them all)
    for instance in instances:
        h = teams.get(instance.get("home_team"), -1)  # type: ignore[arg-type]
        a = teams.get(instance.get("away_team"), -1)  # type: ignore[arg-type]
        if h < 0 or a < 0:  # the table path says which rows and fields, in its words
            return serving_features(state, pd.DataFrame(list(instances))).to_numpy()[:, compiled.columns]
        when = instance.get("date")
        if when is None:
            if today < 0:
                today = compiled.today()
            day = today
        else:
            day = _day_of(str(when))
        competition = instance.get("competition")
        codes.append((
            h, a, day, bool(instance.get("neutral", False)),
            TIER_FRIENDLY if competition is None else competition_tier(str(competition)),
            pairs.get((h, a) if h < a else (a, h), -1),
            divisions.get(str(competition).strip(), -1) if divisions and competition is not None else -1,
        ))  # fmt: skip
    return _serve_codes(np.array(codes, dtype=np.int64), *compiled.kernel_arguments)
