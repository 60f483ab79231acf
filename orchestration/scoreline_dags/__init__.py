"""Scoreline's Airflow helpers: settings, HTTP steps and the DAG factory (thin shells over the services)."""
