"""Training of any task: its training table, XGBoost, folds, baselines, the final holdout.

The task's split strategy (``walk_forward`` by date, ``group``, ``stratified`` by a stable row
key) cuts the table into train, validation, evaluation folds and a final holdout. Early
stopping looks at the validation window; Optuna tuning (when asked, within a time budget)
judges each trial on the evaluation folds; each fold is fit on what comes before it and
scored on it (each fold's metrics and baselines, then mean ± sd); the model
is then refit on everything before the holdout with the chosen number of rounds and evaluated
once on the holdout: the bundle that is returned (and registered) is exactly the model that
was scored. The serving state is taken at the end of the data, so serving features are current.

Classification models are boosted from a prior (the task's ``prior_features``, e.g. the Elo
difference, in a logistic regression): its log-odds are XGBoost's ``base_margin``. The prior
is fit on the same rows as the trees each time. Early stopping may keep zero trees, so with
little data the model is the prior itself and never worse than it on validation. A task may weigh
training rows by recency (``recency_half_life_days``): each fit, prior and trees, weighs its rows by their
age before its own latest row, so no fit looks past its window. Forecast
models carry a p10-p90 interval per horizon day from their out-of-sample errors.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.ml import evaluation
from scoreline.ml.modeling import LogisticPrior, ModelBundle, target_scale
from scoreline.ml.profile import build_reference_profile
from scoreline.tasks.base import SplitStrategy, Task, TrainingTable, stable_fraction

Progress = Callable[[float, str], None]

HOLDOUT_FRACTION = 0.2
VALIDATION_FRACTION = 0.15  # of the rows before the holdout
MIN_ROWS_PER_WINDOW = 20
MAX_BOOST_ROUNDS = 3000
# Anchored priors (``Task.prior_anchor``): candidate inverse L2 strengths of the corrections to the anchor, picked
# on the latest share of the fit rows; with fewer rows than the minimum on either side, the smallest.
PRIOR_C_GRID: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0)
PRIOR_SELECTION_SHARE = 0.25
PRIOR_SELECTION_MIN_ROWS = 50
PRIOR_SELECTION_MAX_ROWS = 20_000
# Trees on top of a prior are kept only when their validation gain over the prior alone exceeds this many
# standard errors of the per-row gain (and likewise an anchored prior's larger C over the smallest).
TREES_MIN_Z = 1.0
EARLY_STOPPING_ROUNDS = 60
INPUT_EXAMPLE_ROWS = 3

DEFAULT_PARAMS: dict[str, Any] = {
    "max_depth": 3,
    "learning_rate": 0.03,
    "min_child_weight": 20.0,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "reg_lambda": 5.0,
    "reg_alpha": 0.0,
}


SEARCH_SPACE: dict[str, tuple[str, float, float]] = {  # name: (int | log | linear, low, high)
    "max_depth": ("int", 2, 6),
    "learning_rate": ("log", 0.01, 0.2),
    "min_child_weight": ("log", 1.0, 100.0),
    "subsample": ("linear", 0.5, 1.0),
    "colsample_bytree": ("linear", 0.4, 1.0),
    "reg_lambda": ("log", 1e-2, 20.0),
    "reg_alpha": ("log", 1e-3, 5.0),
}


@dataclass(frozen=True)
class TuningBudget:
    trials: int = 20
    seconds: float = 120.0


@dataclass
class TrainingResult:
    task_id: str
    holdout_start: date | None  # walk-forward: the first holdout date; None for group / stratified splits
    holdout_end: date | None
    validation_start: date | None
    rows: dict[str, int]  # train / validation / holdout
    bundle: ModelBundle
    params: dict[str, Any]
    holdout_metrics: dict[str, float]
    baseline_metrics: dict[str, dict[str, float]]
    artifacts: dict[str, Path]
    feature_importance: dict[str, float]
    seconds: float = 0.0
    tuning_trials: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    holdout: dict[str, Any] = field(default_factory=dict)  # how to find the holdout again (promotion re-scores on it)
    fold_metrics: list[dict[str, float]] = field(default_factory=list)  # each evaluation fold, before the holdout
    # Each fold's baselines, fit on the fold's fit rows as the model is: [{baseline: {metric: value}}] per fold.
    fold_baseline_metrics: list[dict[str, dict[str, float]]] = field(default_factory=list)
    holdout_target: np.ndarray | None = None
    holdout_predictions: np.ndarray | None = None
    # One row per holdout example: its request fields, what happened, the model's and each baseline's prediction.
    holdout_table: pd.DataFrame | None = None

    @property
    def fold_summary(self) -> dict[str, float]:
        """``<metric>_mean`` and ``<metric>_sd`` over the evaluation folds (a gap to a reference baseline over the
        folds the reference priced)."""
        summary: dict[str, float] = {}
        names = list(dict.fromkeys(name for fold in self.fold_metrics for name in fold))
        for name in names:
            values = np.array([fold.get(name, np.nan) for fold in self.fold_metrics], dtype=float)
            summary[f"{name}_mean"] = float(np.nanmean(values))
            summary[f"{name}_sd"] = float(np.nanstd(values))
        return summary


# ---- public API -----------------------------------------------------------------------------


def train(
    task: Task,
    canonical: pd.DataFrame,
    *,
    holdout_start: date | None = None,
    tuning_budget: TuningBudget | None = None,
    progress: Progress | None = None,
    params: dict[str, Any] | None = None,
    artifacts_dir: Path | None = None,
    seed: int = 0,
) -> TrainingResult:
    """Train, evaluate on folds and the final holdout, and bundle one model. Features are built once.

    ``artifacts_dir``: where to write the evaluation artifacts (plots, tables); None writes none
    (call :func:`write_artifacts` later).
    """
    started = time.perf_counter()
    report = progress or (lambda fraction, message: None)
    report(0.0, "building point-in-time features")
    table = task.training_table(canonical)
    features = table.features
    target = np.asarray(table.target)
    split = make_split(task, table, holdout_start, seed)
    feature_names = list(features.columns)
    x = features.to_numpy(dtype=np.float32)
    fit_target = _fit_target(task, target, features)
    weights = _recency(task, table)
    train_rows, valid_rows, pre_rows, hold_rows = split.train, split.validation, split.pre_holdout, split.holdout

    chosen = {**DEFAULT_PARAMS, **task.booster_params, **(params or {})}
    # Walk-forward prior: the early-stopping prior knows the train window only, the final one train + validation.
    early_prior = _fit_prior(task, features, target, train_rows, weights)
    early_margin = _margin(early_prior, features)
    trials = 0
    if tuning_budget is not None and tuning_budget.trials > 0:
        report(0.1, f"tuning: up to {tuning_budget.trials} trials / {tuning_budget.seconds:.0f} s")
        # Each trial is judged on the evaluation folds (each with its own walk-forward prior), not on one window.
        windows = [
            (fit_rows, score_rows, _margin(_fit_prior(task, features, target, fit_rows, weights), features))
            for fit_rows, score_rows in split.folds
        ] or [(train_rows, valid_rows, early_margin)]
        chosen, trials = _tune(task, x, fit_target, windows, chosen, tuning_budget, seed, report, weights)

    report(0.55, "early stopping on the validation window")
    rounds = _best_rounds(task, x, fit_target, early_margin, train_rows, valid_rows, chosen, seed, weights)
    metric_names = [m.name for m in task.metrics]

    report(0.6, f"scoring {len(split.folds)} evaluation folds")
    fold_metrics: list[dict[str, float]] = []
    fold_baselines: list[dict[str, dict[str, float]]] = []
    residual_ratios: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # forecast intervals: (h, actual, pred)
    for fit_rows, score_rows in split.folds:
        fold_rounds = round(rounds * fit_rows.sum() / max(train_rows.sum(), 1))
        fold_prior = _fit_prior(task, features, target, fit_rows, weights)
        fold_bundle = _bundle(task, feature_names, fold_prior, _fit(
            task, x, fit_target, _margin(fold_prior, features), fit_rows, chosen, fold_rounds, seed, weights
        ))  # fmt: skip
        fold_predictions = fold_bundle.predict_rows(x[score_rows])
        fold_baseline_predictions = _baselines(task, table, target, fit_rows, score_rows)
        fold_metrics.append(
            {
                **_scores(task, metric_names, target[score_rows], fold_predictions, None),
                **_reference_gaps(task, metric_names, target[score_rows], fold_predictions, fold_baseline_predictions),
            }
        )
        fold_baselines.append(
            {
                name: _baseline_scores(task, metric_names, target[score_rows], prediction, None)
                for name, prediction in fold_baseline_predictions.items()
            }
        )
        if table.horizon is not None:
            residual_ratios.append((table.horizon[score_rows], target[score_rows], fold_predictions))

    # Refit on train + validation: scale the rounds with the extra rows, as the trees see more data.
    refit_rounds = round(rounds * pre_rows.sum() / max(train_rows.sum(), 1))
    prior = _fit_prior(task, features, target, pre_rows, weights)
    margin = _margin(prior, features)
    report(0.75, f"fitting on {int(pre_rows.sum())} rows before the holdout ({refit_rounds} rounds)")
    booster = _fit(task, x, fit_target, margin, pre_rows, chosen, refit_rounds, seed, weights)

    report(0.85, "scoring the holdout and the baselines")
    bundle = _bundle(task, feature_names, prior, booster)
    bundle.serving_state = task.serving_state(canonical)
    bundle.input_example = input_example(task, table, bundle.serving_state)
    bundle.params = {**chosen, "num_boost_round": refit_rounds}
    horizon = table.horizon[hold_rows] if table.horizon is not None else None
    predictions = bundle.predict_rows(x[hold_rows])
    holdout_metrics = _scores(task, metric_names, target[hold_rows], predictions, horizon)
    bundle.holdout_metrics = holdout_metrics
    baseline_predictions = _baselines(task, table, target, pre_rows, hold_rows)
    baseline_metrics = {
        name: _baseline_scores(task, metric_names, target[hold_rows], prediction, horizon)
        for name, prediction in baseline_predictions.items()
    }
    gaps = _reference_gaps(task, metric_names, target[hold_rows], predictions, baseline_predictions)
    bundle.reference_profile = build_reference_profile(
        features[pre_rows],
        _predicted_labels(task, predictions),
        categorical=tuple(task.categorical_features),
        seed=seed,
    )
    bundle.metadata = {**split.window, "holdout": split.holdout_spec, "rows": split.rows}
    if task.kind == "forecast":
        bundle.metadata["interval"] = _interval(task, residual_ratios or [(horizon, target[hold_rows], predictions)])

    importance = _importance(booster, feature_names)
    result = TrainingResult(
        task_id=task.id,
        holdout_start=split.holdout_start,
        holdout_end=split.holdout_end,
        validation_start=split.validation_start,
        rows=split.rows,
        bundle=bundle,
        params=bundle.params,
        holdout_metrics={**holdout_metrics, **gaps},  # the bundle keeps the model's own scores only
        baseline_metrics=baseline_metrics,
        artifacts={},
        feature_importance=importance,
        seconds=0.0,
        tuning_trials=trials,
        holdout=split.holdout_spec,
        fold_metrics=fold_metrics,
        fold_baseline_metrics=fold_baselines,
        holdout_target=target[hold_rows],
        holdout_predictions=predictions,
        holdout_table=_holdout_table(task, table, hold_rows, target[hold_rows], predictions, baseline_predictions),
    )
    if artifacts_dir is not None:
        report(0.95, "writing artifacts")
        result.artifacts = write_artifacts(task, result, Path(artifacts_dir))
    result.seconds = time.perf_counter() - started
    report(1.0, "done")
    return result


def evaluate_bundle(
    bundle: ModelBundle, canonical: pd.DataFrame, holdout: date | Mapping[str, Any] | None
) -> dict[str, float]:
    """Score a bundle on a table's holdout rows (a first date, or a holdout spec from training), features
    point-in-time from the full table."""
    task = bundle.task
    table = task.training_table(canonical)
    missing = [name for name in bundle.feature_names if name not in table.features.columns]
    if missing:
        raise ScorelineError(
            ErrorCode.CONFLICT,
            f"the bundle needs features {missing} that task {task.id!r} no longer builds; it cannot be re-scored",
            {"missing": missing},
        )
    spec = holdout if isinstance(holdout, Mapping) else {"strategy": "walk_forward", "start": _iso(holdout)}
    rows = holdout_rows(table, spec)
    if rows.sum() == 0:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"no rows of the table fall in the holdout {dict(spec)}; expected a window inside the data",
            {"holdout": dict(spec)},
        )
    target = np.asarray(table.target)[rows]
    predictions = bundle.predict_features(table.features[rows])
    horizon = table.horizon[rows] if table.horizon is not None else None
    return _scores(task, [m.name for m in task.metrics], target, predictions, horizon)


def input_example(
    task: Task, table: TrainingTable, state: Mapping[str, Any] | None = None, rows: int = INPUT_EXAMPLE_ROWS
) -> list[dict[str, Any]]:
    """Requests the served model answers as they are: the last rows of the data as serving requests (the
    request model's fields the table has), keeping those the serving state can answer, else the task's example."""
    examples: list[dict[str, Any]] = []
    if table.requests is not None and not table.requests.empty:
        fields = [name for name in task.request_model.model_fields if name in table.requests.columns]
        for record in table.requests[fields].tail(rows).to_dict(orient="records"):
            examples.append({key: _plain(value) for key, value in record.items() if not _missing(value)})
    if state is None:
        return examples
    usable = [example for example in examples if _serves(task, state, example)]
    if not usable:
        fallback = task.example_request(state, examples)
        usable = [fallback] if fallback and _serves(task, state, fallback) else []
    return usable


def _serves(task: Task, state: Mapping[str, Any], example: Mapping[str, Any]) -> bool:
    try:
        request = task.request_model.model_validate(dict(example)).model_dump(mode="json")
        task.serving_features(dict(state), pd.DataFrame([request]))
    except Exception:  # any refusal means "not an example": the next candidate is tried
        return False
    return True


def write_artifacts(task: Task, result: TrainingResult, directory: Path) -> dict[str, Path]:
    """The evaluation artifacts of a training result (importance, calibration, metrics, folds) as files."""
    target = result.holdout_target if result.holdout_target is not None else np.array([])
    predictions = result.holdout_predictions if result.holdout_predictions is not None else np.array([])
    artifacts = _artifacts(
        task, directory, target, predictions, result.feature_importance, result.holdout_metrics,
        result.baseline_metrics,
    )  # fmt: skip
    if result.fold_metrics:
        folds = pd.DataFrame(result.fold_metrics).rename_axis("fold")
        folds.to_csv(directory / "folds.csv")
        artifacts["folds.csv"] = directory / "folds.csv"
    if result.holdout_table is not None and not result.holdout_table.empty:
        result.holdout_table.to_csv(directory / "holdout_predictions.csv", index=False, float_format="%.6g")
        artifacts["holdout_predictions.csv"] = directory / "holdout_predictions.csv"
    return artifacts


def _holdout_table(
    task: Task,
    table: TrainingTable,
    rows: np.ndarray,
    target: np.ndarray,
    predictions: np.ndarray,
    baselines: Mapping[str, np.ndarray],
) -> pd.DataFrame:
    """Per-example holdout predictions (the ``holdout_predictions.csv`` artifact): the request fields, ``date``,
    ``horizon``, ``actual``, then ``<class>`` probabilities (or ``predicted``) of the model and
    ``<baseline>_<class>`` (or ``<baseline>``) of each baseline, e.g. ``bookmaker_home``."""
    frame = pd.DataFrame(index=pd.RangeIndex(int(np.count_nonzero(rows)) if rows.dtype == bool else len(rows)))
    if table.requests is not None and len(table.requests) == len(table):
        frame = table.requests[rows].reset_index(drop=True).copy()
    if table.dates is not None and "date" not in frame.columns:
        frame["date"] = pd.to_datetime(table.dates[rows])
    if table.horizon is not None:
        frame["horizon"] = table.horizon[rows]
    classes = list(task.classes) if task.kind in ("binary", "multiclass") else []

    def add(prefix: str, values: np.ndarray) -> None:
        values = np.asarray(values)
        if values.ndim == 2 and classes and values.shape[1] == len(classes):
            for index, name in enumerate(classes):
                frame[f"{prefix}{name}"] = values[:, index]
        elif values.ndim == 2 and values.shape[1] == 1:
            frame[prefix.rstrip("_") or "predicted"] = values[:, 0]
        elif values.ndim == 1:
            frame[prefix.rstrip("_") or "predicted"] = values

    if classes and task.kind == "multiclass":
        frame["actual"] = np.asarray(classes, dtype=object)[target.astype(np.int64)]
    else:
        frame["actual"] = target
    add("", predictions)
    for name, values in baselines.items():
        add(f"{name}_", values)
    return frame


# ---- splits -----------------------------------------------------------------------------------


@dataclass
class Split:
    train: np.ndarray
    validation: np.ndarray
    holdout: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]  # (fit rows, score rows), all before the holdout
    holdout_spec: dict[str, Any]
    holdout_start: date | None = None
    holdout_end: date | None = None
    validation_start: date | None = None

    @property
    def pre_holdout(self) -> np.ndarray:
        return self.train | self.validation

    @property
    def rows(self) -> dict[str, int]:
        return {
            "train": int(self.train.sum()),
            "validation": int(self.validation.sum()),
            "holdout": int(self.holdout.sum()),
        }

    @property
    def window(self) -> dict[str, str]:
        found = {
            "holdout_start": self.holdout_start,
            "holdout_end": self.holdout_end,
            "validation_start": self.validation_start,
        }
        return {key: value.isoformat() for key, value in found.items() if value is not None}


def make_split(task: Task, table: TrainingTable, holdout_start: date | None, seed: int) -> Split:
    """The task's split strategy on this table; a strategy whose column the table lacks falls back to stratified."""
    strategy = task.split
    if strategy.kind == "walk_forward" and table.dates is not None:
        return _walk_forward(np.asarray(table.dates, dtype="datetime64[D]"), holdout_start, strategy)
    if strategy.kind in ("walk_forward", "group") and table.groups is not None and holdout_start is None:
        return _by_group(np.asarray(table.groups), strategy)
    return _stratified(task, table, strategy, seed)


def holdout_rows(table: TrainingTable, spec: Mapping[str, Any]) -> np.ndarray:
    """The rows of a table that fall in a holdout described by :attr:`Split.holdout_spec`."""
    strategy = spec.get("strategy")
    if strategy == "walk_forward" and table.dates is not None and spec.get("start"):
        return np.asarray(table.dates, dtype="datetime64[D]") >= np.datetime64(spec["start"], "D")
    if strategy == "group" and table.groups is not None and "first_group" in spec:
        return _group_order(np.asarray(table.groups)) >= _group_key(spec["first_group"])
    if strategy == "stratified":
        return stable_fraction(_keys(table)) < float(spec.get("fraction", 0.2))
    raise ScorelineError(
        ErrorCode.CONFLICT,
        f"the holdout {dict(spec)} does not apply to this table; expected a walk-forward start date, a first group "
        "or a stratified fraction that the table supports",
        {"holdout": dict(spec)},
    )


def _check_windows(before: int, holdout: int, what: str) -> None:
    if before < 2 * MIN_ROWS_PER_WINDOW or holdout < MIN_ROWS_PER_WINDOW:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"holdout {what} leaves {before} rows before it and {holdout} in it; expected at "
            f"least {2 * MIN_ROWS_PER_WINDOW} and {MIN_ROWS_PER_WINDOW}",
            {"holdout": what, "rows": before + holdout},
        )


