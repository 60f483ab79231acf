"""Raw match files → the canonical match table, with every problem explained.

Two raw formats are recognised from the header:

* ``international``: the international results CSV
  (``date,home_team,away_team,home_score,away_score,tournament,city,country,neutral``);
* ``football-data``: football-data.co.uk season files (``Div,Date,HomeTeam,AwayTeam,FTHG,FTAG,FTR,...``, or the
  extra-leagues layout ``Country,League,Season,Date,Time,Home,Away,HG,AG,Res,...``)
  with dates as dd/mm/yy, dd/mm/yyyy (or yyyy-mm-dd in re-saved copies) and optional 1X2 odds (Bet365,
  Pinnacle, Pinnacle closing, market average, closing market average), kept as
  ``odds_home``/``odds_draw``/``odds_away``.

Reading is pyarrow's multi-threaded CSV reader with every column as text; parsing is vectorized
and records what could not be parsed; the typed table then goes through a pandera schema (lazy,
so every rule failure is collected). Problems are reported as ``{row, column, value, expected}``
where ``row`` is the spreadsheet row (the header is row 1): the first 50 plus the total count.

Text may be UTF-8 (with or without a BOM), cp1252, both in one file (seasons glued together with ``cat``, read
line by line) or UTF-16 with its BOM (Excel's "Unicode Text"); Excel workbooks (.xlsx, .xls) are refused, asking
for CSV. A match repeated with the same score (overlapping seasons glued together) is kept once.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from scoreline.core.errors import ErrorCode, ScorelineError

if TYPE_CHECKING:
    import pandera.pandas as pa_schema

CANONICAL_COLUMNS: tuple[str, ...] = (
    "date",
    "home_team",
    "away_team",
    "home_score",
    "away_score",
    "competition",
    "neutral",
)
ODDS_COLUMNS: tuple[str, ...] = ("odds_home", "odds_draw", "odds_away")
SCHEMA_VERSION = 1
MAX_REPORTED_PROBLEMS = 50
FIRST_ROW = 2  # spreadsheet numbering: the header is row 1

INTERNATIONAL_COLUMNS = ("date", "home_team", "away_team", "home_score", "away_score", "tournament", "neutral")
FOOTBALL_DATA_COLUMNS = ("Date", "HomeTeam", "AwayTeam", "FTHG", "FTAG")
# 1X2 odds triples in order of preference for odds_home/draw/away; a row missing the first falls back to the next.
FOOTBALL_DATA_ODDS = (("B365H", "B365D", "B365A"), ("PSH", "PSD", "PSA"), ("PSCH", "PSCD", "PSCA"),
                      ("AvgH", "AvgD", "AvgA"), ("AvgCH", "AvgCD", "AvgCA"))  # fmt: skip
# Every bookmaker's 1X2 triple a football-data.co.uk file may have (prefix + H/D/A), each kept as
# odds_<prefix lower case>_home/draw/away. A trailing "C" is the closing price (from 2019/20 on); Bb* are
# the BetBrain maximum and average of older seasons.
# SO (Sporting Odds) and SY (Stanleybet) are in files of the 2000s; BFD (Betfred), BV (BetVictor), PP (Paddy Power)
# and SKB (Sky Bet) from 2026/27, when Pinnacle's columns are gone.
FOOTBALL_DATA_BOOKMAKERS = ("B365", "BW", "IW", "PS", "WH", "VC", "LB", "SJ", "GB", "SB", "BS", "SO", "SY", "1XB",
                            "BF", "BFE", "BFD", "BV", "PP", "SKB", "Max", "Avg", "BbMx", "BbAv", "B365C", "BWC", "IWC",
                            "PSC", "WHC", "VCC", "1XBC", "BFC", "BFEC", "BFDC", "BVC", "PPC", "SKBC", "MaxC",
                            "AvgC")  # fmt: skip
# The market's view of a match for the bookmaker baseline, most informed first: closing prices, then pre-match.
MARKET_PREFERENCE = ("PSC", "AvgC", "B365C", "PS", "Avg", "BbAv", "B365")
# How re-saved copies of season files (R's write.csv, spreadsheets) spell an empty cell: read as empty.
MISSING_MARKERS = ("NA", "NaN", "nan", "N/A", "#N/A", "NULL", "null")
# Dates of football-data.co.uk files: dd/mm/yyyy, dd/mm/yy (older seasons), yyyy-mm-dd (copies re-saved by pandas
# or R; unambiguous, so taken as they are), dd-mm-yyyy and dd.mm.yyyy (copies re-saved by spreadsheets; the files
# are day first, and a four-digit year first never reads as a day).
FOOTBALL_DATA_DATES = ["%d/%m/%Y", "%d/%m/%y", "%Y-%m-%d", "%d-%m-%Y", "%d-%m-%y", "%d.%m.%Y", "%d.%m.%y"]
# football-data.co.uk's "extra leagues" files (one file per country, every season: ARG.csv, BRA.csv, USA.csv ...):
# ``Country,League,Season,Date,Time,Home,Away,HG,AG,Res,PSCH,...`` (older copies: ``PH,PD,PA``, ``MaxH,...``,
# ``AvgH,...``: the same closing prices, named before the site added the C). Read by the same adapter under the main
# files' names; problems name the file's own columns.
EXTRA_LEAGUE_NAMES = {"Home": "HomeTeam", "Away": "AwayTeam", "HG": "FTHG", "AG": "FTAG", "Res": "FTR",
                      "PH": "PSCH", "PD": "PSCD", "PA": "PSCA", "MaxH": "MaxCH", "MaxD": "MaxCD", "MaxA": "MaxCA",
                      "AvgH": "AvgCH", "AvgD": "AvgCD", "AvgA": "AvgCA"}  # fmt: skip
# The columns that make a header the extra-leagues layout (the scores included: a fixtures list has none).
EXTRA_LEAGUE_COLUMNS = ("Date", "Home", "Away", "HG", "AG")
# Older season files (and some leagues' files of the early 2000s) name the teams ``HT,AT``, some with ``HG,AG,Res``
# for the score: read under the main files' names, each pair only where the main name is absent.
LEGACY_NAMES = ({"HT": "HomeTeam", "AT": "AwayTeam"}, {"HG": "FTHG", "AG": "FTAG"})
_DECIMAL_COMMA = re.compile(r"^(-?\d+),(\d+)$")
_LOOKS_LIKE_A_DATE = re.compile(r"^(\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}-\d{2})$")
_TRUE = ("TRUE", "True", "true", "1", "T", "t", "yes")
_FALSE = ("FALSE", "False", "false", "0", "F", "f", "no")


@dataclass
class Problems:
    """Collects problems up to the report limit while counting all of them and remembering failed rows."""

    items: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0
    row_numbers: np.ndarray | None = None  # file row number of each data position, when rows were dropped
    failed: dict[str, list[np.ndarray]] = field(default_factory=dict)  # source column -> data positions
    notes: dict[str, Any] = field(default_factory=dict)  # what was repaired or dropped (the manifest's notes)
    file_names: dict[str, str] = field(default_factory=dict)  # adapter's column name -> the file's own (Home)
    unchecked_rows: int = 0  # rows the table rules did not look at: the report was full before (early exit)

    @property
    def full(self) -> bool:
        return len(self.items) >= MAX_REPORTED_PROBLEMS

    def number(self, position: int) -> int:
        return int(self.row_numbers[position]) if self.row_numbers is not None else position + FIRST_ROW

    def add_rows(
        self, rows: np.ndarray, column: str, values: pa.Array | pa.ChunkedArray | list[Any], expected: str
    ) -> None:
        """``rows`` are 0-based data positions, ``values`` aligned with them."""
        self.total += len(rows)
        self.failed.setdefault(column, []).append(rows)
        room = MAX_REPORTED_PROBLEMS - len(self.items)
        if room <= 0:
            return
        values_list = values.to_pylist() if isinstance(values, pa.Array | pa.ChunkedArray) else list(values)
        for row, value in zip(rows[:room], values_list[:room], strict=False):
            self.items.append(
                {"row": self.number(int(row)), "column": column, "value": _plain(value), "expected": expected}
            )

    def add(self, row: int | None, column: str | None, value: Any, expected: str) -> None:
        self.total += 1
        if len(self.items) < MAX_REPORTED_PROBLEMS:
            self.items.append({"row": row, "column": column, "value": _plain(value), "expected": expected})

    def failed_positions(self, column: str) -> set[int]:
        return {int(row) for rows in self.failed.get(column, []) for row in rows}

    def raise_if_any(self, fmt: str) -> None:
        if not self.total:
            return
        for item in self.items:  # problems name the columns as the file spells them
            item["column"] = self.file_names.get(item["column"], item["column"])
        self.items.sort(key=lambda p: (p["row"] is not None, p["row"] or 0))
        first = self.items[0]
        where = f"row {first['row']}, " if first["row"] is not None else ""
        count = f"{self.total} problem(s)" if not self.unchecked_rows else f"at least {self.total} problems"
        message = (
            f"{count} in the {fmt} file; first: {where}column {first['column']!r}: "
            f"got {first['value']!r}, expected {first['expected']}"
        )
        if self.unchecked_rows:
            message += f" (the first {MAX_REPORTED_PROBLEMS} are listed; {self.unchecked_rows} rows were not checked)"
        details = {"format": fmt, "total": self.total, "count": self.total, "problems": self.items}
        details["complete"] = not self.unchecked_rows
        raise ScorelineError(ErrorCode.INVALID_INPUT, message, details)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value if not isinstance(value, str) else value[:200]
    if isinstance(value, np.generic):
        return value.item()
    return str(value)[:200]


# ---- detection ---------------------------------------------------------------------------


def decode_whole(raw: bytes, filename: str) -> tuple[bytes, str]:
    """The whole file as UTF-8 bytes (BOM removed) and the encoding it was in: utf-8, utf-8-sig, cp1252, or
    utf-8+cp1252 / utf-8-sig+cp1252 when lines of both are in one file.

    Every byte is looked at, not a first block: a line that is not UTF-8 anywhere is read as cp1252 (bytes
    cp1252 leaves undefined as latin-1), so "Malmö" after 64 KiB is read right instead of failing the CSV reader
    or turning into replacement characters. Line by line, not the whole file: seasons glued together with ``cat``
    mix an older cp1252 file with a UTF-8 one (whose byte-order mark then sits mid-file), and each keeps its own
    letters ("Málaga", not "MÃ¡laga")."""
    if re.search(rb"\S", raw) is None:  # empty or only whitespace (a search, not a copy of the file)
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{filename!r} is empty; expected a CSV file with a header row and at least one match",
            {"format": None, "total": 1, "problems": [{"row": None, "column": None, "value": "", "expected": "data"}]},
        )
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with its BOM: Excel's "Unicode Text" (tab-separated)
        try:
            return raw.decode("utf-16").encode("utf-8"), "utf-16"
        except UnicodeDecodeError as exc:
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                f"{filename!r} starts with a UTF-16 byte-order mark but is not UTF-16 text ({exc.reason} at byte "
                f"{exc.start}); expected a CSV text file in UTF-8, cp1252 or UTF-16",
                {"format": None, "total": 1, "problems": [{"row": None, "column": None, "value": exc.reason,
                                                          "expected": "UTF-16 text"}]},
            ) from exc  # fmt: skip
    if raw.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):  # the OLE2 container of Excel 97-2003 workbooks
        raise ScorelineError(
            ErrorCode.UNSUPPORTED_MEDIA,
            f"{filename!r} is an Excel 97-2003 workbook (.xls), which is not read; expected a CSV text file (save the "
            "sheet as CSV, or use football-data.co.uk's per-season .csv files)",
        )
    if b"\x00" in raw:
        raise ScorelineError(
            ErrorCode.UNSUPPORTED_MEDIA, f"{filename!r} looks binary (NUL bytes); expected a CSV text file"
        )
    encoding = "utf-8"
    if raw.startswith(b"\xef\xbb\xbf"):
        raw, encoding = raw[3:], "utf-8-sig"
    try:
        raw.decode("utf-8")  # validates every byte (C speed, no copy kept)
    except UnicodeDecodeError:
        return _decode_lines(raw, encoding)
    return raw, encoding


def _decode_lines(raw: bytes, encoding: str) -> tuple[bytes, str]:
    """A file that is not all UTF-8, as UTF-8 bytes: each line that is valid UTF-8 as UTF-8, the others as cp1252."""
    text: list[str] = []
    utf8_lines = 0
    for line in raw.splitlines(keepends=True):  # \n, \r\n or \r only, for bytes
        if line.isascii():
            text.append(line.decode("ascii"))
            continue
        try:
            text.append(line.decode("utf-8"))
            utf8_lines += 1
        except UnicodeDecodeError:
            text.append(_cp1252(line))
    mixed = utf8_lines > 0 or encoding == "utf-8-sig"
    return "".join(text).encode("utf-8"), f"{encoding}+cp1252" if mixed else "cp1252"


def _cp1252(line: bytes) -> str:
    """cp1252 text, with the five bytes cp1252 leaves undefined read as latin-1 (control characters)."""
    return "".join(
        chunk.decode("cp1252", errors="strict") if _cp1252_defined(chunk) else chunk.decode("latin-1")
        for chunk in re.split(rb"([\x81\x8d\x8f\x90\x9d]+)", line)
    )


def _cp1252_defined(chunk: bytes) -> bool:
    return re.search(rb"[\x81\x8d\x8f\x90\x9d]", chunk) is None


def _first_line(raw: bytes) -> str:
    end = raw.find(b"\n")
    return (raw if end < 0 else raw[:end]).decode("utf-8").rstrip("\r")


def separator(raw: bytes) -> str:
    """The field separator, told by the header: ``,``, or ``;`` (spreadsheets in locales with decimal commas),
    or a tab."""
    line = _first_line(raw)
    return max((",", ";", "\t"), key=line.count)


def _header_fields(raw: bytes) -> list[str]:
    """Every field of the header line of UTF-8 text, trimmed (``" home_team"`` is ``home_team``)."""
    return [name.strip().strip('"').strip() for name in _first_line(raw).split(separator(raw))]


def _decode_header(raw: bytes) -> list[str]:
    """The header's column names of UTF-8 text (see ``decode_whole``)."""
    names = _header_fields(raw)
    while names and not names[-1]:  # trailing empty columns (",,,," after the last name)
        names.pop()
    return names


