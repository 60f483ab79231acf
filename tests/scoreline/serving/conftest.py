from __future__ import annotations

from typing import Any

import pytest

from tests.scoreline.serving.models import train_small


@pytest.fixture(scope="session")
def small_bundle() -> Any:
    """A ModelBundle from the real training pipeline on 3,000 simulated matches."""
    return train_small(seed=1, max_depth=3).bundle
