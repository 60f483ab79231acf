"""Shared helpers for task adapters that read tables as users really send them.

Text is decoded whole (UTF-8, UTF-8 with BOM, else cp1252/latin-1), headers are matched
loosely (case, spaces, R's ``read.csv`` mangling), numbers accept ``2.0`` for whole numbers,
booleans accept ``TRUE/FALSE``, ``True/False``, ``1/0``, ``yes/no``. Every problem becomes a
row-level entry ``{row, column, value, expected}`` where ``row`` is the spreadsheet row (the
header is row 1); :meth:`RowProblems.raise_if_any` turns them into one 422.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import warnings
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zlib import error as zlib_error

import numpy as np
import pandas as pd

from scoreline.core.errors import ErrorCode, ScorelineError

MAX_REPORTED_PROBLEMS = 50
# What an upload's zip or gzip may unpack to: a few hundred kilobytes of zeros unpack to gigabytes otherwise.
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
# Fields of a table's header and first row: every task's table has a few dozen; pandas spends minutes on a line of
# a million separators (taking the first row's extra fields for an index before it can refuse them).
MAX_TABLE_COLUMNS = 1000
FIRST_ROW = 2  # spreadsheet numbering: the header is row 1
TRUE_WORDS = frozenset({"true", "1", "1.0", "yes", "y", "t"})
FALSE_WORDS = frozenset({"false", "0", "0.0", "no", "n", "f"})


@dataclass
class RowProblems:
    """Collects problems up to the report limit while counting all of them."""

    items: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0

    def add(self, row: int | None, column: str | None, value: Any, expected: str, message: str | None = None) -> None:
        """``row`` is a 0-based data position (reported as the spreadsheet row), or None for the whole file."""
        self.total += 1
        if len(self.items) < MAX_REPORTED_PROBLEMS:
            entry = {
                "row": None if row is None else int(row) + FIRST_ROW,
                "column": column,
                "value": _plain(value),
                "expected": expected,
            }
            if message:
                entry["message"] = message
            self.items.append(entry)

    def add_rows(self, rows: Iterable[int], column: str, values: Sequence[Any] | pd.Series, expected: str) -> None:
        rows = list(rows)
        picked = values.iloc[rows].tolist() if isinstance(values, pd.Series) else [values[r] for r in rows]
        room = MAX_REPORTED_PROBLEMS - len(self.items)
        for row, value in zip(rows[: max(room, 0)], picked[: max(room, 0)], strict=False):
            self.add(row, column, value, expected)
        self.total += max(len(rows) - max(room, 0), 0)

    def raise_if_any(self, what: str) -> None:
        if not self.total:
            return
        first = self.items[0]
        where = f"row {first['row']}, " if first.get("row") is not None else ""
        column = f"column {first['column']!r}: " if first.get("column") else ""
        message = f"invalid {what}: {where}{column}{first.get('message') or repr(first['value'])}; "
        message += f"expected {first['expected']}"
        if self.total > 1:
            message += f" (and {self.total - 1} more problem(s), see details)"
        raise ScorelineError(ErrorCode.INVALID_INPUT, message, {"problems": self.items, "count": self.total})


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value if not isinstance(value, str) else value[:200]
    if isinstance(value, float):
        return None if np.isnan(value) else value
    if isinstance(value, np.generic):
        return _plain(value.item())
    return repr(value)[:200]


def decode_text(raw: bytes) -> str:
    """The whole file as text: UTF-8 (with or without BOM), else cp1252, else latin-1."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")  # unreachable: latin-1 decodes every byte


MISSING_CELLS = ("", "NA", "N/A", "NaN", "nan", "null", "NULL", "-")


