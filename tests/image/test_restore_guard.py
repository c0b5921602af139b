"""The restore guard against real Airflow 3 and PostgreSQL, run as the migration task runs it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import sqlalchemy

from infra.airflow_env import MIGRATE_SCRIPT, RESTORED_DATABASE, RESTORED_FROM
from tests.image.conftest import run

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

ARRANGE = """
from datetime import UTC, datetime, timedelta
from airflow.api.common.trigger_dag import trigger_dag
from airflow.models.dag import DagModel
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session
from airflow.utils.types import DagRunTriggeredByType

# As on prod when the snapshot was taken: DAGs unpaused, runs queued and running, tasks in flight.
now = datetime.now(UTC)
with create_session() as session:
    for dag in session.query(DagModel):
        dag.is_paused = False
for index, dag_id in enumerate(["hourly_due", "daily_later", "daily_later"]):
    trigger_dag(dag_id, triggered_by=DagRunTriggeredByType.TEST, run_id=f"prod_{index}",
                logical_date=now - timedelta(days=index + 1))
with create_session() as session:
    run = session.query(DagRun).filter_by(run_id="prod_1").one()
    run.state = "running"
    for ti in run.get_task_instances(session=session):
        ti.state = "running"

# Prod's event queue, watched by an asset watcher, its trigger, and an asset-triggered run queued for it.
from airflow.models.asset import AssetDagRunQueue, AssetModel, AssetWatcherModel
from airflow.models.trigger import Trigger
with create_session() as session:
    asset = AssetModel(name="orders_events", uri="orders_events")
    session.add(asset)
    trigger = Trigger(
        classpath="airflow.providers.common.messaging.triggers.msg_queue.MessageQueueTrigger",
        kwargs={"scheme": "sqs", "sqs_queue": "https://sqs.us-gov-east-1.amazonaws.com/111111111111/prod-orders"},
    )
    session.add(trigger)
    session.flush()
    session.add(AssetWatcherModel(name="orders_events_queue", asset_id=asset.id, trigger_id=trigger.id))
    session.add(AssetDagRunQueue(asset_id=asset.id, target_dag_id="hourly_due"))
"""

# What the guard leaves, read straight from Airflow's tables (a query needs no Airflow process of its own).
INSPECT = {
    "unpaused": "select dag_id from dag where not is_paused order by dag_id",
    "pending_runs": "select count(*) from dag_run where state in ('queued', 'running')",
    "active_tasks": "select count(*) from task_instance where state in ('scheduled', 'queued', 'running', 'deferred')",
    "dags": "select count(*) from dag",
    "triggers": "select count(*) from trigger",
    "asset_watchers": "select count(*) from asset_watcher",
    "asset_queue": "select count(*) from asset_dag_run_queue",
    "callbacks": "select count(*) from callback",
}


def database(env: dict[str, str]):
    return sqlalchemy.create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], poolclass=sqlalchemy.NullPool)


def unpause_one(env: dict[str, str]) -> None:
    """An operator unpauses one DAG after the restore."""
    with database(env).begin() as connection:
        connection.execute(sqlalchemy.text("update dag set is_paused = false where dag_id = 'daily_later'"))


@pytest.fixture(scope="module")
def restored_env(parsed_env):
    env = {**parsed_env, "RESTORE_GUARD": str(ROOT / "image" / "restore_guard.py")}
    arranged = run(env, [sys.executable, "-c", ARRANGE])
    assert arranged.returncode == 0, arranged.stderr[-3000:]
    return env


def inspect(env) -> dict:
    with database(env).connect() as connection:
        answers = {key: connection.execute(sqlalchemy.text(query)).all() for key, query in INSPECT.items()}
    return {key: [row[0] for row in rows] if key == "unpaused" else rows[0][0] for key, rows in answers.items()}


def test_after_a_restore_no_dag_is_unpaused_and_no_run_is_pending(restored_env):
    before = inspect(restored_env)
    assert before["unpaused"] and before["pending_runs"] == 3 and before["active_tasks"] > 0
    assert before["triggers"] == before["asset_watchers"] == before["asset_queue"] == 1

    migrated = run({**restored_env, RESTORED_FROM: "airflow-prod-2026-11-20"}, ["bash", "-c", MIGRATE_SCRIPT])
    assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-3000:]
    assert '"event": "restore-guard"' in migrated.stdout

    after = inspect(restored_env)
    assert after == {
        "unpaused": [],
        "pending_runs": 0,
        "active_tasks": 0,
        "dags": before["dags"],
        # Restored triggers never fire: no trigger, no watcher of prod's queue, no queued asset run, no callback.
        "triggers": 0,
        "asset_watchers": 0,
        "asset_queue": 0,
        "callbacks": 0,
    }


def guard(env: dict[str, str], restored_from: str, database: str = ""):
    """The guard as the migration script's own line runs it (the test above runs that whole script)."""
    parts = MIGRATE_SCRIPT.split("; ")
    at = next(index for index, part in enumerate(parts) if "RESTORE_GUARD" in part)  # if ...; then ...; fi
    script = "; ".join(["set -euo pipefail", *parts[at - 1 : at + 2]])
    return run({**env, RESTORED_FROM: restored_from, RESTORED_DATABASE: database}, ["bash", "-c", script])


def test_the_guard_runs_once_per_restored_database(restored_env):
    unpause_one(restored_env)
    again = guard(restored_env, "airflow-prod-2026-11-20")
    assert again.returncode == 0 and "already guarded" in again.stdout, again.stderr[-2000:]
    assert inspect(restored_env)["unpaused"] == ["daily_later"], "what an operator unpaused stays unpaused"

    newer = guard(restored_env, "airflow-prod-2026-12-01")
    assert newer.returncode == 0
    assert inspect(restored_env)["unpaused"] == [], "a restore from a newer snapshot is guarded again"

    # Regression: a replacement restored from the same snapshot skipped the guard. Its new database identity
    # (RDS's resource id, which the migration runner passes) guards it again.
    unpause_one(restored_env)
    replaced = guard(restored_env, "airflow-prod-2026-12-01", "db-NEWRESTORE")
    assert replaced.returncode == 0 and "already guarded" not in replaced.stdout
    assert inspect(restored_env)["unpaused"] == []
