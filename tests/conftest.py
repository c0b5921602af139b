"""Fixtures shared across the suite: the program's recordings, and one PostgreSQL with a migrated Airflow
database that each module clones (migrating takes a minute; a clone takes a second)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from devtools.local_airflow import DATABASE_FILE, MIGRATED_MARKER
from infra.airflow_env import MIGRATE_SCRIPT, airflow_environment
from infra.components.database import connection_document, result_backend_url
from offline.recording import Recording, run_stack
from standin.postgres import PostgresMissing, start_postgres, stop_postgres
from tests.support.postgres import PostgresServer, running_postgres
from tests.support.shared import computed_once, locked, run_folder, worker_share
from tests.support.variants import ENDPOINTS, VARIANTS

ROOT = Path(__file__).resolve().parents[1]

# moto loads EC2's default AMIs into every EC2 backend it starts, a third of each stand-in AWS's start; no test
# uses an AMI (every task is Fargate's), so none are loaded (moto's documented switch, read at each start).
os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture(scope="session")
def recordings(tmp_path_factory) -> dict[str, Recording]:
    """Every variant, recorded once per run: each worker starts at a different variant, so two workers asking
    at once record half each and read the other half."""
    folder, keys = run_folder(tmp_path_factory), list(VARIANTS)
    worker, workers = worker_share()
    start = worker * len(keys) // max(1, workers)
    made = {
        key: computed_once(folder, f"recording-{key}", lambda key=key: run_stack(*VARIANTS[key]))
        for key in keys[start:] + keys[:start]
    }
    return {key: made[key] for key in keys}


@pytest.fixture(params=list(VARIANTS))
def recording(request, recordings) -> Recording:
    """Each variant of the program's recordings in turn."""
    return recordings[request.param]


def airflow_env_for(pg: PostgresServer, home: Path) -> dict[str, str]:
    """The environment a container gets (shared AIRFLOW__ settings plus the secrets ECS injects), on `pg`."""
    document = json.loads(connection_document(pg.user, pg.password, pg.host, pg.port, pg.dbname))
    return {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOME": str(home),
        "AIRFLOW_HOME": str(home),
        **airflow_environment(ENDPOINTS),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": document["conn"],
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": document["conn_async"],
        "AIRFLOW__CELERY__RESULT_BACKEND": result_backend_url(
            json.dumps(document), "celery-results-password-for-tests"
        ),
        "AIRFLOW__CORE__FERNET_KEY": "x1WqTfMXs8DaY5bCMaqMLWtyKaXm9S1Ys6WLBgLzxOI=",
        "AIRFLOW__API_AUTH__JWT_SECRET": "jwt-secret-for-tests",
        "AIRFLOW__API__SECRET_KEY": "api-secret-key-for-tests",
        "_AIRFLOW_ADMIN_PASSWORD": "admin-password-for-tests",
        # The migration script's helpers, where the image has them in /opt/airflow.
        "FIRST_ADMIN": str(ROOT / "image" / "first_admin.py"),
        "CELERY_RESULTS": str(ROOT / "image" / "celery_results.py"),
        # No AWS here: keep boto3 from looking for credentials or instance metadata.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def migrate(pg: PostgresServer, home: Path) -> None:
    """The template database, migrated by the stack's own migration script (admin user included)."""
    env = airflow_env_for(pg, home)
    migrated = subprocess.run(["bash", "-c", MIGRATE_SCRIPT], env=env, capture_output=True, text=True, timeout=900)
    assert migrated.returncode == 0, migrated.stdout[-2000:] + migrated.stderr[-3000:]


@pytest.fixture(scope="session")
def migrated_airflow(tmp_path_factory) -> Iterator[PostgresServer]:
    """One PostgreSQL server with the migrated template database, for the whole run: started and migrated by the
    first worker that needs it, stopped by the last one done with it."""
    folder = run_folder(tmp_path_factory)
    home = tmp_path_factory.mktemp("airflow-template-home")
    if folder is None:
        with running_postgres() as pg:
            migrate(pg, home)
            yield pg
        return
    state = folder / "postgres.json"
    with locked(folder / "postgres.lock"):
        shared = json.loads(state.read_text()) if state.exists() else None
        if shared is None:
            try:
                pg = start_postgres()
            except PostgresMissing as missing:
                pytest.skip(str(missing))
            try:
                migrate(pg, home)
            except BaseException:
                stop_postgres(pg)
                raise
            shared = {"server": dataclasses.asdict(pg), "users": 0}
        shared["users"] += 1
        state.write_text(json.dumps(shared))
    pg = PostgresServer(**shared["server"])
    try:
        yield pg
    finally:
        with locked(folder / "postgres.lock"):
            shared = json.loads(state.read_text())
            shared["users"] -= 1
            if shared["users"]:
                state.write_text(json.dumps(shared))
            else:
                state.unlink()
                stop_postgres(pg)


@pytest.fixture(scope="module")
def airflow_database(migrated_airflow, request, tmp_path_factory) -> PostgresServer:
    """A database of this module's own, cloned from the migrated template (one clone at a time: PostgreSQL
    refuses to copy a template another session is copying)."""
    name = "m_" + request.module.__name__.rsplit(".", 1)[-1].replace("-", "_")[:50]
    folder = run_folder(tmp_path_factory)
    if folder is None:
        return migrated_airflow.clone(name)
    with locked(folder / "postgres.lock"):
        return migrated_airflow.clone(name)


@pytest.fixture(scope="session")
def local_airflow_home(tmp_path_factory) -> Callable[[Path], Path]:
    """Seeds a local Airflow home with a database `prepare_airflow` migrated once for the run (in a process of
    its own, as `make dev` and `make dag-test` run it), so theirs finds it migrated and skips the migration."""
    folder = run_folder(tmp_path_factory) or tmp_path_factory.getbasetemp()
    template = folder / "local-airflow-template"
    with locked(folder / "local-airflow.lock"):
        if not (template / MIGRATED_MARKER).exists():
            prepare = "import sys, pathlib; from devtools.local_airflow import prepare_airflow; "
            prepare += "prepare_airflow(pathlib.Path(sys.argv[1]))"
            env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
            done = subprocess.run(
                [sys.executable, "-c", prepare, str(template)], env=env, capture_output=True, text=True, timeout=600
            )
            assert done.returncode == 0, done.stderr[-3000:]

    def seeded(home: Path) -> Path:
        home.mkdir(parents=True, exist_ok=True)
        for name in (DATABASE_FILE, MIGRATED_MARKER):
            shutil.copy2(template / name, home / name)
        return home

    return seeded


# The files that take longest, measured with `pytest --durations=0` on two cores (each over half a minute).
# `make test` hands whole files to its two workers in collection order (`--no-loadscope-reorder`: xdist would
# otherwise start the files with the most tests first); started first, these end beside the short ones
# instead of alone at the end (a minute of the suite's time when one of them came last).
LONGEST_FIRST = (
    "tests/image/test_restore_guard.py",
    "tests/costs/test_costs.py",
    "tests/dags/test_dag_runs.py",
    "tests/image/test_airflow_runtime.py",
    "tests/lambdas/test_waker_faults.py",
    "tests/image/test_api_server_access_log.py",
    "tests/image/test_airflow_iam.py",
    "tests/devtools/test_local_dev.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
