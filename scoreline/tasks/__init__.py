"""Task registry: every prediction task by its id."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from scoreline.errors import ErrorCode, ScorelineError

if TYPE_CHECKING:
    from scoreline.tasks.base import Task

TASK_IDS: tuple[str, ...] = ("match-outcome",)


@cache
def get_task(task_id: str) -> Task:
    if task_id == "match-outcome":
        from scoreline.tasks.match_outcome import MatchOutcomeTask

        return MatchOutcomeTask()
    raise ScorelineError(
        ErrorCode.NOT_FOUND,
        f"unknown task {task_id!r}; expected one of {', '.join(TASK_IDS)}",
        {"task": task_id, "known": list(TASK_IDS)},
    )
