"""Airflow DAGs: one training DAG per registered Scoreline task (ids ``scoreline_train_<task>``).

Built by ``scoreline_dags.factory``; this file stays thin so the dag-processor parses it in milliseconds.
"""

from scoreline_dags.factory import build_training_dags

globals().update(build_training_dags())
