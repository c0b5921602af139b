"""DAGs for the activity reporter's test: their schedule flags are set by the test through Airflow's models."""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, chain, task

START = datetime(2026, 1, 1)

for dag_id, schedule in (
    ("hourly_due", "@hourly"),
    ("daily_later", "@daily"),
    ("paused_due", "@daily"),
    ("stale_due", "@daily"),
    ("broken_due", "@daily"),
):
    with DAG(dag_id, schedule=schedule, start_date=START, catchup=False) as dag:
        tasks = {task_id: task(task_id=task_id)(lambda: None)() for task_id in ("extract", "load", "wait", "retry")}
        if dag_id == "hourly_due":
            chain(tasks["extract"], tasks["load"])  # three first tasks: extract, wait, retry
    globals()[dag_id] = dag
