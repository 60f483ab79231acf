"""Seeded League of Legends games: the 10-minute team table, the true P(blue wins), and Riot JSON.

The generating process, vectorized over games, minute by minute for the first 12 minutes:

* each team has a hidden strength (its players' skill), each player a small personal deviation;
* lane minions, jungle monsters and experience accrue at role-dependent rates that grow with the
  strength gap; gold comes from a start of 500, passive income from 1:05, minions, monsters,
  kills (300 to the killer, 150 split between assistants), towers and the support item;
* kills arrive per minute at a rate that rises through the early game and with the strength gap
  and the gold lead (snowballing), each with a victim, assistants and sometimes an execution;
* dragons from 5:00, the rift herald from 8:00 and outer towers go more often to the side ahead;
* wards are placed (supports most) and destroyed at per-game rates.

The winner is drawn from ``p_blue = sigmoid(f(state at 10:00) + 0.35 * strength gap)``, where
``f`` saturates in the gold lead (``2.0 * tanh(0.45 * gold_diff / 1000)``) and adds experience,
dragons, heralds, towers and a small blue-side edge. So the truth is known per game, it follows
the 10-minute state, and a part of it (the strength gap beyond what the state reveals) is not
observable, as in real games.

:func:`simulate_riot` writes the very same games as Riot match-v5 ``match`` + ``timeline``
documents (frames through minute 12 and a final frame with ``GAME_END``; noise events such as item
purchases and skill level-ups included), so the aggregation of timelines can be checked against the
table computed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from scoreline.tasks.esports_win.columns import MINUTES, STAT_COLUMNS, export_name

SIM_MINUTES = 12  # minutes simulated in detail (events after 10:00 exist, for the cut)
ROLES = ("TOP", "JUNGLE", "MIDDLE", "BOTTOM", "UTILITY")
MINION_RATE = np.array([6.9, 0.5, 7.3, 7.4, 0.9])  # lane minions per minute once the waves arrive
JUNGLE_RATE = np.array([0.15, 5.2, 0.2, 0.1, 0.05])  # jungle monsters per minute
XP_RATE = np.array([300.0, 330.0, 320.0, 250.0, 230.0])  # experience per minute besides minions and kills
WARD_RATE = np.array([0.22, 0.35, 0.22, 0.22, 0.95])  # wards placed per minute
KILLER_WEIGHTS = np.array([0.2, 0.25, 0.25, 0.25, 0.05])
VICTIM_WEIGHTS = np.array([0.2, 0.15, 0.2, 0.25, 0.2])
ASSIST_PROB = np.array([0.1, 0.35, 0.15, 0.2, 0.45])
KILL_MINUTE_WEIGHT = np.array([0.1, 0.3, 0.6, 0.8, 0.95, 1.05, 1.15, 1.25, 1.35, 1.45, 1.5, 1.55])
XP_LEVELS = np.cumsum([280 + 100 * k for k in range(17)])  # experience to reach levels 2..18
GAME_ID_BASE = 4_500_000_000
PLATFORM = "EUW1"
TRUTH_COLUMNS = ("game_id", "p_blue", "strength_gap")


@dataclass
class SimulatedGames:
    """Everything about the games, per game (n), participant (n, 10), frame (n, 13, 10) and event."""

    game_ids: np.ndarray  # int64
    blue_wins: np.ndarray  # 0/1
    p_blue: np.ndarray
    strength_gap: np.ndarray
    duration_s: np.ndarray
    frame_ms: np.ndarray  # (n, SIM_MINUTES + 1)
    gold: np.ndarray  # (n, SIM_MINUTES + 1, 10) cumulative at each frame
    xp: np.ndarray
    level: np.ndarray
    minions: np.ndarray
    jungle: np.ndarray
    events: pd.DataFrame  # game, ms, type, participant, victim, team, assists (bit mask of participants), detail
    table: pd.DataFrame  # canonical 10-minute table, computed from the counters here


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def win_logit(state: pd.DataFrame, strength_gap: np.ndarray) -> np.ndarray:
    """The known function: log-odds that blue wins from the canonical 10-minute state and the hidden gap."""
    gold = state["blue_gold_diff"].to_numpy(dtype=float) / 1000.0
    experience = state["blue_experience_diff"].to_numpy(dtype=float) / 1000.0
    dragons = (state["blue_dragons"] - state["red_dragons"]).to_numpy(dtype=float)
    heralds = (state["blue_heralds"] - state["red_heralds"]).to_numpy(dtype=float)
    towers = (state["blue_towers_destroyed"] - state["red_towers_destroyed"]).to_numpy(dtype=float)
    return (
        2.0 * np.tanh(0.45 * gold) + 0.15 * experience + 0.3 * dragons + 0.12 * heralds + 0.35 * towers
        + 0.35 * strength_gap + 0.03
    )  # fmt: skip


def simulate_games(n: int, seed: int) -> SimulatedGames:
    rng = np.random.default_rng(seed)
    team_of = np.repeat([0, 1], 5)  # participant index 0-4 blue, 5-9 red
    role_of = np.tile(np.arange(5), 2)
    strength = rng.normal(0.0, 0.4, (n, 2))
    gap = strength[:, 0] - strength[:, 1]
    own_edge = np.column_stack([gap, -gap])[:, team_of]  # (n, 10): own team's strength minus the other's
    skill = own_edge + rng.normal(0.0, 0.15, (n, 10))
    aggression = rng.normal(0.0, 0.25, n)
    ward_habit = rng.lognormal(0.0, 0.3, (n, 2))

    frames = SIM_MINUTES + 1
    gold = np.zeros((n, frames, 10))
    xp = np.zeros((n, frames, 10))
    minions = np.zeros((n, frames, 10), dtype=np.int64)
    jungle = np.zeros((n, frames, 10), dtype=np.int64)
    gold[:, 0] = 500.0
    counted = ("kills", "deaths", "assists", "wards_placed", "wards_destroyed", "dragons", "heralds", "towers")
    counters = {name: np.zeros((n, 2), dtype=np.int64) for name in counted}
    first_kill_ms = np.full(n, np.inf)
    first_kill_side = np.full(n, -1)
    dragon_up_ms = np.full(n, 5 * 60_000.0)
    herald_taken = np.zeros(n, dtype=bool)
    towers_lost = np.zeros((n, 2), dtype=np.int64)
    chunks: list[pd.DataFrame] = []

    for minute in range(1, frames):
        start_ms, end_ms = (minute - 1) * 60_000, minute * 60_000
        cut = minute <= MINUTES
        lead = (gold[:, minute - 1, :5].sum(1) - gold[:, minute - 1, 5:].sum(1)) / 1000.0
        own_lead = np.column_stack([lead, -lead])
        # lane minions and jungle monsters
        wave = 0.0 if minute == 1 else (0.55 if minute == 2 else 1.0)
        got_minions = rng.poisson(MINION_RATE[role_of] * wave * np.exp(0.1 * skill))
        camp = 0.0 if minute == 1 else (0.6 if minute == 2 else 1.0)
        got_jungle = rng.poisson(JUNGLE_RATE[role_of] * camp * np.exp(0.08 * skill))
        passive = 2.04 * max(0.0, end_ms / 1000 - max(start_ms / 1000, 65.0))
        gained_gold = passive + 21.0 * got_minions + 28.0 * got_jungle + rng.poisson(8.0, (n, 10))
        gained_gold += np.where(role_of == 4, 0.0 if minute == 1 else 40.0, 0.0)  # support item income
        gained_xp = rng.poisson(XP_RATE[role_of] * (0.35 if minute == 1 else 1.0) * np.exp(0.05 * skill))
        gained_xp = gained_xp + 11.0 * got_minions + 9.0 * got_jungle

        # kills
        rate = (
            0.62
            * KILL_MINUTE_WEIGHT[minute - 1]
            * np.exp(0.25 * np.column_stack([gap, -gap]) + 0.3 * np.tanh(own_lead / 5.0) + aggression[:, None])
        )
        kills = rng.poisson(rate)  # (n, 2) kills by each side this minute
        k_game, k_side = np.nonzero(kills)
        repeat = kills[k_game, k_side]
        k_game, k_side = np.repeat(k_game, repeat), np.repeat(k_side, repeat)
        k_ms = start_ms + rng.integers(1, 60_000, len(k_game))
        killer_role = rng.choice(5, len(k_game), p=KILLER_WEIGHTS)
        victim_role = rng.choice(5, len(k_game), p=VICTIM_WEIGHTS)
        killer = k_side * 5 + killer_role
        victim = (1 - k_side) * 5 + victim_role
        executed = rng.random(len(k_game)) < 0.03
        helped = rng.random((len(k_game), 5)) < ASSIST_PROB
        helped[np.arange(len(k_game)), killer_role] = False
        helped &= ~executed[:, None]
        n_helpers = helped.sum(1)
        assist_mask = (helped.astype(np.int64) << (k_side[:, None] * 5 + np.arange(5))).sum(1)
        np.add.at(gained_gold, (k_game[~executed], killer[~executed]), 300.0)
        np.add.at(gained_xp, (k_game[~executed], killer[~executed]), 150.0)
        helper_rows, helper_roles = np.nonzero(helped)
        np.add.at(gained_gold, (k_game[helper_rows], k_side[helper_rows] * 5 + helper_roles),
                  np.floor(150.0 / n_helpers[helper_rows]))  # fmt: skip
        np.add.at(gained_xp, (k_game[helper_rows], k_side[helper_rows] * 5 + helper_roles), 80.0)

        # dragons, the herald, towers
        lead_odds = 0.5 * lead + 0.6 * gap
        dragon = (dragon_up_ms < end_ms) & (rng.random(n) < 0.28)
        d_ms = np.maximum(dragon_up_ms, start_ms) + rng.integers(1, 1000, n) * (
            (end_ms - np.maximum(dragon_up_ms, start_ms)) // 1000
        )
        d_side = (rng.random(n) >= _sigmoid(lead_odds)).astype(np.int64)
        dragon_up_ms = np.where(dragon, d_ms + 5 * 60_000, dragon_up_ms)
        herald = (minute >= 9) & ~herald_taken & (rng.random(n) < 0.25)
        herald_taken |= herald
        h_side = (rng.random(n) >= _sigmoid(0.4 * lead + 0.5 * gap)).astype(np.int64)
        tower_odds = 0.002 * np.exp(0.7 * own_lead + 0.5 * np.column_stack([gap, -gap])) if minute >= 6 else 0.0
        tower = rng.random((n, 2)) < tower_odds
        t_game, t_side = np.nonzero(tower)
        towers_lost[t_game, 1 - t_side] += 1
        gained_gold[t_game] += np.where(team_of[None, :] == t_side[:, None], 150.0, 0.0)

        # wards
        placed = rng.poisson(WARD_RATE[role_of] * ward_habit[:, team_of] * (0.5 if minute == 1 else 1.0))
        cleared = rng.poisson((0.03 * minute) * ward_habit[:, ::-1] ** 0.5)  # (n, 2) wards destroyed by each side

        gold[:, minute] = gold[:, minute - 1] + np.floor(gained_gold)
        xp[:, minute] = xp[:, minute - 1] + gained_xp
        minions[:, minute] = minions[:, minute - 1] + got_minions
        jungle[:, minute] = jungle[:, minute - 1] + got_jungle

        if cut:
            np.add.at(counters["kills"], (k_game, k_side), 1)
            np.add.at(counters["deaths"], (k_game, 1 - k_side), 1)
            np.add.at(counters["assists"], (k_game, k_side), n_helpers)
            if len(k_game):  # first blood: the earliest kill; a tie in ms goes to blue, as a stable sort does
                earliest = np.full(n, np.iinfo(np.int64).max)
                np.minimum.at(earliest, k_game, k_ms.astype(np.int64) * 2 + k_side)
                found = earliest < np.iinfo(np.int64).max
                newer = found & (earliest // 2 < first_kill_ms)
                first_kill_side = np.where(newer, earliest % 2, first_kill_side)
                first_kill_ms = np.where(newer, earliest // 2, first_kill_ms)
            np.add.at(counters["dragons"], (np.flatnonzero(dragon), d_side[dragon]), 1)
            np.add.at(counters["heralds"], (np.flatnonzero(herald), h_side[herald]), 1)
            np.add.at(counters["towers"], (t_game, t_side), 1)
            counters["wards_placed"] += np.column_stack([placed[:, :5].sum(1), placed[:, 5:].sum(1)])
            counters["wards_destroyed"] += cleared
        chunks.append(
            _minute_events(
                rng, start_ms, end_ms, k_game, k_ms, killer, victim, executed, assist_mask, dragon, d_ms, d_side,
                herald, h_side, t_game, t_side, placed, cleared, role_of,
            )
        )  # fmt: skip

    level = 1 + (xp[..., None] >= XP_LEVELS).sum(-1)
    frame_ms = np.arange(frames) * 60_000 + np.concatenate([[0], np.ones(frames - 1)]) * rng.integers(
        20, 400, (n, frames)
    )
    table = _table(n, gold[:, MINUTES], xp[:, MINUTES], level[:, MINUTES], minions[:, MINUTES], jungle[:, MINUTES],
                   counters, first_kill_side)  # fmt: skip
    game_ids = GAME_ID_BASE + np.int64(seed % 100_000) * 1_000_000 + np.arange(n, dtype=np.int64)
    table.insert(0, "game_id", game_ids.astype(str).astype(object))
    p_blue = _sigmoid(win_logit(table, gap))
    blue_wins = (rng.random(n) < p_blue).astype(np.int64)
    table.insert(1, "blue_wins", blue_wins)
    duration = np.clip(rng.normal(1750, 330, n), 900, 3300).astype(np.int64)
    events = pd.concat(chunks, ignore_index=True)
    return SimulatedGames(game_ids, blue_wins, p_blue, gap, duration, frame_ms.astype(np.int64),
                          gold, xp, level, minions, jungle, events, table)  # fmt: skip


def _minute_events(
    rng: np.random.Generator, start_ms: int, end_ms: int, k_game: np.ndarray, k_ms: np.ndarray, killer: np.ndarray,
    victim: np.ndarray, executed: np.ndarray, assist_mask: np.ndarray, dragon: np.ndarray, d_ms: np.ndarray,
    d_side: np.ndarray, herald: np.ndarray, h_side: np.ndarray, t_game: np.ndarray, t_side: np.ndarray,
    placed: np.ndarray, cleared: np.ndarray, role_of: np.ndarray,
) -> pd.DataFrame:  # fmt: skip
    """The minute's events as flat columns (participant ids 1..10, 0 for none)."""
    span = end_ms - start_ms
    parts = [_frame(k_game, k_ms, "CHAMPION_KILL", np.where(executed, 0, killer + 1), victim=victim + 1,
                    assists=assist_mask)]  # fmt: skip
    for taken, side, monster in ((dragon, d_side, "DRAGON"), (herald, h_side, "RIFTHERALD")):
        games = np.flatnonzero(taken)
        killer_ids = side[games] * 5 + np.where(rng.random(len(games)) < 0.8, 2, 1)  # mostly the jungler (id 2/7)
        ms = (d_ms[games] if monster == "DRAGON" else start_ms + rng.integers(1, span, len(games))).astype(np.int64)
        parts.append(_frame(games, ms, "ELITE_MONSTER_KILL", killer_ids, team=100 + 100 * side[games], detail=monster))
    tower_ms = start_ms + rng.integers(1, span, len(t_game))
    tower_killer = t_side * 5 + rng.integers(1, 6, len(t_game))
    parts.append(_frame(t_game, tower_ms, "BUILDING_KILL", tower_killer, team=200 - 100 * t_side,
                        detail="TOWER_BUILDING"))  # fmt: skip
    w_game, w_player = np.nonzero(placed)
    w_count = placed[w_game, w_player]
    w_game, w_player = np.repeat(w_game, w_count), np.repeat(w_player, w_count)
    ward_type = np.where(role_of[w_player] == 4, "SIGHT_WARD", "YELLOW_TRINKET")
    parts.append(_frame(w_game, start_ms + rng.integers(1, span, len(w_game)), "WARD_PLACED", w_player + 1,
                        detail=ward_type))  # fmt: skip
    c_game, c_side = np.nonzero(cleared)
    c_count = cleared[c_game, c_side]
    c_game, c_side = np.repeat(c_game, c_count), np.repeat(c_side, c_count)
    clearer = c_side * 5 + np.where(rng.random(len(c_game)) < 0.6, 5, 2)  # mostly the support, else the jungler
    parts.append(_frame(c_game, start_ms + rng.integers(1, span, len(c_game)), "WARD_KILL", clearer,
                        detail="YELLOW_TRINKET"))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def _frame(
    game: np.ndarray, ms: np.ndarray, kind: str, participant: np.ndarray, *, victim: Any = 0, team: Any = 0,
    assists: Any = 0, detail: Any = "",
) -> pd.DataFrame:  # fmt: skip
    return pd.DataFrame({"game": game, "ms": np.asarray(ms, dtype=np.int64), "type": kind, "participant": participant,
                         "victim": victim, "team": team, "assists": assists, "detail": detail})  # fmt: skip


