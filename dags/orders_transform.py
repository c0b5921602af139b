"""Totals per customer for each day of landed orders, in the curated zone.

Runs when `orders_ingest` updates the `raw_orders` asset (so, daily, after the export lands), reads
`raw/orders/dt=<date>/*.csv` and writes `curated/order_totals/dt=<date>/totals.json`: per customer and
currency, the number of orders and their total. To recompute a day by hand, **Trigger DAG** in the UI with
the configuration `{"date": "YYYY-MM-DD"}`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.sdk import DAG, task
from orders_common import DAILY_ORDER_TOTALS, DEFAULT_ARGS, LAKE_BUCKET, RAW_ORDERS, parse_orders, run_date


def totals(rows: list[dict[str, str]]) -> list[dict]:
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        group = (row["customer_id"], row["currency"])
        sums[group] += Decimal(row["amount"])
        counts[group] += 1
    return [
        {
            "customer_id": customer,
            "currency": currency,
            "orders": counts[(customer, currency)],
            "total": str(sums[(customer, currency)]),
        }
        for customer, currency in sorted(sums)
    ]


with DAG(
    dag_id="orders_transform",
    schedule=[RAW_ORDERS],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=1),
    default_args=DEFAULT_ARGS,
    tags=["orders", "transform", "curated"],
    doc_md=__doc__,
):

    @task
    def dates_to_compute(triggering_asset_events=None, dag_run=None) -> list[str]:
        dates = {e.extra["dt"] for e in (triggering_asset_events or {}).get(RAW_ORDERS, []) if e.extra.get("dt")}
        if dag_run and (dag_run.conf or {}).get("date"):
            dates.add(run_date(None, dag_run))
        if not dates:
            raise ValueError('no date: this DAG runs after orders_ingest, or by hand with {"date": "YYYY-MM-DD"}')
        return sorted(dates)

    @task(outlets=[DAILY_ORDER_TOTALS])
    def compute(dates: list[str]) -> list[str]:
        hook = S3Hook()
        written = []
        for date in dates:
            rows = []
            for key in sorted(hook.list_keys(bucket_name=LAKE_BUCKET, prefix=f"raw/orders/dt={date}/") or []):
                if key.endswith(".csv"):
                    rows += parse_orders(hook.read_key(key, bucket_name=LAKE_BUCKET), source=key)
            target = f"curated/order_totals/dt={date}/totals.json"
            hook.load_string(json.dumps(totals(rows), indent=2), key=target, bucket_name=LAKE_BUCKET, replace=True)
            written.append(target)
        return written

    compute(dates_to_compute())
