"""MLflow tracking and registry: log a training run, register its model, move aliases, load bundles.

Contracts (DESIGN.md §4): experiment ``scoreline/<task>``, registered model ``scoreline-<task>``,
aliases ``champion`` (served) and ``challenger`` (latest candidate), metric keys ``holdout_<metric>``
and ``baseline_<baseline>_<metric>``. The logged model is one pyfunc that takes serving request
columns and returns one probability column per task class; it carries the whole
``ModelBundle`` (booster, serving state, reference profile) as its ``bundle`` artifact.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pandas as pd

from scoreline.core.errors import ErrorCode, ScorelineError

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

    from scoreline.ml.modeling import ModelBundle
    from scoreline.ml.training import TrainingResult

log = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
MODEL_ARTIFACT_NAME = "model"
BUNDLE_ARTIFACT = "bundle"

# Version tags written at registration (read by promotion, model-api and the dashboard).
TAG_TASK = "task"
TAG_DATASET = "dataset"
TAG_DATASET_VERSION = "dataset_version"
TAG_HOLDOUT_START = "holdout_start"
TAG_HOLDOUT_END = "holdout_end"
TAG_HOLDOUT = "holdout"  # JSON: how to find the holdout rows again (scoreline.ml.training.holdout_rows)
TAG_PRIMARY_METRIC = "primary_metric"
TAG_PRIMARY_VALUE = "primary_metric_value"
TAG_BASELINES = "baseline_scores"  # JSON {baseline: {metric: value}}
TAG_CODE_VERSION = "code_version"
TAG_RUN_ID = "run_id"


def model_name(task_id: str) -> str:
    return f"scoreline-{task_id}"


def experiment_name(task_id: str) -> str:
    return f"scoreline/{task_id}"


def model_uri_for(task_id: str, *, alias: str | None = None, version: str | int | None = None) -> str:
    if (alias is None) == (version is None):
        raise ValueError("give exactly one of alias or version")
    return f"models:/{model_name(task_id)}@{alias}" if alias else f"models:/{model_name(task_id)}/{version}"


def metric_keys(holdout_metrics: Mapping[str, float], baseline_metrics: Mapping[str, Mapping[str, float]]) -> dict:
    """The MLflow metric keys of DESIGN.md §4 for a model's and its baselines' holdout scores."""
    keys = {f"holdout_{name}": float(value) for name, value in holdout_metrics.items()}
    for baseline, scores in baseline_metrics.items():
        keys.update({f"baseline_{baseline}_{name}": float(value) for name, value in scores.items()})
    return keys


def fold_metric_keys(result: TrainingResult) -> dict[str, float]:
    """Each evaluation fold's scores (``fold<i>_<metric>``), each fold's baselines'
    (``fold<i>_baseline_<baseline>_<metric>``) and the model's mean and sd (``folds_<metric>_mean|sd``)."""
    keys = {
        f"fold{i}_{name}": float(value)
        for i, fold in enumerate(result.fold_metrics)
        for name, value in fold.items()
        if "_d" not in name
    }
    keys.update(
        {
            f"fold{i}_baseline_{baseline}_{name}": float(value)
            for i, fold in enumerate(result.fold_baseline_metrics)
            for baseline, scores in fold.items()
            for name, value in scores.items()
            if "_d" not in name
        }
    )
    keys.update({f"folds_{name}": float(value) for name, value in result.fold_summary.items()})
    return keys