def _expanding_folds(order: np.ndarray, pre: np.ndarray, folds: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window folds over the second half of the pre-holdout rows (by an order key, ties together)."""
    if folds <= 0:
        return []
    values = np.sort(order[pre])
    if len(values) < 4 * MIN_ROWS_PER_WINDOW:
        return []
    cuts = [values[int(len(values) * (0.5 + 0.5 * i / folds))] for i in range(folds)] + [None]
    found = []
    for start, end in itertools.pairwise(cuts):
        score = pre & (order >= start) & ((order < end) if end is not None else True)
        fit = pre & (order < start)
        if score.sum() >= MIN_ROWS_PER_WINDOW and fit.sum() >= MIN_ROWS_PER_WINDOW:
            found.append((fit, score))
    return found


def _walk_forward(dates: np.ndarray, holdout_start: date | None, strategy: SplitStrategy) -> Split:
    n = len(dates)
    if holdout_start is None:
        start = np.sort(dates)[min(int(n * (1 - strategy.holdout_fraction)), n - 1)] if n else np.datetime64("NaT")
    else:
        start = np.datetime64(holdout_start, "D")
    holdout = dates >= start
    before = np.flatnonzero(~holdout)
    _check_windows(len(before), int(holdout.sum()), f"from {start}")
    before_dates = np.sort(dates[before])
    validation_start = before_dates[min(int(len(before) * (1 - VALIDATION_FRACTION)), len(before) - 1)]
    validation = (~holdout) & (dates >= validation_start)
    train = (~holdout) & (dates < validation_start)
    if train.sum() < MIN_ROWS_PER_WINDOW:  # one date holds most rows: split by position instead
        validation_start = before_dates[-1]
        validation = np.zeros(n, dtype=bool)
        validation[before[-max(MIN_ROWS_PER_WINDOW, len(before) // 7) :]] = True
        train = (~holdout) & ~validation
    return Split(
        train, validation, holdout, _expanding_folds(dates, ~holdout, strategy.folds),
        {"strategy": "walk_forward", "start": _iso(start)},
        holdout_start=_as_date(start), holdout_end=_as_date(dates[holdout].max()),
        validation_start=_as_date(validation_start),
    )  # fmt: skip


def _group_key(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _group_order(groups: np.ndarray) -> np.ndarray:
    keys = [_group_key(g) for g in groups]
    return np.array(keys, dtype=float if all(isinstance(k, float) for k in keys) else object)


def _by_group(groups: np.ndarray, strategy: SplitStrategy) -> Split:
    order = _group_order(groups)
    distinct = np.array(sorted(set(order.tolist())), dtype=order.dtype)
    counts = np.array([(order == g).sum() for g in distinct])
    tail = np.cumsum(counts[::-1])[::-1]  # rows in this group and every later one
    n = len(order)
    first = distinct[max(int(np.flatnonzero(tail >= strategy.holdout_fraction * n).max(initial=0)), 1)]
    holdout = order >= first
    before = ~holdout
    _check_windows(int(before.sum()), int(holdout.sum()), f"from group {first}")
    pre_groups = distinct[distinct < first]
    pre_tail = np.cumsum(counts[: len(pre_groups)][::-1])[::-1]
    valid_index = max(int(np.flatnonzero(pre_tail >= VALIDATION_FRACTION * before.sum()).max(initial=0)), 1)
    validation = before & (order >= pre_groups[min(valid_index, len(pre_groups) - 1)])
    train = before & ~validation
    first_value = first.item() if hasattr(first, "item") else first
    return Split(
        train, validation, holdout, _expanding_folds(order, before, strategy.folds),
        {"strategy": "group", "first_group": first_value},
    )  # fmt: skip


def _keys(table: TrainingTable) -> np.ndarray:
    if table.keys is not None:
        return np.asarray(table.keys).astype(str)
    # No keys: the rows' own content, so the same row lands on the same side in every dataset version.
    return pd.util.hash_pandas_object(table.features, index=False).astype(str).to_numpy()


def _stratified(task: Task, table: TrainingTable, strategy: SplitStrategy, seed: int) -> Split:
    target = np.asarray(table.target)
    holdout = stable_fraction(_keys(table)) < strategy.holdout_fraction
    before = np.flatnonzero(~holdout)
    _check_windows(len(before), int(holdout.sum()), f"of {strategy.holdout_fraction:.0%} by row key")
    rng = np.random.default_rng(seed)
    classification = task.kind in ("binary", "multiclass")
    labels = target[before] if classification else np.zeros(len(before), dtype=int)
    fold_of = np.empty(len(before), dtype=int)
    k = max(strategy.folds, 2)
    for value in np.unique(labels):  # seeded stratified assignment: each class spread evenly over the folds
        members = before[labels == value] if classification else before
        shuffled = rng.permutation(len(members))
        fold_of[np.searchsorted(before, members[shuffled])] = np.arange(len(members)) % k
    n = len(target)
    validation = np.zeros(n, dtype=bool)
    validation[before[fold_of == 0]] = True
    train = ~holdout & ~validation
    folds = []
    for fold in range(k if strategy.folds > 0 else 0):
        score = np.zeros(n, dtype=bool)
        score[before[fold_of == fold]] = True
        folds.append((~holdout & ~score, score))
    return Split(
        train, validation, holdout, folds,
        {"strategy": "stratified", "fraction": strategy.holdout_fraction},
    )  # fmt: skip


def _fit_target(task: Task, target: np.ndarray, features: pd.DataFrame) -> np.ndarray:
    """What the booster learns: class indices, or values (divided by ``target_scale_feature``, then log1p for
    tasks with ``log_target``); :meth:`ModelBundle.predict_rows` undoes both."""
    if task.kind not in ("regression", "forecast"):
        return target
    values = target.astype(np.float64)
    if task.target_scale_feature is not None:
        values = values / target_scale(features[task.target_scale_feature].to_numpy())
    if task.log_target:
        values = np.log1p(np.clip(values, 0.0, None))
    return values


def _bundle(task: Task, feature_names: list[str], prior: LogisticPrior | None, booster: Any) -> ModelBundle:
    return ModelBundle(
        task_id=task.id,
        booster=booster,
        feature_names=feature_names,
        serving_state={},
        reference_profile={},
        input_example=[],
        holdout_metrics={},
        prior=prior,
        target_transform="log1p" if task.kind in ("regression", "forecast") and task.log_target else None,
        target_scale_feature=task.target_scale_feature if task.kind in ("regression", "forecast") else None,
    )


def _scores(
    task: Task, metric_names: list[str], target: np.ndarray, predictions: np.ndarray, horizon: np.ndarray | None
) -> dict[str, float]:
    """The task's metrics, and for forecasts each of them per horizon day too (``<metric>_d<h>``)."""
    scores = evaluation.score(metric_names, target, predictions)
    if horizon is not None:
        for day in np.unique(horizon).tolist():
            rows = horizon == day
            for name, value in evaluation.score(metric_names, target[rows], predictions[rows]).items():
                scores[f"{name}_d{int(day)}"] = value
    return scores


def _covered(prediction: np.ndarray) -> np.ndarray:
    """Rows a baseline has a prediction for: a reference such as the betting market may not price every row."""
    values = np.asarray(prediction, dtype=np.float64)
    finite = np.isfinite(values)
    return finite.all(axis=1) if values.ndim == 2 else finite


def _baseline_scores(
    task: Task, metric_names: list[str], target: np.ndarray, prediction: np.ndarray, horizon: np.ndarray | None
) -> dict[str, float]:
    """A baseline's scores on the rows it covers (every row for the generic baselines)."""
    rows = _covered(prediction)
    if rows.all():
        return _scores(task, metric_names, target, prediction, horizon)
    return _scores(task, metric_names, target[rows], prediction[rows], None if horizon is None else horizon[rows])


def _reference_gaps(
    task: Task,
    metric_names: list[str],
    target: np.ndarray,
    predictions: np.ndarray,
    baselines: Mapping[str, np.ndarray],
) -> dict[str, float]:
    """The model against each baseline the task supplies itself (``Task.baselines``, e.g. the betting market),
    on the rows that baseline covers: ``<b>_rows``, ``gap_to_<b>_<metric>`` (model minus baseline) and
    ``gap_to_<b>_<metric>_pct`` (that gap relative to the baseline's score, in %). References are reported
    beside the model, never used by it; rows they do not cover are left out and counted, not silently dropped."""
    generic = {"mean", "base_rates", *task.baseline_features}
    gaps: dict[str, float] = {}
    for name, prediction in baselines.items():
        if name in generic:
            continue
        rows = _covered(prediction)
        if not rows.any():
            continue
        model = evaluation.score(metric_names, target[rows], predictions[rows])
        reference = evaluation.score(metric_names, target[rows], np.asarray(prediction)[rows])
        gaps[f"{name}_rows"] = float(rows.sum())
        for metric in metric_names:
            gap = model[metric] - reference[metric]
            gaps[f"gap_to_{name}_{metric}"] = gap
            gaps[f"gap_to_{name}_{metric}_pct"] = 100.0 * gap / reference[metric] if reference[metric] else np.nan
    return gaps


def _predicted_labels(task: Task, predictions: np.ndarray) -> pd.Series | None:
    if task.kind in ("regression", "forecast"):
        return None
    return pd.Series(np.asarray(task.classes)[np.argmax(predictions, axis=1)])


def _interval(task: Task, parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, Any]:
    """Forecast interval per horizon day: quantiles of actual / predicted on out-of-sample rows."""
    horizon = np.concatenate([p[0] for p in parts])
    actual = np.concatenate([p[1] for p in parts]).astype(np.float64)
    predicted = np.concatenate([p[2] for p in parts]).astype(np.float64)
    ratio = actual / np.maximum(predicted, 1e-9)
    low_q, high_q = task.interval_quantiles
    low, high = [], []
    for day in range(1, task.horizon + 1):
        rows = (horizon == day) & np.isfinite(ratio)
        values = ratio[rows] if rows.any() else ratio[np.isfinite(ratio)]
        low.append(float(np.quantile(values, low_q)) if len(values) else 1.0)
        high.append(float(np.quantile(values, high_q)) if len(values) else 1.0)
    return {"quantiles": [low_q, high_q], "low_ratio": low, "high_ratio": high}


def _objective(task: Task) -> dict[str, Any]:
    if task.kind == "multiclass":
        return {"objective": "multi:softprob", "num_class": len(task.classes), "eval_metric": "mlogloss"}
    if task.kind == "binary":
        return {"objective": "binary:logistic", "eval_metric": "logloss"}
    return {"objective": "reg:squarederror", "eval_metric": "mae"}


def _booster_params(task: Task, params: dict[str, Any], seed: int) -> dict[str, Any]:
    return {**_objective(task), **params, "tree_method": "hist", "seed": seed, "nthread": 2, "verbosity": 0}


def _fit_prior(
    task: Task, features: pd.DataFrame, target: np.ndarray, rows: np.ndarray, weights: np.ndarray | None = None
) -> LogisticPrior | None:
    columns = list(task.prior_features)
    if task.kind not in ("binary", "multiclass") or not columns:
        return None
    weight = _fit_weights(weights, rows)
    anchor = tuple(task.prior_anchor)
    if not anchor:
        return LogisticPrior.fit(features.loc[rows, columns], target[rows], len(task.classes), sample_weight=weight)
    return LogisticPrior.fit(
        features.loc[rows, columns],
        target[rows],
        len(task.classes),
        c=_anchored_prior_c(task, features.loc[rows, columns], target[rows], anchor, weight),
        anchor=anchor,
        sample_weight=weight,
    )


def _recency(task: Task, table: TrainingTable) -> np.ndarray | None:
    """Each row's recency weight up to a constant (``Task.recency_half_life_days``): ``2 ** (days after the
    first row / half-life)``, made relative to each fit's latest row by :func:`_fit_weights`; None: unweighted."""
    half_life = task.recency_half_life_days
    if half_life is None or table.dates is None or len(table) == 0:
        return None
    if not half_life > 0:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"task {task.id!r} asks a recency half-life of {half_life!r} days; expected a positive number or None",
            {"recency_half_life_days": half_life},
        )
    days = np.asarray(table.dates, dtype="datetime64[D]").astype(np.int64)
    return (days - days.min()) / float(half_life)  # log2 of the weight, made relative per fit


