"""Raw traffic and event-calendar files → one canonical table, with every problem explained.

Accepted uploads (one dataset version = one canonical table):

* a zip holding a traffic file and, optionally, an event-calendar file (CSV/TSV/semicolon or Parquet);
  each member is recognised from its header; a calendar without a sport column (one league's fixtures, e.g.
  football-data's ``Div, Date, Time, HomeTeam, AwayTeam, ...``) is the sport of a traffic file of one sport;
* a single traffic file (no events); also a wide table of one row per series and one column per day (the
  Wikipedia web traffic tables: ``Page,2015-07-01,...``), and one series as a long ``date,value`` table;
* a single combined file holding both kinds of rows: a ``record`` (or ``type``/``kind``) column saying
  ``traffic`` or ``event``, or else rows with a requests value are traffic and rows with teams are events.

Traffic: ``date`` (daily dates, or hourly timestamps that are summed per day), ``sport``, ``service``,
``region``, ``requests`` (synonyms ``visits``, ``views``, ``sessions``, ...; headers case-insensitive).
Timestamps with a UTC offset keep their local wall-clock day. Two rows of one series with the same
timestamp are duplicates and rejected (422 listing the rows); distinct hours of one day are summed. A
day of an hourly series with clearly fewer hours than the series usually has is not summed into a
misleading dip: it becomes missing and is reported. A blank requests cell is a missing day. Missing
days are never filled: they are absent from the canonical table and summarised in
``canonical.attrs["gaps"]`` (and by :func:`gap_summary` from any canonical table, e.g. after Parquet).

Calendar: ``date``, ``sport``, ``league``/``competition``, ``home_team``, ``away_team``, optional
``start_time``, ``stage`` (regular / playoff / final; case and common wordings such as "Regular Season",
"Playoffs", "Semi-finals", "Finals" are understood; blank means regular), ``home_rank``, ``away_rank``,
``mentions`` (pre-event social-media volume). Several events a day per sport; the same event twice is
rejected.

Canonical: one frame, ``record`` = ``traffic`` | ``event`` and the union of both kinds' columns
(:data:`CANONICAL_COLUMNS`); dates are datetime64 days; it round-trips through Parquet.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.tasks.tabular import (
    RowProblems,
    header_key,
    match_columns,
    parse_numbers,
    read_text_table,
    zip_members,
)

TRAFFIC, EVENT = "traffic", "event"
CANONICAL_COLUMNS: tuple[str, ...] = (
    "record", "date", "sport", "service", "region", "requests",
    "league", "home_team", "away_team", "start_time", "stage", "home_rank", "away_rank", "mentions",
)  # fmt: skip
TEXT_COLUMNS: tuple[str, ...] = ("record", "sport", "service", "region", "league", "home_team", "away_team",
                                 "start_time", "stage")  # fmt: skip
NUMBER_COLUMNS: tuple[str, ...] = ("requests", "home_rank", "away_rank", "mentions")
STAGES: tuple[str, ...] = ("regular", "playoff", "final")  # stage code = position
SERIES_KEYS: tuple[str, ...] = ("sport", "service", "region")

TRAFFIC_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("day", "datetime", "timestamp", "time", "hour", "period", "ds", "event_time"),
    "sport": ("sport_name", "discipline"),
    "service": ("platform", "product", "app", "channel", "service_name"),
    "region": ("market", "geo", "country", "area", "region_name", "territory"),
    "requests": ("visits", "views", "sessions", "hits", "pageviews", "page_views", "request_count", "traffic",
                 "count", "y", "value"),
}  # fmt: skip
CALENDAR_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("event_date", "match_date", "game_date", "day", "datetime", "start", "start_date"),
    "sport": ("sport_name", "discipline"),
    "league": ("competition", "tournament", "league_name", "series_name", "div", "division"),
    "home_team": ("home", "hometeam", "team_home", "home_team_name", "home_side", "team1", "team_1"),
    "away_team": ("away", "awayteam", "team_away", "away_team_name", "visitor", "visitors", "visiting_team",
                  "away_side", "team2", "team_2"),
    "start_time": ("time", "kickoff", "kick_off", "puck_drop", "tip_off", "start_hour", "local_time"),
    "stage": ("round", "phase", "season_type", "game_type", "event_type", "type_of_game"),
    "home_rank": ("home_ranking", "home_seed", "rank_home", "home_standing", "home_position"),
    "away_rank": ("away_ranking", "away_seed", "rank_away", "away_standing", "away_position"),
    "mentions": ("social_mentions", "social_volume", "tweets", "buzz", "mentions_count", "mention_count",
                 "social_media_mentions", "hype"),
}  # fmt: skip
TRAFFIC_REQUIRED = ("date", "sport", "service", "region", "requests")
# Words that name a count of requests inside a longer header (Kaggle's daily-website-visitors table has
# ``Page.Loads, Unique.Visits, First.Time.Visits, Returning.Visits`` and no plain ``visits``): without a requests
# column, the first word of this list found in a header names it (page loads before visits; of several headers
# with one word, the shortest: ``Visits`` before ``Unique.Visits``).
REQUEST_WORDS: tuple[str, ...] = ("requests", "pageloads", "pageviews", "loads", "views", "hits", "visits",
                                  "sessions")  # fmt: skip
CALENDAR_REQUIRED = ("date", "sport", "home_team", "away_team")
RECORD_ALIASES = {"record": ("record_type", "type", "kind", "row_type")}
# An hourly day with fewer hours than this share of the series' usual count is incomplete (DST's 23 h is fine).
COMPLETE_DAY_SHARE = 0.9
_MISSING_WORDS = ("na", "n/a", "nan", "null", "none", "-", "--", "?")
_NUMERIC_DATE = r"^(\d{1,2})([./-])(\d{1,2})\2(\d{4}|\d{2})(\s.*)?$"
_OFFSET = re.compile(r"(?:[zZ]|\s*(?:UTC|GMT)?\s*[+-]\d{2}:?\d{2})\s*$")
_DATE_HEADER = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A Wikipedia page name as the web traffic tables write it: article_project_access_agent
# (``Manchester_United_F.C._en.wikipedia.org_desktop_all-agents``).
_WIKI_PAGE = re.compile(r"^(?P<article>.+)_(?P<project>[a-z\-]+\.(?:wikipedia|wikimedia|mediawiki)\.org)_"
                        r"(?P<access>[a-z\-]+)_(?P<agent>[a-z\-]+)$")  # fmt: skip
WHOLE_SERIES = "all"  # the series key of a table without sport, service or region columns


# ---- entry point ---------------------------------------------------------------------------------------------


def to_canonical(raw: bytes, filename: str) -> pd.DataFrame:
    name = filename or "upload"
    if raw[:4] == b"PK\x03\x04":
        traffic_parts, event_parts, members = _from_zip(raw, name)
        fmt = "zip: " + ", ".join(members)
    else:
        traffic_parts, event_parts = _from_single(_read_table(raw, name), name)
        fmt = "combined file" if event_parts else "traffic file"
    if not sum(len(part) for part in traffic_parts):  # no traffic table, or only its header
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"no traffic rows in {name!r}; expected a traffic table with columns {', '.join(TRAFFIC_REQUIRED)} "
            "and one row per series and day",
            {"problems": [{"row": None, "column": None, "value": name, "expected": "a traffic table"}], "count": 1},
        )
    parsed = pd.concat(traffic_parts, ignore_index=True)
    read_from = parsed.drop_duplicates("source").set_index("source")["requests_column"].to_dict()
    traffic, incomplete = _daily_traffic(parsed)
    events = pd.concat(event_parts, ignore_index=True) if event_parts else _empty_events()
    _reject_duplicate_events(events)
    canonical = _assemble(traffic, events)
    canonical.attrs["format"] = fmt
    canonical.attrs["gaps"] = gap_summary(canonical, incomplete)
    canonical.attrs["requests_column"] = read_from  # file → the column read as requests (Page.Loads, Visits, ...)
    return canonical


def _read_table(raw: bytes, name: str) -> pd.DataFrame:
    if raw[:4] == b"PAR1":
        try:
            frame = pd.read_parquet(io.BytesIO(raw))
        except Exception as exc:
            raise ScorelineError(ErrorCode.INVALID_INPUT, f"unreadable Parquet file {name!r}: {exc}") from exc
        text = frame.astype("string").astype(object)
        return text.where(frame.notna(), None).reset_index(drop=True)
    # Only blank cells are missing here: "NA" is North America in a region column (numbers handle NA words).
    return read_text_table(raw, f"traffic {name!r}", missing=("",))


def _numbers(values: pd.Series, column: str, problems: RowProblems, expected: str) -> np.ndarray:
    """Numbers where NA-like words (NA, N/A, null, -) are missing values."""
    text = values.astype("string").str.strip()
    text = text.mask(text.str.lower().isin(_MISSING_WORDS))
    return parse_numbers(text, column, problems, expected)


def _from_zip(raw: bytes, name: str) -> tuple[list[pd.DataFrame], list[pd.DataFrame], list[str]]:
    archive, files = zip_members(raw, name, expected="a zip of traffic (and events) CSV or Parquet files")
    traffic_parts: list[pd.DataFrame] = []
    event_parts: list[pd.DataFrame] = []
    members: list[str] = []
    without_sport: list[tuple[str, pd.DataFrame, ScorelineError]] = []
    for info in files:
        base = info.filename.rsplit("/", 1)[-1]
        if not base.lower().endswith((".csv", ".tsv", ".txt", ".parquet")):
            continue
        frame = _read_table(archive.read(info), base)
        try:
            traffic, events = _from_single(frame, base)
        except ScorelineError as exc:
            if not _calendar_without_sport(frame):
                raise
            without_sport.append((base, frame, exc))  # read once the traffic's sports are known
            continue
        traffic_parts += traffic
        event_parts += events
        members.append(f"{base} ({'traffic' if traffic else ''}{' + ' if traffic and events else ''}"
                       f"{'events' if events else ''})")  # fmt: skip
    sports = {sport for part in traffic_parts for sport in part["sport"].dropna().str.casefold().unique()}
    for base, frame, exc in without_sport:
        # A one-sport calendar (football-data's Div, Date, Time, HomeTeam, AwayTeam, ...) names no sport: with the
        # traffic of one sport it is that sport's; otherwise which sport its events are cannot be told.
        if len(sports) != 1:
            raise ScorelineError(
                exc.code,
                f"{exc.message} (a calendar without a sport column is read as the traffic's sport only when the "
                f"traffic has one sport; it has {len(sports)})",
                exc.details,
            ) from exc
        sport = next(part["sport"].dropna().iloc[0] for part in traffic_parts if part["sport"].notna().any())
        _, events = _from_single(frame.assign(sport=sport), base)
        event_parts += events
        members.append(f"{base} (events of {sport}: the calendar names no sport)")
    if not members:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"the zip {name!r} holds no CSV or Parquet file; expected a traffic file and an event-calendar file",
            {"members": [info.filename for info in archive.infolist()][:50]},
        )
    return traffic_parts, event_parts, members


def _calendar_without_sport(frame: pd.DataFrame) -> bool:
    """Whether the table is an event calendar but for its sport column (and is not a traffic table)."""
    columns = match_columns(frame.columns, CALENDAR_ALIASES)
    traffic = traffic_columns(frame.columns)
    return "sport" not in columns and {"date", "home_team", "away_team"} <= columns.keys() and "requests" not in traffic


def _from_single(frame: pd.DataFrame, name: str) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """Traffic and event rows of one table (a traffic file, a calendar file or a combined file)."""
    dates = [c for c in frame.columns if _DATE_HEADER.match(str(c).strip())]
    if len(dates) >= 2 and len(frame.columns) - len(dates) == 1:
        return [_wide_traffic(frame, dates, name)], []
    traffic_cols = traffic_columns(frame.columns)
    calendar_cols = match_columns(frame.columns, CALENDAR_ALIASES)
    has_events = "home_team" in calendar_cols and "away_team" in calendar_cols
    if not has_events and {"date", "requests"} <= traffic_cols.keys() and not traffic_cols.keys() & {*SERIES_KEYS}:
        # One series as a long table (date,value; Prophet's ds,y), no series column at all: the whole series.
        # A table naming some series keys and not others still lacks them (a 422 naming the missing ones).
        frame = frame.assign(**dict.fromkeys(SERIES_KEYS, WHOLE_SERIES))
        traffic_cols = traffic_columns(frame.columns)
    has_traffic = all(c in traffic_cols for c in ("requests", "service", "region"))
    if not has_traffic and not has_events:
        _missing_columns(frame, name, traffic_cols, calendar_cols)
    if has_traffic and not has_events:
        return [_parse_traffic(frame, name, np.arange(len(frame)))], []
    if has_events and not has_traffic:
        return [], [_parse_calendar(frame, name, np.arange(len(frame)))]
    is_event = _event_rows(frame, name, traffic_cols, calendar_cols)
    traffic_rows, event_rows = np.flatnonzero(~is_event), np.flatnonzero(is_event)
    traffic = [_parse_traffic(frame.iloc[traffic_rows], name, traffic_rows)] if len(traffic_rows) else []
    events = [_parse_calendar(frame.iloc[event_rows], name, event_rows)] if len(event_rows) else []
    return traffic, events


def _wide_traffic(frame: pd.DataFrame, dates: list[str], name: str) -> pd.DataFrame:
    """A wide table, one row per series and one column per day (the Wikipedia web traffic tables: ``Page,
    2015-07-01, 2015-07-02, ...``), as traffic rows. A Wikipedia page name is split into the series keys: the
    article as ``sport``, ``access_agent`` as ``service``, the project (``en.wikipedia.org``) as ``region``;
    another name is the ``sport`` of a whole series. Problems name the file's row and the day's column."""
    key_column = next(c for c in frame.columns if c not in dates)
    keys = frame[key_column].astype("string").str.strip()
    problems = RowProblems()
    problems.add_rows(np.flatnonzero(keys.fillna("").eq("").to_numpy()), str(key_column), frame[key_column],
                      "a page or series name")  # fmt: skip
    for column in dates:
        values = _numbers(frame[column], str(column), problems, "a number of requests")
        problems.add_rows(np.flatnonzero(values < 0), str(column), frame[column], "a number of requests >= 0")
    problems.raise_if_any(f"traffic file {name!r}")
    parts = keys.fillna("").str.extract(_WIKI_PAGE)
    wiki = parts["article"].notna()
    sport = parts["article"].where(wiki, keys)
    service = (parts["access"] + "_" + parts["agent"]).where(wiki, WHOLE_SERIES)
    region = parts["project"].where(wiki, WHOLE_SERIES)
    days = len(dates)
    long = pd.DataFrame(
        {
            "date": np.tile(np.asarray([str(c).strip() for c in dates], dtype=object), len(frame)),
            "sport": np.repeat(sport.to_numpy(dtype=object), days),
            "service": np.repeat(service.to_numpy(dtype=object), days),
            "region": np.repeat(region.to_numpy(dtype=object), days),
            "requests": frame[dates].to_numpy(dtype=object).ravel(),
        }
    )
    return _parse_traffic(long, name, np.repeat(np.arange(len(frame)), days))


def _event_rows(frame: pd.DataFrame, name: str, traffic_cols: dict[str, str], calendar_cols: dict[str, str]) -> Any:
    record_col = match_columns(frame.columns, RECORD_ALIASES).get("record")
    if record_col is not None:
        kinds = frame[record_col].astype("string").str.strip().str.lower()
        is_event = kinds.isin(["event", "events", "calendar", "game", "match"]).to_numpy(dtype=bool)
        is_traffic = kinds.isin(["traffic", "requests", "visits", "series"]).to_numpy(dtype=bool)
        problems = RowProblems()
        problems.add_rows(np.flatnonzero(~is_event & ~is_traffic), record_col, frame[record_col],
                          "'traffic' or 'event'")  # fmt: skip
        problems.raise_if_any(f"combined file {name!r}")
        return is_event
    requests = frame[traffic_cols["requests"]].notna().to_numpy()
    teams = frame[calendar_cols["home_team"]].notna().to_numpy() | frame[calendar_cols["away_team"]].notna().to_numpy()
    problems = RowProblems()
    ambiguous = np.flatnonzero(requests == teams)
    expected = "either a requests value (a traffic row) or home and away teams (an event)"
    for row in ambiguous:
        why = "row is neither traffic nor an event" if not requests[row] else "row has both requests and teams"
        problems.add(int(row), None, None, expected, why)
    problems.raise_if_any(f"combined file {name!r}")
    return teams


def _missing_columns(
    frame: pd.DataFrame, name: str, traffic_cols: dict[str, str], calendar_cols: dict[str, str]
) -> None:
    missing_traffic = [c for c in TRAFFIC_REQUIRED if c not in traffic_cols]
    missing_calendar = [c for c in CALENDAR_REQUIRED if c not in calendar_cols]
    missing = missing_traffic if len(missing_traffic) <= len(missing_calendar) else missing_calendar
    kind = "traffic" if missing is missing_traffic else "event calendar"
    raise ScorelineError(
        ErrorCode.INVALID_INPUT,
        f"{name!r} is neither a traffic table nor an event calendar: as {kind} it lacks {', '.join(missing)}; "
        f"expected traffic columns {', '.join(TRAFFIC_REQUIRED)} (requests also as visits/views/sessions) "
        f"and/or calendar columns {', '.join(CALENDAR_REQUIRED)}, league, stage, home_rank, away_rank, mentions",
        {
            "problems": [
                {"row": 1, "column": c, "value": None, "expected": "column present in the header"} for c in missing
            ],
            "count": len(missing),
            "found_columns": [str(c) for c in frame.columns][:100],
        },
    )


# ---- traffic ------------------------------------------------------------------------------------------------


def traffic_columns(columns: Sequence[str]) -> dict[str, str]:
    """Canonical traffic column → the file's column: the aliases, else a header holding a :data:`REQUEST_WORDS`
    word for ``requests`` (``Page.Loads``); a header already taken by another column is not reused."""
    found = match_columns(list(columns), TRAFFIC_ALIASES)
    if "requests" in found:
        return found
    taken = set(found.values())
    keys = {str(c): header_key(str(c)) for c in columns if c not in taken}
    for word in REQUEST_WORDS:
        candidates = [column for column, key in keys.items() if word in key]
        if candidates:
            found["requests"] = min(candidates, key=lambda column: len(keys[column]))
            break
    return found


def _parse_traffic(frame: pd.DataFrame, name: str, rows: np.ndarray) -> pd.DataFrame:
    columns = traffic_columns(frame.columns)
    missing = [c for c in TRAFFIC_REQUIRED if c not in columns]
    if missing:
        _missing_columns(frame, name, columns, {})
    frame = frame.reset_index(drop=True)
    problems = _Located(rows)
    stamps = _parse_stamps(frame[columns["date"]], columns["date"], problems)
    names = {key: _parse_names(frame[columns[key]], columns[key], problems) for key in SERIES_KEYS}
    requests = _numbers(frame[columns["requests"]], columns["requests"], problems.inner, "a number of requests")
    problems.add_rows(np.flatnonzero(requests < 0), columns["requests"], frame[columns["requests"]],
                      "a number of requests >= 0")  # fmt: skip
    problems.raise_if_any(f"traffic file {name!r}")
    parsed = pd.DataFrame({"stamp": stamps, **names, "requests": requests, "row": rows + 2})
    return parsed.assign(source=name, date_column=columns["date"], requests_column=columns["requests"])


def _daily_traffic(parsed: pd.DataFrame) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Rows per series and timestamp → one row per series and day; duplicates rejected, partial days missing."""
    for key in SERIES_KEYS:
        parsed[key] = _unify_case(parsed[key])
    duplicated = parsed.duplicated(["sport", "service", "region", "stamp"], keep=False).to_numpy()
    if duplicated.any():
        problems = RowProblems()
        for record in parsed.loc[duplicated].sort_values(["sport", "service", "region", "stamp", "row"]).itertuples():
            problems.add(int(record.row) - 2, record.date_column, str(record.stamp),
                         "one row per series and period (date or hour)",
                         f"{record.source} row {record.row}: {record.sport}/{record.service}/{record.region} "
                         f"{record.stamp} appears more than once")  # fmt: skip
        problems.raise_if_any("traffic (duplicated periods)")
    day = parsed["stamp"].dt.normalize()
    known = parsed.assign(date=day, hours=parsed["requests"].notna().astype(int))
    daily = known.groupby(["sport", "service", "region", "date"], sort=True).agg(
        requests=("requests", lambda v: v.sum(min_count=1)),
        periods=("stamp", "size"),
        hours=("hours", "sum"),
        blanks=("requests", lambda v: int(v.isna().sum())),
    )
    daily = daily.reset_index()
    hourly = daily.groupby(["sport", "service", "region"])["periods"].transform("max") > 1
    usual = daily.groupby(["sport", "service", "region"])["periods"].transform(lambda p: p.mode().max())
    incomplete_mask = hourly & (daily["hours"] < COMPLETE_DAY_SHARE * usual)
    incomplete_mask |= daily["blanks"] > 0  # a blank hour (or day) means the day's total is unknown
    incomplete = [
        {"sport": r.sport, "service": r.service, "region": r.region, "date": r.date.strftime("%Y-%m-%d"),
         "hours": int(r.hours), "usual_hours": int(u)}
        for r, u in zip(daily.loc[incomplete_mask & hourly].itertuples(), usual[incomplete_mask & hourly], strict=True)
    ]  # fmt: skip
    daily = daily.loc[~incomplete_mask, ["sport", "service", "region", "date", "requests"]]
    return daily.reset_index(drop=True), incomplete


