"""Streamlit plumbing shared by the pages: settings, briefly cached service reads, errors shown on the page."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from scoreline.core.errors import ScorelineError
from scoreline.tasks import task_ids
from scoreline_dashboard import predlog
from scoreline_dashboard.client import ServiceCallError
from scoreline_dashboard.services import Ingest, Mlflow, ModelApi, Trainer
from scoreline_dashboard.settings import DashboardSettings

T = TypeVar("T")


def settings() -> DashboardSettings:
    # Read per session run rather than at import time, so a changed environment is picked up.
    return DashboardSettings()


def attempt(func: Callable[[], T], *, spinner: str | None = None) -> T | None:
    """Run a service call; on failure show what went wrong on the page and return None."""
    try:
        if spinner:
            with st.spinner(spinner):
                return func()
        return func()
    except (ScorelineError, ServiceCallError) as exc:  # a domain error here, or any failed service call
        st.error(exc.message, icon=":material/error:")
        return None


# Each cached reader takes the settings as JSON (hashable, part of the key) and rebuilds them.
# The TTL comes from the settings too, so each TTL value gets its own cached wrapper.
_cached: dict[tuple[str, int], Callable[..., Any]] = {}


def cached(func: Callable[..., T], ttl_s: int) -> Callable[..., T]:
    key = (func.__qualname__, ttl_s)
    if key not in _cached:
        _cached[key] = st.cache_data(ttl=ttl_s, show_spinner=False, max_entries=64)(func)
    return _cached[key]


def _models(config: str) -> dict[str, Any]:
    return ModelApi(DashboardSettings.model_validate_json(config)).models()


def _schema(config: str, task: str) -> dict[str, Any]:
    return ModelApi(DashboardSettings.model_validate_json(config)).schema(task)


def _datasets(config: str) -> Any:
    return Ingest(DashboardSettings.model_validate_json(config)).datasets()


def _versions(config: str, task: str, dataset: str) -> Any:
    return Ingest(DashboardSettings.model_validate_json(config)).versions(task, dataset)


def _manifest(config: str, task: str, dataset: str, version: str) -> Any:
    return Ingest(DashboardSettings.model_validate_json(config)).manifest(task, dataset, version)


def _data(config: str, task: str, dataset: str, version: str) -> Any:
    return Ingest(DashboardSettings.model_validate_json(config)).data(task, dataset, version)


def _promotions(config: str, task: str, admin_key: str) -> Any:
    return Trainer(DashboardSettings.model_validate_json(config)).promotions(task, admin_key)


def _jobs(config: str) -> Any:
    return Trainer(DashboardSettings.model_validate_json(config)).jobs()


def _registry(config: str, task: str) -> dict[str, Any]:
    """Registered model, its versions and their runs, read together so the page shows one consistent view."""
    mlflow = Mlflow(DashboardSettings.model_validate_json(config))
    name = f"scoreline-{task}"
    try:
        model = mlflow.registered_model(name)
    except ServiceCallError as exc:
        if exc.status != 404:
            raise
        return {"model": None, "versions": [], "runs": {}, "aliases": {}}  # nothing registered yet
    versions = mlflow.model_versions(name)
    runs = {v["run_id"]: mlflow.run(v["run_id"]) for v in versions if v.get("run_id")}
    aliases = {a["alias"]: str(a["version"]) for a in model.get("aliases", [])}
    return {"model": model, "versions": versions, "runs": runs, "aliases": aliases}


def _predictions(config: str, task: str) -> Any:
    return predlog.read_predictions(DashboardSettings.model_validate_json(config), task)


def _drift(config: str, task: str) -> Any:
    return ModelApi(DashboardSettings.model_validate_json(config)).drift(task)


def _accuracy(config: str, task: str) -> Any:
    return ModelApi(DashboardSettings.model_validate_json(config)).accuracy(task)


READERS: dict[str, Callable[..., Any]] = {
    "models": _models,
    "schema": _schema,
    "datasets": _datasets,
    "versions": _versions,
    "manifest": _manifest,
    "data": _data,
    "promotions": _promotions,
    "jobs": _jobs,
    "registry": _registry,
    "predictions": _predictions,
    "drift": _drift,
    "accuracy": _accuracy,
}


def read(name: str, *args: str, config: DashboardSettings | None = None, spinner: str | None = None) -> Any:
    """A briefly cached read (``READERS[name]``); errors are shown on the page and give None."""
    config = config or settings()
    reader = cached(READERS[name], config.dashboard_cache_ttl_s)
    return attempt(lambda: reader(config_key(config), *args), spinner=spinner)


def config_key(config: DashboardSettings) -> str:
    """The settings as JSON with secrets in clear, so a cached reader can rebuild them exactly."""
    data = config.model_dump(mode="json")
    for secret in ("elasticsearch_password", "api_key", "admin_key"):
        value = getattr(config, secret)
        if value is not None:
            data[secret] = value.get_secret_value()
    return json.dumps(data, sort_keys=True)


def served_tasks(config: DashboardSettings) -> list[str]:
    """Tasks model-api serves, or every known task when it cannot be asked."""
    try:
        models = cached(_models, config.dashboard_cache_ttl_s)(config_key(config))
    except (ScorelineError, ServiceCallError):
        return list(task_ids())
    tasks = task_ids_from_models(models)
    return tasks or list(task_ids())


def task_ids_from_models(models: Any) -> list[str]:
    entries = models.get("models", models) if isinstance(models, dict) else models
    if isinstance(entries, dict):
        return sorted(entries)
    if isinstance(entries, list):
        return sorted({str(entry["task"]) for entry in entries if isinstance(entry, dict) and "task" in entry})
    return []


def task_picker(config: DashboardSettings, key: str = "task") -> str:
    tasks = served_tasks(config)
    return st.selectbox("Task", tasks, key=key, help="Each task has its own registered and served model.")


def served_entry(models: Any, task: str) -> dict[str, Any] | None:
    """model-api's description of what it serves for ``task``, whatever list/dict shape it uses."""
    entries = models.get("models", models) if isinstance(models, dict) else models
    if isinstance(entries, dict):
        entry = entries.get(task)
        return entry if isinstance(entry, dict) else None
    if isinstance(entries, list):
        return next((e for e in entries if isinstance(e, dict) and e.get("task") == task), None)
    return None
