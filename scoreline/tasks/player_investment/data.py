"""Raw player files → the canonical rookie table (one row per rookie), with every problem explained.

Two raw formats are recognised from the header:

* ``rookie-table``: the classic five-year-career table (``Name, GP, MIN, PTS, FGM, FGA, FG%, 3P Made, 3PA,
  3P%, FTM, FTA, FT%, OREB, DREB, REB, AST, STL, BLK, TOV, TARGET_5Yrs``), per-game averages of the rookie
  season, percentages 0-100. Optional extra columns ``Season``/``Year`` and ``Age`` are kept when present
  (``Year Drafted`` instead of a season: the rookie season is the one after the draft);
  without ``TARGET_5Yrs`` every row is unlabelled (a table to predict). Exact duplicate rows are dropped;
  rows with the same name and the same stats but different labels (the known artefact of the original table,
  made by joining players on their name) are dropped as ambiguous; same-name rows with different stats are
  distinct players. An empty ``3P%`` is computed from ``3P Made``/``3PA`` (0 when there were no attempts).
* ``season-table``: Basketball-Reference player seasons (``Season, Player, Pos, Age, Tm, G, GS, MP, FG, FGA,
  ..., PTS``), season totals (a per-game export is recognised and turned into totals), R ``read.csv`` header
  variants, ``Year`` for ``Season``, ``Team`` for ``Tm``. One row per rookie is derived: the player's first
  season in the file, per game, in the rookie table's units; the label is "played at least five distinct
  seasons". Traded players: the ``TOT`` (``2TM``, ``3TM``...) row is used and the per-team rows dropped; a
  file without team column that lists the total first is recognised (its games are the sum of the others);
  per-team rows without a total are summed. Players who share a name are told apart by birth year
  (season end year - age, ±1) unless the file has a player id column (``Player-additional``).

Censoring (``censoring`` column): ``left`` when the player's first season is the file's first season (the
real rookie season may be earlier, so the row is not a rookie row: no label, never trained on); ``recent``
when the career started too late to know (fewer than five seasons and first season + 4 > the file's last
season): unlabelled, kept for prediction.

Notes about what was dropped or repaired are in ``frame.attrs["notes"]``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.tabular import (
    RowProblems,
    files_error,
    header_key,
    match_columns,
    parse_numbers,
    parse_whole_numbers,
    read_text_table,
    zip_members,
)

STAT_COLUMNS: tuple[str, ...] = (
    "gp", "min", "pts", "fgm", "fga", "fg_pct", "fg3m", "fg3a", "fg3_pct", "ftm", "fta", "ft_pct",
    "oreb", "dreb", "reb", "ast", "stl", "blk", "tov",
)  # fmt: skip
CANONICAL_COLUMNS: tuple[str, ...] = (
    "player", "rookie_season", "age", *STAT_COLUMNS, "target", "source", "censoring", "birth_year",
)  # fmt: skip
PERCENT_OF: dict[str, tuple[str, str]] = {"fg_pct": ("fgm", "fga"), "fg3_pct": ("fg3m", "fg3a"),
                                          "ft_pct": ("ftm", "fta")}  # fmt: skip
FIVE_SEASONS = 5
ROOKIE_SOURCE = "rookie-table"
SEASON_SOURCE = "season-table"
SEASON_EXPECTED = "a season like 2004-05, 2004-2005 or 2005 (the end year)"
TOTAL_TEAM = re.compile(r"^(TOT|\d+TM)$", re.IGNORECASE)
SKIPPED_NAMES = frozenset({"player", "league average", "name"})
ROW_NUMBER_KEYS = frozenset({"rk", "index"})  # header keys of a row-number column (pandas' saved index: "Unnamed: 0")
PLAYER_KEYS = frozenset({"player", "name", "playername"})  # header keys of a player name column
# Header keys only a Basketball-Reference season export has (rank, position, team, games started).
BBREF_MARKERS = frozenset({"rk", "pos", "tm", "team", "gs"})
# Header keys of a draft table (Basketball-Reference's draft pages: Rk, Pk, Tm, Player, College, Yrs, G, MP, ...).
DRAFT_MARKERS = frozenset({"pk", "yrs"})
# Header keys of Basketball-Reference's advanced table (PER, TS%, USG%, WS, WS/48, BPM, VORP).
ADVANCED_MARKERS = frozenset({"per", "tspct", "usgpct", "ws", "ws48", "bpm", "vorp"})
SEASON_IN_NAME = re.compile(r"(?<!\d)(?:19|20)\d{2}(?:\s*[-_\u2013]\s*(?:(?:19|20)\d{2}|\d{2}))?(?!\d)")
DRAFT_YEAR_EXPECTED = "a draft year such as 2016 (or Undrafted)"
UNDRAFTED_WORDS = frozenset({"undrafted", "ud"})
FIRST_DATA_ROW = 2  # spreadsheet numbering: the header is row 1

ROOKIE_ALIASES: dict[str, tuple[str, ...]] = {
    "player": ("Name", "Player", "PLAYER_NAME"),
    "gp": ("GP", "G", "games"),
    "min": ("MIN", "MPG", "MP"),
    "pts": ("PTS",),
    "fgm": ("FGM", "FG"),
    "fga": ("FGA",),
    "fg_pct": ("FG%", "FG_PCT"),
    "fg3m": ("3P Made", "3PM", "3P", "FG3M", "3P_Made"),
    "fg3a": ("3PA", "FG3A"),
    "fg3_pct": ("3P%", "FG3_PCT"),
    "ftm": ("FTM", "FT"),
    "fta": ("FTA",),
    "ft_pct": ("FT%", "FT_PCT"),
    "oreb": ("OREB", "ORB"),
    "dreb": ("DREB", "DRB"),
    "reb": ("REB", "TRB"),
    "ast": ("AST",),
    "stl": ("STL",),
    "blk": ("BLK",),
    "tov": ("TOV", "TO"),
    "target": ("TARGET_5Yrs", "TARGET_5YRS", "target_5yrs", "five_plus"),
    "rookie_season": ("rookie_season", "Season", "Year"),
    # the draft year (Kaggle's "NBA Rookies by Year": Name, Year Drafted, GP, ...): the rookie season is the next
    "draft_year": ("Year Drafted", "draft_year", "Draft Year"),
    "age": ("Age",),
}
ROOKIE_REQUIRED = ("player", "gp", "min", "pts", "fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "reb", "ast", "stl",
                   "blk", "tov")  # fmt: skip
ROOKIE_HEADER = "Name, GP, MIN, PTS, FGM, FGA, FG%, 3P Made, 3PA, 3P%, FTM, FTA, FT%, OREB, DREB, REB, AST, STL, " \
    "BLK, TOV, TARGET_5Yrs"  # fmt: skip

SEASON_ALIASES: dict[str, tuple[str, ...]] = {
    "season": ("Season", "Year", "season_end", "SEASON_ID"),
    "player": ("Player", "Name", "PLAYER_NAME"),
    "player_id": ("Player-additional", "player_id", "PlayerID", "Player ID", "slug", "bbref_id"),
    "age": ("Age",),
    "team": ("Tm", "Team", "TEAM_ABBREVIATION"),
    "g": ("G", "GP"),
    "mp": ("MP", "MIN"),
    "fg": ("FG", "FGM"),
    "fga": ("FGA",),
    "fg3": ("3P", "3PM", "FG3M"),
    "fg3a": ("3PA", "FG3A"),
    "ft": ("FT", "FTM"),
    "fta": ("FTA",),
    "orb": ("ORB", "OREB"),
    "drb": ("DRB", "DREB"),
    "trb": ("TRB", "REB"),
    "ast": ("AST",),
    "stl": ("STL",),
    "blk": ("BLK",),
    "tov": ("TOV", "TO"),
    "pts": ("PTS",),
}
SEASON_REQUIRED = ("season", "player", "g", "mp", "fg", "fga", "ft", "fta", "trb", "ast", "pts")
SEASON_TOTALS = ("g", "mp", "fg", "fga", "fg3", "fg3a", "ft", "fta", "orb", "drb", "trb", "ast", "stl", "blk",
                 "tov", "pts")  # fmt: skip
SEASON_HEADER = "Season, Player, Pos, Age, Tm, G, GS, MP, FG, FGA, FG%, 3P, 3PA, 3P%, ..., ORB, DRB, TRB, AST, " \
    "STL, BLK, TOV, PF, PTS"  # fmt: skip
# season totals → rookie-table per-game columns
PER_GAME_OF: dict[str, str] = {"min": "mp", "pts": "pts", "fgm": "fg", "fga": "fga", "fg3m": "fg3", "fg3a": "fg3a",
                               "ftm": "ft", "fta": "fta", "oreb": "orb", "dreb": "drb", "reb": "trb", "ast": "ast",
                               "stl": "stl", "blk": "blk", "tov": "tov"}  # fmt: skip


def to_canonical(raw: bytes, filename: str) -> pd.DataFrame:
    """The canonical rookie table of a rookie table or a season-by-season table (format from the header), or of
    a zip of such files (e.g. one Basketball-Reference export per season)."""
    if raw[:4] == b"PK\x03\x04":
        return _zip_to_canonical(raw, filename)
    table = read_player_table(raw, "player stats")
    try:
        return _convert(*_recognise(table, filename))
    except ScorelineError as exc:
        raise _rows_below_group_header(exc, table) from exc


def read_player_table(raw: bytes, what: str) -> pd.DataFrame:
    """The file's table; when its first line only groups the columns (Basketball-Reference's draft export:
    ``,,,,,,Totals,,,,Shooting,,,Per Game,...`` above ``Rk,Pk,Tm,Player,...``; pandas' two-level CSV header),
    the second line is the header. ``attrs["group_header_rows"]`` counts the lines dropped above it."""
    table = read_text_table(raw, what)
    keys = {header_key(c) for c in table.columns}
    if len(table) < 2 or keys & PLAYER_KEYS:
        return table
    first = [str(v).strip() if isinstance(v, str) else "" for v in table.iloc[0].tolist()]
    if not {header_key(v) for v in first if v} & PLAYER_KEYS:
        return table
    names: list[str] = []
    seen: dict[str, int] = {}
    for position, value in enumerate(first):  # a repeated name (MP of the totals and of the per-game group): MP.1
        value = value or f"Unnamed: {position}"
        seen[value] = seen.get(value, -1) + 1
        names.append(value if not seen[value] else f"{value}.{seen[value]}")
    promoted = table.iloc[1:].set_axis(names, axis=1).reset_index(drop=True)
    promoted = promoted.loc[:, [not c.startswith("Unnamed: ") or promoted[c].notna().any() for c in names]]
    promoted.attrs["group_header_rows"] = 1
    return promoted


def _rows_below_group_header(exc: ScorelineError, table: pd.DataFrame) -> ScorelineError:
    """``exc`` with its rows counted in the file's lines when a group header line sat above the header."""
    shift = int(table.attrs.get("group_header_rows", 0))
    details = exc.details or {}
    if not shift or not isinstance(details.get("problems"), list):
        return exc
    problems = []
    for item in details["problems"]:
        item = dict(item)
        if isinstance(item.get("row"), int):
            item["row"] += shift
        problems.append(item)
    message = exc.message
    first = next((p for p in problems if isinstance(p.get("row"), int)), None)
    if first is not None:
        message = re.sub(r"\brow \d+", f"row {first['row']}", message, count=1)
    return ScorelineError(exc.code, message, {**details, "problems": problems})


