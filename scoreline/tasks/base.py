"""The interface every prediction task implements (DESIGN.md §2).

A task declares its raw formats and how they become one canonical table, its point-in-time
feature builder, its objective and metrics, its split strategy, its baselines, its serving
schemas, the entities a request may name, how a prediction reads in words, and the serving
state that travels inside the model artifact. Trainer, registry, evaluation, serving,
monitoring, the launcher, the DAG factory and the dashboard are generic over this interface:
nothing outside ``scoreline/tasks/<task>/`` names a task.

Prediction kinds:

* ``multiclass`` / ``binary``: probabilities over ``classes`` (binary: negative class first);
* ``regression``: one value per request;
* ``forecast``: one request → ``horizon`` values (days 1..horizon) with a p10-p90 interval.
  ``training_table`` holds one row per (series, forecast origin, horizon day) with a feature
  ``horizon``; ``serving_features`` answers ``horizon`` rows per request, request-major.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel

PredictionKind = Literal["multiclass", "binary", "regression", "forecast"]
SplitKind = Literal["walk_forward", "group", "stratified"]


@dataclass(frozen=True)
class MetricSpec:
    # log_loss, rps, brier, accuracy, ece, roc_auc, f1, precision, recall, mae, mape, smape, rmse
    name: str
    greater_is_better: bool


@dataclass(frozen=True)
class SplitStrategy:
    """How training rows are split into train / validation / evaluation folds / final holdout.

    * ``walk_forward``: by the training table's dates. The last ``holdout_fraction`` of dates is
      the holdout; before it, ``folds`` expanding-window folds (train on everything before a fold,
      score the fold). Nothing dated at or after a window is used to predict it.
    * ``group``: by the ordered groups of the table (e.g. draft seasons): whole groups go to
      one side, later groups to the holdout, folds as for walk-forward over the groups.
    * ``stratified``: data without a time order. The holdout is a stable hash of each row's key
      (``TrainingTable.keys``) below ``holdout_fraction``, so the same row stays in the holdout
      across dataset versions and champion and challenger are compared on the same rows; the
      folds are seeded stratified k-fold over the rest.
    """

    kind: SplitKind = "walk_forward"
    folds: int = 3
    holdout_fraction: float = 0.2


@dataclass(frozen=True)
class EntityField:
    """A request field that must name an entity the served model knows (a team, a player, a series)."""

    field: str
    noun: str  # "team", "player", "series": used in messages ("unknown team 'Brasil'; did you mean 'Brazil'?")
    state_key: str  # key of the serving state whose keys (mapping) or items (list) are the known names


@dataclass
class TrainingTable:
    """The examples a model learns from: one row per example, aligned arrays."""

    features: pd.DataFrame  # float-able columns, RangeIndex
    target: np.ndarray  # class index (classification) or value (regression, forecast)
    dates: np.ndarray | None = None  # datetime64[D] the row's outcome is known (walk_forward)
    groups: np.ndarray | None = None  # ordered group per row (group split)
    keys: np.ndarray | None = None  # stable text key per row (stratified split's holdout hash)
    horizon: np.ndarray | None = None  # forecast: horizon day 1..H per row
    requests: pd.DataFrame | None = None  # the rows as serving requests (input example), optional

    def __len__(self) -> int:
        return len(self.target)


def stable_fraction(keys: Sequence[str] | np.ndarray) -> np.ndarray:
    """A number in [0, 1) per key that never changes between runs, machines or dataset versions."""
    return np.array(
        [int.from_bytes(hashlib.blake2b(str(k).encode(), digest_size=8).digest(), "big") / 2**64 for k in keys]
    )


class Task(ABC):
    """One prediction task. Subclasses are stateless singletons registered in ``scoreline.tasks``."""

    id: ClassVar[str]  # e.g. "match-outcome"
    title: ClassVar[str] = ""  # a human title, e.g. "Football match outcome"
    kind: ClassVar[PredictionKind]
    classes: ClassVar[tuple[str, ...]] = ()  # label order of predicted probabilities
    metrics: ClassVar[tuple[MetricSpec, ...]]
    primary_metric: ClassVar[str]
    date_column: ClassVar[str] = "date"  # the default training table's dates come from this column
    split: ClassVar[SplitStrategy] = SplitStrategy()
    horizon: ClassVar[int] = 0  # forecast: days ahead per request
    interval_quantiles: ClassVar[tuple[float, float]] = (0.1, 0.9)  # forecast interval from residuals
    log_target: ClassVar[bool] = False  # regression / forecast: learn log1p(target) (counts spanning magnitudes)
    # Regression / forecast: learn target / this feature column (e.g. a series' recent level) and scale back, so
    # one model serves series of very different sizes. Rows where the feature is not a positive number use 1.
    target_scale_feature: ClassVar[str | None] = None
    # XGBoost settings this task starts from, over the trainer's defaults (a caller's params still win).
    booster_params: ClassVar[dict[str, Any]] = {}
    # Training rows weigh half as much per this many days before each fit's latest row (prior and trees alike;
    # validation and scores stay unweighted). None: every row alike.
    recency_half_life_days: ClassVar[float | None] = None

    # Serving: the request model, the entities it names, the fields that must differ (a team cannot play itself).
    request_model: ClassVar[type[BaseModel]]  # one instance of POST /v1/{task}/predict
    entity_fields: ClassVar[tuple[EntityField, ...]] = ()
    distinct_fields: ClassVar[tuple[tuple[str, str], ...]] = ()
    # Live accuracy: request fields that, with the outcome table, join a logged prediction to what happened.
    outcome_keys: ClassVar[tuple[str, ...]] = ()

    # Serving: answer each instance with the features that pushed its prediction most (SHAP values), this many.
    explain_top: ClassVar[int] = 0
    # Model: feature columns that are codes rather than quantities (drift profiles treat them as categories).
    categorical_features: ClassVar[tuple[str, ...]] = ()
    # Baselines beyond the kind's own: a logistic regression on these feature columns each (classification).
    baseline_features: ClassVar[dict[str, tuple[str, ...]]] = {}
    # Classification boosters start from a logistic regression on these features (their base margin).
    prior_features: ClassVar[tuple[str, ...]] = ()
    # Multiclass: one prior feature per class with that class's log-probability from a forecast inside the
    # features; the prior starts from it and learns penalised corrections (strength chosen walk-forward).
    prior_anchor: ClassVar[tuple[str, ...]] = ()

    # make run / Airflow: the dataset a task trains on when nobody named one, and how much to simulate.
    default_dataset: ClassVar[str] = "simulated"
    simulation_rows: ClassVar[int] = 5_000

    # ---- data side -------------------------------------------------------------------
    @abstractmethod
    def to_canonical(self, raw: bytes, filename: str) -> pd.DataFrame:
        """Detect the raw format, adapt it and validate it into the canonical table.

        Raises ``ScorelineError(INVALID_INPUT)`` whose details list the problems
        (row, column, value, expected), the first 50 plus the total count.
        """

    @abstractmethod
    def simulate(self, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Seeded realistic raw data and, row for row, its true probabilities / expectations."""

    def simulated_file(self, n: int, seed: int) -> tuple[bytes, str]:
        """A raw file of simulated data as a user would upload it: (content, filename)."""
        raw, _ = self.simulate(n, seed)
        return raw.to_csv(index=False).encode(), f"{self.id}-simulated.csv"

    def bundled_dataset(self) -> tuple[str, bytes, str] | None:
        """Real data that ships with the project for this task: ``(dataset name, raw content, filename)``.

        The content is a raw file ``to_canonical`` reads, as a user would upload it. ``make run`` trains
        on it instead of the simulator (``scoreline-launcher up --simulated`` forces the simulator).
        None (the default) when the task ships no real data, or when the data is not where the task
        expects it (e.g. an installation without the repository's ``data/`` folder)."""
        return None

    # ---- training side ---------------------------------------------------------------
    def build_features(self, canonical: pd.DataFrame) -> pd.DataFrame:
        """Point-in-time features, one row per canonical row, same index (tasks that use the default
        ``training_table``). No feature of a row may use anything dated at or after that row."""
        raise NotImplementedError(f"task {self.id!r} builds its training table itself")

    def target(self, canonical: pd.DataFrame) -> pd.Series:
        """Encoded target per canonical row (class index for classification)."""
        raise NotImplementedError(f"task {self.id!r} builds its training table itself")

    def training_table(self, canonical: pd.DataFrame) -> TrainingTable:
        """The examples of a canonical table, sorted by date when the split is walk-forward.

        Default: ``build_features`` and ``target`` row for row, dates from ``date_column``.
        """
        data = canonical
        dates = None
        if self.date_column in canonical.columns:
            data = canonical.assign(**{self.date_column: pd.to_datetime(canonical[self.date_column])})
            data = data.sort_values(self.date_column, kind="stable").reset_index(drop=True)
            dates = data[self.date_column].to_numpy(dtype="datetime64[D]")
        features = self.build_features(data).reset_index(drop=True)
        fields = [name for name in self.request_model.model_fields if name in data.columns]
        return TrainingTable(
            features=features,
            target=self.target(data).to_numpy(),
            dates=dates,
            requests=data[fields],
        )

    def baselines(self, table: TrainingTable, fit_rows: np.ndarray, score_rows: np.ndarray) -> dict[str, np.ndarray]:
        """Task-specific baseline predictions on ``score_rows``, fit on ``fit_rows`` only (same shape as the
        model's). The trainer adds the kind's own (base rates, ``baseline_features`` regressions, the mean)."""
        return {}

    @property
    def primary(self) -> MetricSpec:
        return next(m for m in self.metrics if m.name == self.primary_metric)

    # ---- serving side ----------------------------------------------------------------
    @abstractmethod
    def serving_state(self, canonical: pd.DataFrame) -> dict[str, Any]:
        """JSON-able state at the end of the data (ratings, form, ...) stored in the model."""

    @abstractmethod
    def serving_features(self, state: dict[str, Any], requests: pd.DataFrame) -> pd.DataFrame:
        """Features for serving requests from the stored state; same code path as training.

        One row per request; ``forecast``: ``horizon`` rows per request, request-major."""

    # Optional fast path for a few instances (model-api's single predictions): a task that implements both
    # ``compile_serving`` and ``serving_rows`` has its few-row features computed from plain dicts and arrays;
    # every other task is served through ``serving_features`` (a DataFrame per request).
    def compile_serving(self, state: dict[str, Any], feature_names: Sequence[str]) -> Any | None:
        """The serving state in a form that answers a few instances quickly (e.g. arrays indexed by entity),
        built once per served version; None (the default): no fast path."""
        return None

    def serving_rows(self, compiled: Any, instances: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Features of validated request instances (JSON-mode dicts with defaults, as ``request_model`` dumps
        them) as a float matrix whose columns are ``compile_serving``'s ``feature_names`` in order: exactly the
        rows ``serving_features`` gives for the same requests (``forecast``: ``horizon`` rows per instance), and
        the same errors."""
        raise NotImplementedError(f"task {self.id!r} has no few-row serving path")

    def state_summary(self, state: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """What the served state says about each entity (e.g. a team's rating and form), for people to read."""
        return {}

    def entities(self, state: Mapping[str, Any]) -> dict[str, list[str]]:
        """Known names per entity field (``GET /v1/{task}/schema``, the dashboard's pickers)."""
        found: dict[str, list[str]] = {}
        for entity in self.entity_fields:
            known = state.get(entity.state_key, ())
            found[entity.field] = sorted(str(k) for k in (known.keys() if isinstance(known, Mapping) else known))
        return found

    def example_request(self, state: Mapping[str, Any], input_example: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """One request that the served model answers as it is (OpenAPI example, printed curl, dashboard)."""
        return dict(input_example[-1]) if input_example else {}

    def describe(
        self,
        instance: Mapping[str, Any],
        prediction: Any,
        probabilities: Mapping[str, float] | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> str:
        """A prediction in words, e.g. "Brazil win" or "blue side wins".

        ``prediction``: the class label (classification), the value (regression) or the values (forecast);
        ``probabilities``: per class (classification); ``state``: the served version's serving state."""
        if isinstance(prediction, float):
            return f"{prediction:,.3g}"
        if isinstance(prediction, list):
            return ", ".join(f"{v:,.0f}" for v in prediction)
        return str(prediction)

    def describe_batch(
        self,
        requests: pd.DataFrame,
        predictions: Sequence[Any],
        probabilities: np.ndarray | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> Any:
        """``describe`` for every row of a batch: a list of text or an Arrow string array (tasks with big
        batches may vectorize it). ``probabilities``: ``(n, classes)`` for classification."""
        records = requests.to_dict(orient="records")
        if probabilities is None:
            return [self.describe(r, p, None, state) for r, p in zip(records, predictions, strict=True)]
        return [
            self.describe(record, prediction, dict(zip(self.classes, row, strict=True)), state)
            for record, prediction, row in zip(records, predictions, probabilities.tolist(), strict=True)
        ]

    def prediction_requests(self, canonical: pd.DataFrame) -> pd.DataFrame:
        """What a scheduled prediction run predicts from the newest data, as request rows (the request
        model's fields), e.g. every series from its last known day, or every rookie whose career is not
        known yet. Empty (the default): the task has no scheduled predictions."""
        return pd.DataFrame()

    def outcomes(self, canonical: pd.DataFrame) -> pd.DataFrame:
        """What really happened, keyed for live accuracy: the ``outcome_keys`` columns (text, dates as
        YYYY-MM-DD) plus ``outcome`` (a class label, or a value; forecast: the value on ``target_date``
        with a column ``target_date``). Empty when the task has no outcome join."""
        return pd.DataFrame(columns=[*self.outcome_keys, "outcome"])

    def replay_requests(self, canonical: pd.DataFrame) -> pd.DataFrame:
        """Canonical rows as the serving requests that would have been made before they happened (``scoreline
        replay``): one row per canonical row, the request model's fields. Default: those fields the canonical
        table has under the same names (the rest take the request model's defaults)."""
        fields = [name for name in self.request_model.model_fields if name in canonical.columns]
        return canonical[fields].reset_index(drop=True)

    def raw_file(self, canonical: pd.DataFrame) -> tuple[bytes, str]:
        """Canonical rows as a raw file ``to_canonical`` reads back into the same rows: ``(content, filename)``
        (``scoreline replay`` appends each day's results through ingest). Default: the canonical table as CSV."""
        return canonical.to_csv(index=False).encode(), f"{self.id}.csv"
