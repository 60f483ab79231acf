"""Streamlit plumbing shared by the pages: settings, briefly cached service reads, errors shown on the page."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import streamlit as st

from scoreline_dashboard import views
from scoreline_dashboard.client import ServiceCallError
from scoreline_dashboard.services import Ingest, ModelApi, Trainer
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
    except ServiceCallError as exc:  # any failed service call: the message names the service and the setting
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


def _config(config: str) -> DashboardSettings:
    return DashboardSettings.model_validate_json(config)


def _models(config: str) -> dict[str, Any]:
    return ModelApi(_config(config)).models()


def _schema(config: str, task: str) -> dict[str, Any]:
    return ModelApi(_config(config)).schema(task)


def _datasets(config: str) -> Any:
    return Ingest(_config(config)).datasets()


def _versions(config: str, task: str, dataset: str) -> Any:
    return Ingest(_config(config)).versions(task, dataset)


def _manifest(config: str, task: str, dataset: str, version: str) -> Any:
    return Ingest(_config(config)).manifest(task, dataset, version)


def _data(config: str, task: str, dataset: str, version: str) -> Any:
    return Ingest(_config(config)).data(task, dataset, version)


def _model_versions(config: str, task: str) -> Any:
    return Trainer(_config(config)).model_versions(task)


def _promotions(config: str, task: str, admin_key: str) -> Any:
    return Trainer(_config(config)).promotions(task, admin_key)


def _jobs(config: str) -> Any:
    return Trainer(_config(config)).jobs()


def _summary(config: str, task: str, bucket: str) -> Any:
    return Trainer(_config(config)).summary(task, bucket)


def _predictions(config: str, task: str) -> Any:
    settings = _config(config)
    return Trainer(settings).predictions(task, settings.dashboard_recent_predictions)


def _drift(config: str, task: str) -> Any:
    return Trainer(_config(config)).drift(task)


def _accuracy(config: str, task: str) -> Any:
    return Trainer(_config(config)).accuracy(task)


def _calibration(config: str, task: str, version: str) -> Any:
    return Trainer(_config(config)).calibration(task, version)


def _replays(config: str, task: str) -> Any:
    return Trainer(_config(config)).replays(task)


READERS: dict[str, Callable[..., Any]] = {
    "models": _models,
    "schema": _schema,
    "datasets": _datasets,
    "versions": _versions,
    "manifest": _manifest,
    "data": _data,
    "model_versions": _model_versions,
    "promotions": _promotions,
    "jobs": _jobs,
    "summary": _summary,
    "predictions": _predictions,
    "drift": _drift,
    "accuracy": _accuracy,
    "replays": _replays,
    "calibration": _calibration,
}


def read(name: str, *args: str, config: DashboardSettings | None = None, spinner: str | None = None) -> Any:
    """A briefly cached read (``READERS[name]``); errors are shown on the page and give None."""
    config = config or settings()
    reader = cached(READERS[name], config.dashboard_cache_ttl_s)
    return attempt(lambda: reader(config_key(config), *args), spinner=spinner)


def config_key(config: DashboardSettings) -> str:
    """The settings as JSON with secrets in clear, so a cached reader can rebuild them exactly."""
    data = config.model_dump(mode="json")
    for secret in ("api_key", "admin_key"):
        value = getattr(config, secret)
        if value is not None:
            data[secret] = value.get_secret_value()
    return json.dumps(data, sort_keys=True)


def task_picker(config: DashboardSettings, key: str = "task") -> str | None:
    """The tasks model-api serves (``GET /v1/models``), the one of ``?task=`` first; a task may be typed (or
    linked) when model-api cannot be asked. None (after a message) when there is no task to show."""
    models = read("models", config=config)
    tasks = views.served_tasks(models) if models is not None else []
    if models is not None and not tasks:
        st.info("model-api serves no task yet: train one and promote it (see the Models page of a task).")
    wanted = st.query_params.get("task")  # a link to a task's page: ?task=<id>
    if wanted and wanted not in tasks:
        tasks = [*tasks, wanted]
    task = st.selectbox(
        "Task",
        tasks,
        index=tasks.index(wanted) if wanted else 0 if tasks else None,
        key=key,
        accept_new_options=True,
        placeholder="Type a task id…",
        help="Each task has its own registered and served model.",
    )
    return str(task) if task else None
