"""The one Airflow environment every component shares, and each component's container definitions.

Pure functions over plain values (the Pulumi side resolves Outputs first), modelled on the official
Helm chart: one `AIRFLOW__...` environment for all components, secrets injected by ECS from Secrets
Manager ARNs (never inlined), the JWT secret only where tokens are signed or checked, every component
waiting for `airflow db migrate` before it starts, and health checks as the chart's probes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from contracts.components import API_SERVER_PORT, COMPONENTS
from contracts.metrics import NAMESPACE_VARIABLE

WORKER_LOG_SERVER_PORT = 8793
TRIGGERER_LOG_SERVER_PORT = 8794  # Airflow's [logging] trigger_log_server_port default
CELERY_QUEUE = "default"
MIGRATION_WAIT_SECONDS = 600
HEALTH_PATH = "/api/v2/monitor/health"
ADMIN_USERNAME = "admin"
REPORTER_PATH = "/opt/airflow/activity_reporter.py"  # where image/Dockerfile puts it
DAGS_PREFIX = "dags/"
LOGS_PREFIX = "logs/"


@dataclass(frozen=True)
class AirflowEndpoints:
    """Where the shared environment points; plain values, resolved from the stack's resources."""

    region: str
    bucket: str
    broker_queue_url: str
    execution_api_url: str
    base_url: str
    connections_prefix: str
    variables_prefix: str
    worker_concurrency: int
    broker_visibility_timeout_seconds: int
    task_queued_timeout_seconds: int = 2400


# Key names in the stack's Airflow secret besides the database connection's (database.connection_document).
FERNET_KEY = "fernet_key"
JWT_SECRET = "jwt_secret"  # noqa: S105 - a key's name, not its value
API_SECRET_KEY = "api_secret_key"  # noqa: S105 - a key's name
ADMIN_PASSWORD = "admin_password"  # noqa: S105 - a key's name


@dataclass(frozen=True)
class SecretArns:
    airflow: str  # the stack's one secret (components/secrets.py): JSON of the keys below


# Environment variable -> (which secret, its JSON key, containers that get it). Why each holder needs each key
# is the README's table "Who holds which secret" (tests/infra/test_secret_reach.py holds the two together).
# The worker runs DAG authors' code in task processes that inherit its environment, and in Airflow 3 tasks reach
# the metadata database only through the api-server's Execution API: so the worker holds no database master
# credentials and no Fernet key, JWT secret or admin password. Celery's result backend gets a database role of
# its own (image/celery_results.py, kept by the migration task) with rows of Celery's two tables only.
# JWT: the api-server signs and checks tokens, the scheduler's executor signs task tokens; workers only carry
# the token they are given. API secret key: the api-server signs log-fetch requests that the log servers of the
# worker and the triggerer check (airflow/utils/serve_logs/log_server.py: [api] secret_key).
# The wait-for-migrations init container only reads the schema version, so it gets the database alone.
_ALL = frozenset({*COMPONENTS, "migrate"})
WAIT_FOR_MIGRATIONS = "wait-for-migrations"
ACTIVITY_REPORTER = "activity-reporter"  # beside the scheduler: reads the database, publishes metrics
CELERY_RESULT_BACKEND = "celery_result_backend"  # the secret's key: `db+postgresql+psycopg2://` as Celery's role
_METADATA_DATABASE = (_ALL - {"worker"}) | {WAIT_FOR_MIGRATIONS, ACTIVITY_REPORTER}
SECRET_ENVIRONMENT: dict[str, tuple[str, str, frozenset[str]]] = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": ("airflow", "conn", _METADATA_DATABASE),
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": ("airflow", "conn_async", _METADATA_DATABASE),
    "AIRFLOW__CORE__FERNET_KEY": ("airflow", FERNET_KEY, _ALL - {"worker"}),
    "AIRFLOW__CELERY__RESULT_BACKEND": (
        "airflow",
        CELERY_RESULT_BACKEND,
        frozenset({"scheduler", "worker", "migrate"}),
    ),
    "AIRFLOW__API_AUTH__JWT_SECRET": ("airflow", JWT_SECRET, frozenset({"api-server", "scheduler"})),
    "AIRFLOW__API__SECRET_KEY": ("airflow", API_SECRET_KEY, frozenset({"api-server", "worker", "triggerer"})),
    "_AIRFLOW_ADMIN_PASSWORD": ("airflow", ADMIN_PASSWORD, frozenset({"migrate"})),
}
# Containers that wait for `airflow db migrate` (a wait-for-migrations init container): those that use the
# metadata database. The worker does not: its tasks come from a scheduler that waited.
WAITS_FOR_MIGRATIONS = frozenset({"api-server", "scheduler", "dag-processor", "triggerer"})


