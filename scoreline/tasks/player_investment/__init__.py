"""Will an NBA rookie's career last five seasons or more (the player-investment task)."""

from scoreline.tasks.player_investment.task import PlayerInvestmentTask, RookieRequest

__all__ = ["PlayerInvestmentTask", "RookieRequest"]