def _main_file_names(names: list[str]) -> list[str]:
    """An extra-leagues or older header (``HT,AT``, ``HG,AG,Res``) under the main files' column names (a main
    file's header is returned as it is)."""
    present = set(names)
    if "HomeTeam" not in present and {"Home", "Away", "HG", "AG"} <= present:
        # an older name is read as the newer one only where the file does not have the newer one too
        renamed = {old: new for old, new in EXTRA_LEAGUE_NAMES.items() if old in present and new not in present}
        return [renamed.get(name, name) for name in names]
    renames: dict[str, str] = {}
    for pair in LEGACY_NAMES:
        if pair.keys() <= present and not present & set(pair.values()):
            renames.update(pair)
    if "FTHG" in renames.values() and "FTR" not in present:
        renames["Res"] = "FTR"
    return [renames.get(name, name) for name in names] if renames else names


def detect_format(header: list[str]) -> str:
    present = set(_main_file_names(header))
    if set(INTERNATIONAL_COLUMNS) <= present:
        return "international"
    if set(FOOTBALL_DATA_COLUMNS) <= present:
        return "football-data"
    missing_intl = [c for c in INTERNATIONAL_COLUMNS if c not in present]
    missing_fd = [c for c in FOOTBALL_DATA_COLUMNS if c not in present]
    closest, missing = (
        ("international results", missing_intl)
        if len(INTERNATIONAL_COLUMNS) - len(missing_intl) >= len(FOOTBALL_DATA_COLUMNS) - len(missing_fd)
        else ("football-data.co.uk", missing_fd)
    )
    if {"Home", "Away"} <= present and "HomeTeam" not in present:  # the extra-leagues layout, named as it names
        closest, missing = "football-data.co.uk extra leagues", [c for c in EXTRA_LEAGUE_COLUMNS if c not in present]
    hint = ""
    if missing and set(missing) <= {"FTHG", "FTAG", "HG", "AG", "home_score", "away_score"}:
        # football-data.co.uk's fixtures.csv and new_league_fixtures.csv: the coming matches, with odds, no scores
        hint = " (no score columns: a list of fixtures? expected played matches with their scores)"
    elif any(_LOOKS_LIKE_A_DATE.match(name) for name in header):  # seasons glued with the first header cut off
        hint = " (the first line looks like a match, not column names: expected the header row first)"
    problems = [{"row": 1, "column": c, "value": None, "expected": "column present in the header"} for c in missing]
    raise ScorelineError(
        ErrorCode.INVALID_INPUT,
        f"unrecognised columns {header[:12]}; expected the international results header "
        f"({','.join(INTERNATIONAL_COLUMNS)},...) or a football-data.co.uk header "
        f"({','.join(FOOTBALL_DATA_COLUMNS)},...); closest is {closest}, missing {missing}{hint}",
        {"format": None, "total": len(problems), "problems": problems[:MAX_REPORTED_PROBLEMS], "header": header[:50]},
    )