def _table(
    n: int, gold: np.ndarray, xp: np.ndarray, level: np.ndarray, minions: np.ndarray, jungle: np.ndarray,
    counters: dict[str, np.ndarray], first_kill_side: np.ndarray,
) -> pd.DataFrame:  # fmt: skip
    """The canonical 10-minute table from the simulator's own counters (not from its events)."""
    by_side = {
        "total_gold": np.column_stack([gold[:, :5].sum(1), gold[:, 5:].sum(1)]),
        "total_experience": np.column_stack([xp[:, :5].sum(1), xp[:, 5:].sum(1)]),
        "avg_level": np.column_stack([level[:, :5].mean(1), level[:, 5:].mean(1)]),
        "total_minions_killed": np.column_stack([minions[:, :5].sum(1), minions[:, 5:].sum(1)]),
        "total_jungle_minions_killed": np.column_stack([jungle[:, :5].sum(1), jungle[:, 5:].sum(1)]),
        "first_blood": np.column_stack([first_kill_side == 0, first_kill_side == 1]).astype(np.int64),
        "elite_monsters": counters["dragons"] + counters["heralds"],
        "towers_destroyed": counters["towers"],
        **{k: v for k, v in counters.items() if k != "towers"},
    }
    gold_side, xp_side = by_side["total_gold"], by_side["total_experience"]
    by_side["gold_diff"] = np.column_stack([gold_side[:, 0] - gold_side[:, 1], gold_side[:, 1] - gold_side[:, 0]])
    by_side["experience_diff"] = np.column_stack([xp_side[:, 0] - xp_side[:, 1], xp_side[:, 1] - xp_side[:, 0]])
    by_side["cs_per_min"] = by_side["total_minions_killed"] / MINUTES
    by_side["gold_per_min"] = gold_side / MINUTES
    data = {}
    for column in STAT_COLUMNS:
        side, _, stat = column.partition("_")
        value = by_side[stat][:, 0 if side == "blue" else 1]
        data[column] = value.astype(float) if stat in ("avg_level", "cs_per_min", "gold_per_min") else (
            np.rint(value).astype(np.int64))  # fmt: skip
    return pd.DataFrame(data)


