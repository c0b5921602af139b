"""Lands order files as they arrive, driven by messages on an SQS queue (event-driven scheduling).

The source system (or an S3 event notification) posts a message to `$ORDERS_EVENTS_QUEUE_URL` for each
new file. An asset watcher in the triggerer reads the queue and updates the `orders_events` asset, which
runs this DAG; the waker also counts that queue's messages, so a sleeping stack wakes for them.
Messages are S3 event notifications, or `{"bucket": ..., "key": ...}`. To re-run by hand, **Trigger DAG**
with `{"messages": [<message body>, ...]}` (and `"date": "YYYY-MM-DD"` to land under that day).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.common.messaging.triggers.msg_queue import MessageQueueTrigger
from airflow.sdk import DAG, Asset, AssetWatcher, task
from orders_common import DEFAULT_ARGS, EVENTS_QUEUE_URL, LAKE_BUCKET, RAW_ORDER_EVENTS, parse_orders, run_date

ORDERS_EVENTS = Asset(
    "orders_events",
    watchers=[
        AssetWatcher(
            name="orders_events_queue",
            trigger=MessageQueueTrigger(scheme="sqs", sqs_queue=EVENTS_QUEUE_URL, waiter_delay=30),
        )
    ],
)


def objects_in(body: str) -> list[tuple[str, str]]:
    """(bucket, key) pairs named by one message: an S3 event notification or a plain {"bucket", "key"}."""
    message = json.loads(body)
    if "Records" in message:
        return [(r["s3"]["bucket"]["name"], r["s3"]["object"]["key"]) for r in message["Records"] if "s3" in r]
    return [(message["bucket"], message["key"])]


with DAG(
    dag_id="orders_events",
    schedule=[ORDERS_EVENTS],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    dagrun_timeout=timedelta(minutes=30),
    default_args=DEFAULT_ARGS,
    tags=["orders", "ingestion", "event-driven"],
    doc_md=__doc__,
):

    @task
    def received_messages(triggering_asset_events=None, dag_run=None) -> list[str]:
        bodies = list((dag_run.conf or {}).get("messages", [])) if dag_run else []
        for event in (triggering_asset_events or {}).get(ORDERS_EVENTS, []):
            payload = (event.extra or {}).get("payload") or {}
            bodies += [m["Body"] for m in payload.get("message_batch", [])]
        if not bodies:
            raise ValueError('no messages: this DAG runs from its queue, or by hand with {"messages": [...]}')
        return bodies

    @task(outlets=[RAW_ORDER_EVENTS])
    def land(bodies: list[str], ds: str | None = None, dag_run=None) -> list[str]:
        ds = run_date(ds, dag_run)
        hook = S3Hook()
        landed = []
        for body in bodies:
            for bucket, key in objects_in(body):
                text = hook.read_key(key, bucket_name=bucket)
                parse_orders(text, source=f"s3://{bucket}/{key}")
                target = f"raw/order_events/dt={ds}/{key.rsplit('/', 1)[-1]}"
                hook.load_string(text, key=target, bucket_name=LAKE_BUCKET, replace=True)
                landed.append(target)
        return landed

    land(received_messages())
