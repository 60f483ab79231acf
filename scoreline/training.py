"""Walk-forward training of any task: features, XGBoost, baselines, evaluation, artifacts.

Time is split into three consecutive windows by the task's date column:
``train`` < ``validation_start`` <= ``validation`` < ``holdout_start`` <= ``holdout``.
Early stopping (and Optuna tuning, when asked) looks at the validation window only. The
model is then refit on train + validation with the chosen number of rounds and evaluated
once on the holdout: the bundle that is returned (and registered) is exactly the model
that was scored. The serving state is taken at the end of the data, so serving features
of future matches are current.

Classification models are boosted from a prior (the task's ``prior_features``, e.g. the Elo
difference, in a logistic regression): its log-odds are XGBoost's ``base_margin``. The prior
is walk-forward too: fit on the train window for early stopping and tuning, refit on train +
validation for the final model and stored in the bundle. Early stopping may keep zero trees,
so with little data the model is the prior itself and never worse than it on validation.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scoreline import evaluation
from scoreline.errors import ErrorCode, ScorelineError
from scoreline.modeling import LogisticPrior, ModelBundle
from scoreline.monitoring.profile import build_reference_profile
from scoreline.tasks.base import Task

Progress = Callable[[float, str], None]

HOLDOUT_FRACTION = 0.2
VALIDATION_FRACTION = 0.15  # of the rows before the holdout
MIN_ROWS_PER_WINDOW = 20
MAX_BOOST_ROUNDS = 3000
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
    holdout_start: date
    holdout_end: date
    validation_start: date
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
    started = time.perf_counter()
    report = progress or (lambda fraction, message: None)
    report(0.0, "building point-in-time features")
    data = _sorted(task, canonical)
    features = task.build_features(data)
    target = task.target(data).to_numpy()
    dates = pd.to_datetime(data[task.date_column]).to_numpy(dtype="datetime64[D]")
    split = _split(dates, holdout_start)
    feature_names = list(features.columns)
    x = features.to_numpy(dtype=np.float32)
    train_rows, valid_rows, pre_rows, hold_rows = split.train, split.validation, split.pre_holdout, split.holdout

    chosen = {**DEFAULT_PARAMS, **(params or {})}
    # Walk-forward prior: the early-stopping prior knows the train window only, the final one train + validation.
    early_prior = _fit_prior(task, features, target, train_rows)
    early_margin = _margin(early_prior, features)
    trials = 0
    if tuning_budget is not None and tuning_budget.trials > 0:
        report(0.1, f"tuning: up to {tuning_budget.trials} trials / {tuning_budget.seconds:.0f} s")
        chosen, trials = _tune(
            task, x, target, early_margin, train_rows, valid_rows, chosen, tuning_budget, seed, report
        )

    report(0.6, "early stopping on the validation window")
    rounds = _best_rounds(task, x, target, early_margin, train_rows, valid_rows, chosen, seed)
    # Refit on train + validation: scale the rounds with the extra rows, as the trees see more data.
    refit_rounds = round(rounds * pre_rows.sum() / max(train_rows.sum(), 1))
    prior = _fit_prior(task, features, target, pre_rows)
    margin = _margin(prior, features)
    report(0.7, f"fitting on {int(pre_rows.sum())} rows before the holdout ({refit_rounds} rounds)")
    booster = _fit(task, x, target, margin, pre_rows, chosen, refit_rounds, seed)

    report(0.8, "scoring the holdout and the baselines")
    metric_names = [m.name for m in task.metrics]
    bundle = ModelBundle(
        task_id=task.id,
        booster=booster,
        feature_names=feature_names,
        serving_state=task.serving_state(data),
        reference_profile={},
        input_example=input_example(task, data),
        holdout_metrics={},
        params={**chosen, "num_boost_round": refit_rounds},
        prior=prior,
    )
    predictions = bundle.predict_features(features[hold_rows])
    holdout_metrics = evaluation.score(metric_names, target[hold_rows], predictions)
    bundle.holdout_metrics = holdout_metrics
    baseline_metrics = {
        name: evaluation.score(metric_names, target[hold_rows], prediction)
        for name, prediction in _baselines(task, features, target, pre_rows, hold_rows).items()
    }
    predicted_labels = (
        pd.Series(np.asarray(task.classes)[np.argmax(predictions, axis=1)]) if task.kind != "regression" else None
    )
    bundle.reference_profile = build_reference_profile(
        features[pre_rows],
        predicted_labels,
        categorical=tuple(getattr(task, "categorical_features", ())),
        seed=seed,
    )
    window = {
        "holdout_start": str(split.holdout_start),
        "holdout_end": str(dates[hold_rows].max()),
        "validation_start": str(split.validation_start),
        "data_end": str(dates.max()),
    }
    bundle.metadata = {**window, "rows": split.rows}

    report(0.9, "writing artifacts")
    importance = _importance(booster, feature_names)
    out_dir = Path(artifacts_dir) if artifacts_dir else Path(tempfile.mkdtemp(prefix=f"scoreline-{task.id}-"))
    artifacts = _artifacts(task, out_dir, target[hold_rows], predictions, importance, holdout_metrics, baseline_metrics)
    report(1.0, "done")
    return TrainingResult(
        task_id=task.id,
        holdout_start=_as_date(split.holdout_start),
        holdout_end=_as_date(dates[hold_rows].max()),
        validation_start=_as_date(split.validation_start),
        rows=split.rows,
        bundle=bundle,
        params=bundle.params,
        holdout_metrics=holdout_metrics,
        baseline_metrics=baseline_metrics,
        artifacts=artifacts,
        feature_importance=importance,
        seconds=time.perf_counter() - started,
        tuning_trials=trials,
    )


def evaluate_bundle(bundle: ModelBundle, canonical: pd.DataFrame, holdout_start: date) -> dict[str, float]:
    """Score a bundle on the rows dated at or after ``holdout_start``, features point-in-time from the full table."""
    task = bundle.task
    data = _sorted(task, canonical)
    features = task.build_features(data)
    missing = [name for name in bundle.feature_names if name not in features.columns]
    if missing:
        raise ScorelineError(
            ErrorCode.CONFLICT,
            f"the bundle needs features {missing} that task {task.id!r} no longer builds; it cannot be re-scored",
            {"missing": missing},
        )
    dates = pd.to_datetime(data[task.date_column]).to_numpy(dtype="datetime64[D]")
    rows = dates >= np.datetime64(holdout_start, "D")
    if rows.sum() == 0:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"no rows dated on or after {holdout_start}; expected a window inside the data (ends {dates.max()})",
            {"holdout_start": str(holdout_start), "data_end": str(dates.max())},
        )
    target = task.target(data).to_numpy()[rows]
    predictions = bundle.predict_features(features[rows])
    return evaluation.score([m.name for m in task.metrics], target, predictions)


def input_example(task: Task, canonical: pd.DataFrame, rows: int = INPUT_EXAMPLE_ROWS) -> list[dict[str, Any]]:
    """The last rows of the data as serving requests (the request model's fields that the table has)."""
    fields = [name for name in task.request_model.model_fields if name in canonical.columns]
    examples = []
    for record in canonical[fields].tail(rows).to_dict(orient="records"):
        examples.append({key: _plain(value) for key, value in record.items()})
    return examples


# ---- internals ------------------------------------------------------------------------------


@dataclass
class _Split:
    train: np.ndarray
    validation: np.ndarray
    holdout: np.ndarray
    holdout_start: np.datetime64
    validation_start: np.datetime64

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


def _sorted(task: Task, canonical: pd.DataFrame) -> pd.DataFrame:
    if task.date_column not in canonical.columns:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"the table has no {task.date_column!r} column; expected the canonical {task.id} table",
            {"columns": list(canonical.columns)},
        )
    data = canonical.copy()
    data[task.date_column] = pd.to_datetime(data[task.date_column])
    return data.sort_values(task.date_column, kind="stable").reset_index(drop=True)


