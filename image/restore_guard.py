"""After a restore from a snapshot, before any scheduler runs: pause every DAG and stop every pending run.

A stack restored from another stack's snapshot (staging rehearsing an upgrade on a copy of prod) must not
touch the source's targets. In the copy:
- every DAG is paused;
- the runs and task instances that were queued, running or deferred when the snapshot was taken are
  marked failed (in the database: no callback of theirs runs);
- the triggers they left (deferred tasks) and the asset watchers' triggers (which would read the source's
  event queues) are deleted, with the watchers themselves: the DAG processor registers them again from
  the copy's own DAG files, for the copy's own settings;
- queued asset-triggered runs (asset_dag_run_queue) and pending callbacks (callback) are dropped.

It runs in the migration task after `airflow db migrate`, once per restored database: the marker in the
metadata database records the snapshot and the database's identity (RDS's resource id, which a new
restore changes even from the same snapshot), so DAGs an operator unpauses on purpose stay unpaused
through later upgrades, and a database restored again is guarded again.

Usage: python restore_guard.py <snapshot id> [<database identity>]     (prints what it did as JSON)
"""

from __future__ import annotations

import json
import sys
from typing import Any

from contracts.metrics import ACTIVE_TI_STATES

MARKER = "restore_guard.snapshot"
PENDING_RUN_STATES = ("queued", "running")
PENDING_TASK_STATES = ACTIVE_TI_STATES  # what the scheduler would run or resume


def guard(session: Any, snapshot: str, database: str = "") -> dict[str, Any]:
    from airflow.models.asset import AssetDagRunQueue, AssetWatcherModel
    from airflow.models.callback import Callback
    from airflow.models.dag import DagModel
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.models.variable import Variable
    from sqlalchemy import delete, select, update

    identity = f"{snapshot}@{database}" if database else snapshot
    marker = session.scalar(select(Variable).where(Variable.key == MARKER))
    if marker is not None and marker.val == identity:
        return {"restored": identity, "skipped": "already guarded"}

    paused = session.execute(update(DagModel).where(DagModel.is_paused.is_(False)).values(is_paused=True)).rowcount
    tasks = session.execute(
        update(TaskInstance)
        .where(TaskInstance.state.in_(PENDING_TASK_STATES))
        .values(state="failed", trigger_id=None, next_method=None, next_kwargs=None)
    ).rowcount
    session.execute(update(TaskInstance).where(TaskInstance.trigger_id.is_not(None)).values(trigger_id=None))
    runs = session.execute(update(DagRun).where(DagRun.state.in_(PENDING_RUN_STATES)).values(state="failed")).rowcount
    watchers = session.execute(delete(AssetWatcherModel)).rowcount
    triggers = session.execute(delete(Trigger)).rowcount
    queued_asset_runs = session.execute(delete(AssetDagRunQueue)).rowcount
    callbacks = session.execute(delete(Callback)).rowcount
    if marker is None:
        session.add(Variable(key=MARKER, val=identity, description="set by restore_guard.py after a restore"))
    else:
        marker.val = identity
    return {
        "restored": identity,
        "dags_paused": paused,
        "runs_failed": runs,
        "task_instances_failed": tasks,
        "triggers_deleted": triggers,
        "asset_watchers_deleted": watchers,
        "asset_queue_dropped": queued_asset_runs,
        "callbacks_dropped": callbacks,
    }


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2) or not argv[0]:
        print("usage: restore_guard.py <snapshot id> [<database identity>]", file=sys.stderr)
        return 2
    from airflow.utils.session import create_session

    with create_session() as session:
        result = guard(session, argv[0], argv[1] if len(argv) == 2 else "")
    print(json.dumps({"event": "restore-guard", **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
