"""Airflow's activity as CloudWatch metrics, every minute, from beside the scheduler.

Runs as a second, non-essential container in the scheduler's ECS task (same image, same database), and
asks Airflow's own models, so its notion of "due" and "active" is the scheduler's:
- due: unpaused, not stale, no import errors, below max active runs, `next_dagrun_create_after <= now`;
- next due: the earliest `next_dagrun_create_after` of unpaused, not stale DAGs without import errors;
- first tasks of the next due: the root tasks (no upstream) of the DAGs due by then, so that the waker can
  start the workers they need with the wake (a mapped task counts once: its width is known only at run time);
- active: DAG runs queued or running, task instances in an active state, entries in the asset queue.
The waker Lambda reads these metrics (it stays outside the VPC and never touches the database). A failure
to collect or publish is logged and retried at the next interval; it never stops the scheduler.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any

from contracts import metrics as m

FIRST_TASKS_DAG_LIMIT = 50  # DAGs due at the same moment whose first tasks are counted (a bounded read)

logger = logging.getLogger("activity_reporter")


def log(event: str, **fields: Any) -> None:
    logger.info(json.dumps({"event": event, **fields}, default=str, sort_keys=True))


def collect(session: Any, now: datetime) -> dict[str, float]:
    """The figures, read with Airflow's models in one session. SecondsUntilNextDue is absent if no DAG has one."""
    from airflow.models.asset import AssetDagRunQueue
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.models.taskinstance import TaskInstance
    from sqlalchemy import false, func, select

    runs = dict(
        session.execute(
            select(DagRun.state, func.count()).where(DagRun.state.in_(("queued", "running"))).group_by(DagRun.state)
        ).all()
    )
    task_instances = dict(
        session.execute(
            select(TaskInstance.state, func.count())
            .where(TaskInstance.state.in_(m.ACTIVE_TI_STATES))
            .group_by(TaskInstance.state)
        ).all()
    )
    schedulable = (
        DagModel.is_paused == false(),
        DagModel.is_stale == false(),
        DagModel.has_import_errors == false(),
    )
    dags_due = session.scalar(
        select(func.count())
        .select_from(DagModel)
        .where(
            *schedulable,
            DagModel.exceeds_max_non_backfill == false(),
            DagModel.next_dagrun_create_after <= now,
        )
    )
    next_due = session.scalar(select(func.min(DagModel.next_dagrun_create_after)).where(*schedulable))
    asset_queue = session.scalar(select(func.count()).select_from(AssetDagRunQueue))

    values: dict[str, float] = {
        m.DAG_RUNS_QUEUED: runs.get("queued", 0),
        m.DAG_RUNS_RUNNING: runs.get("running", 0),
        m.DAGS_DUE: dags_due or 0,
        m.ASSET_QUEUE_ENTRIES: asset_queue or 0,
        **{m.task_instances_metric(state): task_instances.get(state, 0) for state in m.ACTIVE_TI_STATES},
    }
    if next_due is not None:
        values[m.SECONDS_UNTIL_NEXT_DUE] = (next_due - now).total_seconds()
        due_by_then = session.scalars(
            select(DagModel.dag_id)
            .where(*schedulable, DagModel.next_dagrun_create_after <= max(next_due, now))
            .limit(FIRST_TASKS_DAG_LIMIT)
        ).all()
        values[m.NEXT_DUE_FIRST_TASKS] = sum(
            len(dag.roots) for dag in (SerializedDagModel.get_dag(d, session=session) for d in due_by_then) if dag
        )
    return values


def _unit(name: str) -> str:
    return "Seconds" if name in m.SECONDS_METRICS else "Count"


def metric_data(values: dict[str, float], now: datetime) -> list[dict[str, Any]]:
    return [
        {
            "MetricName": name,
            "Timestamp": now,
            "Value": float(value),
            "Unit": "Seconds" if name in m.SECONDS_METRICS else "Count",
        }
        for name, value in sorted(values.items())
    ]


def report_once(cloudwatch: Any, namespace: str, now: datetime) -> dict[str, float]:
    from airflow.utils.session import create_session

    with create_session() as session:
        values = collect(session, now)
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=metric_data(values, now))
    return values


def run(cloudwatch: Any, namespace: str, interval: float, stop: threading.Event) -> None:
    failures = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            values = report_once(cloudwatch, namespace, datetime.now(UTC))
            failures = 0
            log("reported", namespace=namespace, **values)
        except Exception as error:
            failures += 1
            log("report-failed", error=repr(error), consecutive_failures=failures)
        stop.wait(max(1.0, interval - (time.monotonic() - started)))


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    namespace = os.environ.get(m.NAMESPACE_VARIABLE)
    if not namespace:
        log("not-configured", missing=m.NAMESPACE_VARIABLE)
        return 2
    interval = float(os.environ.get(m.INTERVAL_VARIABLE, "60"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    import boto3

    log("started", namespace=namespace, interval=interval)
    run(boto3.client("cloudwatch"), namespace, interval, stop)
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
