"""A local Airflow for DAG authors (make dev, make dag-test) and what stands in for AWS around it: its
environment, the moto server's names and sample data, and what each task wrote to the lake bucket."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
REGION = "us-gov-east-1"

SAMPLE_EXPORT = {
    "orders-part-1.csv": "order_id,customer_id,amount,currency,ordered_at\n"
    "o-1,c-1,10.50,USD,2026-11-24T08:00:00Z\no-2,c-2,5.00,USD,2026-11-24T09:30:00Z\n",
    "orders-part-2.csv": "order_id,customer_id,amount,currency,ordered_at\no-3,c-1,4.25,USD,2026-11-24T17:45:00Z\n",
}


# A local home's SQLite database, and the marker naming the Airflow version that migrated it.
DATABASE_FILE, MIGRATED_MARKER = "airflow.db", ".migrated"


def airflow_environment(home: Path) -> dict[str, str]:
    """A local Airflow: SQLite, the project's dags/, no examples, no login needed."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / DATABASE_FILE}",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(
            [
                {
                    "name": "dags-folder",
                    "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                    "kwargs": {"path": str(DAGS)},
                }
            ]
        ),
    }


def stand_in_environment(endpoint: str, names: dict[str, str]) -> dict[str, str]:
    """Credentials and endpoints that send every AWS call of the DAGs to the local moto server."""
    return {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
            {"conn_type": "aws", "extra": {"endpoint_url": endpoint, "region_name": REGION}}
        ),
        **names,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_airflow(home: Path) -> None:
    """Point this process at the local Airflow and migrate its database, once per Airflow version."""
    from importlib.metadata import version

    home.mkdir(parents=True, exist_ok=True)
    os.environ.update(airflow_environment(home))
    # `airflow db migrate` costs seconds even when there is nothing to do: skip it when this home's
    # database was migrated by this very Airflow version.
    marker, migrated = home / MIGRATED_MARKER, f"apache-airflow {version('apache-airflow')}"
    if (home / DATABASE_FILE).exists() and marker.exists() and marker.read_text() == migrated:
        return
    migrate = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True, text=True, env=os.environ.copy()
    )
    if migrate.returncode != 0:
        raise SystemExit(f"airflow db migrate failed:\n{migrate.stderr[-3000:]}")
    marker.write_text(migrated)


def seed(clients: dict[str, Any], names: dict[str, str], *days: str) -> None:
    """Buckets, queue and a sample export for each of `days`, as the example DAGs expect them."""
    s3 = clients["s3"]
    for bucket in (names["LAKE_BUCKET"], names["ORDERS_SOURCE_BUCKET"]):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    for day in days:
        for name, text in SAMPLE_EXPORT.items():
            key = f"exports/orders/{day}/{name}"
            s3.put_object(Bucket=names["ORDERS_SOURCE_BUCKET"], Key=key, Body=text.encode())
    clients["sqs"].create_queue(QueueName="orders-events")


def lake_objects(s3: Any, bucket: str) -> dict[str, str]:
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode() for o in listing}


class LakeWrites:
    """An Airflow listener noting what each task wrote to the lake bucket: dag.test() runs the tasks one
    at a time in this process, so what changed between a task's start and its end is its own."""

    def __init__(self, s3: Any, bucket: str) -> None:
        self.s3, self.bucket = s3, bucket
        self.before: dict[str, str] = {}
        self.by_task: dict[str, list[str]] = {}

    def objects(self) -> dict[str, str]:
        listing = self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return {o["Key"]: f"{o['ETag']}/{o['LastModified']}" for o in listing}

    def register(self) -> None:
        from airflow.listeners import hookimpl
        from airflow.sdk.listener import get_listener_manager

        writes = self

        class Listener:  # pluggy matches hook arguments by name
            @hookimpl
            def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
                writes.before = writes.objects()

            @hookimpl
            def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
                writes.ended(task_instance.task_id)

            @hookimpl
            def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
                writes.ended(task_instance.task_id)

        self.listener = Listener()
        get_listener_manager().add_listener(self.listener)

    def unregister(self) -> None:
        """Stop noting (a process that runs several DAGs notes each run's own writes only)."""
        from airflow.sdk.listener import get_listener_manager

        get_listener_manager().pm.unregister(self.listener)

    def ended(self, task_id: str) -> None:
        now = self.objects()
        self.by_task[task_id] = sorted(k for k, v in now.items() if self.before.get(k) != v)
