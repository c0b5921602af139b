"""PostgreSQL for the tests (rehearsal/postgres.py); the Airflow tests are skipped where it is not installed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from standin.postgres import PostgresMissing, PostgresServer
from standin.postgres import running_postgres as _running_postgres

__all__ = ["PostgresServer", "running_postgres"]


@contextlib.contextmanager
def running_postgres(**options: str) -> Iterator[PostgresServer]:
    try:
        server = _running_postgres(**options)
        pg = server.__enter__()
    except PostgresMissing as missing:
        pytest.skip(str(missing))
    try:
        yield pg
    finally:
        server.__exit__(None, None, None)