def _convert(kind: str, table: pd.DataFrame) -> pd.DataFrame:
    return season_table_to_canonical(table) if kind == SEASON_SOURCE else rookie_table_to_canonical(table)


def _recognise(table: pd.DataFrame, filename: str) -> tuple[str, pd.DataFrame]:
    """The table's format, and the table with its season column filled from the file name when a
    Basketball-Reference season export (``Rk, Player, Pos, Age, Tm, G, GS, MP, ...``) has none."""
    columns = list(table.columns)
    keys = {header_key(c) for c in columns}
    rookie = match_columns(columns, ROOKIE_ALIASES)
    season = match_columns(columns, SEASON_ALIASES)
    if keys >= DRAFT_MARKERS:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{filename!r} is a draft table ({', '.join(columns[:8])}, ...): its stats are career totals and "
            "averages of every pick, not the rookie season's; expected the rookie table header "
            f"({ROOKIE_HEADER}) or Basketball-Reference season tables ({SEASON_HEADER}), e.g. one per-game or "
            "totals export per season in a zip",
            {"problems": [{"row": 1, "column": "Yrs", "value": columns[:30],
                           "expected": "rookie-season stats, not career totals"}], "count": 1},
        )  # fmt: skip
    is_rookie = {"gp", "min"} <= keys or "target5yrs" in keys
    if not is_rookie and "season" in season and "player" in season:
        return SEASON_SOURCE, table
    if not is_rookie and "player" in season and "target" not in rookie and keys & BBREF_MARKERS:
        # One season's export, as Basketball-Reference and its copies give it: no season column. Read as a
        # rookie table it would make every veteran's season a rookie season.
        named = season_from_filename(filename)
        if named is None:
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                f"{filename!r} looks like one season of a Basketball-Reference export ({', '.join(columns[:8])}, ...) "
                "but has no Season column and its name names no season; expected a Season column (e.g. 2021-22) "
                "or a file named after its season (e.g. NBA_2022_totals.csv), best several seasons in one zip",
                {"problems": [{"row": 1, "column": "Season", "value": None,
                               "expected": "a Season column or a season in the file name"}], "count": 1},
            )  # fmt: skip
        return SEASON_SOURCE, table.assign(Season=named)
    if is_rookie or ("player" in rookie and "season" not in season):
        return ROOKIE_SOURCE, table
    missing_rookie = [ROOKIE_ALIASES[c][0] for c in ROOKIE_REQUIRED if c not in rookie]
    missing_season = [SEASON_ALIASES[c][0] for c in SEASON_REQUIRED if c not in season]
    closer, lacking = (
        ("rookie table", missing_rookie) if len(missing_rookie) <= len(missing_season) else
        ("season table", missing_season)
    )  # fmt: skip
    raise ScorelineError(
        ErrorCode.INVALID_INPUT,
        f"{filename!r}: unrecognised columns {columns[:12]}; as a {closer} it lacks {', '.join(lacking)}; expected "
        f"the rookie table header ({ROOKIE_HEADER}) or a Basketball-Reference season table header ({SEASON_HEADER})",
        {
            "problems": [{"row": 1, "column": None, "value": columns[:30], "expected": "a known header"}],
            "count": 1,
            "missing_for_rookie_table": missing_rookie,
            "missing_for_season_table": missing_season,
        },
    )


