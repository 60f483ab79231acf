"""Football match outcome: home / draw / away."""

from scoreline.tasks.match_outcome.task import MatchOutcomeTask

__all__ = ["MatchOutcomeTask"]
