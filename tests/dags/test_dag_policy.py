"""Every DAG in dags/ imports cleanly under real Airflow 3 and follows the team's rules."""

from __future__ import annotations

import pytest

from devtools.dag_harness import import_error_report

DAG_FILES_WITHOUT_DAGS = {"orders_common.py"}  # shared helpers


@pytest.fixture(scope="module")
def parsed(harness):
    code, document, output = harness("check")
    assert code == 0, output
    return document


def test_every_file_imports_without_errors(parsed):
    if parsed["import_errors"]:  # each error whole (an assertion's diff would be cut off)
        pytest.fail(import_error_report(parsed["import_errors"]), pytrace=False)
    files_with_dags = {d["fileloc"] for d in parsed["dags"].values()}
    assert files_with_dags == set(parsed["files"]) - DAG_FILES_WITHOUT_DAGS


def test_parsing_is_quick(parsed):
    # The dag-processor re-parses every file on a loop; slow files delay every DAG.
    assert parsed["parse_seconds"] < 10


@pytest.mark.parametrize("rule", ["owner", "retries", "tags", "timeouts", "docs", "schedule"])
def test_every_dag_follows_the_rules(parsed, rule):
    for dag_id, dag in parsed["dags"].items():
        if rule == "owner":
            assert dag["owners"] and "airflow" not in dag["owners"], f"{dag_id}: set default_args owner"
        elif rule == "retries":
            assert min(dag["retries"]) >= 1, f"{dag_id}: every task needs retries"
        elif rule == "tags":
            assert dag["tags"], f"{dag_id}: tag it (team, data domain, zone)"
        elif rule == "timeouts":
            assert "None" not in dag["execution_timeouts"], f"{dag_id}: every task needs an execution_timeout"
            assert dag["dagrun_timeout"], f"{dag_id}: set dagrun_timeout"
        elif rule == "docs":
            assert dag["doc"], f"{dag_id}: doc_md says what it does and how to re-run it"
        elif rule == "schedule":
            assert dag["timetable"] in (
                "CronTriggerTimetable",
                "AssetTriggeredTimetable",
                "CronDataIntervalTimetable",
                "DeltaTriggerTimetable",
                "NullTimetable",  # triggered only (by hand, or airflow-stack smoke): it never wakes the stack
            ), dag_id
            assert dag["catchup"] is False, f"{dag_id}: a woken stack must not backfill on its own"


def test_the_policy_check_catches_import_time_io_and_missing_rules(harness, tmp_path):
    (tmp_path / "bad_io.py").write_text(
        "import urllib.request\n"
        "from datetime import datetime\n"
        "from airflow.sdk import DAG\n"
        "urllib.request.urlopen('http://example.com/config')\n"
        "with DAG('bad_io', schedule=None, start_date=datetime(2026, 1, 1)):\n    pass\n"
    )
    (tmp_path / "no_rules.py").write_text(
        "from datetime import datetime\n"
        "from airflow.sdk import DAG, task\n"
        "with DAG('no_rules', schedule='@daily', start_date=datetime(2026, 1, 1)):\n"
        "    task(task_id='t')(lambda: None)()\n"
    )
    (tmp_path / "bad_cron.py").write_text(
        "from datetime import datetime\n"
        "from airflow.sdk import DAG\n"
        "with DAG('bad_cron', schedule='61 25 * * *', start_date=datetime(2026, 1, 1)):\n    pass\n"
    )
    code, document, output = harness("check", "--dags", str(tmp_path))
    assert code == 0, output
    errors = " ".join(document["import_errors"].values())
    assert "network access while the DAG file is imported" in errors
    assert any(path.endswith("bad_cron.py") for path in document["import_errors"]), "a bad schedule must not parse"
    loose = document["dags"]["no_rules"]
    assert loose["owners"] == ["airflow"] and loose["retries"] == [0] and loose["tags"] == []
