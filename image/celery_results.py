"""Celery's result tables, and the database role the workers use for them, kept by the migration task.

    python celery_results.py          (after `airflow db migrate`, with the master connection)

Workers write task results to Celery's two tables and the scheduler reads them (`[celery] result_backend`).
With the default backend (`db+` the metadata connection) every worker would hold the master credentials, and
so would the DAG code its tasks run. Instead the result backend's URL names a role of its own
(AIRFLOW__CELERY__RESULT_BACKEND, a key of the stack's secret): this script creates Celery's tables from
Celery's own models, creates that role (or, on every run, sets its password to the URL's: a database restored
from another stack's snapshot comes with the source's), and grants it the rows of those two tables and their
sequences, nothing else. The password reaches PostgreSQL as a SCRAM-SHA-256 verifier made here, as psql's
\\password does, so no statement log can hold it in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sys

SCRAM_ITERATIONS = 4096  # PostgreSQL's default (scram_iterations)


def scram_verifier(password: str, salt: bytes | None = None) -> str:
    """PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802, RFC 7677)."""
    salt = salt or os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, SCRAM_ITERATIONS)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    stored_key = hashlib.sha256(client_key).digest()
    return f"SCRAM-SHA-256${SCRAM_ITERATIONS}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def ensure_result_backend_role(master_url: str, backend_url: str) -> str:
    import sqlalchemy as sa
    from celery.backends.database.models import ResultModelBase, Task, TaskSet
    from sqlalchemy.engine import make_url

    if not backend_url.startswith("db+"):
        raise SystemExit("AIRFLOW__CELERY__RESULT_BACKEND must be a db+postgresql URL of the result backend's role")
    backend = make_url(backend_url.removeprefix("db+"))
    role, password = backend.username, backend.password
    if not role or not password:
        raise SystemExit("AIRFLOW__CELERY__RESULT_BACKEND must name the result backend's role and its password")
    engine = sa.create_engine(master_url)
    if backend.username == make_url(master_url).username:
        raise SystemExit("the result backend's role must not be the metadata database's master user")
    ResultModelBase.metadata.create_all(engine)  # celery_taskmeta, celery_tasksetmeta and their sequences
    models = [Task.__table__, TaskSet.__table__]
    tables = [t.name for t in models]
    sequences = [c.default.name for t in models for c in t.columns if isinstance(c.default, sa.Sequence)]
    quote = engine.dialect.identifier_preparer.quote
    grantee = quote(role)
    with engine.begin() as connection:
        found = connection.execute(
            sa.text("SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = :role"),
            {"role": role},
        ).first()
        if found and found[0]:
            raise SystemExit(f"role {role} exists with privileges the result backend must not have: fix it by hand")
        # CREATE ROLE's defaults are NOSUPERUSER NOCREATEDB NOCREATEROLE; a role that exists keeps them (checked).
        verb = "ALTER" if found else "CREATE"
        connection.execute(
            sa.text(f"{verb} ROLE {grantee} WITH LOGIN PASSWORD :verifier"), {"verifier": scram_verifier(password)}
        )
        connection.execute(
            sa.text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join(map(quote, tables))} TO {grantee}")
        )
        connection.execute(sa.text(f"GRANT USAGE, SELECT ON SEQUENCE {', '.join(map(quote, sequences))} TO {grantee}"))
    return f"celery result backend: role {role} {'password set' if found else 'created'}; tables {', '.join(tables)}"


def main() -> int:
    master = os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "")
    backend = os.environ.get("AIRFLOW__CELERY__RESULT_BACKEND", "")
    if not master or not backend:
        print("needs AIRFLOW__DATABASE__SQL_ALCHEMY_CONN and AIRFLOW__CELERY__RESULT_BACKEND", file=sys.stderr)
        return 2
    print(ensure_result_backend_role(master, backend))
    return 0


if __name__ == "__main__":
    sys.exit(main())
