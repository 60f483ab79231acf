"""Machine learning: training, evaluation, the model bundle and reference profiles."""
