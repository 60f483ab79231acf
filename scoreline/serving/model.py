"""One loaded model version as served: the bundle, a fast single-row path, and where it came from.

A :class:`ServedModel` never changes after construction; a reload builds a new one and swaps the
reference. A request takes the reference once and uses only that object, so it finishes on the
version it started with.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import chain
from typing import Any, Literal

import numpy as np
import pandas as pd

from scoreline.core.cores import PARALLEL_ROWS, usable_cores
from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.serving.trees import CompiledTrees, compile_trees, native_kernels
from scoreline.tasks.base import Task

Source = Literal["mlflow", "cache"]
FEATURE_CACHE_SIZE = 65_536
FAST_PATH_TOLERANCE = 1e-5
COMPILED_TOLERANCE = 1e-6  # the compiled trees must give the booster's outputs to this (they give them to the bit)


def memo_key(today: int, instance: Mapping[str, Any]) -> tuple[Any, ...]:
    """An instance's memo key: the day, then its fields' names and values in name order, in one flat tuple (the
    names and values alternate: a tuple per field would cost each of the memo's 65,536 entries 56 bytes more)."""
    return (today, *chain.from_iterable(sorted(instance.items())))


class MemoRow:
    """One memoized instance of a version: its feature row and probabilities, and the prediction
    log's serialized part for it (inputs, features, prediction, probabilities), built by the log's
    encoder the first time the row is logged and reused for every repeat of the same fixture."""

    __slots__ = ("features", "log_fragment", "probabilities")

    def __init__(self, features: np.ndarray, probabilities: np.ndarray) -> None:
        self.features = features
        self.probabilities = probabilities
        self.log_fragment: bytes | None = None


class Predictor:
    """Probabilities for request instances from a model bundle.

    Many rows go through the bundle's features (pandas, vectorized) and then its booster, or the same trees in
    machine code (:meth:`PriorAndTrees.many`) when they reproduce the bundle's outputs. A few rows skip pandas for
    the model call: their feature rows come from a per-version memo (features depend only on the
    instance and the version's serving state) and go straight to ``booster.inplace_predict``. The
    fast path is used only if it reproduces ``bundle.predict_proba`` on the model's own input
    example (checked by :meth:`enable_fast_path`). A memo miss computes its rows with the task's
    array path (``Task.compile_serving`` once per version, ``Task.serving_rows`` per request: no
    DataFrame) when the task has one and it reproduces ``serving_features`` on the input example,
    and all of a request's missing rows take one booster call. That call goes to the version's trees
    compiled to numpy (:mod:`scoreline.serving.trees`) when they reproduce the booster's outputs on the input
    example (with and without missing values): XGBoost's fixed cost per call is many times a few rows' work.
    """

    def __init__(self, bundle: Any, task: Task) -> None:
        self.bundle = bundle
        self.task = task
        self.kind = task.kind
        # Output columns: the classes, "value" (regression) or "d1".."dH" (forecast).
        output_columns = getattr(bundle, "output_columns", None)
        self.classes: tuple[str, ...] = tuple(output_columns() if output_columns else task.classes)
        self.rows_per_instance = task.horizon if task.kind == "forecast" else 1
        self.feature_names: list[str] = list(getattr(bundle, "feature_names", []) or [])
        self._booster = getattr(bundle, "booster", None)
        self._fast = False
        self._compiled: Any = None  # the task's few-row serving state (Task.compile_serving), when it has one
        self._trees: CompiledTrees | None = None  # the booster's trees compiled, when they reproduce it
        self._few: Callable[[np.ndarray], np.ndarray] | None = None  # few rows' outputs with the compiled trees
        self._many: Callable[[np.ndarray], np.ndarray] | None = None  # the same for a batch (machine code only)
        # The probes and the bundle's outputs on them, kept until the first batch checks the batch kernel (a worker
        # that never gets a batch never loads it: each numba kernel loaded costs a process tens of MiB).
        self._many_probes: list[tuple[np.ndarray, np.ndarray]] | None = None
        self._many_lock = threading.Lock()
        self._memo: OrderedDict[tuple, MemoRow] = OrderedDict()
        self._memo_lock = threading.Lock()

    @property
    def fast_path(self) -> bool:
        return self._fast

    # ---- many rows --------------------------------------------------------------------
    def predict_frame(self, requests: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(outputs (n, classes | 1 | horizon), features (n, feature_names)) for a request table.

        Forecast requests have one feature row per horizon day; the features returned (logged, used
        for drift) are each request's first day's."""
        features = self.bundle.features(requests)
        if not self.feature_names:
            self.feature_names = list(features.columns)
        # A big batch on several cores: the compiled trees split over them (the booster's outputs; on one core
        # XGBoost's own walk is the faster one).
        many = self._batch_kernel() if len(requests) >= PARALLEL_ROWS and usable_cores() > 1 else None
        if many is not None:
            output = many(features[self.feature_names].to_numpy(dtype=np.float32))
        elif hasattr(self.bundle, "predict_features"):  # features once, not again inside predict_proba
            output = self.bundle.predict_features(features)
        else:
            output = self.bundle.predict_proba(requests)
        if isinstance(output, pd.DataFrame):
            output = output[list(self.classes)].to_numpy(dtype=float) if self.classes else output
        matrix = features.to_numpy(dtype=float)
        if self.rows_per_instance > 1:
            matrix = matrix[:: self.rows_per_instance]
        return np.asarray(output, dtype=float).reshape(len(requests), -1), matrix

    # ---- few rows ---------------------------------------------------------------------
    def predict_instances(self, instances: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`predict_frame` for a few validated instances, memoized per version."""
        probabilities, features, _ = self.predict_memoized(instances)
        return probabilities, features

    def predict_memoized(
        self, instances: Sequence[Mapping[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray, list[MemoRow] | None]:
        """(probabilities, features, memo rows) for a few validated instances; the memo rows are
        None when the rows did not go through the memo (no fast path, or too many rows).

        Features and probabilities are pure functions of the instance, the day (rest days when the
        date is omitted) and this version, so repeated fixtures cost a dict lookup.
        """
        if not self._fast or len(instances) > 64:
            probabilities, features = self.predict_frame(pd.DataFrame(list(instances)))
            return probabilities, features, None
        today = today_ordinal()
        keys = [memo_key(today, instance) for instance in instances]
        try:
            with self._memo_lock:
                found = [self._memo.get(key) for key in keys]
        except TypeError:  # an instance holds a JSON object or list (a Riot timeline, events ahead): no memo
            probabilities, features = self.predict_frame(pd.DataFrame(list(instances)))
            return probabilities, features, None
        missing = [i for i, hit in enumerate(found) if hit is None]
        if missing:
            rows = self._feature_rows([instances[i] for i in missing])
            probabilities = self._booster_proba(rows).reshape(len(missing), -1)  # one booster call for all
            per = self.rows_per_instance
            with self._memo_lock:
                for j, i in enumerate(missing):
                    # Copies: a view would keep its whole base array (and the chain of views to it) alive.
                    found[i] = self._memo[keys[i]] = MemoRow(rows[j * per].copy(), probabilities[j].copy())
                while len(self._memo) > FEATURE_CACHE_SIZE:
                    self._memo.popitem(last=False)
        memo: list[MemoRow] = found  # type: ignore[assignment]  # every miss was filled above
        if len(memo) == 1:
            return memo[0].probabilities[np.newaxis], memo[0].features[np.newaxis], memo
        return np.array([hit.probabilities for hit in memo]), np.array([hit.features for hit in memo]), memo

    def _feature_rows(self, instances: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Feature rows (in ``feature_names`` order) of a few instances: the task's array path when it has
        one (no DataFrame per request), else its ``serving_features``."""
        if self._compiled is not None:
            return np.asarray(self.task.serving_rows(self._compiled, instances), dtype=float)
        frame = self.bundle.features(pd.DataFrame([dict(instance) for instance in instances]))
        return frame[self.feature_names].to_numpy(dtype=float)

    def _compile(self) -> Any:
        """The task's few-row serving state for this version (None when the task has none or it fails)."""
        state = getattr(self.bundle, "serving_state", None)
        if state is None or not self.feature_names:
            return None
        try:
            return self.task.compile_serving(state, self.feature_names)
        except Exception:
            return None

    def _booster_proba(self, rows: np.ndarray) -> np.ndarray:
        if self._few is not None:
            return self._few(rows)
        return self._rows_output(self.bundle, self._booster, rows)

    def _rows_output(self, bundle: Any, booster: Any, rows: np.ndarray) -> np.ndarray:
        predict_rows = getattr(bundle, "predict_rows", None)  # the bundle's own row API (e.g. a prior margin)
        if predict_rows is not None:
            return np.asarray(predict_rows(rows), dtype=float).reshape(len(rows), -1)
        raw = np.asarray(booster.inplace_predict(rows.astype(np.float32), validate_features=False), dtype=float)
        if raw.ndim == 1 and len(self.classes) == 2:
            raw = np.column_stack([1.0 - raw, raw])
        return raw.reshape(len(rows), -1)

    def _compile_trees(self, rows: np.ndarray) -> None:
        """Use the compiled trees for few rows if they give the bundle's outputs on ``rows`` (the input
        example's features), on the same rows with missing values, and on a row of missing values."""
        self._trees = self._few = self._many = self._many_probes = None
        trees = compile_trees(self._booster, rows)
        if trees is None:
            return
        row_bundle = self.bundle  # without a row API of its own, the trees' outputs are used as they are
        if hasattr(self.bundle, "predict_rows"):
            try:
                row_bundle = copy.copy(self.bundle)
                row_bundle.booster = trees
            except Exception:
                return
        candidates = [lambda matrix: self._rows_output(row_bundle, trees, matrix)]
        prior_rows = PriorAndTrees.of(self.bundle, self.kind, trees)
        if prior_rows is not None:
            candidates.insert(0, prior_rows)
        holes = np.array(rows, dtype=float)
        holes[:, 1::2] = np.nan
        probes = (rows, holes, np.full((1, rows.shape[1]), np.nan))
        expected = [self._rows_output(self.bundle, self._booster, probe) for probe in probes]
        for few in candidates:
            if all(_same_outputs(few(probe), want) for probe, want in zip(probes, expected, strict=True)):
                self._trees, self._few = trees, few
                break
        if isinstance(self._few, PriorAndTrees) and self._few.walks_many:
            self._many_probes = list(zip(probes, expected, strict=True))

    def _batch_kernel(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """The compiled trees for a batch, checked against the bundle on the version's probes the first time a
        batch comes (None: the booster answers)."""
        if not self._fast:
            return None
        with self._many_lock:
            probes, self._many_probes = self._many_probes, None
            if probes is not None and isinstance(self._few, PriorAndTrees):
                many = self._few.many
                if all(_same_outputs(many(probe), want) for probe, want in probes):
                    self._many = many
            return self._many

    def enable_fast_path(self, example: Sequence[Mapping[str, Any]]) -> bool:
        """Turn the booster fast path on if it gives the same answers as the bundle."""
        if self._booster is None or not hasattr(self._booster, "inplace_predict") or not example:
            return False
        try:
            expected, expected_features = self.predict_frame(pd.DataFrame(list(example)))
            self._compiled = self._compile()
            if self._compiled is not None and not _same_rows(
                self._feature_rows(example)[:: self.rows_per_instance], expected_features
            ):
                self._compiled = None  # the task's array path disagrees with its table path: not used
            self._compile_trees(self._feature_rows(example))
            self._fast = True
            got, _ = self.predict_instances(example)
            self._fast = got.shape == expected.shape and bool(
                np.allclose(got, expected, atol=FAST_PATH_TOLERANCE, rtol=0)
            )
        except Exception:
            self._fast = False
        if not self._fast:
            with self._memo_lock:
                self._memo.clear()
        return self._fast


_today: tuple[float, int] = (0.0, 0)  # (the epoch second the local day ends, the day's ordinal)


def today_ordinal() -> int:
    """``date.today().toordinal()``, asking the calendar again only once the local day has ended (the
    memo key of every single prediction holds it, and ``date.today()`` costs microseconds)."""
    global _today
    ends, ordinal = _today
    if time.time() < ends:
        return ordinal
    today = date.today()
    tomorrow = datetime.combine(today + timedelta(days=1), datetime.min.time())  # local midnight
    _today = (tomorrow.timestamp(), today.toordinal())
    return _today[1]


class PriorAndTrees:
    """A bundle's ``predict_rows`` of a few rows for a classifier boosted from a logistic prior, in plain
    floats: the compiled trees' margins, minus their base score, plus the prior's margin (its
    standardization folded into one weight per feature and class; a missing or infinite feature counts as
    the training mean), then the logistic or softmax link in float64, as the bundle does.
    Used only where it gives the bundle's own outputs (checked by ``Predictor._compile_trees``)."""

    def __init__(self, columns: list[int], prior: Any, trees: CompiledTrees) -> None:
        coef = np.asarray(prior.coef, dtype=np.float64)
        mean, scale = np.asarray(prior.mean, dtype=np.float64), np.asarray(prior.scale, dtype=np.float64)
        self.columns = list(columns)
        self.weights: list[list[float]] = (coef / scale).tolist()  # per class, per feature
        self.means: list[float] = mean.tolist()
        self.constant: list[float] = (np.asarray(prior.intercept, dtype=np.float64) - coef @ (mean / scale)).tolist()
        self.offset: list[float] = trees.base.astype(np.float64).tolist()
        self.binary = len(coef) == 1
        self.trees = trees
        # Trees walked by the machine-code kernel: trees, prior and link in one kernel call, on these arrays.
        self._native: tuple[Any, tuple[Any, ...]] | None = None
        if trees.walker == "native":
            prior_arrays = (
                np.asarray(self.columns, dtype=np.int64), (coef / scale).reshape(len(coef), -1),
                np.array(self.means, dtype=np.float64), np.array(self.constant, dtype=np.float64),
                np.array(self.offset, dtype=np.float64), self.binary,
            )  # fmt: skip
            self._native = (native_kernels().prior_and_trees, (trees.native_arguments(), prior_arrays))

    @property
    def walks_many(self) -> bool:
        """Whether :meth:`many` has the machine-code kernel (else a batch stays with the booster)."""
        return self._native is not None

    def many(self, rows: np.ndarray) -> np.ndarray:
        """The same outputs for many rows (a batch file): the blocked kernel, its parts spread over the usable
        cores (the kernel holds no GIL, so two threads run it twice as fast; XGBoost's own threads gave 1.5x).
        On two cores, 100k rows of the bundled champion's features and outputs took 0.79x the time of the
        booster path (median of 9 paired rounds); on one core XGBoost is faster, and the batch stays with it."""
        if self._native is None:
            raise RuntimeError("many rows need the machine-code kernel (walks_many is False)")
        _, arguments = self._native
        kernel = native_kernels().prior_and_trees_blocked
        matrix = np.ascontiguousarray(rows, dtype=np.float32)
        cores = usable_cores() if len(matrix) >= PARALLEL_ROWS else 1
        if cores == 1:
            return kernel(matrix, *arguments)
        # More parts than cores: a part whose thread is descheduled holds up less of the batch.
        parts = np.array_split(matrix, cores * 4)
        with ThreadPoolExecutor(cores, thread_name_prefix="scoreline-trees") as pool:
            return np.concatenate(list(pool.map(lambda part: kernel(part, *arguments), parts)))

    @classmethod
    def of(cls, bundle: Any, kind: str, trees: CompiledTrees) -> PriorAndTrees | None:
        prior = getattr(bundle, "prior", None)
        names = list(getattr(bundle, "feature_names", []) or [])
        if prior is None or kind not in ("binary", "multiclass") or not hasattr(bundle, "_few_rows_with_prior"):
            return None
        try:
            if len(prior.coef) != (1 if kind == "binary" else trees.n_groups):
                return None
            return cls([names.index(name) for name in prior.features], prior, trees)
        except (AttributeError, TypeError, ValueError):
            return None

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        if self._native is not None:
            kernel, arguments = self._native
            return kernel(np.ascontiguousarray(rows, dtype=np.float32), *arguments)
        matrix = np.asarray(rows, dtype=np.float32)
        values = matrix.tolist()  # the float32 values XGBoost and the bundle's prior see, as Python floats
        margins = self.trees.walk(values) if self.trees.walker == "python" else self.trees.margin(matrix).tolist()
        weights, means, constant, offset, columns = self.weights, self.means, self.constant, self.offset, self.columns
        isfinite, exp = math.isfinite, math.exp
        out = []
        for row, tree_margin in zip(values, margins, strict=True):
            xs = [value if isfinite(value) else mean for value, mean in zip([row[c] for c in columns], means)]  # noqa: B905
            scores = []
            # Per class the same sum in the same order as the bundle's (intercept, then feature by feature).
            for t, o, start, per_feature in zip(tree_margin, offset, constant, weights, strict=True):
                prior = start
                for weight, x in zip(per_feature, xs):  # noqa: B905 - one weight per prior feature
                    prior += weight * x
                scores.append(float(t) - o + prior)
            if self.binary:
                score = scores[0]  # far below zero exp(-score) overflows; there 1 / (1 + exp(-score)) is exp(score)
                positive = 1.0 / (1.0 + exp(-score)) if score > -700.0 else exp(score)
                out.append((1.0 - positive, positive))
            else:
                top = max(scores)
                powers = [exp(score - top) for score in scores]
                total = sum(powers)
                out.append(tuple(power / total for power in powers))
        return np.array(out, dtype=np.float64)


def _same_outputs(got: np.ndarray, expected: np.ndarray) -> bool:
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=0, atol=COMPILED_TOLERANCE))


def _same_rows(got: np.ndarray, expected: np.ndarray) -> bool:
    return got.shape == expected.shape and bool(np.allclose(got, expected, rtol=1e-12, atol=1e-12, equal_nan=True))


@dataclass(frozen=True)
class ServedModel:
    task: str
    model_name: str
    version: str
    alias: str
    source: Source
    bundle: Any
    predictor: Predictor
    entities: Any = None  # scoreline.serving.validation.EntityIndex: the names the version knows
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    load_seconds: float = 0.0

    @property
    def holdout_metrics(self) -> dict[str, float]:
        return dict(getattr(self.bundle, "holdout_metrics", {}) or {})

    @property
    def serving_state(self) -> dict[str, Any]:
        return getattr(self.bundle, "serving_state", {}) or {}

    @property
    def input_example(self) -> list[dict[str, Any]]:
        return list(getattr(self.bundle, "input_example", []) or [])


def smoke_test(predictor: Predictor, example: Sequence[Mapping[str, Any]], version: str) -> None:
    """The version must answer its own input example with finite outputs of the right shape (classification:
    probabilities that sum to 1).

    Raises ``ScorelineError(UPSTREAM_FAILED)`` saying what was wrong; the caller keeps the old version.
    """
    if not example:
        raise ScorelineError(
            ErrorCode.UPSTREAM_FAILED, f"version {version} has no input example to smoke-test it with; not served"
        )
    try:
        probabilities, _ = predictor.predict_frame(pd.DataFrame(list(example)))
    except Exception as exc:
        raise ScorelineError(
            ErrorCode.UPSTREAM_FAILED,
            f"version {version} failed to predict its own input example: {type(exc).__name__}: {exc}",
        ) from exc
    expected_shape = (len(example), len(predictor.classes))
    if probabilities.shape != expected_shape:
        raise ScorelineError(
            ErrorCode.UPSTREAM_FAILED,
            f"version {version} answered shape {probabilities.shape} for its input example; expected {expected_shape}",
        )
    if not np.isfinite(probabilities).all():
        raise ScorelineError(ErrorCode.UPSTREAM_FAILED, f"version {version} answered NaN or infinite probabilities")
    if predictor.kind in ("binary", "multiclass") and not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-3):
        raise ScorelineError(
            ErrorCode.UPSTREAM_FAILED, f"version {version} answered probabilities that do not sum to 1"
        )
