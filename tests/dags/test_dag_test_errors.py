"""`make dag-test` on a DAG whose file does not import says why, whole: file, line and exception (regression:
a syntax error, a missing module and a cycle were each reported as "no DAG 'x' in dags/")."""

from __future__ import annotations

from devtools.dag_harness import missing_dag_message

BROKEN = {
    "syntax.py": "from airflow.sdk import DAG\nwith DAG(dag_id='syntax' schedule=None):\n    pass\n",
    "missing.py": "import orders_helpers_that_do_not_exist\n",
    "cycle.py": (
        "from datetime import datetime\n"
        "from airflow.sdk import DAG\n"
        "from airflow.providers.standard.operators.empty import EmptyOperator\n"
        "with DAG(dag_id='cycle', schedule=None, start_date=datetime(2026, 1, 1)):\n"
        "    a = EmptyOperator(task_id='a')\n"
        "    b = EmptyOperator(task_id='b')\n"
        "    a >> b >> a\n"
    ),
}


def test_a_dag_file_that_does_not_import_is_reported_with_its_error(harness, tmp_path):
    for name, text in BROKEN.items():
        (tmp_path / name).write_text(text)
    code, document, output = harness("check", "--dags", str(tmp_path))
    assert code == 0, output
    message = missing_dag_message("syntax", document["dags"], document["import_errors"])
    assert "syntax.py does not import" in message and "SyntaxError" in message and "line 2" in message
    assert "missing.py does not import" in message and "orders_helpers_that_do_not_exist" in message
    assert "cycle.py does not import" in message and "ycle" in message.split("cycle.py does not import")[1]


def test_a_copied_dag_without_an_end_to_end_test_is_named(tmp_path):
    """Regression: a DAG copied from another passed `make dag-check` without ever running (it only imported)."""
    import shutil

    from tests.dags.conftest import ROOT, dag_files_without_a_run

    assert dag_files_without_a_run() == [], "every DAG shipped in dags/ has an end-to-end test"
    dags = tmp_path / "dags"
    shutil.copytree(ROOT / "dags", dags)
    shutil.copy(dags / "orders_ingest.py", dags / "orders_refunds.py")
    assert dag_files_without_a_run(dags) == ["orders_refunds.py"]  # helpers (orders_common.py) are not DAGs
