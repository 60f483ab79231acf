"""esports-win: will blue side win a League of Legends game, from its first 10 minutes."""

from scoreline.tasks.esports_win.task import EsportsWinTask

__all__ = ["EsportsWinTask"]