def _read_text_table(raw: bytes, columns: list[str]) -> pa.Table:
    # The header is named here, trimmed: Arrow's own names keep spaces (``date, home_team``) and miss the columns.
    names = [name or f"_unnamed_{index}" for index, name in enumerate(_header_fields(raw))]
    try:
        return pacsv.read_csv(
            pa.BufferReader(raw),  # zero-copy; a Python file object would be read through Python calls
            read_options=pacsv.ReadOptions(use_threads=True, block_size=1 << 22, column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=separator(raw), newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                include_columns=columns,
                column_types=dict.fromkeys(columns, pa.string()),
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"the CSV could not be read: {exc}; expected one header row and the same number of fields on every row",
            {"format": None, "total": 1, "problems": [{"row": None, "column": None, "value": str(exc)[:300],
                                                      "expected": "well-formed CSV"}]},
        ) from exc  # fmt: skip


# ---- parsing helpers (vectorized, problems recorded) -------------------------------------


def _shortest(column: pa.ChunkedArray) -> int:
    """Length in bytes of the shortest value, from the offsets buffers alone."""
    shortest = None
    for chunk in column.chunks if isinstance(column, pa.ChunkedArray) else [column]:
        if len(chunk) == 0:
            continue
        if chunk.type != pa.string():
            return int(pc.min(pc.binary_length(chunk)).as_py())
        offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int32)[chunk.offset : chunk.offset + len(chunk) + 1]
        low = int(np.diff(offsets).min())
        shortest = low if shortest is None else min(shortest, low)
    return shortest if shortest is not None else 0


