from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def small_bundle(small_model: Any) -> Any:
    """A ModelBundle from the real training pipeline on 3,000 simulated matches (the session's ``small_model``)."""
    return small_model.bundle


@pytest.fixture(scope="session")
def treed_bundle(small_bundle: Any) -> Any:
    """``small_bundle`` with 60 rounds of depth-3 trees on top of its prior (simulated matches are what the prior
    describes, so its own training keeps no tree): the compiled-tree walks then have trees to walk, with missing
    values sent down both sides (a fifth of the training features are missing)."""
    import copy

    import numpy as np
    import pandas as pd
    import xgboost as xgb

    rng = np.random.default_rng(11)
    teams = sorted(small_bundle.serving_state["teams"])
    home = rng.choice(len(teams), 3000)
    frame = pd.DataFrame({
        "home_team": np.asarray(teams)[home],
        "away_team": np.asarray(teams)[(home + rng.integers(1, len(teams), 3000)) % len(teams)],
        "date": "2026-06-15", "neutral": rng.random(3000) < 0.3,
    })  # fmt: skip
    rows = small_bundle.features(frame).to_numpy(dtype=np.float32).copy()
    labels = (rows[:, 0] > np.median(rows[:, 0])).astype(int) + (rng.random(3000) < 0.3)
    rows[rng.random(rows.shape) < 0.2] = np.nan
    margin = small_bundle.prior.margin(rows[:, small_bundle._prior_columns()])
    params = {"objective": "multi:softprob", "num_class": 3, "max_depth": 3, "nthread": 1}
    treed = copy.copy(small_bundle)
    treed.booster = xgb.train(params, xgb.DMatrix(rows, labels, base_margin=margin), 60)
    return treed
