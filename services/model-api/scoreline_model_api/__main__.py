"""``python -m scoreline_model_api``: serve on SCORELINE_MODEL_API_HOST:SCORELINE_MODEL_API_PORT with
SCORELINE_MODEL_API_WORKERS worker processes (default: the usable cores; 1 = one process, no supervisor)."""

from __future__ import annotations

import sys


def main() -> None:
    # Imports stay in here: the prediction-log sink is a spawned process that imports this module again (as
    # multiprocessing's main), and it needs none of the serving stack.
    from scoreline.core.logs import configure_logging
    from scoreline_model_api.settings import ModelApiSettings
    from scoreline_model_api.workers import APP_FACTORY, run_workers, uvicorn_options

    settings = ModelApiSettings()
    configure_logging("model-api")  # timestamped lines, uvicorn's included (log_config=None)
    if settings.model_api_workers > 1:
        sys.exit(run_workers(settings))
    import uvicorn

    uvicorn.run(APP_FACTORY, host=settings.model_api_host, port=settings.model_api_port, **uvicorn_options())


if __name__ == "__main__":
    main()
