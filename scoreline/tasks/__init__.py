"""Task registry: every prediction task by its id.

Adding a task is a folder under ``scoreline/tasks/`` plus one line in ``BUILT_IN``. Tasks that
live elsewhere (a user's package, the tests' fifth task) register with :func:`register_task`
in-process, or for every service at once through ``SCORELINE_TASK_PLUGINS``: a comma-separated
list of ``module:Class`` that each process imports on first use.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import TYPE_CHECKING

from scoreline.core.errors import ErrorCode, ScorelineError

if TYPE_CHECKING:
    from scoreline.tasks.base import Task

PLUGINS_VARIABLE = "SCORELINE_TASK_PLUGINS"

BUILT_IN: dict[str, str] = {
    "match-outcome": "scoreline.tasks.match_outcome:MatchOutcomeTask",
    "esports-win": "scoreline.tasks.esports_win:EsportsWinTask",
    "player-investment": "scoreline.tasks.player_investment:PlayerInvestmentTask",
    "event-traffic": "scoreline.tasks.event_traffic:EventTrafficTask",
}

_registered: dict[str, str | type[Task]] = {}
_instances: dict[str, Task] = {}
_loaded_plugins: str | None = None


def register_task(task_class: type[Task]) -> None:
    """Make a task known in this process (its ``id`` is the key)."""
    _registered[task_class.id] = task_class
    _instances.pop(task_class.id, None)


def _plugins() -> dict[str, str | type[Task]]:
    global _loaded_plugins
    spec = os.environ.get(PLUGINS_VARIABLE, "")
    if spec != _loaded_plugins:
        for entry in filter(None, (part.strip() for part in spec.split(","))):
            register_task(_import(entry))
        _loaded_plugins = spec
    return _registered


def _available() -> dict[str, str | type[Task]]:
    return {**{k: v for k, v in BUILT_IN.items() if _importable(v)}, **_plugins()}


def _importable(path: str) -> bool:
    return importlib.util.find_spec(path.split(":")[0]) is not None


def _import(path: str) -> type[Task]:
    module_name, _, class_name = path.partition(":")
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ScorelineError(
            ErrorCode.INTERNAL, f"task plug-in {path!r} cannot be imported; expected 'module:Class'"
        ) from exc


def task_ids() -> tuple[str, ...]:
    """Every registered task id, built-in first."""
    return tuple(_available())


def get_task(task_id: str) -> Task:
    task = _instances.get(task_id)
    if task is not None:
        return task
    entry = _available().get(task_id)
    if entry is None:
        known = task_ids()
        raise ScorelineError(
            ErrorCode.NOT_FOUND,
            f"unknown task {task_id!r}; expected one of {', '.join(known)}",
            {"task": task_id, "known": list(known)},
        )
    task_class = _import(entry) if isinstance(entry, str) else entry
    task = _instances[task_id] = task_class()
    return task


def all_tasks() -> list[Task]:
    return [get_task(task_id) for task_id in task_ids()]
