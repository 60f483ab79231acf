"""Hot reload: resolve ``models:/scoreline-<task>@champion``, load the version beside the one being
served, smoke-test it on its own input example, and only then swap it in.

Triggers: :meth:`Reloader.start_polling` (every few seconds), an admin call and the MLflow registry
webhook both call :meth:`Reloader.reload`. MLflow down → the served model stays. Started while
MLflow is down → the champion remembered on local disk is served (source ``cache``) until MLflow
answers again.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import importlib
import json
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.serving.holder import ModelHolder, ReloadError
from scoreline.serving.model import Predictor, ServedModel, Source, smoke_test
from scoreline.serving.validation import EntityIndex
from scoreline.tasks import get_task

if TYPE_CHECKING:
    import httpx

    from scoreline.lifecycle.registry import Registry

log = logging.getLogger("scoreline.serving")

Outcome = Literal["swapped", "cached", "unchanged", "failed", "refused", "unreachable", "no_champion"]
KEEP_IN_MEMORY = 3  # recently served versions kept loaded, so a rollback swaps back at once


@dataclass(frozen=True)
class ReloadOutcome:
    task: str
    outcome: Outcome
    version: str | None
    previous: str | None
    reason: str
    seconds: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def import_booster_library() -> None:
    """xgboost without scikit-learn and its plotting: xgboost imports them only for its estimator wrappers and
    plots, which serving never uses; scikit-learn is most of a start's import time (scipy.stats), and without
    the plotting module xgboost skips its estimator module too (import 0.21-0.24 -> 0.15 s CPU)."""
    if "xgboost" in sys.modules:
        return
    blocked = [name for name in ("sklearn", "xgboost.plotting") if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]  # import -> ImportError, for xgboost's import only
    try:
        importlib.import_module("xgboost")
    finally:
        for name in blocked:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


# Champions loaded from the disk cache by a supervisor before it forks its workers: (task, version, bundle
# folder) -> bundle. Each worker starts with them in pages it shares with the others instead of loading its own.
_preloaded: dict[tuple[str, str, str], Any] = {}


def preload_cached_champions(cache_dir: Path, tasks: Iterable[str]) -> list[str]:
    """Load each task's remembered champion bundle from the disk cache into this process and run its features
    once on its input example (the task's compiled feature code loads here, once), for processes forked later;
    the tasks preloaded. No prediction runs: the booster's OpenMP threads do not survive a fork (a child's
    first prediction would hang), so each worker still smoke-tests the bundle itself."""
    loaded = []
    for task_id in tasks:
        try:
            remembered = json.loads((Path(cache_dir) / "champions" / f"{task_id}.json").read_text())
            key = (task_id, str(remembered["version"]), str(remembered["bundle_dir"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        try:
            from scoreline.ml.modeling import ModelBundle

            import_booster_library()
            bundle = ModelBundle.load(key[2])
            example = list(getattr(bundle, "input_example", []) or [])
            if example and hasattr(bundle, "features"):
                import pandas as pd

                bundle.features(pd.DataFrame(example))
                _warm_serving_rows(task_id, bundle, example)
        except Exception as exc:  # the worker loads it again and reports why it does not serve
            log.warning("could not preload the cached champion of %s from %s: %s", task_id, key[2], exc)
            continue
        _preloaded[key] = bundle
        loaded.append(task_id)
    return loaded


def _warm_serving_rows(task_id: str, bundle: Any, example: list[Any]) -> None:
    """Run the task's few-row feature path once too (as ``Predictor`` will), so its compiled code is loaded
    before the fork as well. A failure here only skips the warm-up: the worker's ``Predictor`` decides whether
    that path is used."""
    state = getattr(bundle, "serving_state", None)
    names = list(getattr(bundle, "feature_names", []) or [])
    if state is None or not names:
        return
    task = get_task(task_id)
    try:
        compiled = task.compile_serving(state, names)
        if compiled is not None:
            task.serving_rows(compiled, example)
    except Exception as exc:
        log.info("the few-row feature path of %s was not warmed before the fork: %s", task_id, exc)


def _cached_bundle(task_id: str, version: str, bundle_dir: Path) -> Any:
    """The bundle a supervisor preloaded for this champion, else loaded from its folder now."""
    bundle = _preloaded.get((task_id, version, str(bundle_dir)))
    if bundle is not None:
        return bundle
    from scoreline.ml.modeling import ModelBundle

    return ModelBundle.load(bundle_dir)


# MLflow client settings this module's REST lookup does not implement: with any of them set, the client is used.
_CLIENT_ONLY_SETTINGS = (
    "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_AUTH",
    "MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_CLIENT_CERT_PATH", "MLFLOW_TRACKING_SERVER_CERT_PATH",
)  # fmt: skip
_NO_SUCH_ALIAS = ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")  # as Registry.version_by_alias


@dataclass(frozen=True)
class AliasTarget:
    version: str
    tags: dict[str, str]


def rest_lookup_applies(tracking_uri: str) -> bool:
    plain = not any(os.environ.get(setting) for setting in _CLIENT_ONLY_SETTINGS)
    return plain and tracking_uri.startswith(("http://", "https://"))


@functools.cache
def _rest_client(pid: int) -> httpx.Client:
    """One pooled client per process (``pid``: a forked worker must not share its parent's connections): a new
    client per poll built a TLS context each time, a few ms of CPU every poll of every worker."""
    import httpx

    return httpx.Client(timeout=float(os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT") or 10))


def alias_target(tracking_uri: str, name: str, alias: str) -> AliasTarget | None:
    """``GET /api/2.0/mlflow/registered-models/alias`` of an MLflow tracking server; errors as the client's."""
    import httpx

    action = f"looking up {name}@{alias}"
    try:
        response = _rest_client(os.getpid()).get(
            f"{tracking_uri.rstrip('/')}/api/2.0/mlflow/registered-models/alias",
            params={"name": name, "alias": alias},
        )
    except httpx.HTTPError as exc:
        raise ScorelineError(ErrorCode.UNAVAILABLE, f"{action}: MLflow is not reachable ({exc})") from exc
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200:
        if body.get("error_code") in _NO_SUCH_ALIAS:
            return None
        message = body.get("message") or response.text[:200]
        raise ScorelineError(ErrorCode.UPSTREAM_FAILED, f"{action}: HTTP {response.status_code} {message}")
    found = body.get("model_version") or {}
    if "version" not in found:
        raise ScorelineError(ErrorCode.UPSTREAM_FAILED, f"{action}: MLflow answered no model version: {body}")
    tags = {str(tag["key"]): str(tag.get("value", "")) for tag in found.get("tags") or []}
    return AliasTarget(str(found["version"]), tags)


def mlflow_client_timeouts() -> None:
    """Fail fast when MLflow is down instead of retrying for minutes (the served model keeps serving)."""
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")


class Reloader:
    def __init__(
        self,
        holder: ModelHolder,
        *,
        tracking_uri: str,
        cache_dir: Path,
        alias: str = "champion",
        on_outcome: Callable[[ReloadOutcome], None] | None = None,
    ) -> None:
        self.holder = holder
        self.tracking_uri = tracking_uri
        self.cache_dir = Path(cache_dir)
        self.alias = alias
        self.on_outcome = on_outcome
        self._registry: Registry | None = None
        self._names: dict[str, str] = {}
        self._locks = {task: threading.Lock() for task in holder.tasks}
        self._refused: dict[str, set[str]] = {task: set() for task in holder.tasks}
        self._recent: OrderedDict[tuple[str, str], ServedModel] = OrderedDict()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    @property
    def registry(self) -> Registry:
        """The MLflow client, created on first use: a start from the disk cache does not wait for MLflow's import."""
        if self._registry is None:
            from scoreline.lifecycle.registry import Registry

            self._registry = Registry(self.tracking_uri)
        return self._registry

    # ---- one reload -------------------------------------------------------------------------
    def reload(
        self, task_id: str, *, reason: str, force: bool = False, serve_unpromoted: bool = False
    ) -> ReloadOutcome:
        """Serve the alias target of ``task_id`` if it loads, passes its smoke test and passed promotion
        (``scoreline.lifecycle.promotion.serving_refusal``); ``serve_unpromoted`` is the admin override."""
        started = time.perf_counter()
        with self._locks[task_id]:
            outcome = self._reload_locked(
                task_id, reason=reason, force=force, started=started, serve_unpromoted=serve_unpromoted
            )
        gate = self.holder.gate
        if gate is not None and outcome.outcome in ("failed", "refused") and outcome.version is not None:
            gate.mark_failed(task_id, outcome.version)  # the workers waiting for it stop waiting
        if outcome.outcome in ("swapped", "cached", "failed"):
            log.info("reload %s (%s): %s %s -> %s %s", task_id, reason, outcome.outcome, outcome.previous,
                     outcome.version, outcome.error or "")  # fmt: skip
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        return outcome

    def _reload_locked(
        self, task_id: str, *, reason: str, force: bool, started: float, serve_unpromoted: bool = False
    ) -> ReloadOutcome:
        current = self.holder.peek(task_id)
        previous = current.version if current else None

        def done(outcome: Outcome, version: str | None, error: str | None = None) -> ReloadOutcome:
            return ReloadOutcome(task_id, outcome, version, previous, reason, time.perf_counter() - started, error)

        try:
            found = self._version_by_alias(task_id)
        except ScorelineError as exc:
            message = f"MLflow unreachable at {self.tracking_uri}: {exc.message}; still serving {previous or 'nothing'}"
            if current is None:
                cached = self._serve_cached_champion(task_id)
                if cached is not None:
                    message += f"; serving the cached champion version {cached.version}"
                    previous_outcome = done("cached", cached.version, message)
                    self.holder.record_error(task_id, ReloadError(None, message))
                    return previous_outcome
            elif current.source == "cache":
                message += f"; serving the cached champion version {current.version}"
            self.holder.record_error(task_id, ReloadError(None, message))
            return done("unreachable", previous, message)
        # MLflow answered: an error from an earlier poll (e.g. "MLflow unreachable") no longer holds; each
        # branch below records what is true now.
        if found is None:
            message = f"{self.registry_name(task_id)} has no version with alias {self.alias!r}"
            self.holder.record_error(task_id, ReloadError(None, message))
            return done("no_champion", previous, message)
        version = str(found.version)
        if current is not None and current.version == version and not force:
            if current.source != "mlflow":
                self.holder.swap(replace(current, source="mlflow"))
            self.holder.record_error(task_id, None)
            return done("unchanged", version)
        if version in self._refused[task_id] and not force:
            return done("refused", version, self._error_text(task_id))
        from scoreline.lifecycle.promotion import serving_refusal

        why = serving_refusal(task_id, dict(found.tags or {}))
        if why is not None and not serve_unpromoted:
            # Not remembered as refused: the version may still pass promotion (an approval) and then be served.
            message = (
                f"version {version} not served: {why}; still serving {previous or 'nothing'} "
                "(an admin may serve it anyway: POST /v1/admin/reload?serve_unpromoted=true)"
            )
            self.holder.record_error(task_id, ReloadError(version, message))
            return done("refused", version, message)
        try:
            served = self._prepare(task_id, version, source="mlflow")
        except Exception as exc:
            text = exc.message if isinstance(exc, ScorelineError) else f"{type(exc).__name__}: {exc}"
            message = f"version {version} not served: {text}; still serving {previous or 'nothing'}"
            self._refused[task_id].add(version)
            self.holder.record_error(task_id, ReloadError(version, message))
            return done("failed", version, message)
        self.holder.swap(served, unpromoted=why is not None)
        self.holder.record_error(task_id, None)
        self._remember_champion(task_id, version)
        return done("swapped", version)

    def _version_by_alias(self, task_id: str) -> Any:
        """The version the alias points at (``.version``, ``.tags``), None when there is none. Over MLflow's REST
        API when the tracking server is plain HTTP(S): a poll that finds the served version unchanged (every
        start from the disk cache, most polls) then never imports MLflow's client, which costs each worker
        about 40 MiB of its own memory and a second of CPU."""
        if not rest_lookup_applies(self.tracking_uri):
            return self.registry.version_by_alias(task_id, self.alias)
        return alias_target(self.tracking_uri, self.registry_name(task_id), self.alias)

    def _error_text(self, task_id: str) -> str | None:
        error = self.holder.last_error(task_id)
        return error.message if error else None

    def registry_name(self, task_id: str) -> str:
        known = self._names.get(task_id)
        if known is not None:  # remembered with a cached champion: a start from the cache does not import MLflow
            return known
        from scoreline.lifecycle.registry import model_name

        return model_name(task_id)

    # ---- loading, checking ----------------------------------------------------------------------
    def _prepare(self, task_id: str, version: str, *, source: Source) -> ServedModel:
        recent = self._recent.get((task_id, version))
        if recent is not None:
            return replace(recent, source=source)
        from scoreline.lifecycle.registry import load_bundle, model_uri_for

        started = time.perf_counter()
        import_booster_library()
        uri = model_uri_for(task_id, version=version)
        try:
            with self._cache_lock():  # workers of one model-api share the cache: one downloads, the others read
                bundle = load_bundle(uri, tracking_uri=self.tracking_uri, cache_dir=self.cache_dir / "models")
        except ScorelineError:
            raise
        except Exception as exc:
            raise ScorelineError(
                ErrorCode.UPSTREAM_FAILED, f"could not load {uri}: {type(exc).__name__}: {exc}"
            ) from exc
        return self._build(task_id, version, bundle, source=source, started=started, uri=uri)

    def _build(
        self, task_id: str, version: str, bundle: Any, *, source: Source, started: float, uri: str
    ) -> ServedModel:
        bundle_task = getattr(bundle, "task_id", None) or getattr(bundle, "task", task_id)
        if isinstance(bundle_task, str) and bundle_task != task_id:
            raise ScorelineError(
                ErrorCode.UPSTREAM_FAILED, f"{uri} is a model of task {bundle_task!r}, not {task_id!r}"
            )
        task = get_task(task_id)
        predictor = Predictor(bundle, task)
        example = list(getattr(bundle, "input_example", []) or [])
        smoke_test(predictor, example, version)
        predictor.enable_fast_path(example)
        served = ServedModel(
            task=task_id,
            model_name=self.registry_name(task_id),
            version=version,
            alias=self.alias,
            source=source,
            bundle=bundle,
            predictor=predictor,
            entities=EntityIndex(task, getattr(bundle, "serving_state", {}) or {}),
            load_seconds=time.perf_counter() - started,
        )
        self._recent[(task_id, version)] = served
        while len(self._recent) > KEEP_IN_MEMORY:
            self._recent.popitem(last=False)
        return served

    @contextlib.contextmanager
    def _cache_lock(self) -> Iterator[None]:
        """An exclusive lock on the disk cache, across processes (released if the holder dies)."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with open(self.cache_dir / ".lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ---- the champion remembered on disk --------------------------------------------------------
    def _champion_file(self, task_id: str) -> Path:
        return self.cache_dir / "champions" / f"{task_id}.json"

    def _remember_champion(self, task_id: str, version: str) -> None:
        path = self._champion_file(task_id)
        remembered: dict[str, Any] = {
            "task": task_id,
            "version": version,
            "alias": self.alias,
            "model_name": self.registry_name(task_id),
        }
        bundle_dir = self._bundle_dir_in_cache(task_id, version)
        if bundle_dir is not None:
            remembered["bundle_dir"] = str(bundle_dir)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # workers may remember at once
            staging.write_text(json.dumps(remembered))
            staging.replace(path)
        except OSError as exc:
            log.warning("could not remember the champion of %s on disk: %s", task_id, exc)

    def _bundle_dir_in_cache(self, task_id: str, version: str) -> Path | None:
        from scoreline.ml.modeling import BUNDLE_FILE

        for model_dir in (self.cache_dir / "models").glob(f"*/{self.registry_name(task_id)}/{version}"):
            found = next(model_dir.rglob(BUNDLE_FILE), None)
            if found is not None:
                return found.parent
        return None

    def serve_cached_bundle(self, task_id: str) -> ServedModel | None:
        """Serve the remembered champion straight from its bundle folder in the disk cache: no MLflow call and no
        MLflow import, so a restart is ready as soon as the bundle loads; MLflow confirms it afterwards."""
        try:
            remembered = json.loads(self._champion_file(task_id).read_text())
            version, bundle_dir = str(remembered["version"]), Path(remembered["bundle_dir"])
            self._names.setdefault(task_id, str(remembered["model_name"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None
        started = time.perf_counter()
        import_booster_library()
        try:
            bundle = _cached_bundle(task_id, version, bundle_dir)
            served = self._build(task_id, version, bundle, source="cache", started=started, uri=str(bundle_dir))
        except Exception as exc:
            log.warning("cached champion %s of %s does not load from %s: %s", version, task_id, bundle_dir, exc)
            return None
        with self._locks[task_id]:
            if self.holder.peek(task_id) is not None:
                return None
            self.holder.swap(served)
            # Cleared (or replaced by "MLflow unreachable") once the startup reload has asked MLflow.
            note = f"serving the cached champion version {version} until MLflow confirms it is still the champion"
            self.holder.record_error(task_id, ReloadError(None, note))
        log.info("serving %s version %s from the disk cache in %.2f s", task_id, version, served.load_seconds)
        return served

    def cached_champion_version(self, task_id: str) -> str | None:
        try:
            return str(json.loads(self._champion_file(task_id).read_text())["version"])
        except (OSError, ValueError, KeyError):
            return None

    def _serve_cached_champion(self, task_id: str) -> ServedModel | None:
        version = self.cached_champion_version(task_id)
        if version is None:
            return None
        try:
            served = self._prepare(task_id, version, source="cache")
        except Exception as exc:
            log.warning("cached champion %s of %s does not load: %s", version, task_id, exc)
            return None
        self.holder.swap(served)
        return served

    # ---- all tasks, polling ---------------------------------------------------------------------
    def reload_all(self, *, reason: str, force: bool = False) -> list[ReloadOutcome]:
        """Reload every task; with other workers, from then on also follow the versions they swap to."""
        if reason == "startup":
            for task in self.holder.tasks:
                self.serve_cached_bundle(task)
        outcomes = [self.reload(task, reason=reason, force=force) for task in self.holder.tasks]
        if self.holder.gate is not None:
            self.holder.gate.follow(self.holder.tasks, self._follow_peer)
        return outcomes

    def _follow_peer(self, task_id: str, version: str, serve_unpromoted: bool) -> bool:
        """Another worker staged or serves ``version``: resolve the alias here too (True: now served here)."""
        outcome = self.reload(task_id, reason="peer", serve_unpromoted=serve_unpromoted)
        return outcome.version == version and outcome.outcome in ("swapped", "unchanged", "cached")

    def start_polling(self, interval_s: float) -> None:
        if self._poller is not None:
            return

        def loop() -> None:
            while not self._stop.wait(interval_s):
                for task in self.holder.tasks:
                    try:
                        self.reload(task, reason="poll")
                    except Exception:
                        log.exception("poll reload of %s failed", task)

        self._poller = threading.Thread(target=loop, name="model-reload-poller", daemon=True)
        self._poller.start()

    def stop(self) -> None:
        self._stop.set()
        if self.holder.gate is not None:
            self.holder.gate.stop()
        if self._poller is not None:
            self._poller.join(timeout=15)
