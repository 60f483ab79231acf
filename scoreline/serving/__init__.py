"""Serving: the served model per task with atomic swaps, loading with a disk cache, smoke tests,
hot reload (poll, admin call, registry webhook), request validation and the prediction service
behind model-api. No web framework here; ``services/model-api`` is the HTTP shell."""