def season_from_filename(filename: str) -> str | None:
    """The season a file's name names, as its end year (``NBA_2022_totals.csv``, ``2021-2022 NBA Player Stats``,
    ``stats_2021-22.csv``), or None."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    for match in reversed(list(SEASON_IN_NAME.finditer(base))):
        text = re.sub(r"\s*[-_\u2013]\s*", "-", match.group(0))
        end = parse_seasons(pd.Series([text], dtype="string"), "file name", RowProblems())[0]
        if np.isfinite(end):
            return str(int(end))
    return None


def _zip_to_canonical(raw: bytes, filename: str) -> pd.DataFrame:
    """Every CSV in a zip as one table (seasons of one league: careers span the files); problems name the file
    inside the zip and its own row."""
    archive, files = zip_members(raw, filename, expected="a zip of player stats CSV files (e.g. one per season)")
    members = [info.filename for info in files if info.filename.lower().endswith((".csv", ".tsv", ".txt"))]
    if not members:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{filename!r} holds no .csv file; expected a zip of player stats CSV files (e.g. one per season)",
            {"problems": [{"row": None, "column": None, "value": filename, "expected": "a zip with .csv files"}],
             "count": 1},
        )  # fmt: skip
    tables, kinds, failures, advanced = [], set(), [], []
    for name in members:
        try:
            table = read_player_table(archive.read(name), f"player stats ({name})")
            kind, table = _recognise(table, name)
        except ScorelineError as exc:
            if exc.code != ErrorCode.INVALID_INPUT:
                raise
            failures.append((name, exc))
            continue
        if kind == SEASON_SOURCE and is_advanced_table(table):
            advanced.append(name)  # the same seasons' advanced export, next to their totals or per-game files
            continue
        kinds.add(kind)
        tables.append((name, table))
    if failures:
        raise files_error(failures, len(members))
    if advanced and not tables:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{filename!r} holds only advanced-stats tables ({', '.join(advanced[:5])}: PER, TS%, WS, ... without "
            "FG, FGA, FT, FTA, PTS); expected per-game or totals season tables (e.g. NBA_2016_per_game.csv)",
            {"problems": [{"row": 1, "column": "FG", "value": advanced[:20], "expected": "a totals or per-game table"}],
             "count": 1},
        )  # fmt: skip
    if len(kinds) > 1:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{filename!r} mixes rookie tables and season tables; expected files of one kind",
            {"problems": [{"row": None, "column": None, "value": members[:20], "expected": "files of one format"}],
             "count": 1},
        )  # fmt: skip
    names = [name for name, _ in tables]
    frame = _joined_seasons(tables) if kinds == {SEASON_SOURCE} else _joined_rookies(tables)
    frame.attrs["files"] = names
    if advanced:
        frame.attrs["skipped_files"] = advanced
        frame.attrs["notes"] = [
            *frame.attrs.get("notes", []),
            f"{len(advanced)} advanced-stats file(s) skipped "
            f"(rates such as PER and WS; the rookie model reads box scores): {', '.join(advanced)}",
        ]
    return frame


def is_advanced_table(table: pd.DataFrame) -> bool:
    """Whether a season table is Basketball-Reference's advanced export (PER, TS%, WS, BPM, ...) without the box
    score (FG, FGA, PTS)."""
    keys = {header_key(c) for c in table.columns}
    return len(keys & ADVANCED_MARKERS) >= 2 and not keys & {"fg", "fgm", "fga", "pts"}


def _joined_seasons(tables: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    """Season files read one by one (their own headers, per-game or totals, row numbers), then one career table:
    the same season row in two files counts once."""
    parts, notes, failures, ids = [], [], [], True
    for name, table in tables:
        try:
            seasons, file_notes, has_ids = _season_rows(table)
        except ScorelineError as exc:
            if exc.code != ErrorCode.INVALID_INPUT:
                raise
            failures.append((name, _rows_below_group_header(exc, table)))
            continue
        parts.append(seasons.drop(columns=["player_id"], errors="ignore") if not has_ids else seasons)
        notes += [f"{name}: {note}" for note in file_notes]
        ids &= has_ids
    if failures:
        raise files_error(failures, len(tables))
    seasons = pd.concat(parts, ignore_index=True, sort=False)
    repeated = seasons.drop(columns=["name_key"]).duplicated(keep="first").to_numpy()
    if repeated.any():
        notes.append(f"{int(repeated.sum())} season row(s) found in two files counted once")
        seasons = seasons[~repeated].reset_index(drop=True)
    return _seasons_to_rookies(seasons, ids, notes)


def _joined_rookies(tables: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame:
    joined = [(name, _common_names(table, ROOKIE_ALIASES)) for name, table in tables]
    starts = np.cumsum([0] + [len(table) for _, table in joined])
    combined = pd.concat([table for _, table in joined], ignore_index=True, sort=False)
    try:
        return rookie_table_to_canonical(combined)
    except ScorelineError as exc:
        raise _in_member_rows(exc, [name for name, _ in joined], starts) from exc


def _in_member_rows(exc: ScorelineError, names: list[str], starts: np.ndarray) -> ScorelineError:
    """A problem report of the concatenated table with each row as the file and row it came from."""
    details = dict(exc.details or {})
    problems = []
    for item in details.get("problems", []):
        item = dict(item)
        if item.get("row") is not None and item["row"] >= FIRST_DATA_ROW:
            position = item["row"] - FIRST_DATA_ROW
            member = int(np.searchsorted(starts, position, side="right")) - 1
            item["file"], item["row"] = names[member], int(position - starts[member]) + FIRST_DATA_ROW
        problems.append(item)
    details["problems"] = problems
    first = next((p for p in problems if "file" in p), None)
    if first is None:
        return ScorelineError(exc.code, exc.message, details)
    count = details.get("count") or len(problems)
    message = (
        f"{count} problem(s) in the zip's files; first: {first['file']}, row {first['row']}, column "
        f"{first['column']!r}: {first.get('message') or repr(first['value'])}; expected {first['expected']}"
    )
    return ScorelineError(exc.code, message, details)


def _common_names(table: pd.DataFrame, aliases: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """The table's known columns under one name each (``Year`` → ``Season``, ``Team`` → ``Tm``), so files that
    spell their headers differently line up when the zip's tables are joined."""
    found = match_columns(list(table.columns), aliases)
    renamed = {column: aliases[canonical][0] for canonical, column in found.items()}
    others = [c for c in table.columns if c not in renamed and c not in renamed.values()]
    return table[[*renamed, *others]].rename(columns=renamed)


