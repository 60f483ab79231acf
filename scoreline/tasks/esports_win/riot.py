"""Riot API match data (match-v5, also v4's shape) → the 10-minute team table, vectorized.

A game is a ``match`` (who won, which participant plays for which team) plus its ``timeline``
(``info.frames``: one frame a minute with ``participantFrames`` keyed ``"1"``..``"10"`` and the
frame's ``events``). Accepted files:

* one JSON object ``{"match": ..., "timeline": ...}`` (or a list of them);
* JSON Lines, one such object per line;
* a zip (or gzip) of any of these, or of separate match and timeline JSON files, paired by match id;
* a timeline alone: its ``GAME_END`` event names the winning team, participants 1-5 are blue;
* an object of any of these keyed by match id (``{"EUW1_123": timeline, ...}``).

The state at 10:00 is the first frame at or after 600,000 ms (gold, experience, levels, minions)
and every event before 600,000 ms (kills, wards, monsters, towers). Games that end before
10:00 (remakes, early surrenders) are skipped and listed with the reason.

Aggregation is vectorized: one pass pulls the few fields it needs into flat arrays for the
events of all games at once, then ``np.bincount`` counts them per game and side.
"""

from __future__ import annotations

import gc
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.esports_win.columns import CUT_MS, GAME_ID, LABEL, MINUTES, STAT_COLUMNS
from scoreline.tasks.tabular import gunzip, zip_members

try:
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover - orjson is a dependency of the services, optional here
    import json

    _loads = json.loads

MAX_REPORTED = 50
NO_TIMELINE = "no timeline for this match"
MAX_FRAME_VALUE = 10_000_000  # no player's gold, experience, level or minions at 10:00 comes near it
_INT64 = (-(2**63), 2**63)
_NON_SPACE = re.compile(rb"\S")
BLUE_TEAM, RED_TEAM = 100, 200
PARTICIPANT_KEYS = tuple(str(p) for p in range(1, 11))
FRAME_FIELDS = ("totalGold", "xp", "level", "minionsKilled", "jungleMinionsKilled")
COUNTED_TYPES = frozenset({"CHAMPION_KILL", "WARD_PLACED", "WARD_KILL", "ELITE_MONSTER_KILL", "BUILDING_KILL"})
EXPECTED_FILE = (
    "Riot match-v5 data: a JSON object {'match': ..., 'timeline': ...}, JSON Lines of such objects, or a zip of them "
    "or of match and timeline JSON files"
)


@dataclass
class RiotGame:
    """One game's documents as found in the upload."""

    game_id: str
    timeline: Mapping[str, Any] | None
    match: Mapping[str, Any] | None = None
    where: str = ""  # "line 3", "EUW1_1.json": for messages


@dataclass
class JsonProblems:
    items: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0

    def add(self, where: str, game: str | None, path: str, value: Any, expected: str) -> None:
        self.total += 1
        if len(self.items) < MAX_REPORTED:
            shown = value if value is None or isinstance(value, bool | int | float) else repr(value)[:200]
            self.items.append({"row": where, "game": game, "column": path, "value": shown, "expected": expected})

    def raise_if_any(self, what: str) -> None:
        if not self.total:
            return
        first = self.items[0]
        game = f"game {first['game']} " if first["game"] else ""
        message = f"invalid {what}: {first['row']}: {game}{first['column']}: got {first['value']}; "
        message += f"expected {first['expected']}"
        if self.total > 1:
            message += f" (and {self.total - 1} more problem(s), see details)"
        raise ScorelineError(ErrorCode.INVALID_INPUT, message, {"problems": self.items, "count": self.total})


# ---- reading files --------------------------------------------------------------------------