def _fit_weights(weights: np.ndarray | None, rows: np.ndarray) -> np.ndarray | None:
    """The weights of a fit's rows, mean 1 (from the log2 weights of :func:`_recency`); None: unweighted."""
    if weights is None:
        return None
    log2 = weights[rows]
    if not len(log2):
        return None
    weight = np.exp2(log2 - log2.max())
    return weight / weight.mean()


def _anchored_prior_c(
    task: Task, x: pd.DataFrame, y: np.ndarray, anchor: tuple[str, ...], weight: np.ndarray | None = None
) -> float:
    """The L2 strength of an anchored prior's corrections, chosen walk-forward: fit on the earlier rows (the
    table is date-sorted), the lowest log loss on the latest ``PRIOR_SELECTION_SHARE``. Few or noisy rows pick
    a tiny C (the anchor's own forecast); plenty of informative rows pick a large one."""
    if len(y) > PRIOR_SELECTION_MAX_ROWS:  # the data outweighs any penalty of the grid: spare the fits
        return PRIOR_C_GRID[-1]
    cut = int(len(y) * (1.0 - PRIOR_SELECTION_SHARE))
    if cut < PRIOR_SELECTION_MIN_ROWS or len(y) - cut < PRIOR_SELECTION_MIN_ROWS:
        return PRIOR_C_GRID[0]
    later, labels = x.iloc[cut:].to_numpy(dtype=np.float64), y[cut:]
    losses = []
    for c in PRIOR_C_GRID:
        prior = LogisticPrior.fit(
            x.iloc[:cut], y[:cut], len(task.classes), c=c, anchor=anchor,
            sample_weight=None if weight is None else weight[:cut],
        )  # fmt: skip
        losses.append(-np.log(np.clip(prior.probabilities(later)[np.arange(len(labels)), labels], 1e-15, None)))
    best = int(np.argmin([loss.mean() for loss in losses]))
    gain = losses[0] - losses[best]
    if best == 0 or gain.mean() <= TREES_MIN_Z * gain.std(ddof=1) / np.sqrt(len(gain)):
        return PRIOR_C_GRID[0]
    return PRIOR_C_GRID[best]


