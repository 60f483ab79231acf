"""Raw uploads → the canonical 10-minute team table: the format is told by the content, not the name."""

from __future__ import annotations

import gzip
import io
import zipfile

import pandas as pd

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.esports_win import riot, table
from scoreline.tasks.esports_win.columns import GAME_ID, STAT_COLUMNS
from scoreline.tasks.tabular import decode_text

EXPECTED = (
    "the 10-minute team table as CSV (gameId, blueWins, blueWardsPlaced, ..., blueTotalGold, ..., redTotalGold, ...) "
    f"or {riot.EXPECTED_FILE}"
)


def to_canonical(raw: bytes, filename: str) -> pd.DataFrame:
    """Detect the format of ``raw`` (zip / gzip / JSON / JSON Lines / CSV) and adapt it."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except OSError as exc:
            raise ScorelineError(ErrorCode.UNSUPPORTED_MEDIA, f"{filename!r} is not a readable gzip: {exc}") from exc
        filename = filename.removesuffix(".gz")
    if raw[:4] == b"PK\x03\x04":
        csv_member = _single_csv_member(raw)
        if csv_member is not None:  # e.g. the export as downloaded: a zip holding the CSV
            return table.read_table(csv_member, filename)
        return _from_riot(raw, filename)
    if riot.looks_like_json(raw):
        return _from_riot(raw, filename)
    if b"\x00" in raw[:4096]:
        raise ScorelineError(ErrorCode.UNSUPPORTED_MEDIA, f"{filename!r} is binary; expected {EXPECTED}")
    header_line = decode_text(raw[:65536]).split("\n", 1)[0]
    if raw.strip() and not table.looks_like_table(_split_header(header_line)):
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{filename!r} is neither format: its header {header_line[:200]!r} has no 10-minute table columns; "
            f"expected {EXPECTED}",
            {"header": header_line[:500]},
        )
    return table.read_table(raw, filename)


def _split_header(line: str) -> list[str]:
    separator = max((",", ";", "\t"), key=line.count)
    return [name.strip().strip('"') for name in line.split(separator)]


def _single_csv_member(raw: bytes) -> bytes | None:
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = [
                n
                for n in archive.namelist()
                if not n.startswith("__MACOSX/") and n.lower().endswith((".csv", ".tsv", ".txt"))
            ]
            return archive.read(names[0]) if len(names) == 1 else None
    except zipfile.BadZipFile as exc:
        raise ScorelineError(ErrorCode.UNSUPPORTED_MEDIA, f"not a readable zip: {exc}; expected {EXPECTED}") from exc


def _from_riot(raw: bytes, filename: str) -> pd.DataFrame:
    with riot.no_cyclic_gc():  # the parsed documents are freed by reference counting before it comes back
        games = riot.load_games(raw, filename)
        canonical, skipped = riot.aggregate(games)
        del games
    if canonical.empty:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"no game in {filename!r} lasted {riot.MINUTES} minutes; first: {skipped[0]['reason'] if skipped else '-'}"
            "; "
            "expected games that reached 10:00",
            {"skipped": skipped[:50], "count": len(skipped)},
        )
    repeated = canonical.duplicated(GAME_ID, keep="first")  # two tracked streamers in one game
    canonical = canonical.loc[~repeated].reset_index(drop=True)
    canonical.attrs.update(
        {
            "format": "riot-match-v5",
            "columns": list(STAT_COLUMNS),
            "skipped": skipped,
            "dropped_repeats": int(repeated.sum()),
        }
    )
    return canonical
