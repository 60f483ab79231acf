"""Model lifecycle: the MLflow registry, the promotion policy and the train-and-register pipeline."""