def _margin(prior: LogisticPrior | None, features: pd.DataFrame) -> np.ndarray | None:
    return None if prior is None else prior.margin(features[list(prior.features)].to_numpy(dtype=np.float64))


def _matrix(
    x: np.ndarray, y: np.ndarray, margin: np.ndarray | None, rows: np.ndarray, weights: np.ndarray | None = None
) -> Any:
    """``weights``: recency log2 weights of every row (:func:`_recency`) for a fit's matrix; None for scoring."""
    import xgboost as xgb

    return xgb.DMatrix(
        x[rows],
        label=y[rows],
        base_margin=None if margin is None else margin[rows],
        weight=_fit_weights(weights, rows),
    )


def _early_stopped(
    task: Task,
    params: dict[str, Any],
    dtrain: Any,
    dvalid: Any,
    seed: int,
) -> tuple[int, float]:
    """(rounds, validation loss) of the best early-stopped booster; zero rounds when no tree helps the prior."""
    import xgboost as xgb

    history: dict[str, dict[str, list[float]]] = {}
    booster = xgb.train(
        _booster_params(task, params, seed),
        dtrain,
        num_boost_round=MAX_BOOST_ROUNDS,
        evals=[(dvalid, "validation")],
        early_stopping_rounds=EARLY_STOPPING_ROUNDS,
        evals_result=history,
        verbose_eval=False,
    )
    rounds, loss = int(booster.best_iteration) + 1, float(booster.best_score)
    if dvalid.get_base_margin().size:
        # The prior alone is the zero-tree model: keep it unless the trees improve on it.
        prior_loss = float(xgb.train(_booster_params(task, params, seed), dtrain, 0).eval(dvalid).split(":")[-1])
        if prior_loss <= loss:
            return 0, prior_loss
        # Measured on multiclass (match outcomes) only; binary priors keep the plain rule until measured.
        if task.kind == "multiclass" and not _trees_beat_prior(
            task, booster.predict(dvalid, iteration_range=(0, rounds)), dvalid
        ):
            return 0, prior_loss
    return rounds, loss


