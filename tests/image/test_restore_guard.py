"""The migration script run again, on a database restored from another stack's snapshot, as the migrate task
runs it on every deploy of a restored stack: the restore guard against real Airflow 3 and PostgreSQL, and the
first admin user's password, which is never on a command line. (The script's first run migrated the template
database every module clones; one watched second run serves both, where each ran it again before.)"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import sqlalchemy
from werkzeug.security import check_password_hash

from infra.airflow_env import MIGRATE_SCRIPT, RESTORED_DATABASE, RESTORED_FROM
from tests.image.conftest import run, users

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


@dataclasses.dataclass(frozen=True)
class WatchedRun:
    returncode: int
    output: str
    scans: int  # how often every process's command line was read while the script ran
    password_seen_in: list[list[str]]  # the command lines that held the admin password


def run_watched(env: dict[str, str]) -> WatchedRun:
    """The migration script, every process's command line read every 20 ms while it runs."""
    password = env["_AIRFLOW_ADMIN_PASSWORD"]
    process = subprocess.Popen(
        ["bash", "-c", MIGRATE_SCRIPT], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seen, scans = [], 0
    while process.poll() is None:
        for other in psutil.process_iter(["cmdline"]):
            if password in " ".join(other.info["cmdline"] or []):
                seen.append(other.info["cmdline"])
        scans += 1
        time.sleep(0.02)
    output = process.stdout.read() if process.stdout else ""
    return WatchedRun(process.returncode, output, scans, seen)


@pytest.fixture(scope="module")
def restore(restored_env) -> tuple[dict, WatchedRun, dict]:
    """What Airflow's tables held before, the script's run on the restored database, and what they hold after."""
    before = inspect(restored_env)
    migrated = run_watched({**restored_env, RESTORED_FROM: "airflow-prod-2026-11-20"})
    assert migrated.returncode == 0, migrated.output[-5000:]
    return before, migrated, inspect(restored_env)


def test_after_a_restore_no_dag_is_unpaused_and_no_run_is_pending(restore):
    before, migrated, after = restore
    assert before["unpaused"] and before["pending_runs"] == 3 and before["active_tasks"] > 0
    assert before["triggers"] == before["asset_watchers"] == before["asset_queue"] == 1
    assert '"event": "restore-guard"' in migrated.output
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


def test_the_script_runs_again_and_the_admin_password_is_on_no_command_line(restored_env, restore):
    # The restored database already has its admin user (the template's migration made it, as the source stack's
    # did): the run sets this stack's password, from the environment only.
    _, migrated, _ = restore
    password = restored_env["_AIRFLOW_ADMIN_PASSWORD"]
    assert migrated.scans > 20  # the script ran long enough to be watched (Airflow starts in seconds)
    assert migrated.password_seen_in == []
    assert password not in migrated.output
    assert "admin user admin: password set to this stack's" in migrated.output
    accounts = users(restored_env)
    assert list(accounts) == ["admin"] and check_password_hash(accounts["admin"], password)


def guard(env: dict[str, str], restored_from: str, database: str = ""):
    """The guard as the migration script's own line runs it (the `restore` fixture runs that whole script)."""
    parts = MIGRATE_SCRIPT.split("; ")
    at = next(index for index, part in enumerate(parts) if "RESTORE_GUARD" in part)  # if ...; then ...; fi
    script = "; ".join(["set -euo pipefail", *parts[at - 1 : at + 2]])
    return run({**env, RESTORED_FROM: restored_from, RESTORED_DATABASE: database}, ["bash", "-c", script])


def test_the_guard_runs_once_per_restored_database(restored_env, restore):
    # After the script's run guarded the restore from airflow-prod-2026-11-20.
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
