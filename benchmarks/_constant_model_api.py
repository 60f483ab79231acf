"""model-api whose predict handler answers a constant JSON, for benchmarks/serve.py: model-api's own process (its
front door, edge rules, metrics, prediction-log sink and uvicorn) without the prediction, so "model-api (constant
answer) / bare (raw ASGI)" is the most of the bare endpoint's throughput any prediction could leave here.

    python -m benchmarks._constant_model_api   (the same settings as ``python -m scoreline_model_api``)
"""

from __future__ import annotations

import time


def main() -> None:
    # Patched here, not at import: the prediction-log sink is a spawned process that imports this module again.
    from scoreline_model_api.__main__ import main as serve
    from scoreline_model_api.errors import RawHeaders
    from scoreline_model_api.routes.predict import PredictHandler

    from benchmarks._bare_app import BODY

    def constant(self: PredictHandler, task: str, raw: bytes) -> tuple[int, bytes, RawHeaders]:
        self.observer.observe(task, "predict", time.perf_counter(), 200, 1)  # the metrics a prediction records
        return 200, BODY, []

    PredictHandler.__call__ = constant  # type: ignore[method-assign]
    serve()


if __name__ == "__main__":
    main()
