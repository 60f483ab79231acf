"""Raw uploads → the canonical 10-minute team table: the format is told by the content, not the name."""

from __future__ import annotations

import pandas as pd

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.esports_win import riot, table
from scoreline.tasks.esports_win.columns import GAME_ID, STAT_COLUMNS
from scoreline.tasks.tabular import decode_text, files_error, gunzip, union_rows, zip_members

EXPECTED = (
    "the 10-minute team table as CSV (gameId, blueWins, blueWardsPlaced, ..., blueTotalGold, ..., redTotalGold, ...) "
    f"or {riot.EXPECTED_FILE}"
)


def to_canonical(raw: bytes, filename: str) -> pd.DataFrame:
    """Detect the format of ``raw`` (zip / gzip / JSON / JSON Lines / CSV) and adapt it."""
    if raw[:2] == b"\x1f\x8b":
        raw = gunzip(raw, filename, code=ErrorCode.UNSUPPORTED_MEDIA)
        filename = filename.removesuffix(".gz")
    if raw[:4] == b"PK\x03\x04":
        csv_members = _csv_members(raw, filename)
        if len(csv_members) == 1:  # e.g. the export as downloaded: a zip holding the CSV
            return table.read_table(next(iter(csv_members.values())), filename)
        if csv_members:  # several tables (e.g. one per region or patch): one table of their games
            return _tables_as_one(csv_members, filename)
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


def _csv_members(raw: bytes, filename: str) -> dict[str, bytes]:
    """The zip's tables by name, when it holds tables and no JSON (Riot data is read by its own adapter)."""
    archive, members = zip_members(raw, filename, code=ErrorCode.UNSUPPORTED_MEDIA, expected=EXPECTED)
    with archive:
        names = [info.filename for info in members]
        if any(n.lower().endswith((".json", ".jsonl", ".ndjson", ".json.gz")) for n in names):
            return {}
        return {name: archive.read(name) for name in names if name.lower().endswith((".csv", ".tsv", ".txt"))}


def _tables_as_one(members: dict[str, bytes], filename: str) -> pd.DataFrame:
    """Several 10-minute tables as one: each read on its own (problems name the file inside the zip), the games
    of all of them, a game in two files kept once. Columns are those every file has."""
    frames, failures = [], []
    for name, member in members.items():
        try:
            frames.append(table.read_table(member, name))
        except ScorelineError as exc:
            if exc.code != ErrorCode.INVALID_INPUT:
                raise
            failures.append((name, exc))
    if failures:
        raise files_error(failures, len(members))
    common = [c for c in frames[0].columns if all(c in f.columns for f in frames)]
    synthesized = any(f.attrs.get("game_ids") != "file" for f in frames)
    combined, repeats = union_rows([f[common] for f in frames], (GAME_ID,), None)
    combined.attrs.update(
        {
            "format": "team-table",
            "files": list(members),
            "columns": [c for c in STAT_COLUMNS if c in common],
            "game_ids": "synthesized from row content" if synthesized else "file",
            "dropped_repeats": repeats,
            "dropped_columns": sorted({c for f in frames for c in f.columns} - set(common)),
        }
    )
    return combined


def _from_riot(raw: bytes, filename: str) -> pd.DataFrame:
    with riot.no_cyclic_gc():  # the parsed documents are freed by reference counting before it comes back
        games = riot.load_games(raw, filename)
        canonical, skipped = riot.aggregate(games)
        del games
    if canonical.empty and skipped and all(item["reason"] == riot.NO_TIMELINE for item in skipped):
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{filename!r} holds {len(skipped)} match document(s) (info.teams) but no timeline: the state at "
            f"{riot.MINUTES}:00 comes from the match's timeline (match-v5 /matches/{{matchId}}/timeline: "
            f"info.frames); expected {riot.EXPECTED_FILE}",
            {"skipped": skipped[:50], "count": len(skipped)},
        )
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
