"""Run inside a process configured for a real Airflow 3 + PostgreSQL: build a known state through Airflow's
models, run the activity reporter once against moto's CloudWatch, and print what it published (JSON).

Used by tests/image/test_activity_reporter.py; the DAG files are already parsed (`airflow dags reserialize`).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
from airflow.api.common.trigger_dag import trigger_dag
from airflow.models.asset import AssetDagRunQueue, AssetModel
from airflow.models.dag import DagModel
from airflow.models.dagrun import DagRun
from airflow.utils.session import create_session
from airflow.utils.types import DagRunTriggeredByType
from moto import mock_aws

from image import activity_reporter

NAMESPACE = "Airflow/airflow-test"


def arrange(now: datetime) -> dict[str, str]:
    """DAGs in each state that matters; returns the expected next due time per schedulable DAG."""
    flags = {
        # dag_id: (paused, stale, import errors, next_dagrun_create_after)
        "hourly_due": (False, False, False, now - timedelta(minutes=5)),
        "daily_later": (False, False, False, now + timedelta(hours=2)),
        "paused_due": (True, False, False, now - timedelta(hours=1)),
        "stale_due": (False, True, False, now - timedelta(hours=1)),
        "broken_due": (False, False, True, now - timedelta(hours=1)),
    }
    with create_session() as session:
        for dag_id, (paused, stale, broken, next_after) in flags.items():
            dag = session.get(DagModel, dag_id)
            assert dag is not None, f"{dag_id} was not parsed"
            dag.is_paused, dag.is_stale, dag.has_import_errors = paused, stale, broken
            dag.next_dagrun_create_after = next_after

    # Two manual runs of daily_later: one stays queued, one runs with task instances in active states.
    for index in range(2):
        trigger_dag(
            "daily_later",
            triggered_by=DagRunTriggeredByType.TEST,
            run_id=f"manual_{index}",
            logical_date=now - timedelta(days=index + 1),
        )
    with create_session() as session:
        running = session.query(DagRun).filter_by(dag_id="daily_later", run_id="manual_1").one()
        running.state = "running"
        instances = {ti.task_id: ti for ti in running.get_task_instances(session=session)}
        for task_id, state in {
            "extract": "running",
            "load": "queued",
            "wait": "deferred",
            "retry": "up_for_retry",
        }.items():
            instances[task_id].state = state

        asset = AssetModel(name="landing", uri="s3://landing/orders/", group="asset")
        session.add(asset)
        session.flush()
        session.add(AssetDagRunQueue(asset_id=asset.id, target_dag_id="daily_later"))
    return {"next_due": (now - timedelta(minutes=5)).isoformat()}


def main() -> None:
    now = datetime.now(UTC)
    expected = arrange(now)
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-gov-east-1")
        values = activity_reporter.report_once(cloudwatch, NAMESPACE, now)
        names = sorted(m["MetricName"] for m in cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"])
    print(json.dumps({"values": values, "published": names, "now": now.isoformat(), **expected}))


if __name__ == "__main__":
    main()
