"""A real Airflow 3 environment per test module: PostgreSQL with TLS, migrated by the stack's own script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_env import MIGRATE_SCRIPT, AirflowEndpoints, airflow_environment
from components.database import connection_document
from tests.support.postgres import running_postgres

QUEUE_URL = "https://sqs.us-gov-east-1.amazonaws.com/123456789012/airflow-test-celery"
ENDPOINTS = AirflowEndpoints(
    region="us-gov-east-1",
    bucket="airflow-test-bucket",
    broker_queue_url=QUEUE_URL,
    execution_api_url="http://api-server.airflow-test.internal:8080/execution/",
    base_url="http://api-server.airflow-test.internal:8080",
    connections_prefix="airflow-test/connections",
    variables_prefix="airflow-test/variables",
    worker_concurrency=4,
    broker_visibility_timeout_seconds=21600,
)


@pytest.fixture(scope="module")
def container_env(tmp_path_factory):
    """The environment a container gets: the shared AIRFLOW__ settings plus the secrets ECS injects."""
    with running_postgres() as pg:
        document = json.loads(connection_document(pg.user, pg.password, pg.host, pg.port, pg.dbname))
        home = tmp_path_factory.mktemp("airflow-home")
        env = {
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "HOME": str(home),
            "AIRFLOW_HOME": str(home),
            **airflow_environment(ENDPOINTS),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": document["conn"],
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": document["conn_async"],
            "AIRFLOW__CORE__FERNET_KEY": "x1WqTfMXs8DaY5bCMaqMLWtyKaXm9S1Ys6WLBgLzxOI=",
            "AIRFLOW__API_AUTH__JWT_SECRET": "jwt-secret-for-tests",
            "AIRFLOW__API__SECRET_KEY": "api-secret-key-for-tests",
            "_AIRFLOW_ADMIN_PASSWORD": "admin-password-for-tests",
            # No AWS here: keep boto3 from looking for credentials or instance metadata.
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        migrated = run(env, ["bash", "-c", MIGRATE_SCRIPT], timeout=600)
        assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-3000:]
        yield env


def run(env: dict[str, str], args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout)


def airflow(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return run(env, [sys.executable, "-m", "airflow", *args])


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
