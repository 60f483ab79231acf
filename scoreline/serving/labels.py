"""Human wording of a predicted class, per task (e.g. "Brazil win" or "draw")."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def _match_outcome(instance: Mapping[str, Any], label: str) -> str:
    if label == "home":
        return f"{instance.get('home_team', 'home team')} win"
    if label == "away":
        return f"{instance.get('away_team', 'away team')} win"
    return "draw"


DESCRIBERS: dict[str, Callable[[Mapping[str, Any], str], str]] = {"match-outcome": _match_outcome}


def describe(task_id: str, instance: Mapping[str, Any], label: str) -> str:
    describer = DESCRIBERS.get(task_id)
    return describer(instance, label) if describer else str(label)
