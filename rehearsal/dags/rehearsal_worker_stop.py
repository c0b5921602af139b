"""The rehearsal's probe for a worker stopped mid-task: one task that works for a while, then reports.

Not an example to copy: the rehearsal ships it beside the example DAGs to stop a worker while this task
runs (scale-in, then an interruption) and to see the task finish or be retried, never lost.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from airflow.sdk import DAG, task

with DAG(
    dag_id="rehearsal_worker_stop",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    dagrun_timeout=timedelta(minutes=20),
    default_args={
        "owner": "platform",
        "retries": 2,
        "retry_delay": timedelta(seconds=10),
        "execution_timeout": timedelta(minutes=5),
    },
    tags=["rehearsal"],
    doc_md=__doc__,
):

    @task
    def work(seconds: int = 40) -> int:
        time.sleep(seconds)
        return seconds

    work()
