"""model-api as N worker processes: the supervisor's side (a socket per worker on one port, one
prediction-log sink, the forks) and each worker's side (its swap gate, what ``/v1/models`` says about the workers).

The logic lives in ``scoreline.serving.supervisor`` and ``scoreline.serving.workers``.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

from scoreline.serving.holder import ModelHolder
from scoreline.serving.reloader import import_booster_library, preload_cached_champions
from scoreline.serving.supervisor import Supervisor, bind_sockets
from scoreline.serving.workers import RunDirectory, SwapGate, WorkerStatus, worker_listing
from scoreline_model_api.settings import ModelApiSettings

log = logging.getLogger("scoreline.serving")

APP_FACTORY = "scoreline_model_api.app:create_app"
RUN_DIR_ENV = "SCORELINE_MODEL_API_RUN_DIR"
WORKER_ENV = "SCORELINE_MODEL_API_WORKER"
SINK_ADDRESS_ENV = "SCORELINE_PREDICTION_LOG_SINK_ADDRESS"
SPOOL_DIR_ENV = "SCORELINE_PREDLOG_SPOOL_DIR"
SINK_READY_TIMEOUT_S = 30.0
# What each worker's uvicorn imports to serve (uvloop, httptools): once, before the forks.
UVICORN_MODULES = ("uvicorn", "uvicorn.loops.uvloop", "uvicorn.protocols.http.httptools_impl", "uvicorn.lifespan.on")


def uvicorn_options() -> dict[str, Any]:
    return {
        "factory": True,
        "loop": "uvloop",
        "http": "httptools",
        "log_level": "info",
        "access_log": False,
        "log_config": None,  # timestamped lines from scoreline.core.logs, uvicorn's included
    }


def run_workers(settings: ModelApiSettings) -> int:
    """Bind, start the one prediction-log sink, import the app once, fork ``model_api_workers`` workers."""
    sockets = bind_sockets(settings.model_api_host, settings.model_api_port, settings.model_api_workers)
    run_dir = RunDirectory(settings.model_cache_dir.parent / "model-api" / str(os.getpid()))
    # The sink is its own interpreter: it starts on another core while this process imports and preloads,
    # instead of after them (its start was a fifth of a restart; benchmarks/serve_workers.py).
    with shared_sink(settings) as sink_ready, contextlib.ExitStack() as cleanup:
        cleanup.callback(shutil.rmtree, run_dir.path, ignore_errors=True)
        # Imported before the forks, so the workers share these pages: the app, and the booster's library that
        # every worker loads before it is ready (MLflow's client is imported later, after the first load).
        for module in ("scoreline_model_api.app", "scoreline.ml.modeling", *UVICORN_MODULES):
            importlib.import_module(module)
        import_booster_library()
        # The remembered champions too: every worker serves them from these shared pages (and the task's
        # compiled feature code, loaded here once, is most of a worker's start and of its private memory
        # otherwise).
        preload_cached_champions(settings.model_cache_dir, settings.model_tasks)
        gc.freeze()  # the workers' collections then skip these objects instead of copying every page they touch
        sink_ready()

        def serve(worker: int) -> None:
            os.environ[RUN_DIR_ENV] = str(run_dir.path)
            os.environ[WORKER_ENV] = str(worker)
            if SINK_ADDRESS_ENV not in os.environ:  # no shared sink: two spools in one folder would collide
                os.environ[SPOOL_DIR_ENV] = str(settings.predlog_spool_dir / f"worker-{worker}")
            import uvicorn

            uvicorn.Server(uvicorn.Config(APP_FACTORY, **uvicorn_options())).run(sockets=[sockets[worker]])

        log.info(
            "model-api: %d workers on %s:%s, swaps coordinated in %s",
            settings.model_api_workers, settings.model_api_host, settings.model_api_port, run_dir.path,
        )  # fmt: skip
        return Supervisor(settings.model_api_workers, serve, run_dir).run()


@contextlib.contextmanager
def shared_sink(settings: ModelApiSettings) -> Iterator[Callable[[], None]]:
    """One prediction-log sink process for all workers, its address in their environment (each worker's
    lifespan then connects to it instead of starting its own); yields a wait until it accepts connections, for
    before the forks. No sink when logging is off, the sink runs in the serving process, or an address was
    given (a sink someone else runs)."""
    if not settings.log_predictions or not settings.prediction_log_sink_process or settings.prediction_log_sink_address:
        yield lambda: None
        return
    from scoreline.predlog.sinkd import start_sink_process

    sink = start_sink_process(settings)
    os.environ[SINK_ADDRESS_ENV] = str(sink.address)

    def wait_ready() -> None:
        if sink.wait_ready(SINK_READY_TIMEOUT_S):  # else logged; the workers' channels spool until it is
            log.info("model-api: one prediction-log sink process (pid %s) at %s for the workers", sink.pid,
                     sink.address)  # fmt: skip

    try:
        yield wait_ready
    finally:
        os.environ.pop(SINK_ADDRESS_ENV, None)
        sink.stop()


def swap_gate(settings: ModelApiSettings) -> SwapGate | None:
    """A worker started by the supervisor coordinates its swaps with the others; a single process does not."""
    if settings.model_api_run_dir is None:
        return None
    return SwapGate(
        RunDirectory(settings.model_api_run_dir), settings.model_api_worker, timeout_s=settings.model_swap_timeout_s
    )


def workers_serving(holder: ModelHolder) -> list[dict[str, Any]]:
    """Every worker and the version of each task it serves (this process alone when it runs alone)."""
    if holder.gate is None:
        return worker_listing([WorkerStatus(0, os.getpid(), holder.versions())])
    return worker_listing(holder.gate.peers())
