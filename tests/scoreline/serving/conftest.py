from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def small_bundle(small_model: Any) -> Any:
    """A ModelBundle from the real training pipeline on 3,000 simulated matches (the session's ``small_model``)."""
    return small_model.bundle