def _missing(column: pa.ChunkedArray) -> np.ndarray:
    """Rows where the (already trimmed) text is null or empty."""
    if column.null_count == 0 and len(column) and _shortest(column) > 0:
        return np.zeros(len(column), dtype=bool)  # the common case, without a per-row mask
    return np.asarray(pc.fill_null(pc.equal(column, ""), True), dtype=bool)


def _layout(fmt: str) -> tuple[int, int]:
    """Text length and offset of the day digits for a zero-padded date format such as ``%d/%m/%Y``."""
    widths = {"%Y": 4, "%y": 2, "%m": 2, "%d": 2}
    length, day_at, i = 0, 0, 0
    while i < len(fmt):
        token = fmt[i : i + 2]
        if token in widths:
            if token == "%d":
                day_at = length
            length += widths[token]
            i += 2
        else:
            length += 1
            i += 1
    return length, day_at


def _fixed_width_day(text: pa.ChunkedArray, length: int, day_at: int) -> np.ndarray | None:
    """The day digits as numbers, read straight from Arrow's buffer when every value has ``length`` bytes."""
    array = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    if array.null_count or array.type != pa.string() or len(array) == 0:
        return None
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[array.offset : array.offset + len(array) + 1]
    if not (np.diff(offsets) == length).all():
        return None
    chars = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(-1, length)
    tens, ones = chars[:, day_at].astype(np.int64) - 48, chars[:, day_at + 1].astype(np.int64) - 48
    return tens * 10 + ones


def _strict_dates(text: pa.ChunkedArray, fmt: str) -> pa.ChunkedArray | pa.Array:
    """Parse with ``fmt``; null where the text does not match exactly.

    Arrow's strptime accepts "23" for %Y and rolls 2001-02-30 over into March, so the text length
    and the day digits are checked against the parsed date.
    """
    length, day_at = _layout(fmt)
    parsed = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
    day = _fixed_width_day(text, length, day_at)
    if day is not None:  # the common case, checked in numpy
        parsed_day = np.asarray(pc.fill_null(pc.day(parsed), -1))
        exact = pa.array(day == parsed_day)
    else:
        day_digits = pc.utf8_slice_codeunits(text, day_at, day_at + 2)
        day_matches = pc.equal(pc.cast(pc.if_else(pc.match_substring_regex(day_digits, r"^\d\d$"), day_digits, "0"),
                                       pa.int64()), pc.day(parsed))  # fmt: skip
        exact = pc.fill_null(pc.and_(pc.equal(pc.utf8_length(text), length), day_matches), False)
    return pc.if_else(exact, parsed, pa.scalar(None, pa.timestamp("s")))


def _parse_dates(column: pa.ChunkedArray, formats: list[str], name: str, problems: Problems) -> pa.ChunkedArray:
    stripped = pc.utf8_trim_whitespace(column)
    if formats == ["%Y-%m-%d"] and _fixed_width_day(stripped, 10, 8) is not None:
        try:  # Arrow's ISO-8601 cast is fast and checks days per month; any failure takes the strict path
            return pc.cast(stripped, pa.timestamp("s"))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    parsed = None
    for fmt in formats:
        attempt = _strict_dates(stripped, fmt)
        parsed = attempt if parsed is None else pc.coalesce(parsed, attempt)
        if parsed.null_count == stripped.null_count:  # every date read: the other formats are not tried
            break
    bad = np.flatnonzero(np.asarray(pc.is_null(parsed), dtype=bool))
    if len(bad):
        problems.add_rows(bad, name, pc.take(column, pa.array(bad)), f"a date as {' or '.join(formats)}")
    return parsed


def _parse_ints(column: pa.ChunkedArray, name: str, problems: Problems) -> np.ndarray:
    stripped = pc.utf8_trim_whitespace(column)
    if stripped.null_count == 0:
        try:  # the fast path; a failure means some value is not an integer, found row by row below
            return np.asarray(pc.cast(stripped, pa.int64()))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    # Whole numbers re-saved through spreadsheets or pandas come as "2.0": whole numbers all the same.
    is_int = np.asarray(pc.fill_null(pc.match_substring_regex(stripped, r"^[+-]?\d{1,9}(\.0*)?$"), False), dtype=bool)
    bad = np.flatnonzero(~is_int)
    if len(bad):
        problems.add_rows(bad, name, pc.take(column, pa.array(bad)), "a whole number of goals (0, 1, 2, ...)")
    decimals = int(np.count_nonzero(np.asarray(pc.fill_null(pc.match_substring(stripped, "."), False)) & is_int))
    if decimals:
        problems.notes["whole_numbers_written_as_decimals"] = (
            problems.notes.get("whole_numbers_written_as_decimals", 0) + decimals
        )
    stripped = pc.replace_substring_regex(stripped, r"\.0*$", "")
    cleaned = pc.if_else(pa.array(is_int), stripped, "-1")  # placeholder; such rows are already reported
    return np.asarray(pc.cast(cleaned, pa.int64()))


def _parse_bools(column: pa.ChunkedArray, name: str, problems: Problems) -> np.ndarray:
    stripped = pc.utf8_trim_whitespace(column)
    truthy = np.asarray(pc.fill_null(pc.is_in(stripped, pa.array(_TRUE)), False), dtype=bool)
    falsy = np.asarray(pc.fill_null(pc.is_in(stripped, pa.array(_FALSE)), False), dtype=bool)
    bad = np.flatnonzero(~(truthy | falsy))
    if len(bad):
        problems.add_rows(bad, name, pc.take(column, pa.array(bad)), "TRUE or FALSE")
    return truthy