def airflow_environment(endpoints: AirflowEndpoints) -> dict[str, str]:
    """The `AIRFLOW__...` environment shared by every component (nothing secret in it)."""
    e = endpoints
    dag_bundles = [
        {
            "name": "dags",
            "classpath": "airflow.providers.amazon.aws.bundles.s3.S3DagBundle",
            "kwargs": {"bucket_name": e.bucket, "prefix": DAGS_PREFIX.rstrip("/"), "refresh_interval": 30},
        }
    ]
    secrets_backend_kwargs = {
        "connections_prefix": e.connections_prefix,
        "variables_prefix": e.variables_prefix,
        "config_prefix": None,
        "region_name": e.region,
    }
    return {
        "AWS_DEFAULT_REGION": e.region,
        "AWS_REGION": e.region,
        "AWS_STS_REGIONAL_ENDPOINTS": "regional",
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": e.execution_api_url,
        "AIRFLOW__API__BASE_URL": e.base_url,
        "AIRFLOW__API__PORT": str(API_SERVER_PORT),
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(dag_bundles),
        "AIRFLOW__CELERY__BROKER_URL": "sqs://",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(e.worker_concurrency),
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__REGION": e.region,
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__PREDEFINED_QUEUES": json.dumps(
            {CELERY_QUEUE: {"url": e.broker_queue_url}}
        ),
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": str(e.broker_visibility_timeout_seconds),
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": CELERY_QUEUE,
        # A queued task waits for the waker to start a worker (and, asleep, for the database and the stack).
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": str(e.task_queued_timeout_seconds),
        "AIRFLOW__SECRETS__BACKEND": "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(secrets_backend_kwargs),
        "AIRFLOW__LOGGING__REMOTE_LOGGING": "True",
        "AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER": f"s3://{e.bucket}/{LOGS_PREFIX.rstrip('/')}",
        "AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID": "aws_default",
        # The task role supplies credentials; the connection only fixes the region.
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps({"conn_type": "aws", "extra": {"region_name": e.region}}),
    }


def secret_references(component: str, arns: SecretArns) -> list[dict[str, str]]:
    """ECS `secrets` entries for a component: environment variable name -> Secrets Manager reference."""
    references = []
    for name, (secret, json_key, components) in SECRET_ENVIRONMENT.items():
        if component in components:
            arn = getattr(arns, secret)
            # ECS reads one key of a JSON secret: ARN:json-key:version-stage:version-id (the current version).
            references.append({"name": name, "valueFrom": f"{arn}:{json_key}::"})
    return references


def secret_arns_for(component: str, arns: SecretArns) -> list[str]:
    """The secret ARNs a component's execution role must be able to read."""
    return sorted(
        {getattr(arns, secret) for secret, _, components in SECRET_ENVIRONMENT.values() if component in components}
    )


COMMANDS: dict[str, list[str]] = {
    "api-server": ["api-server"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer"],
    "worker": ["celery", "worker"],
}

# Health checks as the Helm chart's liveness probes. The Celery worker has none: the chart's probe is
# `celery inspect ping`, which needs broadcast (remote control) that the SQS transport does not offer;
# the worker process is the container's essential process, so ECS replaces the task when it exits.
_JOB_CHECK = "airflow jobs check --job-type {job} --local || exit 1"
HEALTH_CHECKS: dict[str, list[str]] = {
    "api-server": ["CMD-SHELL", f"curl --fail --silent http://localhost:{API_SERVER_PORT}{HEALTH_PATH} || exit 1"],
    "scheduler": ["CMD-SHELL", _JOB_CHECK.format(job="SchedulerJob")],
    "dag-processor": ["CMD-SHELL", _JOB_CHECK.format(job="DagProcessorJob")],
    "triggerer": ["CMD-SHELL", _JOB_CHECK.format(job="TriggererJob")],
}

RESTORE_GUARD_PATH = "/opt/airflow/restore_guard.py"  # where image/Dockerfile puts it
FIRST_ADMIN_PATH = "/opt/airflow/first_admin.py"  # where image/Dockerfile puts it
CELERY_RESULTS_PATH = "/opt/airflow/celery_results.py"  # where image/Dockerfile puts it
WORKER_CELERY_CONFIG = "worker_protection.CELERY_CONFIG"  # image/worker_protection.py, in $AIRFLOW_HOME/config


def component_environment(component: str, *, protection_minutes: int, built_image: bool) -> dict[str, str]:
    """What one component adds to the shared environment.

    The worker: the official image's dumb-init must signal only the Celery main process, so that a stop
    (SIGTERM) is a warm shutdown that lets running tasks finish (`DUMB_INIT_SETSID=0`, as the official
    docker-compose sets for its worker: https://airflow.apache.org/docs/apache-airflow/stable/docker-compose.yaml);
    and, in the image this project builds, scale-in protection while it holds a task.
    """
    if component != "worker":
        return {}
    extra = {"DUMB_INIT_SETSID": "0"}
    if built_image:
        extra["AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS"] = WORKER_CELERY_CONFIG
        extra["AIRFLOW_WORKER_PROTECTION_MINUTES"] = str(protection_minutes)
    return extra


RESTORED_FROM = "AIRFLOW_RESTORED_FROM_SNAPSHOT"
RESTORED_DATABASE = "AIRFLOW_RESTORED_DATABASE"  # the RDS resource id, passed by the migration runner
MIGRATE_SCRIPT = (
    "set -euo pipefail; "
    "airflow db migrate; "
    # Celery's result tables and the database role the workers use for them, with rows of those tables only.
    f'python "${{CELERY_RESULTS:-{CELERY_RESULTS_PATH}}}"; '
    # A database restored from a snapshot: every DAG paused, pending runs stopped, before any scheduler.
    f'if [ -n "${{{RESTORED_FROM}:-}}" ]; then '
    f'python "${{RESTORE_GUARD:-{RESTORE_GUARD_PATH}}}" "${RESTORED_FROM}" "${{{RESTORED_DATABASE}:-}}"; fi; '
    # The first admin user, its password read from the environment (never an argument: `ps` would show it);
    # a restored database's admin user gets this stack's password.
    f'python "${{FIRST_ADMIN:-{FIRST_ADMIN_PATH}}}" {ADMIN_USERNAME}'
)


def _log_configuration(log_group: str, region: str, stream_prefix: str) -> dict[str, Any]:
    return {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": log_group,
            "awslogs-region": region,
            "awslogs-stream-prefix": stream_prefix,
        },
    }