def read_text_table(raw: bytes, what: str, missing: Sequence[str] = MISSING_CELLS) -> pd.DataFrame:
    """A CSV (or tab/semicolon separated) file with every cell as text; the ``missing`` cells (blanks, NA, ...)
    as missing."""
    if not raw.strip():
        raise ScorelineError(ErrorCode.INVALID_INPUT, f"the {what} file is empty; expected a header and rows")
    if b"\x00" in raw[:4096]:
        raise ScorelineError(ErrorCode.UNSUPPORTED_MEDIA, f"the {what} file is binary; expected a CSV text file")
    text = decode_text(raw)
    first, _, rest = text.partition("\n")
    separator = max((",", ";", "\t"), key=first.count)
    for line in (first, rest.partition("\n")[0]):
        if line.count(separator) >= MAX_TABLE_COLUMNS:
            raise ScorelineError(
                ErrorCode.TOO_LARGE,
                f"the {what} file's {'header' if line is first else 'first row'} has {line.count(separator) + 1:,} "
                f"fields; at most {MAX_TABLE_COLUMNS:,} (expected a table of a few dozen columns)",
                {"fields": line.count(separator) + 1, "limit": MAX_TABLE_COLUMNS},
            )

    def read(text: str) -> pd.DataFrame:
        # Spaces after the separators ("GP, MIN" or "7.4, ,0") are not part of a cell: a blank cell is missing.
        return read_rows_as_headed(
            text, sep=separator, dtype=str, keep_default_na=False, skipinitialspace=True,
            na_values=list(missing),
        )  # fmt: skip

    try:
        try:
            frame = read(text)
        except (pd.errors.ParserError, pd.errors.ParserWarning):
            frame = read(without_empty_extra_fields(text, separator, what))
    except ScorelineError:
        raise
    except Exception as exc:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT, f"unreadable {what} file: {exc}; expected a CSV with a header row"
        ) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.loc[:, [not c.startswith("Unnamed:") or frame[c].notna().any() for c in frame.columns]]
    if separator == ";":
        # Semicolons separate fields where the comma is the decimal mark: "26,9" is 26.9. Read as a thousands
        # separator (as in comma files) it would become 269.
        frame = frame.apply(lambda column: column.str.replace(r"^\s*(-?\d+),(\d+)\s*$", r"\1.\2", regex=True))
    return without_trailing_blank_rows(frame.reset_index(drop=True))


def read_rows_as_headed(text: str, **options: Any) -> pd.DataFrame:
    """pandas' CSV reader, held to the header: rows with more fields than the header raise (ParserError, or
    ParserWarning when the first row is the wider one) instead of pandas taking the extra leading fields for an
    index, which shifted every column of a file whose rows all end in ``,,``."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        return pd.read_csv(io.StringIO(text), index_col=False, **options)


def without_empty_extra_fields(text: str, separator: str, what: str) -> str:
    """The text with the empty fields some rows have beyond the header (``...,1.9,0,,``: a spreadsheet's trailing
    separators) cut off; a row with a value beyond the header is a 422 naming the row."""
    rows = list(csv.reader(io.StringIO(text), delimiter=separator))
    width = len(rows[0]) if rows else 0
    problems = RowProblems()
    for position, row in enumerate(rows[1:]):
        if len(row) > width and any(cell.strip() for cell in row[width:]):
            extra = next(cell for cell in row[width:] if cell.strip())
            problems.add(position, None, extra, f"at most {width} fields per row, as in the header")
    problems.raise_if_any(f"{what} file")
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=separator, lineterminator="\n").writerows(row[:width] for row in rows)
    return buffer.getvalue()


def without_trailing_blank_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The table without the rows of bare separators (``,,,,``) a spreadsheet leaves after the data. Only the
    tail is dropped, so every remaining row keeps its position (problems name the file's rows)."""
    filled = np.flatnonzero(frame.notna().any(axis=1).to_numpy())
    end = int(filled[-1]) + 1 if len(filled) else 0
    if end == len(frame):
        return frame
    kept = frame.iloc[:end]
    kept.attrs["blank_rows_dropped"] = len(frame) - end
    return kept