def _odds_triple(table: pa.Table, triple: tuple[str, str, str], problems: Problems) -> list[np.ndarray]:
    """One bookmaker's home/draw/away decimal odds (NaN where missing); values that are not odds are reported."""
    values = []
    for source in triple:
        column = pc.utf8_trim_whitespace(table[source])
        numeric = pc.cast(
            pc.if_else(pc.match_substring_regex(column, r"^\d+(\.\d+)?$"), column, pa.scalar(None, pa.string())),
            pa.float64(),
        )
        placeholder = np.asarray(pc.fill_null(pc.is_in(column, pa.array(MISSING_MARKERS)), False), dtype=bool)
        if placeholder.any():
            problems.notes["odds_marked_missing"] = problems.notes.get("odds_marked_missing", 0) + int(
                placeholder.sum()
            )
        given = ~_missing(column) & ~placeholder
        values_np = np.asarray(pc.fill_null(numeric, np.nan), dtype=float)
        bad = np.flatnonzero(given & ~(values_np > 1.0))
        if len(bad):
            problems.add_rows(bad, source, pc.take(table[source], pa.array(bad)), "decimal odds above 1.0")
        values.append(values_np)
    return values


def _parse_odds(table: pa.Table, problems: Problems) -> dict[str, np.ndarray] | None:
    """Every bookmaker's odds the file has (``odds_<book>_home/draw/away``) and the preferred triple per row
    (``odds_home/draw/away``: Bet365, else Pinnacle, Pinnacle closing, market average, closing market average)."""
    books = [b for b in FOOTBALL_DATA_BOOKMAKERS if all(f"{b}{side}" in table.column_names for side in "HDA")]
    if not books:
        return None
    n = table.num_rows
    parsed = {book: _odds_triple(table, (f"{book}H", f"{book}D", f"{book}A"), problems) for book in books}
    out: dict[str, np.ndarray] = {name: np.full(n, np.nan) for name in ODDS_COLUMNS}
    filled = np.zeros(n, dtype=bool)
    for triple in FOOTBALL_DATA_ODDS:
        book = triple[0][:-1]
        if book not in parsed:
            continue
        values = parsed[book]
        complete = ~filled & np.isfinite(values[0]) & np.isfinite(values[1]) & np.isfinite(values[2])
        for name, values_np in zip(ODDS_COLUMNS, values, strict=True):
            out[name][complete] = values_np[complete]
        filled |= complete
    for book, values in parsed.items():
        for side, values_np in zip(("home", "draw", "away"), values, strict=True):
            out[f"odds_{book.lower()}_{side}"] = values_np
    return out


def market_probabilities(canonical: pd.DataFrame) -> np.ndarray:
    """The betting market's home/draw/away probabilities per row, margin removed by normalising 1/odds, from the
    most informed odds the row has (closing prices first, see ``MARKET_PREFERENCE``); NaN rows have none."""
    n = len(canonical)
    probabilities = np.full((n, 3), np.nan)
    candidates = [f"odds_{book.lower()}" for book in MARKET_PREFERENCE] + ["odds"]
    for prefix in candidates:
        names = [f"{prefix}_{side}" for side in ("home", "draw", "away")]
        if not all(name in canonical.columns for name in names):
            continue
        odds = canonical[names].to_numpy(dtype=float)
        usable = np.isnan(probabilities[:, 0]) & np.isfinite(odds).all(axis=1) & (odds > 1.0).all(axis=1)
        inverse = 1.0 / odds[usable]
        probabilities[usable] = inverse / inverse.sum(axis=1, keepdims=True)
    return probabilities


def _teams(table: pa.Table, home: str, away: str, problems: Problems) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
    columns = []
    for name in (home, away):
        trimmed = pc.utf8_trim_whitespace(table[name])
        missing = np.flatnonzero(_missing(trimmed))
        if len(missing):
            problems.add_rows(missing, name, pc.take(table[name], pa.array(missing)), "a team name")
        columns.append(trimmed)
    return columns[0], columns[1]


# ---- adapters ------------------------------------------------------------------------------


def _international(raw: bytes, header: list[str], problems: Problems) -> dict[str, Any]:
    table = _without_blank_and_header_rows(_read_text_table(raw, list(INTERNATIONAL_COLUMNS)), problems)
    table = _without_unplayed(table, ("home_score", "away_score"), problems)
    home_team, away_team = _teams(table, "home_team", "away_team", problems)
    competition = pc.utf8_trim_whitespace(table["tournament"])
    bad = np.flatnonzero(_missing(competition))
    if len(bad):
        problems.add_rows(bad, "tournament", pc.take(table["tournament"], pa.array(bad)), "a tournament name")
    return {
        "date": _parse_dates(table["date"], ["%Y-%m-%d"], "date", problems),
        "home_team": home_team,
        "away_team": away_team,
        "home_score": _parse_ints(table["home_score"], "home_score", problems),
        "away_score": _parse_ints(table["away_score"], "away_score", problems),
        "competition": competition,
        "neutral": _parse_bools(table["neutral"], "neutral", problems),
    }


def _without_unplayed(table: pa.Table, scores: tuple[str, ...], problems: Problems) -> pa.Table:
    """Fixtures not played yet are dropped and counted: every one of ``scores`` empty or ``NA`` (the
    international results file lists the coming matches so: ``2024-07-14,Spain,England,NA,NA,UEFA Euro,...``).
    A row with one score and not the other is still a problem."""
    unplayed = np.ones(table.num_rows, dtype=bool)
    for name in scores:
        trimmed = pc.utf8_trim_whitespace(table[name])
        unplayed &= _missing(trimmed) | np.asarray(pc.fill_null(pc.is_in(trimmed, pa.array(MISSING_MARKERS)), False))
    if not unplayed.any():
        return table
    problems.notes["unplayed_fixtures_dropped"] = problems.notes.get("unplayed_fixtures_dropped", 0) + int(
        unplayed.sum()
    )
    kept = np.flatnonzero(~unplayed)
    numbers = problems.row_numbers if problems.row_numbers is not None else np.arange(table.num_rows) + FIRST_ROW
    problems.row_numbers = numbers[kept]
    return table.take(pa.array(kept))


