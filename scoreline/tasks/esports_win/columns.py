"""The 10-minute team table's columns: canonical (snake_case) names, the export's names, their kinds.

The canonical table holds ``game_id``, ``blue_wins`` and, per side, whichever of the 19 statistics
the source had (a Riot timeline gives all of them). Canonical names are snake_case
(``blue_total_gold``); the widely used export writes them in camel case (``blueTotalGold``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SIDES: tuple[str, ...] = ("blue", "red")
MINUTES = 10  # the table describes a game's state at 10:00
CUT_MS = MINUTES * 60_000  # events at or after this game time (ms) are not part of the state

StatKind = Literal["count", "flag", "level", "signed", "rate"]


@dataclass(frozen=True)
class Stat:
    name: str  # canonical suffix, e.g. "total_gold"
    export: str  # the export's suffix, e.g. "TotalGold"
    kind: StatKind  # count: whole >= 0; flag: 0/1; level: 1..18; signed: whole, may be < 0; rate: number >= 0
    description: str


STATS: tuple[Stat, ...] = (
    Stat("wards_placed", "WardsPlaced", "count", "wards placed"),
    Stat("wards_destroyed", "WardsDestroyed", "count", "enemy wards destroyed"),
    Stat("first_blood", "FirstBlood", "flag", "drew first blood (1) or not (0)"),
    Stat("kills", "Kills", "count", "champion kills"),
    Stat("deaths", "Deaths", "count", "deaths"),
    Stat("assists", "Assists", "count", "assists"),
    Stat("elite_monsters", "EliteMonsters", "count", "elite monsters killed (dragons, heralds, voidgrubs, ...)"),
    Stat("dragons", "Dragons", "count", "dragons killed"),
    Stat("heralds", "Heralds", "count", "rift heralds killed"),
    Stat("towers_destroyed", "TowersDestroyed", "count", "enemy towers destroyed"),
    Stat("total_gold", "TotalGold", "count", "gold of the five players"),
    Stat("avg_level", "AvgLevel", "level", "mean champion level"),
    Stat("total_experience", "TotalExperience", "count", "experience of the five players"),
    Stat("total_minions_killed", "TotalMinionsKilled", "count", "lane minions killed"),
    Stat("total_jungle_minions_killed", "TotalJungleMinionsKilled", "count", "jungle monsters killed"),
    Stat("gold_diff", "GoldDiff", "signed", "own gold minus the other side's"),
    Stat("experience_diff", "ExperienceDiff", "signed", "own experience minus the other side's"),
    Stat("cs_per_min", "CSPerMin", "rate", "lane minions killed per minute"),
    Stat("gold_per_min", "GoldPerMin", "rate", "gold per minute"),
)
STAT_BY_NAME: dict[str, Stat] = {stat.name: stat for stat in STATS}

GAME_ID = "game_id"
LABEL = "blue_wins"
STAT_COLUMNS: tuple[str, ...] = tuple(f"{side}_{stat.name}" for side in SIDES for stat in STATS)
CANONICAL_COLUMNS: tuple[str, ...] = (GAME_ID, LABEL, *STAT_COLUMNS)


def export_name(column: str) -> str:
    """``blue_total_gold`` → ``blueTotalGold`` (the export's header)."""
    side, _, stat = column.partition("_")
    return side + STAT_BY_NAME[stat].export


def stat_of(column: str) -> Stat:
    return STAT_BY_NAME[column.partition("_")[2]]


def has_gold(columns: set[str] | frozenset[str]) -> bool:
    """Whether the gold difference at 10:00 can be read from these canonical columns."""
    return bool(
        {"blue_total_gold", "red_total_gold"} <= columns
        or {"blue_gold_per_min", "red_gold_per_min"} <= columns
        or "blue_gold_diff" in columns
        or "red_gold_diff" in columns
    )


GOLD_REQUIREMENT = "blueTotalGold and redTotalGold, or blueGoldDiff (or redGoldDiff, or both GoldPerMin columns)"