def looks_like_json(raw: bytes) -> bool:
    head = raw[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head[:1] in (b"{", b"[")


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """Parsing creates millions of small dicts and lists without cycles: the cyclic collector would rescan
    them again and again (measured: 2.5x slower)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_games(raw: bytes, filename: str) -> list[RiotGame]:
    """Every game in a JSON / JSON Lines / zip / gzip upload, paired up; a 422 naming what is wrong."""
    with no_cyclic_gc():
        return _load_games(raw, filename)


def _load_games(raw: bytes, filename: str) -> list[RiotGame]:
    problems = JsonProblems()
    pairs: list[RiotGame] = []
    matches: dict[str, tuple[Mapping[str, Any], str]] = {}
    timelines: dict[str, tuple[Mapping[str, Any], str]] = {}
    for document, where in _documents(raw, filename, problems):
        _collect(document, where, pairs, matches, timelines, problems)
    problems.raise_if_any("Riot match data")
    for game_id, (timeline, where) in timelines.items():
        match, _ = matches.pop(game_id, (None, ""))
        pairs.append(RiotGame(game_id, timeline, match, where))
    for game_id, (match, where) in matches.items():  # a match without its timeline: reported when aggregating
        pairs.append(RiotGame(game_id, None, match, where))
    if not pairs:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT, f"{filename!r} holds no game; expected {EXPECTED_FILE}", {"filename": filename}
        )
    return pairs


def _documents(raw: bytes, where: str, problems: JsonProblems) -> Iterable[tuple[Any, str]]:
    if raw[:4] == b"PK\x03\x04":
        yield from _zip_documents(raw, where, problems)
        return
    if raw[:2] == b"\x1f\x8b":
        yield from _documents(gunzip(raw, where, code=ErrorCode.UNSUPPORTED_MEDIA), where.removesuffix(".gz"), problems)
        return
    text = raw.removeprefix(b"\xef\xbb\xbf")
    if not _json_lines(text):
        try:
            yield _loads(text), where
            return
        except ValueError as whole_error:
            if text.count(b"\n", 0, 1 << 20) < 1:
                problems.add(where, None, "", str(whole_error)[:200], "valid JSON")
                return
    lines = [line for line in text.splitlines() if line and not line.isspace()]
    for number, line in enumerate(lines, start=1):
        try:
            yield _loads(line), f"{where} line {number}"
        except ValueError as exc:
            problems.add(f"{where} line {number}", None, "", str(exc)[:200], "one JSON object per line")


def _json_lines(text: bytes) -> bool:
    """Whether the first line is a whole JSON value with more after it (parsing the whole as one would fail)."""
    end = text.find(b"\n")
    if end < 0 or _NON_SPACE.search(text, end) is None:
        return False
    try:
        _loads(text[:end])
    except ValueError:
        return False
    return True


def _zip_documents(raw: bytes, where: str, problems: JsonProblems) -> Iterable[tuple[Any, str]]:
    expected = "a zip of Riot match and timeline JSON files"
    archive, members = zip_members(raw, where, code=ErrorCode.UNSUPPORTED_MEDIA, expected=expected)
    with archive:
        for info in members:
            name = info.filename
            content = archive.read(info)
            if name.endswith(".gz"):
                content = gunzip(content, f"{where}: {name}", code=ErrorCode.UNSUPPORTED_MEDIA)
            if not looks_like_json(content):
                problems.add(f"{where}: {name}", None, "", content[:40].decode("latin-1"), "a JSON or JSON Lines file")
                continue
            yield from _documents(content, f"{where}: {name}", problems)


def _collect(
    document: Any,
    where: str,
    pairs: list[RiotGame],
    matches: dict[str, tuple[Mapping[str, Any], str]],
    timelines: dict[str, tuple[Mapping[str, Any], str]],
    problems: JsonProblems,
) -> None:
    if isinstance(document, list):
        for index, item in enumerate(document):
            _collect(item, f"{where}[{index}]", pairs, matches, timelines, problems)
        return
    if not isinstance(document, dict):
        problems.add(where, None, "", document, "a JSON object")
        return
    if "timeline" in document or "match" in document:
        timeline, match = document.get("timeline"), document.get("match")
        game_id = _game_id(match) or _game_id(timeline) or where
        pairs.append(RiotGame(game_id, timeline if isinstance(timeline, dict) else None, match, where))
        return
    body = _body(document)
    game_id = _game_id(document) or where
    if isinstance(body.get("frames"), list):
        timelines.setdefault(game_id, (document, where))
    elif "teams" in body and "participants" in body:
        matches.setdefault(game_id, (document, where))
    elif (
        document
        and not document.keys() & {"info", "metadata", "frames"}
        and all(isinstance(value, dict | list) for value in document.values())
    ):
        # games saved under their ids ({"EUW1_123": timeline, ...}, or {"EUW1_123": {"match": ..., "timeline": ...}})
        for key, value in document.items():
            _collect(value, f"{where}[{key!r}]", pairs, matches, timelines, problems)
    else:
        problems.add(where, None, "", sorted(document)[:10], "a match (info.teams) or a timeline (info.frames)")


def _body(document: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not isinstance(document, Mapping):
        return {}
    info = document.get("info")
    return info if isinstance(info, Mapping) else document  # match-v4 keeps everything at the top


def _game_id(document: Any) -> str | None:
    if not isinstance(document, Mapping):
        return None
    metadata = document.get("metadata")
    if isinstance(metadata, Mapping) and metadata.get("matchId"):
        return str(metadata["matchId"])
    body = _body(document)
    if body.get("gameId") is not None:
        platform = body.get("platformId")
        return f"{platform}_{body['gameId']}" if platform else str(body["gameId"])
    return None


# ---- aggregation -----------------------------------------------------------------------------


@dataclass
class _Prepared:
    """Per-game pieces pulled out of the documents before the vectorized part."""

    keep: list[int]  # indexes into the input games
    game_ids: list[str]
    side: np.ndarray  # (games, 11): participant id → 0 blue, 1 red, -1 unknown
    frame: np.ndarray  # (games, 10 participants, 5 FRAME_FIELDS)
    winner: np.ndarray  # (games,): 1 blue won, 0 red won, -1 unknown
    events: list[list[Mapping[str, Any]]]


def aggregate(
    games: Sequence[RiotGame], *, need_winner: bool = True, what: str = "Riot match data"
) -> tuple[pd.DataFrame, list[dict[str, str]]]:
    """The 10-minute team table of ``games`` (canonical columns) and the games skipped, with reasons."""
    problems = JsonProblems()
    skipped: list[dict[str, str]] = []
    with no_cyclic_gc():
        prepared = _prepare(games, need_winner, problems, skipped)
        problems.raise_if_any(what)
        table = _state_table(prepared)
    if need_winner:
        table.insert(1, LABEL, prepared.winner.astype(np.int64))
    return table, skipped


def _prepare(
    games: Sequence[RiotGame], need_winner: bool, problems: JsonProblems, skipped: list[dict[str, str]]
) -> _Prepared:
    keep: list[int] = []
    ids: list[str] = []
    sides: list[list[int]] = []
    frames: list[Any] = []
    winners: list[int] = []
    events: list[list[Mapping[str, Any]]] = []
    for index, game in enumerate(games):
        if game.timeline is None:
            skipped.append({"game": game.game_id, "where": game.where, "reason": NO_TIMELINE})
            continue
        body = _body(game.timeline)
        raw_frames = body.get("frames")
        if not isinstance(raw_frames, list) or not raw_frames:
            problems.add(game.where, game.game_id, "timeline.info.frames", None, "a list of per-minute frames")
            continue
        stamps = [frame.get("timestamp") if isinstance(frame, Mapping) else None for frame in raw_frames]
        at_ten = next((k for k, t in enumerate(stamps) if isinstance(t, int | float) and t >= CUT_MS), None)
        if at_ten is None:
            end = _end_ms(raw_frames, stamps)
            skipped.append(
                {
                    "game": game.game_id,
                    "where": game.where,
                    "reason": f"the game ends at {_clock(end)}, before {MINUTES}:00 (a remake or an early surrender)",
                }
            )
            continue
        participant_frames = raw_frames[at_ten].get("participantFrames")
        if not isinstance(participant_frames, Mapping):
            problems.add(
                game.where, game.game_id, f"timeline.info.frames[{at_ten}].participantFrames", None,
                'an object keyed "1".."10"',
            )  # fmt: skip
            continue
        values = [_frame_values(entry) for entry in _by_participant(participant_frames)]
        if any(row is None for row in values):
            missing = [key for key, row in zip(PARTICIPANT_KEYS, values, strict=True) if row is None]
            problems.add(
                game.where, game.game_id, f"timeline.info.frames[{at_ten}].participantFrames", missing,
                f"participants 1..10, each with numbers from 0 to {MAX_FRAME_VALUE:,} in {', '.join(FRAME_FIELDS)}",
            )  # fmt: skip
            continue
        winner = _winner(game.match, raw_frames)
        if need_winner and winner < 0:
            problems.add(
                game.where, game.game_id, "match.info.teams[].win", None,
                "a match whose teams say which won, or a timeline with a GAME_END event naming winningTeam",
            )  # fmt: skip
            continue
        keep.append(index)
        ids.append(game.game_id)
        sides.append(_sides(game.match))
        frames.append(values)
        winners.append(winner)
        # Events are in time order across frames: none before 10:00 sits after the frame that follows 10:00.
        events.append(_counted_events(raw_frames[: at_ten + 2]))
    n = len(keep)
    return _Prepared(
        keep=keep,
        game_ids=ids,
        side=np.array(sides, dtype=np.int64).reshape(n, 11),
        frame=np.array(frames, dtype=np.float64).reshape(n, 10, len(FRAME_FIELDS)),
        winner=np.array(winners, dtype=np.int64),
        events=events,
    )


def _items(value: Any) -> list[Any] | tuple[()]:
    """``value`` if it is a JSON list, else nothing: a document's lists are read only where they are lists."""
    return value if isinstance(value, list) else ()


def _counted_events(frames: list[Any]) -> list[Mapping[str, Any]]:
    """The events of ``frames`` of the types that are counted (one pass: timelines are mostly other events)."""
    try:
        return [e for frame in frames for e in (frame.get("events") or ()) if e.get("type") in COUNTED_TYPES]
    except (AttributeError, TypeError):  # a frame, events or an event type of another JSON type: skip those
        return [
            e
            for frame in frames
            if isinstance(frame, Mapping)
            for e in _items(frame.get("events"))
            if isinstance(e, Mapping) and isinstance(e.get("type"), str) and e["type"] in COUNTED_TYPES
        ]


def _by_participant(participant_frames: Mapping[str, Any]) -> list[Any]:
    """The entries of participants 1..10 in order. Match-v4 timelines key them "1".."10" in another order than the
    ``participantId`` inside (key "1" holding participant 3): the inside id is used when every entry has a distinct
    one from 1 to 10, else the key."""
    entries = [participant_frames.get(key) for key in PARTICIPANT_KEYS]
    inside = [entry.get("participantId") if isinstance(entry, Mapping) else None for entry in entries]
    if sorted(pid for pid in inside if isinstance(pid, int) and not isinstance(pid, bool)) != list(range(1, 11)):
        return entries
    by_id = dict(zip(inside, entries, strict=True))
    return [by_id[pid] for pid in range(1, 11)]


def _frame_values(entry: Any) -> list[float] | None:
    if not isinstance(entry, Mapping):
        return None
    values = [entry.get(name) for name in FRAME_FIELDS]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= MAX_FRAME_VALUE for v in values):
        return None
    return values


