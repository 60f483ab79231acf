from __future__ import annotations

import pytest

from scoreline.tasks.esports_win.simulator import SimulatedGames, riot_documents, simulate_games


@pytest.fixture(scope="package")
def games() -> SimulatedGames:
    return simulate_games(300, seed=7)


@pytest.fixture(scope="package")
def documents(games: SimulatedGames) -> list[dict]:
    return riot_documents(games)
