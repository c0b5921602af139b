"""Lands the source system's daily order export in the data lake's raw zone.

Each day by 04:00 UTC the source system drops its export under
`s3://$ORDERS_SOURCE_BUCKET/exports/orders/<date>/`. This DAG copies every file to
`s3://$LAKE_BUCKET/raw/orders/dt=<date>/`, refuses files whose header or content is wrong, and writes a
`_manifest.json`. Landing updates the `raw_orders` asset, which starts `orders_transform`.
A late export fails the first try; the retries pick it up.

To land a day again (a re-run, a backfill by hand): **Trigger DAG** in the UI with the configuration
`{"date": "2026-11-24"}`. Without a date a manual run lands the day it was triggered.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import DAG, task
from orders_common import DEFAULT_ARGS, INGEST_SCHEDULE, LAKE_BUCKET, RAW_ORDERS, SOURCE_BUCKET, parse_orders, run_date

with DAG(
    dag_id="orders_ingest",
    schedule=INGEST_SCHEDULE,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=2),
    default_args=DEFAULT_ARGS,
    tags=["orders", "ingestion", "raw"],
    doc_md=__doc__,
):

    @task
    def list_export(ds: str | None = None, dag_run=None) -> list[str]:
        day = run_date(ds, dag_run)
        keys = S3Hook().list_keys(bucket_name=SOURCE_BUCKET, prefix=f"exports/orders/{day}/") or []
        files = sorted(k for k in keys if k.endswith(".csv"))
        if not files:
            raise FileNotFoundError(f"no export in s3://{SOURCE_BUCKET}/exports/orders/{day}/ yet")
        return files

    @task
    def land(keys: list[str], ds: str | None = None, dag_run=None) -> dict:
        ds = run_date(ds, dag_run)
        hook = S3Hook()
        landed = []
        for key in keys:
            text = hook.read_key(key, bucket_name=SOURCE_BUCKET)
            rows = parse_orders(text, source=f"s3://{SOURCE_BUCKET}/{key}")
            target = f"raw/orders/dt={ds}/{key.rsplit('/', 1)[-1]}"
            hook.load_string(text, key=target, bucket_name=LAKE_BUCKET, replace=True)
            landed.append({"key": target, "rows": len(rows)})
        return {"date": ds, "files": landed, "rows": sum(f["rows"] for f in landed)}

    @task(outlets=[RAW_ORDERS])
    def write_manifest(manifest: dict, outlet_events=None) -> str:
        key = f"raw/orders/dt={manifest['date']}/_manifest.json"
        S3Hook().load_string(json.dumps(manifest, indent=2), key=key, bucket_name=LAKE_BUCKET, replace=True)
        outlet_events[RAW_ORDERS].extra = {"dt": manifest["date"], "rows": manifest["rows"]}
        return key

    write_manifest(land(list_export()))
