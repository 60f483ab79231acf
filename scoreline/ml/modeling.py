"""The servable model: booster, prior, feature names, serving state and reference profile, without pickle.

On disk a bundle is a folder with ``booster.ubj`` (XGBoost's own UBJSON format) and
``bundle.json`` (everything else). Serving computes request features with the task's
``serving_features`` from the stored serving state, the same code that built the training
features.

Classification boosters are boosted from a prior: a logistic regression on a few strong
features (match-outcome: the Elo difference) whose log-odds are the booster's base margin.
The trees only learn corrections to it, so with little data the model stays near the prior.
The prior's coefficients live in ``bundle.json`` and every prediction adds the same margin
(:meth:`ModelBundle.predict_rows`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from scoreline.core.cores import PARALLEL_ROWS, usable_cores
from scoreline.core.errors import ErrorCode, ScorelineError

if TYPE_CHECKING:
    import xgboost as xgb

    from scoreline.tasks.base import Task

BOOSTER_FILE = "booster.ubj"
BUNDLE_FILE = "bundle.json"
BUNDLE_FORMAT = "scoreline-bundle/1"
PRIOR_C = 1.0  # inverse L2 strength of the prior's logistic regression (on standardized features)
FEW_ROWS = 256  # predict_rows of at most this many rows adds a prior's margin itself (see _few_rows_with_prior)

Requests = pd.DataFrame | Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class LogisticPrior:
    """Multinomial (or binary) logistic regression on standardized features, kept as plain numbers.

    ``margin`` gives the log-odds that XGBoost takes as ``base_margin``: ``(n, k)`` class scores
    for multiclass (softmax of them = the regression's probabilities), ``(n,)`` log-odds of the
    positive class for binary. Missing or infinite inputs count as the training mean.
    """

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[tuple[float, ...], ...]  # one row per class (multiclass) or a single row (binary)
    intercept: tuple[float, ...]

    @classmethod
    def fit(
        cls,
        features: pd.DataFrame,
        labels: np.ndarray,
        n_classes: int,
        c: float = PRIOR_C,
        anchor: Sequence[str] = (),
        sample_weight: np.ndarray | None = None,
    ) -> LogisticPrior:
        """``anchor``: one feature per class holding that class's log-probability from a forecast the data already
        has (multiclass only). The regression then starts from that forecast, L2-penalised corrections on top:
        with few rows it stays the anchor's forecast, with many the corrections are learnt.
        ``sample_weight``: one weight per row (e.g. recency), the penalty against their mean (None: all 1)."""
        from sklearn.linear_model import LogisticRegression

        x = features.to_numpy(dtype=np.float64)
        usable = np.isfinite(x).all(axis=1)
        x, y = x[usable], np.asarray(labels)[usable]
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)[usable]
        if weight is not None and len(weight):
            weight = weight / weight.mean()
        if len(y) == 0:
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                f"no row has finite values of the prior features {list(features.columns)}; expected some",
                {"features": list(features.columns)},
            )
        mean = x.mean(axis=0)
        scale = x.std(axis=0)
        scale[scale == 0] = 1.0
        if anchor:
            return cls._fit_anchored(tuple(features.columns), x, y, n_classes, c, anchor, mean, scale, weight)
        binary = n_classes == 2
        present = np.unique(y)
        if len(present) < 2:  # one class only: a constant prior at the smoothed base rates
            counts = np.bincount(y, minlength=n_classes) + 1.0
            logp = np.log(counts / counts.sum())
            intercept = [logp[1] - logp[0]] if binary else list(logp)
            coef = np.zeros((1 if binary else n_classes, x.shape[1]))
        else:
            model = LogisticRegression(C=c, max_iter=1000).fit((x - mean) / scale, y, sample_weight=weight)
            if binary:
                coef, intercept = model.coef_, list(model.intercept_)
            else:  # classes never seen in the fit rows get a very low score
                coef = np.zeros((n_classes, x.shape[1]))
                intercept = [-30.0] * n_classes
                if len(model.classes_) == 2:  # sklearn fits one row (the second class against the first)
                    first, second = (int(label) for label in model.classes_)
                    coef[second], intercept[second], intercept[first] = model.coef_[0], float(model.intercept_[0]), 0.0
                else:
                    coef[model.classes_] = model.coef_
                    for row, label in enumerate(model.classes_):
                        intercept[label] = float(model.intercept_[row])
        return cls(
            features=tuple(features.columns),
            mean=tuple(float(v) for v in mean),
            scale=tuple(float(v) for v in scale),
            coef=tuple(tuple(float(v) for v in row) for row in np.asarray(coef)),
            intercept=tuple(float(v) for v in intercept),
        )

    @classmethod
    def _fit_anchored(
        cls,
        names: tuple[str, ...],
        x: np.ndarray,
        y: np.ndarray,
        n_classes: int,
        c: float,
        anchor: Sequence[str],
        mean: np.ndarray,
        scale: np.ndarray,
        weight: np.ndarray | None = None,
    ) -> LogisticPrior:
        from scipy.optimize import minimize

        missing = [name for name in anchor if name not in names]
        if n_classes < 3 or len(anchor) != n_classes or missing:
            raise ScorelineError(
                ErrorCode.INVALID_INPUT,
                f"an anchored prior needs one anchor feature per class ({n_classes}) among the prior features "
                f"{list(names)}, multiclass only; got {list(anchor)}",
                {"anchor": list(anchor), "missing": missing},
            )
        columns = [names.index(name) for name in anchor]
        offset = x[:, columns]
        z = (x - mean) / scale
        onehot = np.eye(n_classes)[y]
        # Row weights of mean 1 (the penalty keeps its strength per row): weighted log-likelihood and gradient.
        row_weight = np.ones(len(y)) if weight is None else weight
        n_coef = n_classes * z.shape[1]

        rows = len(y)

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            # Per row (the penalty too), so the solver's tolerances do not tighten with the number of rows.
            weights, bias = theta[:n_coef].reshape(n_classes, -1), theta[n_coef:]
            scores = offset + z @ weights.T + bias
            scores -= scores.max(axis=1, keepdims=True)
            log_p = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
            residual = (np.exp(log_p) - onehot) * row_weight[:, None]
            loss = (-float((log_p * onehot).sum(axis=1) @ row_weight) + float(theta @ theta) / (2.0 * c)) / rows
            gradient = np.concatenate([(residual.T @ z + weights / c).ravel(), residual.sum(axis=0) + bias / c])
            return loss, gradient / rows

        # Tolerances on the per-row loss: far below what moves a probability, far above float noise.
        solution = minimize(
            objective, np.zeros(n_coef + n_classes), jac=True, method="L-BFGS-B", options={"ftol": 1e-7, "gtol": 1e-5}
        ).x
        coef = solution[:n_coef].reshape(n_classes, -1).copy()
        intercept = solution[n_coef:].copy()
        # Fold the anchor in: class k's score has its anchor column with weight 1 (= scale on the standardized one).
        for k, column in enumerate(columns):
            coef[k, column] += scale[column]
            intercept[k] += mean[column]
        return cls(
            features=names,
            mean=tuple(float(v) for v in mean),
            scale=tuple(float(v) for v in scale),
            coef=tuple(tuple(float(v) for v in row) for row in coef),
            intercept=tuple(float(v) for v in intercept),
        )

    def margin(self, rows: np.ndarray) -> np.ndarray:
        """Log-odds for a float matrix whose columns are ``self.features`` in order."""
        x = np.asarray(rows, dtype=np.float64)
        mean = np.asarray(self.mean)
        x = np.where(np.isfinite(x), x, mean)
        scores = ((x - mean) / np.asarray(self.scale)) @ np.asarray(self.coef).T + np.asarray(self.intercept)
        return scores[:, 0] if len(self.coef) == 1 else scores

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, k)`` of the regression itself (the baseline it stands for)."""
        scores = self.margin(rows)
        if scores.ndim == 1:
            positive = 1.0 / (1.0 + np.exp(-scores))
            return np.column_stack([1.0 - positive, positive])
        scores = scores - scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "logistic",
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": [list(row) for row in self.coef],
            "intercept": list(self.intercept),
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> LogisticPrior:
        return cls(
            features=tuple(document["features"]),
            mean=tuple(float(v) for v in document["mean"]),
            scale=tuple(float(v) for v in document["scale"]),
            coef=tuple(tuple(float(v) for v in row) for row in document["coef"]),
            intercept=tuple(float(v) for v in document["intercept"]),
        )


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
    prior: LogisticPrior | None = None  # base margin of the booster; None = boosted from XGBoost's base score
    target_transform: str | None = None  # "log1p": the booster learnt log1p(value); predictions are expm1'd
    target_scale_feature: str | None = None  # the booster learnt value / this feature; predictions are scaled back

    def __post_init__(self) -> None:
        self._prior_index: tuple[LogisticPrior | None, np.ndarray | None] = (None, None)
        self._base_offset: tuple[Any, np.ndarray | None] = (None, None)
        self._parallel: tuple[Any, int, xgb.Booster | None] = (None, 0, None)

    def _prior_columns(self) -> np.ndarray | None:
        """Positions of the prior's features among ``feature_names`` (cached per prior)."""
        if self.prior is None:
            return None
        cached_prior, columns = self._prior_index
        if cached_prior is not self.prior or columns is None:
            missing = [name for name in self.prior.features if name not in self.feature_names]
            if missing:
                raise ScorelineError(
                    ErrorCode.CONFLICT,
                    f"the prior uses features {missing} that the bundle does not have; expected a subset of "
                    f"{self.feature_names}",
                    {"missing": missing},
                )
            columns = np.array([self.feature_names.index(name) for name in self.prior.features])
            self._prior_index = (self.prior, columns)
        return columns

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

    def predict_rows(self, rows: np.ndarray) -> np.ndarray:
        """Model output for a float matrix whose columns are ``feature_names`` in order, prior included.

        (n, k) class probabilities, or (n,) values for regression.
        """
        matrix = np.asarray(rows, dtype=np.float32)
        if matrix.ndim == 1:
            matrix = matrix[np.newaxis]
        columns = self._prior_columns()
        margin = None if columns is None or self.prior is None else self.prior.margin(matrix[:, columns])
        kind = self.task.kind
        if margin is not None and len(matrix) <= FEW_ROWS and kind in ("binary", "multiclass"):
            return self._few_rows_with_prior(matrix, margin, kind == "binary")
        booster = self._parallel_booster() if len(matrix) >= PARALLEL_ROWS else self.booster
        output = np.asarray(
            booster.inplace_predict(matrix, validate_features=False, base_margin=margin), dtype=np.float64
        )
        if kind == "binary":
            output = np.column_stack([1.0 - output, output])
        elif kind == "multiclass":
            output = output.reshape(len(matrix), -1)
        else:
            if self.target_transform == "log1p":
                output = np.expm1(output)
            if self.target_scale_feature is not None:
                output = output * target_scale(matrix[:, self.feature_names.index(self.target_scale_feature)])
        return output

    def _parallel_booster(self) -> xgb.Booster:
        """For a batch: the booster with one thread per usable core (a copy of the loaded one-thread booster, made
        once per booster and core count); the booster itself on one core."""
        cores = usable_cores()
        if cores <= 1:
            return self.booster
        source, threads, parallel = self._parallel
        if source is not self.booster or threads != cores or parallel is None:
            parallel = self.booster.copy()
            parallel.set_param({"nthread": cores})
            self._parallel = (self.booster, cores, parallel)
        return parallel

    def _few_rows_with_prior(self, matrix: np.ndarray, margin: np.ndarray, binary: bool) -> np.ndarray:
        """:meth:`predict_rows` of a few rows with a prior, without handing XGBoost a base margin.

        Setting a base margin fills XGBoost's meta info with its global thread pool (all cores, not the
        booster's one thread): milliseconds per call on a busy machine for one row. The trees' margin
        without it is ``base score + trees``; replacing the base score by the prior's margin and applying
        the objective's link here gives the same probabilities (up to float32 rounding)."""
        trees = np.asarray(self.booster.inplace_predict(matrix, validate_features=False, predict_type="margin"))
        scores = trees.astype(np.float64).reshape(margin.shape) - self._base_score_margin() + margin
        if binary:
            positive = 1.0 / (1.0 + np.exp(-scores))
            return np.column_stack([1.0 - positive, positive])
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        return scores / scores.sum(axis=1, keepdims=True)

    def _base_score_margin(self) -> np.ndarray:
        """The booster's base score in margin space, per output (what a base margin replaces), cached per booster."""
        booster, offset = self._base_offset
        if booster is not self.booster or offset is None:
            row = np.full((1, max(len(self.feature_names), self.booster.num_features())), np.nan, dtype=np.float32)
            plain = np.asarray(self.booster.inplace_predict(row, validate_features=False, predict_type="margin"))
            zero = np.zeros(plain.shape, dtype=np.float32)
            with_zero = self.booster.inplace_predict(
                row, validate_features=False, predict_type="margin", base_margin=zero
            )
            offset = (plain.astype(np.float64) - np.asarray(with_zero, dtype=np.float64)).reshape(-1)
            self._base_offset = (self.booster, offset)
        return offset

    def contributions(self, rows: np.ndarray) -> np.ndarray:
        """Per-feature contributions to the margin of the predicted quantity: ``(n, features)``; multiclass:
        of each row's most likely class. The trees' part is their SHAP values (XGBoost ``pred_contribs``);
        the logistic prior's part is its linear term per feature (centred at the training mean)."""
        import xgboost as xgb

        matrix = np.asarray(rows, dtype=np.float32)
        columns = self._prior_columns()
        margin = None if columns is None or self.prior is None else self.prior.margin(matrix[:, columns])
        matrix_in = xgb.DMatrix(matrix, base_margin=margin)
        values = np.asarray(self.booster.predict(matrix_in, pred_contribs=True, validate_features=False), np.float64)
        best = None
        if values.ndim == 3:  # (n, classes, features + bias): the predicted class's contributions
            best = np.argmax(self.predict_rows(matrix), axis=1)
            values = values[np.arange(len(matrix)), best]
        values = values[:, :-1]
        if columns is not None and self.prior is not None:
            x = matrix[:, columns].astype(np.float64)
            mean = np.asarray(self.prior.mean)
            standardized = (np.where(np.isfinite(x), x, mean) - mean) / np.asarray(self.prior.scale)
            coef = np.asarray(self.prior.coef)
            weights = coef[0] if best is None else coef[best]
            values[:, columns] += standardized * weights
        return values

    def predict_features(self, features: pd.DataFrame) -> np.ndarray:
        """Model output for a feature table: (n, k) probabilities, or (n,) values for regression."""
        return self.predict_rows(features[self.feature_names].to_numpy(dtype=np.float32))

    def predict_proba(self, requests: Requests) -> pd.DataFrame:
        """Class probabilities, one row per request, columns = the task's classes (e.g. home/draw/away)."""
        if self.task.kind in ("regression", "forecast"):
            raise ScorelineError(
                ErrorCode.CONFLICT,
                f"task {self.task_id!r} is a regression task; it has no class probabilities",
                {"task": self.task_id},
            )
        features = self.features(requests)
        return pd.DataFrame(self.predict_features(features), index=features.index, columns=list(self.classes))

    def output_columns(self) -> list[str]:
        """Column names of :meth:`predict_table`: the classes, ``value``, or ``d1..dH`` for forecasts."""
        task = self.task
        if task.kind == "forecast":
            return [f"d{day}" for day in range(1, task.horizon + 1)]
        if task.kind == "regression":
            return ["value"]
        return list(task.classes)

    def predict_table(self, requests: Requests) -> pd.DataFrame:
        """One row per request whatever the kind: class probabilities, the value, or the forecast days."""
        features = self.features(requests)
        output = self.predict_features(features)
        rows = len(output) // self.task.horizon if self.task.kind == "forecast" else len(output)
        return pd.DataFrame(np.asarray(output).reshape(rows, -1), columns=self.output_columns())

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
            "prior": None if self.prior is None else self.prior.to_json(),
            "target_transform": self.target_transform,
            "target_scale_feature": self.target_scale_feature,
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
            prior=LogisticPrior.from_json(document["prior"]) if document.get("prior") else None,
            target_transform=document.get("target_transform"),
            target_scale_feature=document.get("target_scale_feature"),
        )


def target_scale(values: np.ndarray) -> np.ndarray:
    """A scale feature's values as divisors: positive finite numbers as they are, anything else 1."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values) & (values > 0), values, 1.0)


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
