"""The servable model: booster, feature names, serving state and reference profile, without pickle.

On disk a bundle is a folder with ``booster.ubj`` (XGBoost's own UBJSON format) and
``bundle.json`` (everything else). Serving computes request features with the task's
``serving_features`` from the stored serving state, the same code that built the training
features.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scoreline.errors import ErrorCode, ScorelineError

if TYPE_CHECKING:
    import xgboost as xgb

    from scoreline.tasks.base import Task

BOOSTER_FILE = "booster.ubj"
BUNDLE_FILE = "bundle.json"
BUNDLE_FORMAT = "scoreline-bundle/1"

Requests = pd.DataFrame | Sequence[Mapping[str, Any]]


@dataclass
class ModelBundle:
    task_id: str
    booster: xgb.Booster
    feature_names: list[str]
    serving_state: dict[str, Any]
    reference_profile: dict[str, Any]
    input_example: list[dict[str, Any]]
    holdout_metrics: dict[str, float]
    params: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)  # holdout window, dataset version, ...

    @property
    def task(self) -> Task:
        from scoreline.tasks import get_task

        return get_task(self.task_id)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.task.classes

    # ---- prediction --------------------------------------------------------------------
    def features(self, requests: Requests) -> pd.DataFrame:
        """Features of serving requests (request columns as in ``task.request_model``)."""
        frame = requests if isinstance(requests, pd.DataFrame) else pd.DataFrame(list(requests))
        return self.task.serving_features(self.serving_state, frame)[self.feature_names]

    def predict_features(self, features: pd.DataFrame) -> np.ndarray:
        """Raw model output for a feature table: (n, k) probabilities, or (n,) values for regression."""
        matrix = features[self.feature_names].to_numpy(dtype=np.float32)
        output = np.asarray(self.booster.inplace_predict(matrix, validate_features=False), dtype=np.float64)
        if self.task.kind == "binary":
            output = np.column_stack([1.0 - output, output])
        return output

    def predict_proba(self, requests: Requests) -> pd.DataFrame:
        """Class probabilities, one row per request, columns = the task's classes (e.g. home/draw/away)."""
        if self.task.kind == "regression":
            raise ScorelineError(
                ErrorCode.CONFLICT,
                f"task {self.task_id!r} is a regression task; it has no class probabilities",
                {"task": self.task_id},
            )
        features = self.features(requests)
        return pd.DataFrame(self.predict_features(features), index=features.index, columns=list(self.classes))

    # ---- persistence -------------------------------------------------------------------
    def save(self, directory: Path | str) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(directory / BOOSTER_FILE))
        document = {
            "format": BUNDLE_FORMAT,
            "task_id": self.task_id,
            "feature_names": list(self.feature_names),
            "serving_state": self.serving_state,
            "reference_profile": self.reference_profile,
            "input_example": self.input_example,
            "holdout_metrics": self.holdout_metrics,
            "params": self.params,
            "metadata": self.metadata,
        }
        (directory / BUNDLE_FILE).write_text(json.dumps(document, default=_json_default), encoding="utf-8")
        return directory

    @classmethod
    def load(cls, directory: Path | str) -> ModelBundle:
        import xgboost as xgb

        directory = Path(directory)
        try:
            document = json.loads((directory / BUNDLE_FILE).read_text(encoding="utf-8"))
            booster = xgb.Booster()
            booster.load_model(str(directory / BOOSTER_FILE))
        except (OSError, ValueError, xgb.core.XGBoostError) as error:
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                f"{directory} is not a readable model bundle; expected {BUNDLE_FILE} and {BOOSTER_FILE}",
                {"path": str(directory)},
            ) from error
        if document.get("format") != BUNDLE_FORMAT:
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                f"unsupported bundle format {document.get('format')!r}; expected {BUNDLE_FORMAT!r}",
                {"path": str(directory)},
            )
        booster.set_param({"nthread": 1})  # single requests: threads only add latency
        return cls(
            task_id=document["task_id"],
            booster=booster,
            feature_names=list(document["feature_names"]),
            serving_state=document["serving_state"],
            reference_profile=document["reference_profile"],
            input_example=document["input_example"],
            holdout_metrics={k: float(v) for k, v in document["holdout_metrics"].items()},
            params=document.get("params", {}),
            metadata=document.get("metadata", {}),
        )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