def header_key(name: str) -> str:
    """A loose key for a column name: lower case, ``%`` as ``pct``, R's ``X3P``/``FG.`` undone, no punctuation."""
    text = str(name).strip()
    if re.fullmatch(r"X\d.*", text):  # R's read.csv prefixes names that start with a digit
        text = text[1:]
    text = text.replace("%", "pct")
    if text.endswith(".") and not text.endswith(".."):  # R turns "FG%" into "FG."
        text = text[:-1] + "pct"
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def match_columns(columns: Sequence[str], wanted: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """canonical name → the file's column, for each canonical name whose aliases (loose keys) appear."""
    by_key = {}
    for column in columns:
        by_key.setdefault(header_key(column), column)
    found = {}
    for canonical, aliases in wanted.items():
        for alias in (canonical, *aliases):
            column = by_key.get(header_key(alias))
            if column is not None:
                found[canonical] = column
                break
    return found


def parse_numbers(values: pd.Series, column: str, problems: RowProblems, expected: str = "a number") -> np.ndarray:
    """Floats (missing stays NaN); cells that are not numbers are reported."""
    text = values.astype("string").str.strip().str.replace(",", "", regex=False)
    numbers = pd.to_numeric(text, errors="coerce")
    bad = numbers.isna().to_numpy() & values.notna().to_numpy()
    bad |= np.isinf(numbers.to_numpy(dtype=float, na_value=np.nan))
    problems.add_rows(np.flatnonzero(bad), column, values, expected)
    return numbers.to_numpy(dtype=float, na_value=np.nan)


def parse_whole_numbers(values: pd.Series, column: str, problems: RowProblems) -> np.ndarray:
    """Whole numbers, also written ``2.0``; ``2.5`` is reported."""
    numbers = parse_numbers(values, column, problems, "a whole number")
    fractional = np.isfinite(numbers) & (numbers != np.round(numbers))
    problems.add_rows(np.flatnonzero(fractional), column, values, "a whole number")
    return numbers


def parse_booleans(values: pd.Series, column: str, problems: RowProblems) -> np.ndarray:
    """0/1 floats from TRUE/FALSE, True/False, 1/0, yes/no (missing stays NaN)."""
    text = values.astype("string").str.strip().str.lower()
    mapped = text.map(lambda v: 1.0 if v in TRUE_WORDS else 0.0 if v in FALSE_WORDS else np.nan, na_action="ignore")
    result = mapped.to_numpy(dtype=float, na_value=np.nan)
    bad = np.isnan(result) & values.notna().to_numpy()
    problems.add_rows(np.flatnonzero(bad), column, values, "true/false, 1/0 or yes/no")
    return result


def union_rows(
    frames: Sequence[pd.DataFrame], keys: Sequence[str], date_column: str | None
) -> tuple[pd.DataFrame, int]:
    """Canonical tables as one: rows de-duplicated by ``keys`` (a later frame's row wins), sorted by
    ``date_column`` then the keys, so the same rows give the same table whatever the order of the files.
    Columns are those every frame has (in the first frame's order), then the others sorted by name.
    Returns (table, duplicates dropped)."""
    frames = [f for f in frames if len(f.columns)]
    combined = pd.concat(frames, ignore_index=True, sort=False) if len(frames) > 1 else frames[0].copy()
    combined.attrs = {}
    common = [c for c in frames[0].columns if all(c in f.columns for f in frames)]
    combined = combined[common + sorted(c for c in combined.columns if c not in common)]
    present = [k for k in keys if k in combined.columns]
    before = len(combined)
    if present:
        combined = combined.drop_duplicates(subset=present, keep="last")
    else:
        combined = combined.drop_duplicates(keep="last")
    order = [c for c in dict.fromkeys([*([date_column] if date_column in combined.columns else []), *present])]
    if order:
        combined = combined.sort_values(order, kind="stable")
    return combined.reset_index(drop=True), before - len(combined)


def files_error(failures: list[tuple[str, ScorelineError]], total_files: int) -> ScorelineError:
    """One 422 for problems in several files: every problem names its file, row, column, value and expectation."""
    problems: list[dict[str, Any]] = []
    count = 0
    for name, exc in failures:
        details = exc.details or {}
        items = details.get("problems") or [{"row": None, "column": None, "value": None, "expected": exc.message}]
        count += int(details.get("total") or details.get("count") or len(items))
        problems += [{"file": name, **item} for item in items]
    first_name, first = failures[0]
    return ScorelineError(
        ErrorCode.INVALID_INPUT,
        f"{len(failures)} of {total_files} file(s) have problems; first: {first_name}: {first.message}",
        {"files": [name for name, _ in failures], "total": count, "problems": problems[:MAX_REPORTED_PROBLEMS]},
    )


class UploadedZip(zipfile.ZipFile):
    """An uploaded zip whose ``read`` of a damaged member (bad CRC, corrupt deflate data, cut short, encrypted or
    an unknown compression) is a ``code`` error naming the upload and the member, not the archive's exception."""

    def __init__(self, raw: bytes, what: str, code: ErrorCode, expected: str) -> None:
        super().__init__(io.BytesIO(raw))
        self.what, self.code, self.expected = what, code, expected

    def read(self, name: str | zipfile.ZipInfo, pwd: bytes | None = None) -> bytes:
        try:
            return super().read(name, pwd)
        except (zipfile.BadZipFile, zlib_error, EOFError, NotImplementedError, RuntimeError) as exc:
            member = name.filename if isinstance(name, zipfile.ZipInfo) else name
            raise ScorelineError(
                self.code,
                f"{self.what!r}: {member} cannot be unpacked ({exc}); expected {self.expected}",
                {"filename": self.what, "member": member},
            ) from exc


def zip_members(
    raw: bytes, what: str, *, code: ErrorCode = ErrorCode.INVALID_INPUT, expected: str = "a zip of CSV files"
) -> tuple[zipfile.ZipFile, list[zipfile.ZipInfo]]:
    """An uploaded zip and its files sorted by name, without what archivers add beside the data: folders,
    macOS resource forks (``__MACOSX/``) and hidden files (``.DS_Store``, ``._name.csv``). A file that is not a
    readable zip, or a member that cannot be unpacked when read, is a ``code`` error naming ``what`` and saying
    what was ``expected``."""
    try:
        archive = UploadedZip(raw, what, code, expected)
    except zipfile.BadZipFile as exc:
        raise ScorelineError(code, f"{what!r} is not a readable zip file ({exc}); expected {expected}") from exc
    members = [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and not info.filename.startswith("__MACOSX/")
        and not info.filename.rsplit("/", 1)[-1].startswith(".")
    ]
    # A member reads no more than its declared size (more fails its CRC check), so the declared sizes bound it.
    unpacked = sum(info.file_size for info in members)
    if unpacked > MAX_UNPACKED_BYTES:
        archive.close()
        raise _unpacks_too_large(what, f"{unpacked:,} bytes, more")
    return archive, sorted(members, key=lambda info: info.filename)


def gunzip(raw: bytes, what: str, *, code: ErrorCode = ErrorCode.INVALID_INPUT) -> bytes:
    """A gzip upload unpacked, at most ``MAX_UNPACKED_BYTES`` (413 beyond); unreadable: a ``code`` error."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            content = stream.read(MAX_UNPACKED_BYTES + 1)
    except (OSError, EOFError, zlib_error) as exc:
        raise ScorelineError(code, f"{what!r} is not a readable gzip: {exc}") from exc
    if len(content) > MAX_UNPACKED_BYTES:
        raise _unpacks_too_large(what, "more")
    return content


def _unpacks_too_large(what: str, size: str) -> ScorelineError:
    return ScorelineError(
        ErrorCode.TOO_LARGE,
        f"{what!r} unpacks to {size} than the limit of {MAX_UNPACKED_BYTES:,} bytes; "
        "expected less data per upload (split it into several)",
        {"filename": what, "max_unpacked_bytes": MAX_UNPACKED_BYTES},
    )
