"""After a restore from a snapshot, before any scheduler runs: pause every DAG and stop every pending run.

A stack restored from another stack's snapshot (staging rehearsing an upgrade on a copy of prod) must not
touch the source's targets: the copy's DAGs are paused, and the runs and task instances that were queued
or running when the snapshot was taken are marked failed. It runs in the migration task after
`airflow db migrate`, once per snapshot (a marker in the metadata database remembers which), so DAGs an
operator unpauses on purpose stay unpaused through later upgrades.

Usage: python restore_guard.py <snapshot id>     (prints what it did as JSON)
"""

from __future__ import annotations

import json
import sys
from typing import Any

MARKER = "restore_guard.snapshot"
PENDING_RUN_STATES = ("queued", "running")
PENDING_TASK_STATES = ("scheduled", "queued", "running", "deferred", "up_for_retry", "up_for_reschedule", "restarting")


def guard(session: Any, snapshot: str) -> dict[str, Any]:
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.variable import Variable
    from sqlalchemy import select, update

    marker = session.scalar(select(Variable).where(Variable.key == MARKER))
    if marker is not None and marker.val == snapshot:
        return {"snapshot": snapshot, "skipped": "already guarded"}

    paused = session.execute(update(DagModel).where(DagModel.is_paused.is_(False)).values(is_paused=True)).rowcount
    tasks = session.execute(
        update(TaskInstance).where(TaskInstance.state.in_(PENDING_TASK_STATES)).values(state="failed")
    ).rowcount
    runs = session.execute(update(DagRun).where(DagRun.state.in_(PENDING_RUN_STATES)).values(state="failed")).rowcount
    if marker is None:
        session.add(Variable(key=MARKER, val=snapshot, description="set by restore_guard.py after a restore"))
    else:
        marker.val = snapshot
    return {"snapshot": snapshot, "dags_paused": paused, "runs_failed": runs, "task_instances_failed": tasks}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0]:
        print("usage: restore_guard.py <snapshot id>", file=sys.stderr)
        return 2
    from airflow.utils.session import create_session

    with create_session() as session:
        result = guard(session, argv[0])
    print(json.dumps({"event": "restore-guard", **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