def _without_blank_and_header_rows(table: pa.Table, problems: Problems) -> pa.Table:
    """Rows of bare commas (a spreadsheet's ``,,,,`` tail) and the header again (files glued with ``cat``) are
    dropped, as for football-data files; problems keep the file's row numbers."""
    blank = np.ones(table.num_rows, dtype=bool)
    header = np.ones(table.num_rows, dtype=bool)
    for name in table.column_names:
        trimmed = pc.utf8_trim_whitespace(table[name])
        blank &= _missing(trimmed) | np.asarray(pc.fill_null(pc.is_in(trimmed, pa.array(MISSING_MARKERS)), False))
        header &= np.asarray(pc.fill_null(pc.equal(trimmed, name), False), dtype=bool)
    dropped = blank | header
    if not dropped.any():
        return table
    if blank.any():
        problems.notes["blank_rows_dropped"] = problems.notes.get("blank_rows_dropped", 0) + int(blank.sum())
    if header.any():
        problems.notes["repeated_header_rows_dropped"] = problems.notes.get("repeated_header_rows_dropped", 0) + int(
            header.sum()
        )
    kept = np.flatnonzero(~dropped)
    problems.row_numbers = kept + FIRST_ROW
    return table.take(pa.array(kept))


def _read_football_data(raw: bytes, header: list[str], problems: Problems) -> pa.Table:
    """A football-data.co.uk file as text columns, read as these files come.

    Python's csv reader, not Arrow's: season files (a few hundred rows each) have rows with more fields than
    the header (trailing commas), trailing empty header columns, rows of bare commas at the end and, when
    seasons are concatenated, a header inside the file (the same, or another season's columns: the rows
    after it are read by it). Blank rows (empty or ``NA`` cells only, as re-saved by R) and inner headers are
    dropped (row numbers stay true to the file);
    fields beyond the header must be empty."""
    known = {
        "Div",
        "Country",
        "League",
        "FTR",
        *FOOTBALL_DATA_COLUMNS,
        *(f"{book}{side}" for book in FOOTBALL_DATA_BOOKMAKERS for side in "HDA"),
    }
    columns: dict[str, list[str | None]] = {}
    row_numbers: list[int] = []
    blank = repeated = 0

    def use(names: list[str]) -> tuple[dict[str, int], int]:
        positions = {}
        for index, name in enumerate(names):
            if name in known and name not in positions:
                positions[name] = index
                columns.setdefault(name, [None] * len(row_numbers))  # a column new in this section
        return positions, len(names)

    renamed = {main: name for name, main in zip(header, _main_file_names(header), strict=True) if main != name}
    if renamed:
        problems.file_names.update(renamed)
    positions, width = use(_main_file_names(header))
    # A header ending in unnamed columns announces unnamed data there (Serie B 2003/04: 42 fields, the last 8
    # unnamed, rows of 49): values past the named columns are then ignored, not refused.
    unnamed_tail = len(_header_fields(raw)) > len(header)
    ignored = 0
    delimiter = separator(raw)
    reader = csv.reader(io.StringIO(raw.decode("utf-8"), newline=""), delimiter=delimiter)
    next(reader, None)
    for number, record in enumerate(reader, start=FIRST_ROW):
        cells = [cell.strip() for cell in record]
        if delimiter != ",":  # ; or tab, written where the decimal mark is a comma: odds "1,53" are 1.53
            cells = [_DECIMAL_COMMA.sub(r"\1.\2", cell) for cell in cells]
        if cells:
            cells[0] = cells[0].lstrip("\ufeff")  # the byte-order mark of a file glued on with ``cat``
        read = [cells[index] for index in positions.values() if index < len(cells)]
        if all(not cell or cell in MISSING_MARKERS for cell in read) and not any(cells[width:]):
            # nothing in the columns read (R numbers even its empty rows: the row number alone is no match)
            blank += 1
            continue
        if set(FOOTBALL_DATA_COLUMNS) <= set(_main_file_names(cells)):  # a header again: seasons glued with ``cat``
            repeated += 1
            fields = len(cells)
            while cells and not cells[-1]:
                cells.pop()
            positions, width = use(_main_file_names(cells))
            unnamed_tail = fields > len(cells)
            continue
        if unnamed_tail and any(cells[width:]):
            ignored += 1
        elif len(cells) > width and any(cells[width:]):
            extra = next(i for i in range(width, len(cells)) if cells[i])
            problems.add(number, None, cells[extra], f"at most {width} fields per row, as in the header (field "
                         f"{extra + 1} has a value)")  # fmt: skip
        row_numbers.append(number)
        for name, values in columns.items():
            index = positions.get(name)
            value = cells[index] if index is not None and index < len(cells) else ""
            values.append(value or None)
    notes = problems.notes
    if blank:
        notes["blank_rows_dropped"] = notes.get("blank_rows_dropped", 0) + blank
    if repeated:
        notes["repeated_header_rows_dropped"] = notes.get("repeated_header_rows_dropped", 0) + repeated
    if ignored:
        notes["rows_with_unnamed_fields_ignored"] = notes.get("rows_with_unnamed_fields_ignored", 0) + ignored
    if blank or repeated:
        problems.row_numbers = np.asarray(row_numbers, dtype=np.int64)  # row numbers stay true to the file
    return pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})


def _football_data(raw: bytes, header: list[str], problems: Problems) -> dict[str, Any]:
    table = _read_football_data(raw, header, problems)
    table = _without_unplayed(table, tuple(c for c in ("FTHG", "FTAG", "FTR") if c in table.column_names), problems)
    local = problems
    home_team, away_team = _teams(table, "HomeTeam", "AwayTeam", local)
    home_score = _parse_ints(table["FTHG"], "FTHG", local)
    away_score = _parse_ints(table["FTAG"], "FTAG", local)
    if "FTR" in table.column_names:
        result = pc.utf8_trim_whitespace(table["FTR"])
        implied = np.where(home_score > away_score, "H", np.where(home_score < away_score, "A", "D"))
        given = np.asarray(pc.fill_null(result, "").to_numpy(zero_copy_only=False)).astype(str)
        disagree = np.flatnonzero((given != implied) & (home_score >= 0) & (away_score >= 0))
        if len(disagree):
            values = [f"{given[i]} (score {home_score[i]}-{away_score[i]})" for i in disagree[:MAX_REPORTED_PROBLEMS]]
            local.add_rows(disagree, "FTR", values + [None] * (len(disagree) - len(values)),
                           "H, D or A agreeing with FTHG and FTAG")  # fmt: skip
    odds = _parse_odds(table, local)
    date = _parse_dates(table["Date"], FOOTBALL_DATA_DATES, "Date", local)
    if "Div" in table.column_names:
        division = pc.utf8_trim_whitespace(table["Div"])
        competition = pc.if_else(pc.fill_null(pc.equal(division, ""), True), "football-data", division)
    elif "League" in table.column_names:  # extra leagues: "Argentina Liga Profesional", one division per country
        parts = [pc.fill_null(table[name], "") for name in ("Country", "League") if name in table.column_names]
        named = pc.utf8_trim_whitespace(pc.binary_join_element_wise(*parts, " "))
        competition = pc.if_else(pc.equal(named, ""), "football-data", named)
    else:
        competition = pa.array(["football-data"] * table.num_rows)
    columns: dict[str, Any] = {
        "date": date,
        "home_team": home_team,
        "away_team": away_team,
        "home_score": home_score,
        "away_score": away_score,
        "competition": competition,
        "neutral": np.zeros(table.num_rows, dtype=bool),
    }
    if odds is not None:
        columns.update(odds)
    return columns