def _best_rounds(
    task: Task,
    x: np.ndarray,
    y: np.ndarray,
    margin: np.ndarray | None,
    train: np.ndarray,
    valid: np.ndarray,
    params: dict[str, Any],
    seed: int,
    weights: np.ndarray | None = None,
) -> int:
    return _early_stopped(task, params, _matrix(x, y, margin, train, weights), _matrix(x, y, margin, valid), seed)[0]


def _trees_beat_prior(task: Task, trees: np.ndarray, dvalid: Any) -> bool:
    """Whether the early-stopped trees' validation predictions beat the prior alone by more than noise: the mean
    per-row log-loss gain over ``TREES_MIN_Z`` standard errors. On a few hundred rows, early stopping finds trees
    that fit the validation window's luck; the prior is the safer model then."""
    base = np.asarray(dvalid.get_base_margin(), dtype=np.float64)
    labels = np.asarray(dvalid.get_label(), dtype=np.int64)
    if task.kind == "multiclass":
        scores = base.reshape(len(labels), -1)
        scores = scores - scores.max(axis=1, keepdims=True)
        prior = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        trees = np.asarray(trees, dtype=np.float64).reshape(len(labels), -1)
        gain = np.log(trees[np.arange(len(labels)), labels]) - np.log(prior[np.arange(len(labels)), labels])
    else:
        positive = 1.0 / (1.0 + np.exp(-base))
        trees = np.clip(np.asarray(trees, dtype=np.float64), 1e-15, 1 - 1e-15)
        gain = np.where(labels == 1, np.log(trees) - np.log(positive), np.log1p(-trees) - np.log1p(-positive))
    if len(gain) < 2:
        return False
    return float(gain.mean()) > TREES_MIN_Z * float(gain.std(ddof=1)) / np.sqrt(len(gain))