# ---- shared -------------------------------------------------------------------------------------------


def _require(found: Mapping[str, str], required: Sequence[str], aliases: Mapping[str, Sequence[str]],
             what: str, header: str, columns: Sequence[str]) -> None:  # fmt: skip
    missing = [name for name in required if name not in found]
    if not missing:
        return
    problems = RowProblems()
    for name in missing:
        names = " or ".join(repr(a) for a in aliases[name][:3])
        problems.add(None, aliases[name][0], None, f"a column {names} ({what}: {header})",
                     f"missing column {aliases[name][0]!r}")  # fmt: skip
    problems.items[0]["message"] += f" (the file has {list(columns)[:25]})"
    problems.raise_if_any(what)


def _no_rows(what: str, header: str) -> None:
    raise ScorelineError(
        ErrorCode.INVALID_INPUT,
        f"the {what} has a header but no player rows; expected one row per player under the header ({header})",
        {"problems": [{"row": 2, "column": None, "value": None, "expected": "a player row"}], "count": 1},
    )


def display_name(name: str) -> str:
    """A player's name as shown: whitespace collapsed, Basketball-Reference's Hall of Fame ``*`` removed."""
    return re.sub(r"\s+", " ", name.replace("*", "")).strip()


def name_key(name: str) -> str:
    """A loose identity key for a name: no accents, case, punctuation or Hall of Fame mark."""
    plain = unicodedata.normalize("NFKD", display_name(name))
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    return re.sub(r"[^0-9a-z]+", " ", plain.casefold()).strip()


