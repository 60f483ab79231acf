"""model-api: serves each task's champion, hot-swaps it on alias change, logs every prediction.

Assembles the layers: ``lifespan`` (writer, reloader, prediction service), ``dependencies`` (typed
providers and key checks), ``routes.predict`` / ``routes.models`` / ``routes.health``, the shared error
handler of ``errors`` and the predict front door of ``fastpath``. The domain is ``scoreline.serving`` and
``scoreline.predlog``; drift and live accuracy run in the trainer.
"""

from __future__ import annotations

from scoreline_kit.app import ScorelineApp
from scoreline_kit.app import create_app as create_kit_app

from scoreline.serving.holder import ModelHolder
from scoreline.tasks import get_task
from scoreline_model_api.errors import install_error_handler
from scoreline_model_api.fastpath import PredictFrontDoor
from scoreline_model_api.lifespan import lifespan
from scoreline_model_api.metrics import ModelApiMetrics, RequestObserver
from scoreline_model_api.routes import health, models, predict
from scoreline_model_api.settings import ModelApiSettings
from scoreline_model_api.workers import swap_gate


def create_app(settings: ModelApiSettings | None = None) -> ScorelineApp:
    settings = settings or ModelApiSettings()
    tasks = tuple(settings.model_tasks)
    # FastAPI's native OpenTelemetry hooks check the global providers on every request; Scoreline
    # exports Prometheus metrics, so they are off.
    app = create_kit_app(
        "model-api",
        lifespan=lifespan,
        ops_routes=False,
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_error_handler(app)
    metrics = ModelApiMetrics(app.state.metrics_registry)
    observer = RequestObserver(metrics, tasks)
    handler = predict.PredictHandler(app.state, observer)
    app.state.settings = settings
    app.state.holder = ModelHolder(tasks, gate=swap_gate(settings))
    app.state.model_api_metrics = metrics
    app.state.observer = observer
    app.state.predict_handler = handler

    predict_route = predict.add_routes(app, [get_task(task) for task in tasks])
    app.openapi = predict.served_examples(app, app.state.holder)  # type: ignore[method-assign]
    models.add_routes(app)
    health.add_routes(app)
    recorder = app.state.http_recorder
    app.outermost = lambda stack: PredictFrontDoor(stack, predict_route.path, handler, settings, recorder)
    return app