def _environment_list(environment: dict[str, str]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in sorted(environment.items())]


def container_definitions(
    component: str,
    *,
    image: str,
    environment: dict[str, str],
    arns: SecretArns,
    log_group: str,
    region: str,
    metric_namespace: str,
    own_environment: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The containers of a component's task: a wait-for-migrations init container, then the component
    (and, beside the scheduler, the activity reporter)."""
    env = _environment_list(environment)
    wait = {
        "name": WAIT_FOR_MIGRATIONS,
        "image": image,
        "essential": False,
        "command": ["db", "check-migrations", "--migration-wait-timeout", str(MIGRATION_WAIT_SECONDS)],
        "environment": env,
        "secrets": secret_references(WAIT_FOR_MIGRATIONS, arns),
        "logConfiguration": _log_configuration(log_group, region, WAIT_FOR_MIGRATIONS),
    }
    main: dict[str, Any] = {
        "name": component,
        "image": image,
        "essential": True,
        "command": COMMANDS[component],
        "environment": _environment_list({**environment, **(own_environment or {})}),
        "secrets": secret_references(component, arns),
        "logConfiguration": _log_configuration(log_group, region, component),
        "dependsOn": [{"containerName": WAIT_FOR_MIGRATIONS, "condition": "SUCCESS"}],
        "stopTimeout": 120 if component == "worker" else 30,
    }
    if component == "api-server":
        main["portMappings"] = [{"containerPort": API_SERVER_PORT, "protocol": "tcp", "name": "api"}]
    if component == "worker":
        main["portMappings"] = [{"containerPort": WORKER_LOG_SERVER_PORT, "protocol": "tcp", "name": "logs"}]
    if component == "triggerer":
        main["portMappings"] = [{"containerPort": TRIGGERER_LOG_SERVER_PORT, "protocol": "tcp", "name": "logs"}]
    if component in HEALTH_CHECKS:
        main["healthCheck"] = {
            "command": HEALTH_CHECKS[component],
            "interval": 30,
            "timeout": 20,
            "retries": 5,
            "startPeriod": 120,
        }
    if component not in WAITS_FOR_MIGRATIONS:
        del main["dependsOn"]
        return [main]
    if component != "scheduler":
        return [wait, main]
    reporter = {
        "name": ACTIVITY_REPORTER,
        "image": image,
        # Not essential: if it fails, the scheduler keeps running and the waker sees it as silent.
        "essential": False,
        "command": ["python", REPORTER_PATH],
        "environment": _environment_list({**environment, NAMESPACE_VARIABLE: metric_namespace}),
        "secrets": secret_references(ACTIVITY_REPORTER, arns),
        "logConfiguration": _log_configuration(log_group, region, ACTIVITY_REPORTER),
        "dependsOn": [{"containerName": WAIT_FOR_MIGRATIONS, "condition": "SUCCESS"}],
    }
    return [wait, main, reporter]


def migration_container_definitions(
    *,
    image: str,
    environment: dict[str, str],
    arns: SecretArns,
    log_group: str,
    region: str,
    restored_from_snapshot: str | None,
) -> list[dict[str, Any]]:
    """The one-off task that runs `airflow db migrate` (and, after a restore, the restore guard) and creates
    the first admin user."""
    restore = {RESTORED_FROM: restored_from_snapshot} if restored_from_snapshot else {}
    return [
        {
            "name": "migrate",
            "image": image,
            "essential": True,
            "command": ["bash", "-c", MIGRATE_SCRIPT],
            "environment": _environment_list({**environment, **restore}),
            "secrets": secret_references("migrate", arns),
            "logConfiguration": _log_configuration(log_group, region, "migrate"),
        }
    ]