def parse_seasons(values: pd.Series, column: str, problems: RowProblems) -> np.ndarray:
    """Season end years from ``2004-05`` (hyphen or en dash), ``2004-2005``, ``2005`` or ``2005.0`` (NaN if missing)."""
    text = values.astype("string").str.strip()
    parts = text.str.extract(r"^(\d{4})(?:\.0+)?(?:\s*[-\u2013/]\s*(\d{2}|\d{4}))?$")
    start = pd.to_numeric(parts[0], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    suffix = parts[1]
    single = suffix.isna().to_numpy()
    end = np.where(single, start, start + 1)
    written = pd.to_numeric(suffix, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    short = suffix.str.len().to_numpy(dtype=float, na_value=0) == 2
    consistent = single | np.where(short, written == end % 100, written == end)
    bad = (values.notna().to_numpy() & np.isnan(start)) | ~consistent | (end < 1900) | (end > 2100)
    problems.add_rows(np.flatnonzero(bad), column, values, SEASON_EXPECTED)
    end[bad] = np.nan
    return end


def _check_range(values: np.ndarray, low: float, high: float, raw: pd.Series, column: str, problems: RowProblems,
                 expected: str) -> None:  # fmt: skip
    bad = np.isfinite(values) & ((values < low) | (values > high))
    problems.add_rows(np.flatnonzero(bad), column, raw, expected)


def fill_percentages(frame: pd.DataFrame) -> pd.DataFrame:
    """Percentages (0-100) from made/attempts where missing; 0 when there were no attempts (rookie-table habit)."""
    out = frame.copy()
    for pct, (made, attempts) in PERCENT_OF.items():
        a = out[attempts].to_numpy(dtype=float)
        m = out[made].to_numpy(dtype=float)
        given = out[pct].to_numpy(dtype=float) if pct in out else np.full(len(out), np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            computed = np.where(a > 0, 100.0 * m / a, np.where(a == 0, 0.0, np.nan))
        out[pct] = np.where(np.isnan(given), computed, given)
    return out


def _finish(frame: pd.DataFrame, notes: list[str], fmt: str) -> pd.DataFrame:
    frame = frame.reindex(columns=list(CANONICAL_COLUMNS))
    for column in STAT_COLUMNS:
        frame[column] = frame[column].astype("float64")
    frame["age"] = frame["age"].astype("float64")
    frame["target"] = frame["target"].astype("float64")
    frame["rookie_season"] = frame["rookie_season"].astype("Int64")
    frame["birth_year"] = frame["birth_year"].astype("Int64")
    frame["player"] = frame["player"].astype(str)
    frame["censoring"] = frame["censoring"].fillna("").astype(str)
    frame = frame.sort_values(["rookie_season", "player"], kind="stable", na_position="first").reset_index(drop=True)
    frame.attrs["format"] = fmt
    frame.attrs["notes"] = notes
    return frame


# ---- the rookie table ------------------------------------------------------------------------------------


def rookie_table_to_canonical(table: pd.DataFrame) -> pd.DataFrame:
    columns = match_columns(list(table.columns), ROOKIE_ALIASES)
    _require(columns, ROOKIE_REQUIRED, ROOKIE_ALIASES, "rookie table", ROOKIE_HEADER, table.columns)
    problems = RowProblems()
    notes: list[str] = []
    names = table[columns["player"]].astype("string").str.strip()
    keep = ~names.str.casefold().isin(SKIPPED_NAMES).fillna(False).to_numpy()  # repeated header rows
    if (~keep).sum():
        notes.append(f"{int((~keep).sum())} repeated header row(s) skipped")
    table, names = table[keep].reset_index(drop=True), names[keep].reset_index(drop=True)
    if table.empty:
        _no_rows("rookie table", ROOKIE_HEADER)
    problems.add_rows(np.flatnonzero(names.isna().to_numpy()), columns["player"], table[columns["player"]],
                      "a player name")  # fmt: skip
    out = pd.DataFrame({"player": names.fillna("").map(display_name)})
    for stat in STAT_COLUMNS:
        if stat not in columns:
            out[stat] = np.nan
            continue
        raw = table[columns[stat]]
        if stat == "gp":
            values = parse_whole_numbers(raw, columns[stat], problems)
            _check_range(values, 1, 200, raw, columns[stat], problems, "games played between 1 and 200")
            problems.add_rows(np.flatnonzero(raw.isna().to_numpy()), columns[stat], raw, "games played (required)")
        else:
            values = parse_numbers(raw, columns[stat], problems)
            high = 100.0 if stat.endswith("_pct") else 48.0 if stat == "min" else 200.0
            unit = "a percentage between 0 and 100" if stat.endswith("_pct") else "a per-game average ≥ 0"
            _check_range(values, 0.0, high, raw, columns[stat], problems, f"{unit} (at most {high:g})")
        out[stat] = values
    for stat in ("min", "pts"):
        raw = table[columns[stat]]
        problems.add_rows(np.flatnonzero(raw.isna().to_numpy()), columns[stat], raw, "a per-game average (required)")
    out = _percent_scale(out, notes)
    if "target" in columns:
        raw = table[columns["target"]]
        target = parse_numbers(raw, columns["target"], problems, "1 (five seasons or more) or 0")
        bad = np.isfinite(target) & ~np.isin(target, (0.0, 1.0))
        problems.add_rows(np.flatnonzero(bad), columns["target"], raw, "1 (five seasons or more) or 0")
        out["target"] = target
    else:
        out["target"] = np.nan
        notes.append("no TARGET_5Yrs column: every row is unlabelled (for prediction)")
    if "rookie_season" in columns:
        out["rookie_season"] = parse_seasons(table[columns["rookie_season"]], columns["rookie_season"], problems)
    elif "draft_year" in columns:
        out["rookie_season"] = _rookie_season_of_draft(table[columns["draft_year"]], columns["draft_year"], problems)
        notes.append(f"rookie season read as the season after the draft year ({columns['draft_year']} + 1)")
    else:
        out["rookie_season"] = np.nan
    if "age" in columns:
        raw = table[columns["age"]]
        out["age"] = parse_numbers(raw, columns["age"], problems, "an age in years")
        _check_range(out["age"].to_numpy(), 14, 50, raw, columns["age"], problems, "an age between 14 and 50")
    else:
        out["age"] = np.nan
    problems.raise_if_any("rookie table")
    out = fill_percentages(out)
    out = _dedupe_rookies(out, notes)
    out["birth_year"] = out["rookie_season"] - out["age"]
    out["source"] = ROOKIE_SOURCE
    out["censoring"] = ""
    return _finish(out, notes, ROOKIE_SOURCE)


def _rookie_season_of_draft(values: pd.Series, column: str, problems: RowProblems) -> np.ndarray:
    """The end year of the season after each draft (2016 → 2016-17 → 2017); "Undrafted" is unknown."""
    text = values.astype("string").str.strip()
    known = text.mask(text.str.casefold().isin(UNDRAFTED_WORDS).fillna(False))
    years = parse_numbers(known, column, problems, DRAFT_YEAR_EXPECTED)
    bad = np.isfinite(years) & ((years != np.round(years)) | (years < 1946) | (years > 2100))
    problems.add_rows(np.flatnonzero(bad), column, values, DRAFT_YEAR_EXPECTED)
    years[bad] = np.nan
    return years + 1


def _percent_scale(frame: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Percentages written as fractions (0.456) in a whole column become 0-100 like the rookie table."""
    for pct in PERCENT_OF:
        values = frame[pct].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        if len(finite) >= 5 and finite.max() <= 1.0 and (finite > 0).mean() > 0.5:
            frame[pct] = values * 100.0
            notes.append(f"{pct} was written as fractions (at most 1.0): read as 0-1 and scaled to 0-100")
    return frame


def _dedupe_rookies(frame: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    identity = ["player", "rookie_season", *STAT_COLUMNS]
    key = pd.util.hash_pandas_object(frame[identity].astype("float64", errors="ignore"), index=False)
    labels = frame.groupby(key.to_numpy(), sort=False)["target"].agg(lambda s: s.dropna().nunique())
    conflicting = key.map(labels).to_numpy() > 1
    exact = frame.duplicated(subset=[*identity, "target"], keep="first").to_numpy() & ~conflicting
    if exact.any():
        notes.append(f"{int(exact.sum())} exact duplicate row(s) dropped")
    if conflicting.any():
        notes.append(
            f"{int(conflicting.sum())} row(s) dropped: the same player and stats with different TARGET_5Yrs "
            "(ambiguous: the original table joined same-name players)"
        )
    return frame[~exact & ~conflicting].reset_index(drop=True)


# ---- Basketball-Reference season tables ------------------------------------------------------------------


def season_table_to_canonical(table: pd.DataFrame) -> pd.DataFrame:
    seasons, notes, has_ids = _season_rows(table)
    return _seasons_to_rookies(seasons, has_ids, notes)


def _season_rows(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str], bool]:
    """One file's season rows, parsed and in season totals (a per-game file is converted on its own); whether
    it has player ids. Problems name the file's rows."""
    columns = match_columns(list(table.columns), SEASON_ALIASES)
    _require(columns, SEASON_REQUIRED, SEASON_ALIASES, "season table", SEASON_HEADER, table.columns)
    notes: list[str] = []
    table = _drop_noise_rows(table, columns, notes)
    if table.empty:
        _no_rows("season table", SEASON_HEADER)
    seasons = _parse_season_rows(table, columns, notes)
    return seasons, notes, "player_id" in seasons.columns


def _seasons_to_rookies(seasons: pd.DataFrame, has_ids: bool, notes: list[str]) -> pd.DataFrame:
    seasons = _assign_identities(seasons, has_ids, notes)
    per_season = _one_row_per_player_season(seasons, notes)
    return _finish(_rookie_rows(per_season, notes), notes, SEASON_SOURCE)


def _drop_noise_rows(table: pd.DataFrame, columns: Mapping[str, str], notes: list[str]) -> pd.DataFrame:
    # Empty but for a row number: Kaggle's Seasons_Stats.csv (saved by pandas with its index) has such rows.
    counters = [c for c in table.columns if header_key(c) in ROW_NUMBER_KEYS or str(c).startswith("Unnamed: ")]
    empty = table.drop(columns=counters).isna().all(axis=1).to_numpy()
    names = table[columns["player"]].astype("string").str.strip().str.casefold()
    # a blank season cell compares as <NA>: filled, so the mask stays boolean (``~`` on objects is bitwise on ints)
    repeated_header = table[columns["season"]].astype("string").str.strip().str.casefold() == header_key(
        columns["season"]
    )
    noise = (names.isin(SKIPPED_NAMES) | repeated_header).fillna(False).to_numpy(dtype=bool)
    if empty.any():
        notes.append(f"{int(empty.sum())} empty row(s) skipped")
    if (noise & ~empty).any():
        notes.append(f"{int((noise & ~empty).sum())} repeated header / league average row(s) skipped")
    keep = ~(empty | noise)
    table = table[keep]
    table.index = np.flatnonzero(keep)  # original data positions, for row numbers in problems
    duplicated = table.duplicated(keep="first").to_numpy()
    if duplicated.any():
        notes.append(f"{int(duplicated.sum())} exact duplicate row(s) dropped")
    return table[~duplicated]


def _parse_season_rows(table: pd.DataFrame, columns: Mapping[str, str], notes: list[str]) -> pd.DataFrame:
    positions = table.index.to_numpy()  # file data positions of the kept rows
    table = table.reset_index(drop=True)
    problems = RowProblems()
    out = pd.DataFrame(index=table.index)
    names = table[columns["player"]].astype("string").str.strip()
    problems.add_rows(np.flatnonzero(names.isna().to_numpy()), columns["player"], table[columns["player"]],
                      "a player name")  # fmt: skip
    # Basketball-Reference's older CSV export writes "Name\playerid" (Quincy Acy\acyqu01): the id is the player's.
    with_id = names.str.extract(r"^(.*?)\s*\\\s*([A-Za-z0-9.'-]+)$")
    suffixed = with_id[0].notna()
    names = names.where(~suffixed, with_id[0])
    out["player"] = names.fillna("").map(display_name)
    out["name_key"] = names.fillna("").map(name_key)
    if "player_id" in columns:
        out["player_id"] = table[columns["player_id"]].astype("string").str.strip()
    elif suffixed.any():
        out["player_id"] = with_id[1]
        notes.append(f"{int(suffixed.sum())} player name(s) written 'Name\\id': the id after the backslash is used")
    raw_season = table[columns["season"]]
    out["season"] = parse_seasons(raw_season, columns["season"], problems)
    problems.add_rows(np.flatnonzero(raw_season.isna().to_numpy()), columns["season"], raw_season, SEASON_EXPECTED)
    if "age" in columns:
        raw_age = table[columns["age"]]
        out["age"] = parse_numbers(raw_age, columns["age"], problems, "an age in years")
        _check_range(out["age"].to_numpy(), 14, 50, raw_age, columns["age"], problems, "an age between 14 and 50")
    else:
        out["age"] = np.nan
    out["team"] = table[columns["team"]].astype("string").str.strip() if "team" in columns else pd.NA
    for total in SEASON_TOTALS:
        if total not in columns:
            out[total] = np.nan
            continue
        raw = table[columns[total]]
        values = parse_numbers(raw, columns[total], problems, "a season total ≥ 0")
        _check_range(values, 0, 10_000, raw, columns[total], problems, "a season total between 0 and 10000")
        out[total] = values
    raw_games = table[columns["g"]]
    problems.add_rows(np.flatnonzero(raw_games.isna().to_numpy()), columns["g"], raw_games, "games played (required)")
    _check_range(out["g"].to_numpy(), 1, 10_000, raw_games, columns["g"], problems, "games played (at least 1)")
    for item in problems.items:  # kept-row numbers → the file's row numbers
        if item["row"] is not None:
            item["row"] = int(positions[item["row"] - 2]) + 2
    problems.raise_if_any("season table")
    out = _per_game_to_totals(out, notes)
    three_missing = out["fg3a"].isna()
    if three_missing.any():
        notes.append(
            f"{int(three_missing.sum())} season row(s) without 3P/3PA (not recorded before 1979-80): read as 0"
        )
        out.loc[three_missing, ["fg3", "fg3a"]] = 0.0
    return out


def _per_game_to_totals(frame: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """A per-game export (minutes per game ≤ 48, far below games) is multiplied back into season totals."""
    mp, g = frame["mp"].to_numpy(dtype=float), frame["g"].to_numpy(dtype=float)
    regulars = (g >= 10) & np.isfinite(mp)
    if not regulars.any() or np.nanmax(mp, initial=0.0) > 48.5 or np.median(mp[regulars] / g[regulars]) >= 1.0:
        return frame
    notes.append("per-game season table recognised (minutes per game ≤ 48): multiplied by games into totals")
    out = frame.copy()
    for total in SEASON_TOTALS:
        if total != "g":
            out[total] = np.round(out[total].to_numpy(dtype=float) * g, 1)
    return out


def _assign_identities(frame: pd.DataFrame, has_ids: bool, notes: list[str]) -> pd.DataFrame:
    """``identity`` per row: the file's player id, else the name key split by birth year (season - age, ±1)."""
    out = frame.copy()
    out["birth"] = out["season"] - out["age"]
    if has_ids and out["player_id"].notna().all():
        out["identity"] = out["player_id"].astype(str)
        return out
    out = out.sort_values(["name_key", "birth", "season"], kind="stable")
    key = out["name_key"].to_numpy(dtype=object)
    birth = out["birth"].to_numpy(dtype=float)
    new_key = np.r_[True, key[1:] != key[:-1]]
    jump = np.r_[False, np.diff(birth) > 1.0] & ~new_key  # a birth year more than a year from the last one
    cluster = np.cumsum(new_key | jump)
    cluster = np.where(np.isnan(birth), -1, cluster)  # unknown age: resolved below
    out["identity_number"] = cluster
    unknown = np.flatnonzero(np.isnan(birth))
    if len(unknown):
        out = _attach_unknown_ages(out, unknown)
    names_split = out.groupby("name_key")["identity_number"].nunique()
    shared = int((names_split > 1).sum())
    if shared:
        notes.append(f"{shared} name(s) shared by different players, told apart by birth year (season - age)")
    out["identity"] = out["name_key"] + "#" + out["identity_number"].astype(str)
    return out.sort_index()


def _attach_unknown_ages(frame: pd.DataFrame, unknown: np.ndarray) -> pd.DataFrame:
    """Rows without an age join the same-name player whose seasons are nearest (or a player of their own)."""
    numbers = frame["identity_number"].to_numpy().copy()
    known = frame[numbers >= 0]
    spans = known.groupby(["name_key", "identity_number"])["season"].agg(["min", "max"]).reset_index()
    by_name = {name: group for name, group in spans.groupby("name_key")}
    fresh = int(numbers.max(initial=0)) + 1
    orphan: dict[str, int] = {}
    keys = frame["name_key"].to_numpy(dtype=object)
    seasons = frame["season"].to_numpy(dtype=float)
    for position in unknown:
        candidates = by_name.get(keys[position])
        if candidates is None:
            if keys[position] not in orphan:
                orphan[keys[position]] = fresh
                fresh += 1
            numbers[position] = orphan[keys[position]]
            continue
        distance = np.maximum(candidates["min"] - seasons[position], seasons[position] - candidates["max"])
        numbers[position] = int(candidates["identity_number"].to_numpy()[int(np.argmin(distance.to_numpy()))])
    frame = frame.copy()
    frame["identity_number"] = numbers
    return frame


def _one_row_per_player_season(frame: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Traded players: the total row (TOT/2TM/...) when present, else the per-team rows summed. Seasons without
    team names (no team column, or that file of a zip had none): a row whose games are the sum of the others'
    is the total (BBRef lists it first)."""
    group = ["identity", "season"]
    size = frame.groupby(group)["g"].transform("size").to_numpy()
    if (size == 1).all():
        return frame.reset_index(drop=True)
    single = frame[size == 1]
    multi = frame[size > 1]
    team = multi["team"].astype("string")
    named_total = team.str.fullmatch(TOTAL_TEAM.pattern, case=False).fillna(False)
    unnamed = team.isna().groupby([multi["identity"], multi["season"]]).transform("all")
    games = multi["g"]
    games_total = (games * 2 == multi.groupby(group)["g"].transform("sum")) & (
        games == multi.groupby(group)["g"].transform("max")
    )
    is_total = named_total | (unnamed & games_total)
    has_total = is_total.groupby([multi["identity"], multi["season"]]).transform("any")
    totals = multi[is_total].drop_duplicates(subset=group, keep="first")
    to_sum = multi[~has_total]
    dropped_team_rows = int((has_total & ~is_total).sum())
    if dropped_team_rows:
        notes.append(f"{dropped_team_rows} per-team row(s) of traded players dropped (their total row is used)")
    summed = pd.DataFrame()
    if len(to_sum):
        first = to_sum.groupby(group, sort=False).first()
        sums = to_sum.groupby(group, sort=False)[list(SEASON_TOTALS)].sum(min_count=1)
        summed = first.drop(columns=list(SEASON_TOTALS)).join(sums).reset_index()
        notes.append(f"{len(to_sum)} per-team row(s) without a total row summed into {len(summed)} season(s)")
    return pd.concat([single, totals, summed], ignore_index=True)


def _rookie_rows(per_season: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    first_file_season = float(per_season["season"].min())
    last_file_season = float(per_season["season"].max())
    ordered = per_season.sort_values(["identity", "season"], kind="stable")
    seasons_played = ordered.groupby("identity")["season"].nunique()
    rookies = ordered.drop_duplicates("identity", keep="first").set_index("identity")
    played = seasons_played.reindex(rookies.index).to_numpy()
    first = rookies["season"].to_numpy(dtype=float)
    games = rookies["g"].to_numpy(dtype=float)
    out = pd.DataFrame(
        {
            "player": rookies["player"].to_numpy(),
            "rookie_season": first,
            "age": rookies["age"].to_numpy(dtype=float),
            "gp": games,
        }
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        for stat, total in PER_GAME_OF.items():
            out[stat] = rookies[total].to_numpy(dtype=float) / games
    out = fill_percentages(out.assign(fg_pct=np.nan, fg3_pct=np.nan, ft_pct=np.nan))
    known = played >= FIVE_SEASONS
    recent = ~known & (first + FIVE_SEASONS - 1 > last_file_season)
    left = first == first_file_season
    target = np.where(known, 1.0, np.where(recent, np.nan, 0.0))
    target[left] = np.nan
    out["target"] = target
    out["censoring"] = np.where(left, "left", np.where(recent, "recent", ""))
    out["birth_year"] = np.round(rookies["birth"].to_numpy(dtype=float))
    out["source"] = SEASON_SOURCE
    notes.append(
        f"{int(left.sum())} player(s) already playing in the file's first season ({int(first_file_season)}) are "
        "left-censored (their rookie season may be earlier): unlabelled, never trained on"
    )
    notes.append(
        f"{int((recent & ~left).sum())} career(s) started too recently to know (fewer than five seasons by "
        f"{int(last_file_season)}): unlabelled, for prediction"
    )
    return out