# ---- schema --------------------------------------------------------------------------------


@cache
def canonical_schema() -> pa_schema.DataFrameSchema:
    """The canonical match table's contract, checked with pandera (lazily: every failure is collected)."""
    import pandera.pandas as pas

    def not_blank(series: pd.Series) -> pd.Series:
        return series != ""

    odds = {
        name: pas.Column(float, pas.Check.gt(1.0, error="decimal odds above 1.0"), nullable=True, required=False)
        for name in ODDS_COLUMNS
    }
    # every bookmaker's triple (odds_b365_home, odds_psc_draw, ...)
    odds[r"^odds_[a-z0-9]+_(home|draw|away)$"] = pas.Column(
        float, pas.Check.gt(1.0, error="decimal odds above 1.0"), nullable=True, required=False, regex=True
    )
    return pas.DataFrameSchema(
        {
            "date": pas.Column(
                "datetime64[s]",
                pas.Check.in_range(pd.Timestamp("1850-01-01"), pd.Timestamp("2100-01-01"), error="a date 1850-2100"),
            ),
            "home_team": pas.Column(str, pas.Check(not_blank, error="a team name")),
            "away_team": pas.Column(str, pas.Check(not_blank, error="a team name")),
            "home_score": pas.Column("int64", pas.Check.ge(0, error="a non-negative number of goals")),
            "away_score": pas.Column("int64", pas.Check.ge(0, error="a non-negative number of goals")),
            "competition": pas.Column(str, pas.Check(not_blank, error="a competition name")),
            "neutral": pas.Column(bool),
            **odds,
        },
        checks=[
            pas.Check(
                lambda df: df["home_team"] != df["away_team"],
                error="two different teams (a team cannot play itself)",
            )
        ],
        strict=True,
        ordered=False,
    )


def _schema_problems(frame: pd.DataFrame, problems: Problems, fmt: str) -> None:
    """Run the pandera schema lazily and add every failure not already reported as unparseable."""
    import pandera.errors as pae

    source_names = {
        "international": {"competition": "tournament"},
        "football-data": {"date": "Date", "home_team": "HomeTeam", "away_team": "AwayTeam", "home_score": "FTHG",
                          "away_score": "FTAG", "competition": "Div"},
    }[fmt]  # fmt: skip
    if fmt == "football-data":  # each bookmaker's column under the file's own name (odds_psc_home -> PSCH)
        for book in FOOTBALL_DATA_BOOKMAKERS:
            for side, letter in (("home", "H"), ("draw", "D"), ("away", "A")):
                source_names[f"odds_{book.lower()}_{side}"] = f"{book}{letter}"
    schema = canonical_schema()
    # Unparseable fields hold placeholders that may break rules too; they are reported once, as unparseable.
    skip = {column: problems.failed_positions(column) for column in problems.failed}
    team_columns = (source_names.get("home_team", "home_team"), source_names.get("away_team", "away_team"))
    seen_frame_wide: set[int | None] = set()
    # Every rule is row-wise: the table is checked in slices, and once the report is full the rest is not
    # checked at all (a 20 MB file of bad rows answers in seconds, not minutes, and without a case per row).
    for start in range(0, len(frame), SCHEMA_SLICE_ROWS):
        if problems.full:
            problems.unchecked_rows = len(frame) - start
            return
        try:
            schema.validate(frame.iloc[start : start + SCHEMA_SLICE_ROWS], lazy=True)
        except pae.SchemaErrors as exc:
            _add_schema_cases(exc.failure_cases, frame, problems, source_names, skip, team_columns, seen_frame_wide)


SCHEMA_SLICE_ROWS = 20_000


def _add_schema_cases(
    cases: pd.DataFrame,
    frame: pd.DataFrame,
    problems: Problems,
    source_names: dict[str, str],
    skip: dict[str, set[int]],
    team_columns: tuple[str, str],
    seen_frame_wide: set[int | None],
) -> None:
    """One slice's pandera failure cases as problems (each row's team-plays-itself failure once)."""
    for case in cases.itertuples(index=False):
        index = case.index
        position = int(index) if index is not None and not pd.isna(index) else None
        column, value = case.column, case.failure_case
        if case.schema_context == "DataFrameSchema":  # the one frame-wide rule: a team playing itself
            if position in seen_frame_wide:
                continue  # pandera lists every column of the failing row; report the row once
            seen_frame_wide.add(position)
            column = "home_team"
            if position is not None:
                if any(position in skip.get(c, ()) for c in team_columns):
                    continue
                if not problems.full:  # once full only counted: no value built per row
                    value = f"{frame['home_team'].iat[position]} vs {frame['away_team'].iat[position]}"
        source = source_names.get(str(column), str(column))
        if position is not None and position in skip.get(source, ()):
            continue
        problems.add(problems.number(position) if position is not None else None, source, value, str(case.check))


