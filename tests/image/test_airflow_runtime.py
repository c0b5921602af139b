"""The shared environment and the containers' commands, run by real Airflow 3 against real PostgreSQL.

What the task definitions ask of Airflow is exercised here as the containers would run it: the
wait-for-migrations check, the health checks, every component's command line, and the configuration the
environment builds (Celery on SQS, the S3 DAG bundle, the Secrets Manager backend, TLS connections through
both database drivers). The migration script ran once for the template database; its second run (it must be
repeatable) is watched in test_restore_guard.py.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from infra.airflow_env import COMMANDS, HEALTH_CHECKS, MIGRATION_WAIT_SECONDS, WORKER_CELERY_CONFIG
from tests.image.conftest import QUEUE_URL, run

# Each command line through Airflow's own entry point (`airflow` is `airflow.__main__:main`), all in one
# process: an exit status and what was printed for each, as a fresh process would give (SystemExit's message
# printed and exit 1, as the interpreter does).
CLI = """
import contextlib, io, json, sys
from airflow.__main__ import main

answers = {}
for name, argv in json.loads(sys.argv[1]).items():
    printed = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        sys.argv = ["airflow", *argv]
        try:
            main()
        except SystemExit as exit:
            if isinstance(exit.code, str):
                print(exit.code, file=sys.stderr)
            code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    answers[name] = {"code": code, "printed": printed.getvalue()}
print(json.dumps(answers))
"""


def job_checks() -> dict[str, list[str]]:
    """The health checks that are Airflow commands (`airflow jobs check ...`), without `airflow`."""
    checks = {}
    for component, (kind, script) in HEALTH_CHECKS.items():
        assert kind == "CMD-SHELL"
        command = shlex.split(script.split("||")[0])
        if command[0] == "curl":
            assert command[-1] == "http://localhost:8080/api/v2/monitor/health"
            continue
        assert command[0] == "airflow", command
        checks[component] = command[1:]
    return checks


@pytest.fixture(scope="module")
def cli_answers(container_env) -> dict[str, dict]:
    lines = {f"check:{c}": argv for c, argv in job_checks().items()}
    lines |= {f"help:{c}": [*argv, "--help"] for c, argv in COMMANDS.items()}
    lines["wait-for-migrations"] = ["db", "check-migrations", "--migration-wait-timeout", str(MIGRATION_WAIT_SECONDS)]
    result = run(container_env, [sys.executable, "-c", CLI, json.dumps(lines)])
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_wait_for_migrations_passes_once_migrated(cli_answers):
    answer = cli_answers["wait-for-migrations"]
    assert answer["code"] == 0, answer["printed"][-2000:]


@pytest.mark.parametrize("component", sorted(job_checks()))
def test_health_checks_are_valid_commands(cli_answers, component):
    answer = cli_answers[f"check:{component}"]
    # No job of that kind runs here, so the check must fail the way it fails in a dead container:
    # exit 1 with Airflow's message, not a usage error (exit 2).
    assert answer["code"] == 1, answer["printed"][-2000:]
    assert "No alive jobs found" in answer["printed"]


@pytest.mark.parametrize("component", sorted(COMMANDS))
def test_component_commands_exist(cli_answers, component):
    answer = cli_answers[f"help:{component}"]
    assert answer["code"] == 0, answer["printed"][-2000:]
    assert "usage: airflow" in answer["printed"].lower(), answer["printed"][-2000:]


PROBE = """
import asyncio, json
from airflow.configuration import conf
from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from airflow.dag_processing.bundles.manager import DagBundlesManager
from airflow.configuration import initialize_secrets_backends
from airflow import settings
from sqlalchemy import text

bundles = DagBundlesManager()
bundles.parse_config()
bundle = bundles.get_bundle("dags")
backends = initialize_secrets_backends()

async def async_select():
    async with settings.async_engine.connect() as connection:
        value = (await connection.execute(text("select 1"))).scalar()
    await settings.async_engine.dispose()
    return value

with settings.engine.connect() as connection:
    sync_ssl = connection.execute(text("select ssl from pg_stat_ssl where pid = pg_backend_pid()")).scalar()

print(json.dumps({
    "executor": conf.get("core", "executor"),
    "broker_url": DEFAULT_CELERY_CONFIG["broker_url"],
    "transport": DEFAULT_CELERY_CONFIG["broker_transport_options"],
    "result_backend_is_db": DEFAULT_CELERY_CONFIG["result_backend"].startswith("db+postgresql"),
    "bundle": [type(bundle).__name__, bundle.bucket_name, bundle.prefix],
    "backends": [type(b).__name__ for b in backends],
    "secrets_prefixes": [backends[0].connections_prefix, backends[0].variables_prefix],
    "sync_ssl": sync_ssl,
    "async_select": asyncio.run(async_select()),
}))
"""


def test_environment_configures_airflow_as_intended(container_env):
    result = run(container_env, [sys.executable, "-c", PROBE])
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("{")))
    assert probe["executor"] == "CeleryExecutor"
    assert probe["broker_url"] == "sqs://"
    assert probe["transport"]["predefined_queues"] == {"default": {"url": QUEUE_URL}}
    assert probe["transport"]["region"] == "us-gov-east-1"
    assert probe["transport"]["visibility_timeout"] == 21600
    assert probe["result_backend_is_db"] is True
    assert probe["bundle"] == ["S3DagBundle", "airflow-test-bucket", "dags"]
    assert probe["backends"][0] == "SecretsManagerBackend"
    assert probe["secrets_prefixes"] == ["airflow-test/connections", "airflow-test/variables"]
    assert probe["sync_ssl"] is True, "the psycopg2 connection must use TLS"
    assert probe["async_select"] == 1, "the asyncpg connection must work over TLS"


CELERY_PROBE = """
import json
from celery.signals import task_postrun, task_prerun
from airflow.providers.celery.executors.celery_executor import CeleryExecutor
from airflow.providers.celery.executors.celery_executor_utils import app
print(json.dumps({
    "executor": CeleryExecutor.__name__,
    "broker": app.conf.broker_url,
    "protection_hooks": [len(task_prerun.receivers), len(task_postrun.receivers)],
}))
"""


def test_the_celery_executor_imports_with_the_workers_configuration(container_env):
    """Regression: celery 5.7.0 removed `celery.backends.database.retry`, which the celery provider imports;
    the scheduler and every worker would have failed to start. The worker's Celery configuration (scale-in
    protection) loads through Airflow's own `celery_config_options`."""
    env = {
        **container_env,
        "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": WORKER_CELERY_CONFIG,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "image"),
    }
    result = run(env, [sys.executable, "-c", CELERY_PROBE])
    assert result.returncode == 0, result.stderr[-3000:]
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe["executor"] == "CeleryExecutor" and probe["broker"] == "sqs://"
    assert probe["protection_hooks"] == [1, 1]