def _split(dates: np.ndarray, holdout_start: date | None) -> _Split:
    n = len(dates)
    if holdout_start is None:
        start = dates[min(int(n * (1 - HOLDOUT_FRACTION)), n - 1)] if n else np.datetime64("NaT")
    else:
        start = np.datetime64(holdout_start, "D")
    holdout = dates >= start
    before = np.flatnonzero(~holdout)
    if len(before) < 2 * MIN_ROWS_PER_WINDOW or holdout.sum() < MIN_ROWS_PER_WINDOW:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"holdout from {start} leaves {len(before)} rows before it and {int(holdout.sum())} in it; expected at "
            f"least {2 * MIN_ROWS_PER_WINDOW} and {MIN_ROWS_PER_WINDOW}",
            {"holdout_start": str(start), "rows": n},
        )
    validation_start = dates[before[min(int(len(before) * (1 - VALIDATION_FRACTION)), len(before) - 1)]]
    validation = (~holdout) & (dates >= validation_start)
    train = (~holdout) & (dates < validation_start)
    if train.sum() < MIN_ROWS_PER_WINDOW:  # one date holds most rows: split by position instead
        validation_start = dates[before[-1]]
        validation = (~holdout) & (dates >= validation_start)
        train = (~holdout) & ~validation
    return _Split(train, validation, holdout, start, validation_start)


