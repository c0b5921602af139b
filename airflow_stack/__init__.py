"""Operate a scale-to-zero Airflow stack: status, wake, sleep, snapshot, stage (the `airflow-stack` command)."""
