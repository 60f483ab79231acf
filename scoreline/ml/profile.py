"""Reference profile of training features, stored in the model and compared against live traffic."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

QUANTILE_BINS = 10
SAMPLE_SIZE = 1000


def build_reference_profile(
    features: pd.DataFrame,
    predicted_labels: pd.Series | None = None,
    *,
    categorical: tuple[str, ...] = (),
    seed: int = 0,
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    numeric: dict[str, Any] = {}
    for name in features.columns:
        if name in categorical:
            continue
        values = pd.to_numeric(features[name], errors="coerce").dropna().to_numpy(dtype=float)
        if values.size == 0:
            continue
        edges = np.unique(np.quantile(values, np.linspace(0, 1, QUANTILE_BINS + 1)))
        counts = (
            np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)[0]
            if edges.size > 1
            else np.array([values.size])
        )
        sample = values if values.size <= SAMPLE_SIZE else rng.choice(values, SAMPLE_SIZE, replace=False)
        numeric[name] = {
            "edges": edges.tolist(),
            "fractions": (counts / counts.sum()).tolist(),
            "mean": float(values.mean()),
            "std": float(values.std()),
            "sample": np.sort(sample).tolist(),
        }
    categories = {name: features[name].astype(str).value_counts(normalize=True).to_dict() for name in categorical}
    prediction = (
        predicted_labels.astype(str).value_counts(normalize=True).to_dict() if predicted_labels is not None else {}
    )
    return {"numeric": numeric, "categorical": categories, "prediction": prediction, "rows": len(features)}
