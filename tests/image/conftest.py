"""A real Airflow 3 environment per test module: PostgreSQL with TLS, migrated by the stack's own script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy

from tests.conftest import airflow_env_for
from tests.support.variants import QUEUE_URL  # noqa: F401 (tests import it from here)


@pytest.fixture(scope="module")
def container_env(airflow_database, tmp_path_factory):
    """The environment a container gets: the shared AIRFLOW__ settings plus the secrets ECS injects, on a
    database of this module's own (cloned from the one the migration script migrated)."""
    return airflow_env_for(airflow_database, tmp_path_factory.mktemp("airflow-home"))


def run(env: dict[str, str], args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)


def airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return run(env, [sys.executable, "-m", "airflow", *args])


def users(env: dict[str, str]) -> dict[str, str]:
    """Each user of Airflow's auth manager (FAB) and its password hash, read from its table."""
    engine = sqlalchemy.create_engine(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], poolclass=sqlalchemy.NullPool)
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text("SELECT username, password FROM ab_user")).all()
    return {username: password for username, password in rows}


TEST_DAGS = Path(__file__).resolve().parent / "dags"


@pytest.fixture(scope="module")
def parsed_env(container_env):
    """The container environment with the test DAGs (tests/image/dags) parsed into the database."""
    env = {
        **container_env,
        "AIRFLOW__CORE__DAGS_FOLDER": str(TEST_DAGS),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
            [
                {
                    "name": "dags-folder",
                    "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                    "kwargs": {"path": str(TEST_DAGS)},
                }
            ]
        ),
    }
    parsed = airflow(env, "dags", "reserialize")
    assert parsed.returncode == 0, parsed.stderr[-3000:]
    return env
