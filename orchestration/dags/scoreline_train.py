"""Airflow DAGs: one training DAG per Scoreline task (ids ``scoreline_train_<task>``).

Built by ``scoreline_dags.factory``; this file stays thin so the dag-processor parses it in milliseconds.
"""

from scoreline_dags.factory import TRAINING_TASKS, build_training_dag

for _task_id, _dataset in TRAINING_TASKS.items():
    _dag = build_training_dag(_task_id, _dataset)
    globals()[_dag.dag_id] = _dag
