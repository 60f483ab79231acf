"""Command-line values shared by the ``scoreline`` commands."""

from __future__ import annotations

from datetime import date, datetime

import typer


def parse_day(value: str | None, option: str) -> date | None:
    """``value`` as a calendar day (``YYYY-MM-DD``), None when absent; a bad value names ``option``."""
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError as exc:
        raise typer.BadParameter(f"{option} {value!r} is not a date; expected YYYY-MM-DD") from exc