def current_code_version() -> str:
    """The git commit of the working tree (``-dirty`` when it has local changes), else the package version."""
    repo = Path(__file__).resolve().parents[1]
    try:
        sha = subprocess.run(
            ["git", "-C", str(repo), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "--untracked-files=no", "--", "scoreline"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        return f"git:{sha}{'-dirty' if dirty else ''}"
    except (OSError, subprocess.SubprocessError):
        return f"scoreline=={_package_version('scoreline')}"


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "0+unknown"


@dataclass(frozen=True)
class RegisteredVersion:
    task: str
    name: str
    version: str
    run_id: str
    model_id: str | None
    experiment_id: str
    model_uri: str  # models:/scoreline-<task>/<version>
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "name": self.name,
            "version": self.version,
            "run_id": self.run_id,
            "model_id": self.model_id,
            "experiment_id": self.experiment_id,
            "model_uri": self.model_uri,
            "tags": dict(self.tags),
        }


# ---- the pyfunc ---------------------------------------------------------------------------------
try:
    from mlflow.pyfunc import PythonModel as _PythonModel
except ImportError:  # the registry needs the ml extra; keep the module importable for its constants
    _PythonModel = object  # type: ignore[assignment,misc]


class ScorelinePyfunc(_PythonModel):  # type: ignore[misc,valid-type]
    """Serving request rows in; out one probability column per task class (e.g. home/draw/away), a ``value``
    column (regression) or ``d1..dH`` (forecast)."""

    def load_context(self, context: Any) -> None:
        from scoreline.ml.modeling import ModelBundle

        self.bundle = ModelBundle.load(Path(context.artifacts[BUNDLE_ARTIFACT]))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        requests = model_input.to_dict(orient="records") if isinstance(model_input, pd.DataFrame) else model_input
        return self.bundle.predict_table(requests)


def pip_requirements() -> list[str]:
    """What the pyfunc needs to load; passed explicitly so MLflow does not spend ~13 s inferring it."""
    pinned = ["mlflow-skinny", "xgboost-cpu", "pandas", "numpy", "pyarrow", "pydantic", "scikit-learn"]
    return [f"scoreline=={_package_version('scoreline')}"] + [f"{name}=={_package_version(name)}" for name in pinned]


# ---- client helpers -----------------------------------------------------------------------------
def _client(tracking_uri: str) -> MlflowClient:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@contextmanager
def _mlflow_errors(action: str) -> Iterator[None]:
    """Turn MLflow and connection failures into ScorelineErrors that say what was being done."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except ScorelineError:
        raise
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            raise ScorelineError(ErrorCode.NOT_FOUND, f"{action}: {exc.message}") from exc
        if "Max retries exceeded" in exc.message or "Connection" in exc.message:
            raise ScorelineError(ErrorCode.UNAVAILABLE, f"{action}: MLflow is not reachable", retry_after_s=30) from exc
        raise ScorelineError(ErrorCode.UPSTREAM_FAILED, f"{action}: {exc.message}") from exc
    except OSError as exc:
        raise ScorelineError(ErrorCode.UNAVAILABLE, f"{action}: MLflow is not reachable ({exc})") from exc


class Registry:
    """Task-level view of the MLflow model registry (aliases only, no stages)."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        self.client = _client(tracking_uri)

    def version_by_alias(self, task_id: str, alias: str) -> ModelVersion | None:
        from mlflow.exceptions import MlflowException

        with _mlflow_errors(f"looking up {model_name(task_id)}@{alias}"):
            try:
                return self.client.get_model_version_by_alias(model_name(task_id), alias)
            except MlflowException as exc:
                if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
                    return None
                raise

    def version(self, task_id: str, version: str | int) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        with _mlflow_errors(f"looking up {model_name(task_id)} version {version}"):
            try:
                return self.client.get_model_version(model_name(task_id), str(version))
            except MlflowException as exc:
                if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                    raise ScorelineError(
                        ErrorCode.NOT_FOUND,
                        f"{model_name(task_id)} has no version {version}",
                        {"task": task_id, "version": str(version)},
                    ) from exc
                raise

    def versions(self, task_id: str) -> list[ModelVersion]:
        """All versions of the task's registered model, newest first (empty when none is registered)."""
        with _mlflow_errors(f"listing versions of {model_name(task_id)}"):
            found = self.client.search_model_versions(f"name = '{model_name(task_id)}'", max_results=1000)
        return sorted(found, key=lambda mv: int(mv.version), reverse=True)

    def set_alias(self, task_id: str, alias: str, version: str | int) -> None:
        with _mlflow_errors(f"pointing {model_name(task_id)}@{alias} at version {version}"):
            self.client.set_registered_model_alias(model_name(task_id), alias, str(version))

    def set_version_tags(self, task_id: str, version: str | int, tags: Mapping[str, Any]) -> None:
        with _mlflow_errors(f"tagging {model_name(task_id)} version {version}"):
            for key, value in tags.items():
                text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
                self.client.set_model_version_tag(model_name(task_id), str(version), key, text)

    def aliases(self, task_id: str) -> dict[str, str]:
        """alias → version for the task's registered model (empty when none is registered)."""
        from mlflow.exceptions import MlflowException

        with _mlflow_errors(f"reading aliases of {model_name(task_id)}"):
            try:
                model = self.client.get_registered_model(model_name(task_id))
            except MlflowException as exc:
                if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                    return {}
                raise
        return {alias: str(version) for alias, version in model.aliases.items()}

    def run_metrics(self, run_id: str) -> dict[str, float]:
        with _mlflow_errors(f"reading metrics of run {run_id}"):
            return dict(self.client.get_run(run_id).data.metrics)

    def run_artifact(self, run_id: str, path: str) -> bytes:
        """One artifact file of a run (e.g. ``evaluation/calibration.csv``), as bytes; NOT_FOUND when the run
        did not log it."""
        with _mlflow_errors(f"reading {path} of run {run_id}"):
            folder, _, name = path.rpartition("/")
            if name not in {Path(f.path).name for f in self.client.list_artifacts(run_id, folder or None)}:
                raise ScorelineError(
                    ErrorCode.NOT_FOUND, f"run {run_id} has no artifact {path!r}", {"run_id": run_id, "path": path}
                )
            with tempfile.TemporaryDirectory(prefix="scoreline-artifact-") as tmp:
                return Path(self.client.download_artifacts(run_id, path, tmp)).read_bytes()


# ---- logging a training run ---------------------------------------------------------------------
def _ensure_experiment(client: MlflowClient, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        if experiment.lifecycle_stage == "deleted":
            client.restore_experiment(experiment.experiment_id)
        return experiment.experiment_id
    from mlflow.exceptions import MlflowException

    try:
        return client.create_experiment(name)
    except MlflowException:  # created concurrently by another trainer
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def _param_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    return text[:6000]


def _run_params(result: TrainingResult) -> dict[str, Any]:
    """Model parameters plus how the data was split and how long training took."""
    params: dict[str, Any] = dict(result.params)
    params.update({f"rows_{window}": count for window, count in getattr(result, "rows", {}).items()})
    if getattr(result, "validation_start", None) is not None:
        params["validation_start"] = _iso(result.validation_start)
    params["tuning_trials"] = getattr(result, "tuning_trials", 0)
    params["train_seconds"] = round(float(getattr(result, "seconds", 0.0)), 3)
    return params


def _iso(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def log_training(
    result: TrainingResult,
    dataset: str,
    dataset_version: str,
    code_version: str,
    tracking_uri: str,
    *,
    extra_tags: Mapping[str, str] | None = None,
) -> RegisteredVersion:
    """Log ``result`` as a run in ``scoreline/<task>``, register its pyfunc and point ``challenger`` at it.

    Registration comes last: when anything before it fails, the run is marked failed and no
    version exists. When the alias cannot be set, the fresh version is deleted again.
    """
    import mlflow
    from mlflow.models import infer_signature

    from scoreline.ml.training import write_artifacts
    from scoreline.tasks import get_task

    bundle = result.bundle
    task = get_task(bundle.task_id)
    client = _client(tracking_uri)
    name = model_name(task.id)
    primary = task.primary_metric
    holdout_start, holdout_end = result.holdout_start, result.holdout_end
    baselines = {b: dict(scores) for b, scores in result.baseline_metrics.items()}
    tags: dict[str, str] = {
        TAG_TASK: task.id,
        TAG_DATASET: dataset,
        TAG_DATASET_VERSION: dataset_version,
        TAG_HOLDOUT_START: _iso(holdout_start),
        TAG_HOLDOUT_END: _iso(holdout_end),
        TAG_HOLDOUT: json.dumps(result.holdout or {"strategy": "walk_forward", "start": _iso(holdout_start)}),
        TAG_PRIMARY_METRIC: primary,
        TAG_PRIMARY_VALUE: repr(float(result.holdout_metrics[primary])),
        TAG_BASELINES: json.dumps(baselines, sort_keys=True),
        TAG_CODE_VERSION: code_version,
        **(extra_tags or {}),
    }

    # The fluent API (runs, log_model, register_model) reads the process-wide URIs.
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    with _mlflow_errors(f"logging a training run of {task.id} to {tracking_uri}"):
        experiment_id = _ensure_experiment(client, experiment_name(task.id))
        example = pd.DataFrame(list(bundle.input_example))
        signature = infer_signature(example, bundle.predict_table(list(bundle.input_example)))
        with (
            mlflow.start_run(experiment_id=experiment_id, run_name=f"{task.id}-{dataset_version}") as run,
            tempfile.TemporaryDirectory(prefix="scoreline-bundle-") as tmp,
        ):
            mlflow.log_params({key: _param_text(value) for key, value in _run_params(result).items()})
            mlflow.log_metrics(metric_keys(result.holdout_metrics, baselines))
            mlflow.log_metrics(fold_metric_keys(result))
            mlflow.set_tags(tags)
            artifacts = result.artifacts or write_artifacts(task, result, Path(tmp) / "evaluation")
            for path in artifacts.values():
                mlflow.log_artifact(str(path), artifact_path="evaluation")
            bundle_dir = Path(tmp) / BUNDLE_ARTIFACT
            bundle.save(bundle_dir)
            info = mlflow.pyfunc.log_model(
                name=MODEL_ARTIFACT_NAME,
                python_model=ScorelinePyfunc(),
                artifacts={BUNDLE_ARTIFACT: str(bundle_dir)},
                signature=signature,
                input_example=example,
                pip_requirements=pip_requirements(),
            )
            version = mlflow.register_model(info.model_uri, name, tags={**tags, TAG_RUN_ID: run.info.run_id})
            try:
                client.set_registered_model_alias(name, CHALLENGER, version.version)
            except Exception:
                client.delete_model_version(name, version.version)
                raise
    log.info("registered %s version %s (run %s)", name, version.version, run.info.run_id)
    return RegisteredVersion(
        task=task.id,
        name=name,
        version=str(version.version),
        run_id=run.info.run_id,
        model_id=getattr(info, "model_id", None),
        experiment_id=experiment_id,
        model_uri=model_uri_for(task.id, version=version.version),
        tags={**tags, TAG_RUN_ID: run.info.run_id},
    )


# ---- loading ------------------------------------------------------------------------------------
def _bundle_dir_in_model(model_dir: Path) -> Path:
    """The bundle folder inside a downloaded pyfunc model folder (path as recorded in its MLmodel)."""
    from mlflow.models import Model

    mlmodel = Model.load(str(model_dir / "MLmodel"))
    artifacts = mlmodel.flavors.get("python_function", {}).get("artifacts", {})
    entry = artifacts.get(BUNDLE_ARTIFACT)
    if not entry:
        raise ScorelineError(
            ErrorCode.INVALID_INPUT,
            f"{model_dir} is an MLflow model without a '{BUNDLE_ARTIFACT}' artifact; expected a Scoreline pyfunc",
        )
    return model_dir / entry["path"]


def download_model(model_uri: str, destination: Path, *, tracking_uri: str | None = None) -> Path:
    """Download the pyfunc model folder of ``model_uri`` (``models:/...``, ``runs:/...``) into ``destination``.

    The folder is complete before it appears under its final name, so a cache never holds half a model.
    """
    import mlflow
    import mlflow.artifacts

    destination = Path(destination)
    if (destination / "MLmodel").exists():
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=destination.parent))
    if tracking_uri:
        # models:/ URIs are resolved through the process-wide registry URI, whatever download_artifacts is
        # given; left unset, MLflow 3 falls back to ./mlflow.db and finds no such model.
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
    try:
        with _mlflow_errors(f"downloading {model_uri}"):
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=model_uri, dst_path=str(staging), tracking_uri=tracking_uri, registry_uri=tracking_uri
                )
            )
        if not (local / "MLmodel").exists():
            raise ScorelineError(ErrorCode.INVALID_INPUT, f"{model_uri} is not an MLflow model (no MLmodel file)")
        local.rename(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return destination


def _pin_alias(model_uri: str, tracking_uri: str | None) -> str:
    """``models:/name@alias`` → ``models:/name/<version>``, so a cache never serves a moved alias."""
    if not model_uri.startswith("models:/") or "@" not in model_uri:
        return model_uri
    name, _, alias = model_uri.removeprefix("models:/").partition("@")
    with _mlflow_errors(f"resolving {model_uri}"):
        version = _client(tracking_uri or _default_tracking_uri()).get_model_version_by_alias(name, alias).version
    return f"models:/{name}/{version}"


def _default_tracking_uri() -> str:
    import mlflow

    return mlflow.get_tracking_uri()


def load_bundle(
    model_uri: str | Path, *, tracking_uri: str | None = None, cache_dir: Path | None = None
) -> ModelBundle:
    """The ModelBundle behind ``model_uri``.

    ``model_uri`` may be a registry URI (``models:/scoreline-<task>@champion``, ``models:/.../3``), a
    ``runs:/`` URI, a local pyfunc model folder (with ``MLmodel``), or a local bundle folder. With
    ``cache_dir``, remote models are downloaded there once (keyed by the URI) and loaded from disk after.
    """
    from scoreline.ml.modeling import ModelBundle

    text = str(model_uri)
    local = Path(text.removeprefix("file://"))
    if isinstance(model_uri, Path) or text.startswith("file://") or urlparse(text).scheme == "":
        if (local / "MLmodel").exists():
            return ModelBundle.load(_bundle_dir_in_model(local))
        if local.is_dir():
            return ModelBundle.load(local)
        raise ScorelineError(ErrorCode.NOT_FOUND, f"no model at {local}; expected a pyfunc or bundle folder")
    if cache_dir is not None:
        model_uri = _pin_alias(str(model_uri), tracking_uri)
        key = str(model_uri).replace("://", "/").replace(":", "_")
        model_dir = download_model(str(model_uri), Path(cache_dir) / key, tracking_uri=tracking_uri)
        return ModelBundle.load(_bundle_dir_in_model(model_dir))
    with tempfile.TemporaryDirectory(prefix="scoreline-model-") as tmp:
        model_dir = download_model(str(model_uri), Path(tmp) / "model", tracking_uri=tracking_uri)
        return ModelBundle.load(_bundle_dir_in_model(model_dir))
