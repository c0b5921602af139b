"""Celery's result backend as a database role of its own (image/celery_results.py), against real PostgreSQL.

The worker holds this role's URL and nothing else of the database: it can write and read Celery's results,
and cannot read Airflow's tables or create any. Airflow's own Celery app, given only the worker's
environment (no metadata database URL), stores and reads a result with it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from infra.airflow_env import SECRET_ENVIRONMENT


def role_engine(env: dict[str, str]) -> sqlalchemy.engine.Engine:
    return sqlalchemy.create_engine(env["AIRFLOW__CELERY__RESULT_BACKEND"].removeprefix("db+"))


def worker_environment(env: dict[str, str]) -> dict[str, str]:
    """The container environment less every secret the worker is not handed (airflow_env.SECRET_ENVIRONMENT)."""
    withheld = {name for name, (_, _, holders) in SECRET_ENVIRONMENT.items() if "worker" not in holders}
    return {k: v for k, v in env.items() if k not in withheld}


def test_the_role_touches_celerys_rows_and_nothing_of_airflows(container_env):
    with role_engine(container_env).connect() as connection:
        connection.execute(
            sqlalchemy.text(
                "INSERT INTO celery_taskmeta (id, task_id, status) VALUES (nextval('task_id_sequence'), 'probe', 'OK')"
            )
        )
        assert connection.execute(sqlalchemy.text("SELECT count(*) FROM celery_taskmeta")).scalar_one() >= 1
        connection.commit()
        for statement in (
            "SELECT 1 FROM connection",
            "SELECT 1 FROM variable",
            "SELECT 1 FROM ab_user",
            "SELECT 1 FROM dag_run",
            "CREATE TABLE stolen (x int)",
        ):
            with pytest.raises(ProgrammingError, match="permission denied"):
                connection.execute(sqlalchemy.text(statement))
            connection.rollback()


def test_every_run_sets_the_roles_password_to_the_urls(container_env):
    """A database restored from another stack's snapshot keeps the source's role: its password is replaced."""
    old = container_env["AIRFLOW__CELERY__RESULT_BACKEND"]
    new = old.replace(make_url(old.removeprefix("db+")).password or "", "a-new-password-for-this-stack")
    env = {**container_env, "AIRFLOW__CELERY__RESULT_BACKEND": new}
    result = subprocess.run(
        [sys.executable, env["CELERY_RESULTS"]], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "password set" in result.stdout and "a-new-password" not in result.stdout
    with role_engine(env).connect() as connection:
        assert connection.execute(sqlalchemy.text("SELECT 1")).scalar() == 1
    with pytest.raises(OperationalError, match="password authentication failed"):
        role_engine(container_env).connect()
    again = subprocess.run([sys.executable, env["CELERY_RESULTS"]], env=container_env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]


def test_the_role_may_not_be_the_master_user(container_env):
    master = make_url(container_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    env = {**container_env, "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + master.render_as_string(hide_password=False)}
    result = subprocess.run([sys.executable, env["CELERY_RESULTS"]], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "must not be the metadata database's master user" in result.stderr


STORE = """
import json
from airflow.providers.celery.executors.celery_executor_utils import app
app.backend.store_result("probe-task", {"done": True}, "SUCCESS")
meta = app.backend.get_task_meta("probe-task")
print(json.dumps({"status": meta["status"], "result": meta["result"], "backend": type(app.backend).__name__}))
"""


def test_airflows_celery_app_stores_results_with_only_the_workers_environment(container_env):
    env = worker_environment(container_env)
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env and "AIRFLOW__CORE__FERNET_KEY" not in env
    result = subprocess.run([sys.executable, "-c", STORE], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    stored = json.loads(result.stdout.strip().splitlines()[-1])
    assert stored == {"status": "SUCCESS", "result": {"done": True}, "backend": "DatabaseBackend"}