def simulate(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the 10-minute table as the export writes it, truth: game_id, p_blue, strength_gap) row for row."""
    games = simulate_games(n, seed)
    raw = games.table.rename(columns={"game_id": "gameId", "blue_wins": "blueWins"} | {
        c: export_name(c) for c in STAT_COLUMNS})  # fmt: skip
    truth = pd.DataFrame(
        {"game_id": games.table["game_id"], "p_blue": games.p_blue, "strength_gap": games.strength_gap}
    )
    return raw, truth


# ---- Riot JSON -------------------------------------------------------------------------------


def simulate_riot(n: int, seed: int) -> list[dict[str, Any]]:
    """The games of ``simulate(n, seed)`` as ``{"match": ..., "timeline": ...}`` documents."""
    return riot_documents(simulate_games(n, seed))


def riot_documents(games: SimulatedGames) -> list[dict[str, Any]]:
    n = len(games.game_ids)
    events = games.events
    noise = _noise_events(games)
    events = pd.concat([events, noise], ignore_index=True).sort_values(["game", "ms"], kind="stable")
    frame_of = _frame_index(games.frame_ms, events["game"].to_numpy(), events["ms"].to_numpy())
    events = events.assign(frame=frame_of)
    starts = np.searchsorted(events["game"].to_numpy(), np.arange(n + 1))
    records = _event_dicts(events)
    documents = []
    for g in range(n):
        documents.append(_game_documents(games, g, records[starts[g]:starts[g + 1]],
                                         events["frame"].to_numpy()[starts[g]:starts[g + 1]]))  # fmt: skip
    return documents


def _frame_index(frame_ms: np.ndarray, game: np.ndarray, ms: np.ndarray) -> np.ndarray:
    """The frame that holds an event: the first frame at or after it (the last simulated frame otherwise)."""
    after = (frame_ms[game] < ms[:, None]).sum(1)
    return np.minimum(after, frame_ms.shape[1] - 1)


def _noise_events(games: SimulatedGames) -> pd.DataFrame:
    """Item purchases at the start and skill level-ups when levels rise: events the aggregation must ignore."""
    rng = np.random.default_rng(int(games.game_ids[0]) if len(games.game_ids) else 0)
    n = len(games.game_ids)
    g, p = np.meshgrid(np.arange(n), np.arange(10), indexing="ij")
    g, p = g.ravel(), p.ravel()
    parts = [pd.DataFrame({"game": np.repeat(g, 2), "ms": rng.integers(500, 20_000, 2 * len(g)),
                           "type": "ITEM_PURCHASED", "participant": np.repeat(p, 2) + 1, "victim": 0, "team": 0,
                           "assists": 0, "detail": ""})]  # fmt: skip
    gained = np.diff(games.level, axis=1)  # (n, minutes, 10)
    lg, lm, lp = np.nonzero(gained)
    count = gained[lg, lm, lp]
    lg, lm, lp = np.repeat(lg, count), np.repeat(lm, count), np.repeat(lp, count)
    parts.append(pd.DataFrame({"game": lg, "ms": lm * 60_000 + rng.integers(1, 60_000, len(lg)),
                               "type": "SKILL_LEVEL_UP", "participant": lp + 1, "victim": 0, "team": 0,
                               "assists": 0, "detail": ""}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def _event_dicts(events: pd.DataFrame) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for kind, ms, who, victim, team, assists, detail in zip(
        events["type"].tolist(), events["ms"].tolist(), events["participant"].tolist(), events["victim"].tolist(),
        events["team"].tolist(), events["assists"].tolist(), events["detail"].tolist(), strict=True,
    ):  # fmt: skip
        if kind == "CHAMPION_KILL":
            record: dict[str, Any] = {"bounty": 300, "killStreakLength": 0, "killerId": who,
                                      "position": {"x": 7000, "y": 7000}, "shutdownBounty": 0, "timestamp": ms,
                                      "type": kind, "victimId": victim}  # fmt: skip
            if assists:
                record["assistingParticipantIds"] = [i + 1 for i in range(10) if assists >> i & 1]
        elif kind == "WARD_PLACED":
            record = {"creatorId": who, "timestamp": ms, "type": kind, "wardType": detail}
        elif kind == "WARD_KILL":
            record = {"killerId": who, "timestamp": ms, "type": kind, "wardType": detail}
        elif kind == "ELITE_MONSTER_KILL":
            record = {"bounty": 0, "killerId": who, "killerTeamId": team, "monsterType": detail,
                      "position": {"x": 9866, "y": 4414}, "timestamp": ms, "type": kind}  # fmt: skip
            if detail == "DRAGON":
                record["monsterSubType"] = "FIRE_DRAGON"
        elif kind == "BUILDING_KILL":
            record = {"bounty": 0, "buildingType": detail, "killerId": who, "laneType": "MID_LANE",
                      "position": {"x": 5846, "y": 6396}, "teamId": team, "timestamp": ms,
                      "towerType": "OUTER_TURRET", "type": kind}  # fmt: skip
        elif kind == "ITEM_PURCHASED":
            record = {"itemId": 1055, "participantId": who, "timestamp": ms, "type": kind}
        else:
            record = {"levelUpType": "NORMAL", "participantId": who, "skillSlot": 1, "timestamp": ms, "type": kind}
        out.append(record)
    return out


def _game_documents(
    games: SimulatedGames, g: int, records: list[dict[str, Any]], frame_of: np.ndarray
) -> dict[str, Any]:
    game_id = int(games.game_ids[g])
    match_id = f"{PLATFORM}_{game_id}"
    puuids = [f"sim-{game_id}-{p}" for p in range(1, 11)]
    blue_won = bool(games.blue_wins[g])
    end_ms = int(games.duration_s[g]) * 1000
    gold, xp, level = games.gold[g].astype(int).tolist(), games.xp[g].astype(int).tolist(), games.level[g].tolist()
    minions, jungle = games.minions[g].tolist(), games.jungle[g].tolist()
    bounds = np.searchsorted(frame_of, np.arange(games.frame_ms.shape[1] + 1))
    frames = []
    for k, stamp in enumerate(games.frame_ms[g].tolist()):
        participant_frames = {
            str(p + 1): {
                "currentGold": gold[k][p] // 4, "goldPerSecond": 0, "jungleMinionsKilled": jungle[k][p],
                "level": level[k][p], "minionsKilled": minions[k][p], "participantId": p + 1,
                "position": {"x": 1000 + 500 * p, "y": 1000 + 300 * p}, "timeEnemySpentControlled": 0,
                "totalGold": gold[k][p], "xp": xp[k][p],
            }
            for p in range(10)
        }  # fmt: skip
        frame_events = records[bounds[k] : bounds[k + 1]]
        if k == 0:
            frame_events = [{"realTimestamp": 1_700_000_000_000, "timestamp": 0, "type": "PAUSE_END"}, *frame_events]
        frames.append({"events": frame_events, "participantFrames": participant_frames, "timestamp": stamp})
    last = frames[-1]["participantFrames"]
    frames.append({
        "events": [{"gameId": game_id, "realTimestamp": 1_700_000_000_000 + end_ms, "timestamp": end_ms,
                    "type": "GAME_END", "winningTeam": 100 if blue_won else 200}],
        "participantFrames": last, "timestamp": end_ms,
    })  # fmt: skip
    timeline = {
        "metadata": {"dataVersion": "2", "matchId": match_id, "participants": puuids},
        "info": {"endOfGameResult": "GameComplete", "frameInterval": 60000, "frames": frames, "gameId": game_id,
                 "participants": [{"participantId": p, "puuid": puuids[p - 1]} for p in range(1, 11)]},
    }  # fmt: skip
    match = {
        "metadata": {"dataVersion": "2", "matchId": match_id, "participants": puuids},
        "info": {
            "endOfGameResult": "GameComplete", "gameCreation": 1_700_000_000_000, "gameDuration": end_ms // 1000,
            "gameEndTimestamp": 1_700_000_000_000 + end_ms, "gameId": game_id, "gameMode": "CLASSIC",
            "gameType": "MATCHED_GAME", "gameVersion": "14.1.555.5555", "mapId": 11, "platformId": PLATFORM,
            "queueId": 420,
            "participants": [
                {"participantId": p, "puuid": puuids[p - 1], "teamId": 100 if p <= 5 else 200,
                 "teamPosition": ROLES[(p - 1) % 5], "win": blue_won == (p <= 5)}
                for p in range(1, 11)
            ],
            "teams": [{"teamId": 100, "win": blue_won}, {"teamId": 200, "win": not blue_won}],
        },
    }  # fmt: skip
    return {"match": match, "timeline": timeline}