def _objective(task: Task) -> dict[str, Any]:
    if task.kind == "multiclass":
        return {"objective": "multi:softprob", "num_class": len(task.classes), "eval_metric": "mlogloss"}
    if task.kind == "binary":
        return {"objective": "binary:logistic", "eval_metric": "logloss"}
    return {"objective": "reg:squarederror", "eval_metric": "mae"}


def _booster_params(task: Task, params: dict[str, Any], seed: int) -> dict[str, Any]:
    return {**_objective(task), **params, "tree_method": "hist", "seed": seed, "nthread": 2, "verbosity": 0}


def _fit_prior(task: Task, features: pd.DataFrame, target: np.ndarray, rows: np.ndarray) -> LogisticPrior | None:
    columns = list(getattr(task, "prior_features", ()))
    if task.kind == "regression" or not columns:
        return None
    return LogisticPrior.fit(features.loc[rows, columns], target[rows], len(task.classes))


def _margin(prior: LogisticPrior | None, features: pd.DataFrame) -> np.ndarray | None:
    return None if prior is None else prior.margin(features[list(prior.features)].to_numpy(dtype=np.float64))


def _matrix(x: np.ndarray, y: np.ndarray, margin: np.ndarray | None, rows: np.ndarray) -> Any:
    import xgboost as xgb

    return xgb.DMatrix(x[rows], label=y[rows], base_margin=None if margin is None else margin[rows])


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
) -> int:
    return _early_stopped(task, params, _matrix(x, y, margin, train), _matrix(x, y, margin, valid), seed)[0]


def _fit(
    task: Task,
    x: np.ndarray,
    y: np.ndarray,
    margin: np.ndarray | None,
    rows: np.ndarray,
    params: dict[str, Any],
    rounds: int,
    seed: int,
) -> Any:
    import xgboost as xgb

    return xgb.train(_booster_params(task, params, seed), _matrix(x, y, margin, rows), num_boost_round=rounds)


def _tune(
    task: Task,
    x: np.ndarray,
    y: np.ndarray,
    margin: np.ndarray | None,
    train: np.ndarray,
    valid: np.ndarray,
    start: dict[str, Any],
    budget: TuningBudget,
    seed: int,
    report: Progress,
) -> tuple[dict[str, Any], int]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dtrain = _matrix(x, y, margin, train)
    dvalid = _matrix(x, y, margin, valid)

    def objective(trial: optuna.Trial) -> float:
        params: dict[str, Any] = {
            name: (
                trial.suggest_int(name, int(low), int(high))
                if kind == "int"
                else trial.suggest_float(name, low, high, log=kind == "log")
            )
            for name, (kind, low, high) in SEARCH_SPACE.items()
        }
        _, loss = _early_stopped(task, params, dtrain, dvalid, seed)
        report(0.1 + 0.5 * min(1.0, (trial.number + 1) / budget.trials), f"tuning trial {trial.number + 1}")
        return loss

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    # The first trial is the starting point, moved inside the search space where it lies outside.
    study.enqueue_trial(
        {name: min(max(start[name], low), high) for name, (_, low, high) in SEARCH_SPACE.items() if name in start}
    )
    study.optimize(objective, n_trials=budget.trials, timeout=budget.seconds)
    return {**start, **study.best_params}, len(study.trials)


def _baselines(
    task: Task, features: pd.DataFrame, target: np.ndarray, fit_rows: np.ndarray, score_rows: np.ndarray
) -> dict[str, np.ndarray]:
    """Predictions on the score rows of every baseline, each fit on the fit rows only."""
    n = int(score_rows.sum())
    if task.kind == "regression":
        return {"mean": np.full(n, float(np.mean(target[fit_rows])))}
    k = len(task.classes)
    rates = np.bincount(target[fit_rows], minlength=k) / fit_rows.sum()
    output: dict[str, np.ndarray] = {"base_rates": np.tile(rates, (n, 1))}
    # The same logistic regression the model is boosted from: with zero trees, model == this baseline.
    for name, columns in getattr(task, "baseline_features", {}).items():
        prior = LogisticPrior.fit(features.loc[fit_rows, list(columns)], target[fit_rows], k)
        output[name] = prior.probabilities(features.loc[score_rows, list(columns)].to_numpy(dtype=np.float64))
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
    if task.kind != "regression":
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


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp | datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value
