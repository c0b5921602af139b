"""Each example DAG end to end with dag.test(), on local stand-ins (a moto server for S3 and SQS)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.dag_harness import summary


def run(harness, dag_id: str) -> dict:
    code, document, output = harness("run", dag_id, "--date", "2026-11-24")
    assert code == 0, output
    assert document["state"] == "success", output
    assert set(document["tasks"].values()) == {"success"}, document["tasks"]
    return document


@pytest.mark.dag_file("orders_ingest.py")
def test_ingest_lands_the_export_and_writes_a_manifest(harness):
    lake = run(harness, "orders_ingest")["lake"]
    landed = sorted(k for k in lake if k.endswith(".csv"))
    assert landed == ["raw/orders/dt=2026-11-24/orders-part-1.csv", "raw/orders/dt=2026-11-24/orders-part-2.csv"]
    manifest = json.loads(lake["raw/orders/dt=2026-11-24/_manifest.json"])
    assert manifest["rows"] == 3 and [f["rows"] for f in manifest["files"]] == [2, 1]


@pytest.mark.dag_file("orders_ingest.py")
def test_a_run_reports_what_each_task_wrote_and_keeps_airflows_log_in_a_file(harness):
    code, document, output = harness("run", "orders_ingest", "--date", "2026-11-23", cli=True)
    assert code == 0, output
    wrote = {t["task_id"]: t["wrote"] for t in document["task_runs"]}
    assert wrote == {
        "list_export": [],
        "land": ["raw/orders/dt=2026-11-23/orders-part-1.csv", "raw/orders/dt=2026-11-23/orders-part-2.csv"],
        "write_manifest": ["raw/orders/dt=2026-11-23/_manifest.json"],
    }
    assert output.count("\n") <= 1, "with --json, the result is all that is printed"
    log = Path(document["log"]).read_text()
    assert "Marking run <DagRun orders_ingest" in log and "successful" in log, log[-2000:]
    table = summary(document, Path(document["log"]))
    assert "land            success" in table and "raw/orders/dt=2026-11-23/_manifest.json (" in table


@pytest.mark.dag_file("orders_transform.py")
def test_transform_totals_per_customer(harness):
    lake = run(harness, "orders_transform")["lake"]
    totals = json.loads(lake["curated/order_totals/dt=2026-11-24/totals.json"])
    assert totals == [
        {"customer_id": "c-1", "currency": "USD", "orders": 2, "total": "14.75"},
        {"customer_id": "c-2", "currency": "USD", "orders": 1, "total": "5.00"},
    ]


@pytest.mark.dag_file("orders_events.py")
def test_a_queue_message_fires_the_watcher_and_the_file_lands(harness):
    document = run(harness, "orders_events")
    batch = document["watcher_event"]["message_batch"]
    assert [json.loads(m["Body"])["key"] for m in batch] == ["exports/orders/2026-11-24/orders-part-2.csv"]
    assert list(document["lake"]) == ["raw/order_events/dt=2026-11-24/orders-part-2.csv"]


@pytest.mark.dag_file("orders_ingest.py")
def test_a_manual_run_without_a_logical_date_lands_the_day_in_its_conf(harness):
    """Regression: triggered from the UI with no logical date and {"date": ...}, orders_ingest looked for
    exports/orders/None/ and retried until it failed, holding every later run behind it."""
    code, document, output = harness(
        "run", "orders_ingest", "--date", "2026-11-24", "--no-logical-date", "--conf", '{"date": "2026-11-24"}'
    )
    assert code == 0 and document["state"] == "success", output
    assert "raw/orders/dt=2026-11-24/_manifest.json" in document["lake"]


@pytest.mark.dag_file("airflow_smoke.py")
def test_the_smoke_dag_prints_the_line_airflow_stack_smoke_looks_for(harness):
    from airflow_stack import smoke

    assert (Path(__file__).resolve().parents[2] / smoke.DAG_FILE).is_file(), "the file the command looks for"
    code, document, output = harness("run", smoke.DAG_ID, "--date", "2026-11-24", "--no-logical-date")
    assert code == 0 and document["state"] == "success", output
    assert smoke.SMOKE_LINE in Path(document["log"]).read_text(), "the line the command finds in the task's log"