def _end_ms(frames: list[Any], stamps: list[Any]) -> float:
    ends = [
        e.get("timestamp", 0)
        for e in (_items(frames[-1].get("events")) if isinstance(frames[-1], Mapping) else ())
        if isinstance(e, Mapping) and e.get("type") == "GAME_END"
    ]
    ends = [t for t in ends if isinstance(t, int | float) and not isinstance(t, bool)]
    numbers = [t for t in stamps if isinstance(t, int | float)]
    return float(max([*ends, *numbers, 0]))


def _clock(ms: float) -> str:
    seconds = int(ms // 1000)
    return f"{seconds // 60}:{seconds % 60:02d}"


def _sides(match: Mapping[str, Any] | None) -> list[int]:
    """Participant id → side (index 0 unused). Riot numbers blue's players 1-5 and red's 6-10."""
    side = [-1, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    for participant in _items(_body(match).get("participants")):
        if not isinstance(participant, Mapping):
            continue
        pid, team = participant.get("participantId"), participant.get("teamId")
        if isinstance(pid, int) and 1 <= pid <= 10 and team in (BLUE_TEAM, RED_TEAM):
            side[pid] = 0 if team == BLUE_TEAM else 1
    return side


def _winner(match: Mapping[str, Any] | None, frames: list[Any]) -> int:
    """1 if blue won, 0 if red won, -1 if the documents do not say."""
    for team in _items(_body(match).get("teams")):
        if isinstance(team, Mapping) and team.get("teamId") in (BLUE_TEAM, RED_TEAM):
            won = team.get("win")
            if isinstance(won, str):  # match-v4: "Win" / "Fail"
                won = won.lower() == "win"
            if isinstance(won, bool):
                return int(won == (team["teamId"] == BLUE_TEAM))
    last = frames[-1] if isinstance(frames[-1], Mapping) else {}
    for event in _items(last.get("events")):
        if isinstance(event, Mapping) and event.get("type") == "GAME_END" and event.get("winningTeam"):
            return int(event["winningTeam"] == BLUE_TEAM)
    return -1


def _numbers(events: list[Mapping[str, Any]], key: str, missing: float, dtype: type = np.int64) -> np.ndarray:
    """``event[key]`` of every event as a flat array (``missing`` where absent, not a number or, for integers,
    beyond int64)."""
    try:  # fast path: every value is a number or absent
        return np.fromiter((e.get(key, missing) for e in events), dtype=dtype, count=len(events))
    except (TypeError, ValueError, OverflowError):
        low, high = _INT64 if dtype is np.int64 else (-np.inf, np.inf)
        return np.fromiter(
            (
                v
                if isinstance(v := e.get(key), int | float) and not isinstance(v, bool) and low <= v < high
                else missing
                for e in events
            ),
            dtype=dtype,
            count=len(events),
        )


def _texts(events: list[Mapping[str, Any]], key: str) -> np.ndarray:
    """``event[key]`` of every event where it is text, else ""; always one dimension (a list is not spread)."""
    out = np.empty(len(events), dtype=object)
    out[:] = [v if isinstance(v := e.get(key), str) else "" for e in events]
    return out


def _state_table(prepared: _Prepared) -> pd.DataFrame:
    n = len(prepared.game_ids)
    counts = np.fromiter(map(len, prepared.events), dtype=np.int64, count=n)
    events = list(itertools.chain.from_iterable(prepared.events))
    stamps = _numbers(events, "timestamp", np.inf, np.float64)
    counted = np.flatnonzero(stamps < CUT_MS)
    events = [events[i] for i in counted]
    game = np.repeat(np.arange(n, dtype=np.int64), counts)[counted]
    stamps = stamps[counted]
    kinds = _texts(events, "type")

    def side_of(participant: np.ndarray) -> np.ndarray:
        valid = (participant >= 1) & (participant <= 10)
        return np.where(valid, prepared.side[game, np.clip(participant, 0, 10)], -1)

    def per_side(mask: np.ndarray, side: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        ok = mask & (side >= 0)
        slots = game[ok] * 2 + side[ok]
        totals = np.bincount(slots, weights=None if weights is None else weights[ok], minlength=2 * n)
        return totals.reshape(n, 2)

    def field(rows: np.ndarray, key: str) -> np.ndarray:
        """``key`` of the events at ``rows`` (-1 elsewhere): each field is read only where it means something."""
        out = np.full(len(events), -1, dtype=np.int64)
        out[rows] = _numbers([events[i] for i in rows], key, -1)
        return out

    def texts(rows: np.ndarray, key: str) -> np.ndarray:
        out = np.full(len(events), "", dtype=object)
        out[rows] = _texts([events[i] for i in rows], key)
        return out

    kill, placed, cleared = kinds == "CHAMPION_KILL", kinds == "WARD_PLACED", kinds == "WARD_KILL"
    elite, building = kinds == "ELITE_MONSTER_KILL", kinds == "BUILDING_KILL"
    kill_at, elite_at, building_at = np.flatnonzero(kill), np.flatnonzero(elite), np.flatnonzero(building)
    victim = field(kill_at, "victimId")
    creator = field(np.flatnonzero(placed), "creatorId")
    killer = field(np.flatnonzero(cleared | elite | building), "killerId")
    killer_team, team = field(elite_at, "killerTeamId"), field(building_at, "teamId")
    monster, building_type = texts(elite_at, "monsterType"), texts(building_at, "buildingType")
    assisting = np.zeros(len(events))
    assisting[kill_at] = [
        len(a) if isinstance(a := events[i].get("assistingParticipantIds"), list) else 0 for i in kill_at
    ]

    victim_side = side_of(victim)
    scorer = np.where(victim_side >= 0, 1 - victim_side, -1)  # an execution still counts for the other side
    stats: dict[str, np.ndarray] = {
        "kills": per_side(kill, scorer),
        "deaths": per_side(kill, victim_side),
        "assists": per_side(kill, scorer, assisting),
        "wards_placed": per_side(placed, side_of(creator)),
        "wards_destroyed": per_side(cleared, side_of(killer)),
    }
    monster_side = np.where(np.isin(killer_team, (BLUE_TEAM, RED_TEAM)), (killer_team == RED_TEAM), side_of(killer))
    stats["elite_monsters"] = per_side(elite, monster_side)
    stats["dragons"] = per_side(elite & (monster == "DRAGON"), monster_side)
    stats["heralds"] = per_side(elite & (monster == "RIFTHERALD"), monster_side)
    tower = building & np.isin(building_type, ("TOWER_BUILDING", ""))
    loser = np.where(np.isin(team, (BLUE_TEAM, RED_TEAM)), (team == RED_TEAM).astype(np.int64), -1)
    destroyer = np.where(loser >= 0, 1 - loser, side_of(killer))
    stats["towers_destroyed"] = per_side(tower, destroyer)
    first = np.zeros((n, 2))
    kill_rows = np.flatnonzero(kill & (scorer >= 0))
    if len(kill_rows):
        ordered = kill_rows[np.lexsort((stamps[kill_rows], game[kill_rows]))]
        games_with_kill, first_index = np.unique(game[ordered], return_index=True)
        first[games_with_kill, scorer[ordered[first_index]]] = 1

    stats["first_blood"] = first
    values = prepared.frame  # (games, 10, fields)
    player_side = prepared.side[:, 1:]
    for field_index, name in enumerate(("total_gold", "total_experience", "level", "total_minions_killed",
                                        "total_jungle_minions_killed")):  # fmt: skip
        column = values[:, :, field_index]
        stats[name] = np.column_stack([np.where(player_side == s, column, 0.0).sum(axis=1) for s in (0, 1)])
    players = np.column_stack([(player_side == s).sum(axis=1) for s in (0, 1)])
    stats["avg_level"] = stats.pop("level") / np.maximum(players, 1)
    gold, experience = stats["total_gold"], stats["total_experience"]
    stats["gold_diff"] = np.column_stack([gold[:, 0] - gold[:, 1], gold[:, 1] - gold[:, 0]])
    stats["experience_diff"] = np.column_stack(
        [experience[:, 0] - experience[:, 1], experience[:, 1] - experience[:, 0]]
    )
    stats["cs_per_min"] = stats["total_minions_killed"] / MINUTES
    stats["gold_per_min"] = gold / MINUTES

    data: dict[str, Any] = {GAME_ID: np.array(prepared.game_ids, dtype=object)}
    for column in STAT_COLUMNS:
        side_name, _, stat = column.partition("_")
        value = stats[stat][:, 0 if side_name == "blue" else 1]
        data[column] = value if stat in ("avg_level", "cs_per_min", "gold_per_min") else np.rint(value).astype(np.int64)
    return pd.DataFrame(data)
