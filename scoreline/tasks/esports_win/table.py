"""The 10-minute team table (the high-diamond ranked games export and its many copies) → canonical.

Copies in the wild keep any subset of the columns, drop ``gameId``, write booleans as
``TRUE/FALSE``, ``True/False`` or ``0/1``, use semicolons (then often decimal commas), a BOM or
cp1252, and vary the headers' case. What is required: the label (``blueWins``; ``redWins`` or a
``winner`` column also do) and the gold at 10:00 (:data:`~.columns.GOLD_REQUIREMENT`). Every other
known column is used when present; the canonical frame's ``attrs`` say which ones were.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.esports_win.columns import (
    GAME_ID,
    GOLD_REQUIREMENT,
    LABEL,
    STAT_COLUMNS,
    export_name,
    has_gold,
    stat_of,
)
from scoreline.tasks.tabular import (
    RowProblems,
    decode_text,
    header_key,
    match_columns,
    parse_booleans,
    parse_numbers,
    parse_whole_numbers,
    read_text_table,
)

WHAT = "10-minute team table"
GAME_ID_ALIASES = ("gameId", "game", "matchId", "match_id", "id")
LABEL_ALIASES = ("blueWins", "blueWin", "blue_win", "winBlue")
RED_LABEL_ALIASES = ("redWins", "redWin", "red_win")
WINNER_ALIASES = ("winner", "winningTeam", "winning_team", "winningSide", "winner_side")
BLUE_WORDS = frozenset({"blue", "100", "b", "blueside", "blue side"})
RED_WORDS = frozenset({"red", "200", "r", "redside", "red side"})
MAX_LEVEL = 18


def wanted_columns() -> dict[str, tuple[str, ...]]:
    """Canonical stat column → accepted header names (matched loosely by :func:`header_key`)."""
    return {column: (export_name(column),) for column in STAT_COLUMNS}


def looks_like_table(header: list[str]) -> bool:
    keys = {header_key(name) for name in header}
    known = {header_key(name) for name in (*STAT_COLUMNS, *map(export_name, STAT_COLUMNS), *LABEL_ALIASES)}
    return len(keys & known) >= 2


def read_table(raw: bytes, filename: str) -> pd.DataFrame:
    """The canonical table of a 10-minute team table file, or a 422 listing every bad cell."""
    frame = read_text_table(raw, WHAT)
    if frame.empty:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{filename!r} has a header but no games; expected one row per game under the header",
            {"problems": [{"row": 2, "column": None, "value": None, "expected": "a game row"}], "count": 1},
        )
    if _semicolon_separated(raw):
        frame = _decimal_commas(frame)
    found = match_columns(list(frame.columns), wanted_columns())
    label_column, label_kind = _label_column(list(frame.columns))
    missing: list[str] = []
    if label_column is None:
        missing.append("blueWins (or redWins, or a winner column saying blue/red)")
    if not has_gold(frozenset(found)):
        missing.append(GOLD_REQUIREMENT)
    if missing:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{filename!r} lacks {' and '.join(missing)}; expected the 10-minute team table "
            "(gameId, blueWins, blueWardsPlaced, ..., blueTotalGold, ..., redTotalGold, ...), any subset with the "
            "label and the gold columns",
            {
                "problems": [
                    {"row": 1, "column": name, "value": None, "expected": "a column in the header"} for name in missing
                ],
                "count": len(missing),
                "header": list(frame.columns)[:60],
            },
        )
    problems = RowProblems()
    data: dict[str, Any] = {}
    id_column = match_columns(list(frame.columns), {GAME_ID: GAME_ID_ALIASES}).get(GAME_ID)
    data[LABEL] = _label(frame[label_column], label_column, label_kind, problems)
    for column in STAT_COLUMNS:  # canonical order, whatever the file's
        if column in found:
            data[column] = _stat(frame[found[column]], found[column], column, problems)
    _check_first_blood(data, found, frame, problems)
    _check_ten_minutes(data, found, filename, problems)
    if id_column is not None:
        ids = frame[id_column].astype("string").str.strip()
        # A spreadsheet's number format writes 4519157822 as "4,519,157,822": the same game id.
        grouped = ids.str.fullmatch(r"\d{1,3}(?:,\d{3})+").fillna(False)
        ids = ids.where(~grouped, ids.str.replace(",", "", regex=False))
        _report_blanks(ids, id_column, problems, "a game id")
    problems.raise_if_any(WHAT)
    canonical = pd.DataFrame(data)
    if id_column is not None:
        canonical.insert(0, GAME_ID, ids.astype(str).to_numpy(dtype=object))
        canonical = _without_repeats(canonical, frame, id_column)
    else:
        canonical.insert(0, GAME_ID, synthesized_keys(canonical))
    canonical = canonical.reset_index(drop=True)
    used = [column for column in STAT_COLUMNS if column in canonical.columns]
    recognised = {found[c] for c in used} | {label_column} | ({id_column} if id_column else set())
    canonical.attrs.update(
        {
            "format": "team-table",
            "columns": used,
            "source_columns": {c: found[c] for c in used} | {LABEL: label_column},
            "game_ids": "file" if id_column is not None else "synthesized from row content",
            "ignored_columns": [c for c in frame.columns if c not in recognised],
        }
    )
    return canonical


def synthesized_keys(canonical: pd.DataFrame) -> np.ndarray:
    """A stable key per row from its content (label and stats); repeats of the same content get ``-2``, ``-3``."""
    content = canonical[[c for c in canonical.columns if c != GAME_ID]].astype(np.float64)
    hashes = pd.util.hash_pandas_object(content, index=False).to_numpy(dtype=np.uint64)
    keys = pd.Series([f"h{value:016x}" for value in hashes.tolist()])
    repeat = keys.groupby(keys).cumcount().to_numpy()
    return np.where(repeat > 0, keys + "-" + (repeat + 1).astype(str), keys).astype(object)


def _semicolon_separated(raw: bytes) -> bool:
    first = decode_text(raw[:65536]).split("\n", 1)[0]
    return first.count(";") > max(first.count(","), first.count("\t"))


def _decimal_commas(frame: pd.DataFrame) -> pd.DataFrame:
    """Semicolon-separated files come from locales that write ``6,6`` for 6.6."""
    return frame.apply(lambda column: column.str.replace(r"^\s*(-?\d+),(\d+)\s*$", r"\1.\2", regex=True))


def _label_column(header: list[str]) -> tuple[str | None, str]:
    for kind, aliases in (("blue", LABEL_ALIASES), ("red", RED_LABEL_ALIASES), ("winner", WINNER_ALIASES)):
        column = match_columns(header, {"label": aliases}).get("label")
        if column is not None:
            return column, kind
    return None, ""


def _label(values: pd.Series, column: str, kind: str, problems: RowProblems) -> np.ndarray:
    if kind == "winner":
        text = values.astype("string").str.strip().str.lower()
        blue = text.isin(BLUE_WORDS).to_numpy(dtype=bool)
        red = text.isin(RED_WORDS).to_numpy(dtype=bool)
        problems.add_rows(np.flatnonzero(~(blue | red)), column, values, "blue or red (or 100 / 200)")
        return blue.astype(np.int64)
    flags = parse_booleans(values, column, problems)
    _report_blanks(values, column, problems, "true/false, 1/0 or yes/no")
    flags = np.nan_to_num(flags).astype(np.int64)
    return flags if kind == "blue" else 1 - flags


def _stat(values: pd.Series, source: str, column: str, problems: RowProblems) -> np.ndarray:
    stat = stat_of(column)
    if stat.kind == "flag":
        parsed = parse_booleans(values, source, problems)
        _report_blanks(values, source, problems, "true/false, 1/0 or yes/no")
        return np.nan_to_num(parsed).astype(np.int64)
    if stat.kind in ("count", "signed"):
        parsed = parse_whole_numbers(values, source, problems)
    else:
        parsed = parse_numbers(values, source, problems)
    _report_blanks(values, source, problems, "a number (the column is in the header, so every row needs one)")
    if stat.kind in ("count", "rate"):
        problems.add_rows(np.flatnonzero(parsed < 0), source, values, "a number >= 0")
    if stat.kind == "level":
        problems.add_rows(
            np.flatnonzero((parsed < 1) | (parsed > MAX_LEVEL)), source, values, f"a level from 1 to {MAX_LEVEL}"
        )
    if stat.kind in ("count", "signed"):
        return np.nan_to_num(parsed).astype(np.int64)
    return parsed


def _report_blanks(values: pd.Series, column: str, problems: RowProblems, expected: str) -> None:
    problems.add_rows(np.flatnonzero(values.isna().to_numpy()), column, values, expected)


def _check_first_blood(data: dict[str, Any], found: dict[str, str], frame: pd.DataFrame, problems: RowProblems) -> None:
    if "blue_first_blood" in data and "red_first_blood" in data:
        both = np.flatnonzero((data["blue_first_blood"] == 1) & (data["red_first_blood"] == 1))
        problems.add_rows(
            both,
            found["red_first_blood"],
            frame[found["red_first_blood"]],
            "0 when blueFirstBlood is 1 (one first blood)",
        )


# Medians no table of games at 10:00 reaches (a side has about 12,000-25,000 gold, levels 5-9, 150-300 lane
# minions then); end-of-game tables (e.g. the challenger ranked games export) are far above them.
TEN_MINUTE_CEILINGS = {"total_gold": 30_000.0, "avg_level": 11.0, "total_minions_killed": 450.0,
                       "total_experience": 35_000.0}  # fmt: skip


def _check_ten_minutes(data: dict[str, Any], found: dict[str, str], filename: str, problems: RowProblems) -> None:
    """A table of end-of-game statistics read as the state at 10:00 would train on the outcome itself."""
    for side in ("blue", "red"):
        for stat, ceiling in TEN_MINUTE_CEILINGS.items():
            column = f"{side}_{stat}"
            if column not in data or not len(data[column]):
                continue
            median = float(np.nanmedian(np.asarray(data[column], dtype=float)))
            if median > ceiling:
                problems.add(
                    None, found[column], median,
                    f"the state of each game at 10:00 (median {found[column]} at most {ceiling:,.0f})",
                    f"{filename!r} looks like end-of-game statistics: median {found[column]} is {median:,.1f}",
                )  # fmt: skip
                return


def _without_repeats(canonical: pd.DataFrame, frame: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """Drops exact repeats of a game; a game id on two rows that disagree is an error."""
    repeated = canonical.duplicated(GAME_ID, keep="first").to_numpy()
    if not repeated.any():
        return canonical
    exact = canonical.duplicated(keep="first").to_numpy()
    conflicting = np.flatnonzero(repeated & ~exact)
    if len(conflicting):
        problems = RowProblems()
        problems.add_rows(
            conflicting, id_column, frame[id_column], "a game id not used on an earlier row with other values"
        )
        problems.raise_if_any(WHAT)
    kept = canonical.loc[~exact]
    kept.attrs["dropped_repeats"] = int(exact.sum())
    return kept


def table_bytes(canonical: pd.DataFrame, *, export_names: bool = True) -> bytes:
    """A canonical table written back as the export's CSV (gameId, blueWins, blue..., red...)."""
    out = canonical.copy()
    if export_names:
        out = out.rename(columns={GAME_ID: "gameId", LABEL: "blueWins", **{c: export_name(c) for c in STAT_COLUMNS}})
    buffer = io.StringIO()
    out.to_csv(buffer, index=False)
    return buffer.getvalue().encode()
