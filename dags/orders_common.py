"""What the orders DAGs share: where the data lives, the assets they exchange, their defaults.

No DAG here. Locations come from the environment (the stack's `services.environment` setting in AWS,
`make dev` and the DAG tests locally), so importing this file does no I/O.
"""

from __future__ import annotations

import csv
import io
import os
import re
from datetime import timedelta
from typing import Any

from airflow.sdk import Asset

LAKE_BUCKET = os.environ.get("LAKE_BUCKET", "local-lake")
SOURCE_BUCKET = os.environ.get("ORDERS_SOURCE_BUCKET", "local-source")
# When the daily export is landed (the source system drops it by 04:00 UTC); a stack may set another time.
INGEST_SCHEDULE = os.environ.get("ORDERS_INGEST_SCHEDULE", "0 4 * * *")
EVENTS_QUEUE_URL = os.environ.get(
    "ORDERS_EVENTS_QUEUE_URL", "https://sqs.us-gov-east-1.amazonaws.com/000000000000/orders-events"
)

RAW_ORDERS = Asset(name="raw_orders", uri=f"s3://{LAKE_BUCKET}/raw/orders/")
RAW_ORDER_EVENTS = Asset(name="raw_order_events", uri=f"s3://{LAKE_BUCKET}/raw/order_events/")
DAILY_ORDER_TOTALS = Asset(name="daily_order_totals", uri=f"s3://{LAKE_BUCKET}/curated/order_totals/")

ORDER_COLUMNS = ["order_id", "customer_id", "amount", "currency", "ordered_at"]

DEFAULT_ARGS = {
    "owner": "data-platform",
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
    "execution_timeout": timedelta(minutes=30),
}


def run_date(ds: str | None, dag_run: Any = None) -> str:
    """The day a run works on: `{"date": "YYYY-MM-DD"}` in its configuration (a re-run from the UI's Trigger
    button), else its logical date, else the day it was triggered (a manual run without a logical date)."""
    wanted = ((dag_run.conf or {}) if dag_run is not None else {}).get("date")
    if wanted is not None:
        if not isinstance(wanted, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", wanted):
            raise ValueError(f'the run configuration\'s "date" must be YYYY-MM-DD, got {wanted!r}')
        return wanted
    if ds:
        return ds
    if dag_run is not None and getattr(dag_run, "run_after", None):
        return dag_run.run_after.date().isoformat()
    raise ValueError('no date to work on: trigger with {"date": "YYYY-MM-DD"}')


def parse_orders(text: str, *, source: str) -> list[dict[str, str]]:
    """Rows of an orders CSV, refusing a file whose header is not the agreed one or that has no rows."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames != ORDER_COLUMNS:
        raise ValueError(f"{source}: header {reader.fieldnames} is not {ORDER_COLUMNS}")
    rows = list(reader)
    if not rows:
        raise ValueError(f"{source}: no rows")
    return rows