def gap_summary(canonical: pd.DataFrame, incomplete: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Missing days per series between its first and last known day (never filled), plus incomplete hourly days."""
    traffic = canonical.loc[canonical["record"] == TRAFFIC]
    series = []
    total = 0
    for (sport, service, region), rows in traffic.groupby(list(SERIES_KEYS), sort=True):
        days = rows["date"].to_numpy(dtype="datetime64[D]")
        full = np.arange(days.min(), days.max() + 1)
        missing = np.setdiff1d(full, days)
        total += len(missing)
        series.append({
            "series": f"{sport}/{service}/{region}",
            "first_day": str(days.min()),
            "last_day": str(days.max()),
            "missing_days": len(missing),
            "missing": [str(d) for d in missing[:20]],
        })  # fmt: skip
    return {"missing_days": total, "series": series, "incomplete_hourly_days": (incomplete or [])[:50]}


# ---- calendar -----------------------------------------------------------------------------------------------


def _parse_calendar(frame: pd.DataFrame, name: str, rows: np.ndarray) -> pd.DataFrame:
    columns = match_columns(frame.columns, CALENDAR_ALIASES)
    missing = [c for c in CALENDAR_REQUIRED if c not in columns]
    if missing:
        _missing_columns(frame, name, {}, columns)
    frame = frame.reset_index(drop=True)
    problems = _Located(rows)
    stamps = _parse_stamps(frame[columns["date"]], columns["date"], problems)
    start_time = (
        _parse_times(frame[columns["start_time"]], columns["start_time"], problems)
        if "start_time" in columns
        else pd.Series(np.where(stamps.dt.normalize() != stamps, stamps.dt.strftime("%H:%M"), None), dtype=object)
    )
    parsed = pd.DataFrame({
        "date": stamps.dt.normalize(),
        "sport": _parse_names(frame[columns["sport"]], columns["sport"], problems),
        "league": _optional_text(frame, columns.get("league")),
        "home_team": _parse_names(frame[columns["home_team"]], columns["home_team"], problems),
        "away_team": _parse_names(frame[columns["away_team"]], columns["away_team"], problems),
        "start_time": start_time.to_numpy(dtype=object),
        "stage": _parse_stages(frame, columns.get("stage"), problems),
    })  # fmt: skip
    for key, expected in (("home_rank", "a rank (1 = best)"), ("away_rank", "a rank (1 = best)"),
                          ("mentions", "a number of mentions >= 0")):  # fmt: skip
        if key not in columns:
            parsed[key] = np.nan
            continue
        values = _numbers(frame[columns[key]], columns[key], problems.inner, expected)
        problems.add_rows(np.flatnonzero(values < 0), columns[key], frame[columns[key]], expected)
        parsed[key] = values
    problems.raise_if_any(f"event calendar {name!r}")
    return parsed.assign(row=rows + 2, source=name)


def _parse_stages(frame: pd.DataFrame, column: str | None, problems: _Located) -> np.ndarray:
    if column is None:
        return np.full(len(frame), "regular", dtype=object)
    text = frame[column].astype("string").str.strip().str.lower().fillna("")
    distinct = pd.unique(text.to_numpy(dtype=object))
    mapping = {value: stage_of(value) for value in distinct}
    stages = text.map(mapping).to_numpy(dtype=object)
    bad = np.array([s is None for s in stages], dtype=bool)
    problems.add_rows(np.flatnonzero(bad), column, frame[column],
                      "a stage: regular (season), playoff(s) or final(s)")  # fmt: skip
    return stages


def stage_of(text: str) -> str | None:
    """'Regular Season' → regular, 'Playoffs'/'Semi-finals'/'Conference Finals' → playoff, 'Finals' → final."""
    words = re.sub(r"[^a-z0-9]+", " ", str(text).lower()).strip()
    if words in ("0", "1", "2"):
        return STAGES[int(words)]
    tokens = set(words.split())
    if not words or words in _REGULAR_WORDINGS:
        return "regular"
    if tokens & _PLAYOFF_TOKENS or any(w in words for w in ("semi", "quarter", "round of", "play off", "knock")):
        return "playoff"
    if tokens & {"final", "finals", "championship", "f", "superbowl"} or "super bowl" in words:
        return "final"
    if tokens & {"regular", "season", "group", "league"}:
        return "regular"
    return None


_REGULAR_WORDINGS = frozenset({"regular", "reg", "rs", "r", "season", "regular season", "group", "group stage",
                               "league", "league phase", "league stage", "round robin", "pre season", "preseason",
                               "exhibition", "normal"})  # fmt: skip
_PLAYOFF_TOKENS = frozenset({"playoff", "playoffs", "po", "p", "postseason", "post", "conference", "division",
                             "knockout", "wildcard", "elimination", "qualifier", "qualifiers", "semifinal",
                             "semifinals", "quarterfinal", "quarterfinals"})  # fmt: skip


def _reject_duplicate_events(events: pd.DataFrame) -> None:
    if events.empty:
        return
    key = ["date", "sport", "home_team", "away_team", "start_time"]
    duplicated = events.astype({"start_time": object}).fillna({"start_time": ""}).duplicated(key, keep=False)
    if not duplicated.any():
        return
    problems = RowProblems()
    for record in events.loc[duplicated.to_numpy()].itertuples():
        problems.add(int(record.row) - 2, "home_team", f"{record.home_team} v {record.away_team}", "one row per event",
                     f"{record.source} row {record.row}: {record.sport} {record.home_team} v {record.away_team} "
                     f"on {record.date:%Y-%m-%d} appears more than once")  # fmt: skip
    problems.raise_if_any("event calendar (duplicated events)")


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame({
        "date": pd.Series([], dtype="datetime64[ns]"), "sport": pd.Series([], dtype=object),
        "league": pd.Series([], dtype=object), "home_team": pd.Series([], dtype=object),
        "away_team": pd.Series([], dtype=object), "start_time": pd.Series([], dtype=object),
        "stage": pd.Series([], dtype=object), "home_rank": pd.Series([], dtype=float),
        "away_rank": pd.Series([], dtype=float), "mentions": pd.Series([], dtype=float),
    })  # fmt: skip


# ---- shared cell parsing ------------------------------------------------------------------------------------


class _Located:
    """RowProblems whose positions are rows of a sub-table (a combined file's traffic or event rows)."""

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows
        self.inner = _Shifted(rows)

    def add_rows(self, positions: np.ndarray, column: str, values: pd.Series, expected: str) -> None:
        self.inner.add_rows(positions, column, values, expected)

    def raise_if_any(self, what: str) -> None:
        self.inner.raise_if_any(what)


class _Shifted(RowProblems):
    def __init__(self, rows: np.ndarray) -> None:
        super().__init__()
        self._rows = rows

    def add(self, row: int | None, column: str | None, value: Any, expected: str, message: str | None = None) -> None:
        super().add(None if row is None else int(self._rows[row]), column, value, expected, message)


def _parse_stamps(values: pd.Series, column: str, problems: _Located) -> pd.Series:
    """Dates or timestamps (ISO, day-first with '/', ...) as naive local wall-clock datetimes."""
    text = values.astype("string").str.strip()
    local = text.str.replace(_OFFSET, "", regex=True).str.replace("T", " ", regex=False)
    parsed = pd.to_datetime(local, errors="coerce", format="ISO8601")
    retry = parsed.isna() & local.notna()
    if retry.any():
        parsed[retry] = _numeric_dates(local[retry])
        numeric = local.str.match(_NUMERIC_DATE).fillna(False)
        rest = retry & parsed.isna() & ~numeric
        if rest.any():  # written out ("March 1, 2026", "1 Mar 2026")
            parsed[rest] = pd.to_datetime(local[rest], errors="coerce", format="mixed")
    bad = parsed.isna().to_numpy()
    problems.add_rows(np.flatnonzero(bad), column, values, "a date (YYYY-MM-DD) or a timestamp (YYYY-MM-DD HH:MM)")
    return parsed.astype("datetime64[ns]")


def _numeric_dates(text: pd.Series) -> pd.Series:
    """``d/m/y`` or ``m/d/y`` dates (``/``, ``.`` or ``-``; 2- or 4-digit years; a time may follow) in ONE order
    for the whole column: month first only when some second number is above 12 and no first number is (US
    exports: 3/13/2026), else day first. Per value, ``3/1/2026`` and ``3/13/2026`` were read in different orders
    (1 March became 3 January). Values that do not fit the column's order stay missing and are reported."""
    parts = text.str.extract(_NUMERIC_DATE)
    first = pd.to_numeric(parts[0], errors="coerce")
    second = pd.to_numeric(parts[2], errors="coerce")
    month_first = bool((second > 12).any() and not (first > 12).any())
    day, month = (second, first) if month_first else (first, second)
    year = pd.to_numeric(parts[3], errors="coerce")
    year = year.where(year >= 100, year + 2000)
    iso = (
        year.astype("Int64").astype("string").str.zfill(4)
        + "-" + month.astype("Int64").astype("string").str.zfill(2)
        + "-" + day.astype("Int64").astype("string").str.zfill(2)
        + parts[4].fillna("")
    )  # fmt: skip
    return pd.to_datetime(iso, errors="coerce", format="mixed")


def _parse_times(values: pd.Series, column: str, problems: _Located) -> pd.Series:
    text = values.astype("string").str.strip()
    match = text.str.extract(r"(\d{1,2})[:.h](\d{2})", expand=True)
    hours = pd.to_numeric(match[0], errors="coerce")
    minutes = pd.to_numeric(match[1], errors="coerce")
    pm = text.str.lower().str.contains(r"pm", regex=True).fillna(False).to_numpy() & (hours < 12).fillna(False)
    hours = hours + np.where(pm, 12, 0)
    good = hours.between(0, 23) & minutes.between(0, 59)
    problems.add_rows(np.flatnonzero((~good & text.notna()).to_numpy()), column, values, "a start time HH:MM")
    formatted = (
        hours.astype("Int64").astype("string").str.zfill(2)
        + ":"
        + minutes.astype("Int64").astype("string").str.zfill(2)
    )
    return formatted.where(good, None).astype(object)


def _parse_names(values: pd.Series, column: str, problems: _Located) -> np.ndarray:
    text = values.astype("string").str.strip().str.replace(r"\s+", " ", regex=True)
    blank = (text.isna() | (text == "")).to_numpy()
    problems.add_rows(np.flatnonzero(blank), column, values, f"a {column} name")
    return text.to_numpy(dtype=object, na_value=None)


def _optional_text(frame: pd.DataFrame, column: str | None) -> np.ndarray:
    if column is None:
        return np.full(len(frame), None, dtype=object)
    text = frame[column].astype("string").str.strip()
    return text.to_numpy(dtype=object, na_value=None)


def _unify_case(values: pd.Series) -> pd.Series:
    """'Hockey' and 'hockey' in one file are one name: the first spelling seen wins."""
    lower = values.str.lower()
    first = values.groupby(lower, sort=False).transform("first")
    return first


def _assemble(traffic: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    if not events.empty:
        for key in ("sport", "home_team", "away_team", "league"):
            events[key] = _unify_case(events[key].astype(object))
        known_sports = {s.lower(): s for s in traffic["sport"].unique()}
        events["sport"] = [known_sports.get(str(s).lower(), s) for s in events["sport"]]
    traffic_part = traffic.assign(record=TRAFFIC)
    event_part = events.drop(columns=["row", "source"], errors="ignore").assign(record=EVENT)
    event_part = event_part.sort_values(["date", "sport", "start_time", "home_team"], na_position="first",
                                        kind="stable")  # fmt: skip
    canonical = pd.concat([traffic_part, event_part], ignore_index=True)
    for column in CANONICAL_COLUMNS:
        if column not in canonical.columns:
            canonical[column] = None if column in TEXT_COLUMNS else np.nan
    canonical = canonical[list(CANONICAL_COLUMNS)]
    for column in TEXT_COLUMNS:
        canonical[column] = canonical[column].astype(object).where(canonical[column].notna(), None)
    for column in NUMBER_COLUMNS:
        canonical[column] = canonical[column].astype(float)
    canonical["date"] = pd.to_datetime(canonical["date"]).astype("datetime64[ns]")
    return canonical


def traffic_rows(canonical: pd.DataFrame) -> pd.DataFrame:
    return canonical.loc[canonical["record"] == TRAFFIC, ["date", *SERIES_KEYS, "requests"]].reset_index(drop=True)


def event_rows(canonical: pd.DataFrame) -> pd.DataFrame:
    columns = ["date", "sport", "league", "home_team", "away_team", "start_time", "stage", "home_rank", "away_rank",
               "mentions"]  # fmt: skip
    return canonical.loc[canonical["record"] == EVENT, columns].reset_index(drop=True)
