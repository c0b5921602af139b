"""The smallest DAG that shows a deployed stack works end to end: `airflow-stack smoke` triggers it.

One task, run on a Celery worker, that prints one line; `airflow-stack smoke` then finds that line in the task's
log in the stack's bucket, where Airflow's remote logging puts it. No schedule, so it never wakes the stack by
itself; unpaused when first parsed, so a trigger is all it needs. Safe to trigger by hand at any time: it reads
and writes nothing.
"""

from __future__ import annotations

import socket
from datetime import datetime, timedelta

from airflow.sdk import DAG, task

# `airflow-stack smoke` looks for this line in the task's log (airflow_stack/smoke.py names the same words).
SMOKE_LINE = "airflow-stack smoke: ok"

with DAG(
    dag_id="airflow_smoke",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    is_paused_upon_creation=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=15),
    default_args={
        "owner": "platform",
        "retries": 1,
        "retry_delay": timedelta(seconds=30),
        "execution_timeout": timedelta(minutes=5),
    },
    tags=["platform", "smoke"],
    doc_md=__doc__,
):

    @task
    def report() -> str:
        import airflow

        line = f"{SMOKE_LINE}: Airflow {airflow.__version__} on {socket.gethostname()}"
        print(line)
        return line

    report()
