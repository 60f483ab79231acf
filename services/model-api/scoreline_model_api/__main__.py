"""``python -m scoreline_model_api``: serve on SCORELINE_MODEL_API_HOST:SCORELINE_MODEL_API_PORT."""

from __future__ import annotations

import uvicorn

from scoreline.core.logs import configure_logging
from scoreline_model_api.settings import ModelApiSettings


def main() -> None:
    settings = ModelApiSettings()
    configure_logging("model-api")  # timestamped lines, uvicorn's included (log_config=None below)
    # One worker per process (scale out with more processes/pods); uvloop + httptools for speed.
    uvicorn.run(
        "scoreline_model_api.app:create_app",
        host=settings.model_api_host,
        port=settings.model_api_port,
        factory=True,
        workers=1,
        loop="uvloop",
        http="httptools",
        log_level="info",
        access_log=False,
        log_config=None,
    )


if __name__ == "__main__":
    main()
