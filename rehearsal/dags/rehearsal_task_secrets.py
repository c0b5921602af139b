"""The rehearsal's probe of what task code on a worker can reach: it fails if it finds any of them.

Not an example to copy: the rehearsal ships it beside the example DAGs and triggers it with the metadata
database's address and master user name in the run's conf. The task looks through its environment for the
database's master credentials, the Fernet key, the JWT secret and the admin password; tries to log in as the
master user with anything it found; and checks that the Celery result backend's role, the one database
credential a worker holds, cannot read Airflow's own tables.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, get_current_context, task

SECRET_VARIABLES = (
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "_AIRFLOW_ADMIN_PASSWORD",
)

with DAG(
    dag_id="rehearsal_task_secrets",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    dagrun_timeout=timedelta(minutes=20),
    default_args={"owner": "platform", "retries": 0, "execution_timeout": timedelta(minutes=5)},
    tags=["rehearsal"],
    doc_md=__doc__,
):

    @task
    def look() -> str:
        import sqlalchemy
        from sqlalchemy.exc import OperationalError, ProgrammingError

        run = get_current_context().get("dag_run")
        conf = (run.conf if run else None) or {}
        found = [name for name in SECRET_VARIABLES if os.environ.get(name)]
        sync_url = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
        if "@" in sync_url:
            found.append("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
        if found:
            raise RuntimeError(f"task code can read {', '.join(found)}")

        host, port, dbname, master = conf["host"], conf["port"], conf["dbname"], conf["master_user"]
        candidates = [v for k, v in os.environ.items() if "PASSWORD" in k or "SECRET" in k or "KEY" in k]
        for password in ["", *candidates]:
            url = sqlalchemy.engine.URL.create(
                "postgresql+psycopg2", master, password, host, int(port), dbname, query={"sslmode": "require"}
            )
            try:
                with sqlalchemy.create_engine(url).connect():
                    raise RuntimeError(f"task code logged in as the master user {master}")
            except OperationalError:
                pass

        report = [f"none of {len(SECRET_VARIABLES) + 1} secrets", f"no master login with {len(candidates) + 1} tries"]
        backend = os.environ.get("AIRFLOW__CELERY__RESULT_BACKEND", "").removeprefix("db+")
        if backend:
            with sqlalchemy.create_engine(backend).connect() as connection:
                for table in ("connection", "variable", "ab_user", "dag_run"):
                    try:
                        connection.execute(sqlalchemy.text(f"SELECT 1 FROM {table} LIMIT 1"))  # noqa: S608
                    except ProgrammingError:
                        connection.rollback()
                        continue
                    raise RuntimeError(f"the result backend's role can read Airflow's {table} table")
            report.append("the result backend's role reads no Airflow table")
        line = "task-secrets probe: " + "; ".join(report)
        print(line)
        return line

    look()