def to_canonical(raw: bytes, filename: str) -> pd.DataFrame:
    """Detect the format from the header, adapt and validate into the canonical match table (sorted by date)."""
    if raw[:4] == b"PK\x03\x04":
        return _zip_to_canonical(raw, filename)
    raw, encoding = decode_whole(raw, filename)
    header = _decode_header(raw)
    fmt = detect_format(header)
    problems = Problems()
    columns = _international(raw, header, problems) if fmt == "international" else _football_data(raw, header, problems)
    if len(columns["home_score"]) == 0:
        unplayed = problems.notes.get("unplayed_fixtures_dropped", 0)
        if unplayed:  # football-data.co.uk's fixtures.csv: the coming matches, every score empty
            scores = "FTHG and FTAG" if fmt == "football-data" else "home_score and away_score"
            message = (
                f"{filename!r} lists {unplayed} fixture(s) not played yet ({scores} empty on every row) and no played "
                "match; expected at least one match with its score (a fixtures list cannot be trained on)"
            )
        else:
            message = f"{filename!r} has a header but no matches; expected at least one data row"
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            message,
            {"format": fmt, "total": 1, "problems": [{"row": 2, "column": None, "value": None, "expected": "a match"}],
             **({"unplayed_fixtures_dropped": unplayed} if unplayed else {})},
        )  # fmt: skip
    frame = _to_frame(columns)
    if problems.full:  # early exit: the report is full from parsing alone; the table rules are not run
        problems.unchecked_rows = len(frame)
    else:
        _schema_problems(frame, problems, fmt)
    if fmt == "football-data" and not problems.total:
        frame = _without_repeated_matches(frame, problems)
    problems.raise_if_any(fmt)
    if not frame["date"].is_monotonic_increasing:
        frame = frame.sort_values("date", kind="stable", ignore_index=True)
    frame.attrs["format"] = fmt
    frame.attrs["encoding"] = encoding
    frame.attrs.update(problems.notes)
    return frame


def _without_repeated_matches(frame: pd.DataFrame, problems: Problems) -> pd.DataFrame:
    """The same match on several rows (seasons glued together that overlap, a season pasted twice): rows with the
    same date, home and away team and competition and the same score are one match, the last kept and the others
    counted, as for the files of a zip; a row whose score differs from the match's last row is a problem."""
    keys = ["date", "home_team", "away_team", "competition"]
    repeated = frame.duplicated(keys, keep=False).to_numpy()
    if not repeated.any():
        return frame
    rows = frame.loc[repeated, [*keys, "home_score", "away_score"]].assign(number=np.flatnonzero(repeated))
    last = rows.groupby(keys, sort=False)[["home_score", "away_score", "number"]].transform("last")
    differ = ((rows["home_score"] != last["home_score"]) | (rows["away_score"] != last["away_score"])).to_numpy()
    if differ.any():
        positions = rows["number"].to_numpy()[differ]
        values = [
            f"{home}-{away} (row {problems.number(int(other))}: {other_home}-{other_away})"
            for home, away, other, other_home, other_away in zip(
                rows["home_score"].to_numpy()[differ][:MAX_REPORTED_PROBLEMS],
                rows["away_score"].to_numpy()[differ][:MAX_REPORTED_PROBLEMS],
                last["number"].to_numpy()[differ][:MAX_REPORTED_PROBLEMS],
                last["home_score"].to_numpy()[differ][:MAX_REPORTED_PROBLEMS],
                last["away_score"].to_numpy()[differ][:MAX_REPORTED_PROBLEMS],
                strict=True,
            )
        ]
        problems.add_rows(positions, "FTHG", values, "one score per match: the same score on every row with the same "
                          "date, home team, away team and division")  # fmt: skip
        return frame
    dropped = frame.duplicated(keys, keep="last").to_numpy()
    problems.notes["duplicate_matches_dropped"] = problems.notes.get("duplicate_matches_dropped", 0) + int(
        dropped.sum()
    )
    return frame.loc[~dropped].reset_index(drop=True)


def _zip_to_canonical(raw: bytes, filename: str) -> pd.DataFrame:
    """A zip of match files (e.g. several football-data.co.uk seasons): every CSV in it, as one table,
    de-duplicated by (date, home team, away team); problems name the file inside the zip."""
    from scoreline.tasks.tabular import files_error, union_rows, zip_members

    archive, files = zip_members(raw, filename, expected="a zip of match CSV files (e.g. football-data.co.uk seasons)")
    members = [info for info in files if info.filename.lower().endswith((".csv", ".txt"))]
    if not members and any(info.filename == "xl/workbook.xml" for info in files):
        # an Excel workbook is a zip too (football-data.co.uk's all-euro-data-*.xlsx, a season saved from Excel)
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{filename!r} is an Excel workbook (.xlsx), which is not read; expected a CSV file (save each sheet as "
            "CSV, or use the site's per-season .csv files) or a zip of CSV files",
            {"format": None, "total": 1, "problems": [{"row": None, "column": None, "value": filename,
                                                      "expected": "a CSV file or a zip of CSV files"}]},
        )  # fmt: skip
    if not members:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{filename!r} holds no .csv file; expected a zip of match CSV files",
            {"format": None, "total": 1, "problems": [{"row": None, "column": None, "value": filename,
                                                      "expected": "a zip with .csv files"}]},
        )  # fmt: skip
    frames, failures = [], []
    for info in members:
        try:
            frames.append(to_canonical(archive.read(info), info.filename))
        except ScorelineError as exc:
            if exc.code != ErrorCode.INVALID_INPUT:
                raise
            failures.append((info.filename, exc))
    if failures:
        raise files_error(failures, len(members))
    frame, duplicates = union_rows(frames, ("date", "home_team", "away_team"), "date")
    frame.attrs["format"] = "+".join(sorted({f.attrs.get("format", "?") for f in frames}))
    frame.attrs["files"] = [info.filename for info in members]
    frame.attrs["duplicates_dropped"] = duplicates
    return frame


def _to_frame(columns: dict[str, Any]) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for name, values in columns.items():
        if name == "date":
            filled = pc.fill_null(values, pa.scalar(0, pa.timestamp("s")))
            data[name] = pd.Series(
                np.asarray(filled.to_numpy() if isinstance(filled, pa.Array) else filled.combine_chunks().to_numpy())
            )
        elif isinstance(values, pa.ChunkedArray | pa.Array):
            data[name] = pd.Series(pc.fill_null(values, "").to_pandas(), dtype="str")
        else:
            data[name] = values
    return pd.DataFrame(data)