def _fit(
    task: Task,
    x: np.ndarray,
    y: np.ndarray,
    margin: np.ndarray | None,
    rows: np.ndarray,
    params: dict[str, Any],
    rounds: int,
    seed: int,
    weights: np.ndarray | None = None,
) -> Any:
    import xgboost as xgb

    matrix = _matrix(x, y, margin, rows, weights)
    return xgb.train(_booster_params(task, params, seed), matrix, num_boost_round=rounds)


def _tune(
    task: Task,
    x: np.ndarray,
    y: np.ndarray,
    windows: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    start: dict[str, Any],
    budget: TuningBudget,
    seed: int,
    report: Progress,
    weights: np.ndarray | None = None,
) -> tuple[dict[str, Any], int]:
    """Optuna over ``SEARCH_SPACE``; a trial's loss is the mean early-stopped loss over the windows
    ``(fit rows, score rows, prior margin)`` (the walk-forward folds). A trial still running when the
    time budget ends is pruned between windows, so the budget holds to about one early-stopped fit."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    matrices = [(_matrix(x, y, margin, fit, weights), _matrix(x, y, margin, score)) for fit, score, margin in windows]
    deadline = time.perf_counter() + budget.seconds

    def objective(trial: optuna.Trial) -> float:
        params: dict[str, Any] = {
            name: (
                trial.suggest_int(name, int(low), int(high))
                if kind == "int"
                else trial.suggest_float(name, low, high, log=kind == "log")
            )
            for name, (kind, low, high) in SEARCH_SPACE.items()
        }
        losses = []
        for dtrain, dvalid in matrices:
            if losses and time.perf_counter() > deadline and trial.number > 0:
                raise optuna.TrialPruned(f"time budget of {budget.seconds:.0f} s spent")
            losses.append(_early_stopped(task, params, dtrain, dvalid, seed)[1])
        loss = float(np.mean(losses))
        report(0.1 + 0.45 * min(1.0, (trial.number + 1) / budget.trials), f"tuning trial {trial.number + 1}")
        return loss

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    # The first trial is the starting point, moved inside the search space where it lies outside.
    study.enqueue_trial(
        {name: min(max(start[name], low), high) for name, (_, low, high) in SEARCH_SPACE.items() if name in start}
    )
    study.optimize(objective, n_trials=budget.trials, timeout=budget.seconds)
    return {**start, **study.best_params}, len(study.trials)


def _baselines(
    task: Task, table: TrainingTable, target: np.ndarray, fit_rows: np.ndarray, score_rows: np.ndarray
) -> dict[str, np.ndarray]:
    """Predictions on the score rows of every baseline, each fit on the fit rows only."""
    n = int(score_rows.sum())
    output: dict[str, np.ndarray] = {}
    if task.kind in ("regression", "forecast"):
        output["mean"] = np.full(n, float(np.mean(target[fit_rows])))
    else:
        k = len(task.classes)
        rates = np.bincount(target[fit_rows].astype(np.int64), minlength=k) / fit_rows.sum()
        output["base_rates"] = np.tile(rates, (n, 1))
        # The same logistic regression the model is boosted from: with zero trees, model == this baseline.
        features = table.features
        for name, columns in task.baseline_features.items():
            prior = LogisticPrior.fit(features.loc[fit_rows, list(columns)], target[fit_rows], k)
            output[name] = prior.probabilities(features.loc[score_rows, list(columns)].to_numpy(dtype=np.float64))
    output.update(task.baselines(table, fit_rows, score_rows))
    return output


def _importance(booster: Any, feature_names: list[str]) -> dict[str, float]:
    gains = booster.get_score(importance_type="total_gain")
    total = sum(gains.values()) or 1.0
    by_name = {name: gains.get(f"f{i}", gains.get(name, 0.0)) / total for i, name in enumerate(feature_names)}
    return dict(sorted(by_name.items(), key=lambda item: -item[1]))


def _artifacts(
    task: Task,
    directory: Path,
    target: np.ndarray,
    predictions: np.ndarray,
    importance: dict[str, float],
    holdout_metrics: dict[str, float],
    baseline_metrics: dict[str, dict[str, float]],
) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    artifacts: dict[str, Path] = {}
    series = pd.Series(importance, name="gain_share")
    series.rename_axis("feature").to_csv(directory / "feature_importance.csv")
    artifacts["feature_importance.csv"] = directory / "feature_importance.csv"
    artifacts["feature_importance.png"] = evaluation.feature_importance_plot(
        series, directory / "feature_importance.png"
    )
    if task.kind in ("binary", "multiclass") and len(target):
        evaluation.calibration_table(target, predictions, task.classes).to_csv(
            directory / "calibration.csv", index=False
        )
        artifacts["calibration.csv"] = directory / "calibration.csv"
        artifacts["calibration.png"] = evaluation.calibration_plot(
            target, predictions, task.classes, directory / "calibration.png", title=f"{task.id}: holdout calibration"
        )
    table = pd.DataFrame({"model": holdout_metrics, **baseline_metrics})
    table.rename_axis("metric").to_csv(directory / "metrics.csv")
    artifacts["metrics.csv"] = directory / "metrics.csv"
    return artifacts


def _as_date(value: Any) -> date:
    return pd.Timestamp(value).date()


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return pd.Timestamp(value).date().isoformat()


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not np.isfinite(value)) or value is pd.NaT


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp | datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value
