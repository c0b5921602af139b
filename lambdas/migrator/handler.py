"""Runs `airflow db migrate` once per image version, before any component of that version starts.

`pulumi up` invokes this function (an `aws.lambda_.Invocation` whose input carries the migration task
definition, so a new image means a new invocation); the ECS services depend on the invocation, so a
failed migration fails the update and leaves the services on the task definitions they had. The
function first has the waker hold the stack asleep (every service at zero, every wake refused, the database
up and started if the waker stopped it) and waits until no task of the old version runs, so no component runs
against a schema being changed; then it runs the one-off migration task on Fargate and waits for it within its
own timeout, and ends the hold. The outcome it records says whether the old version was asleep or held.

Event: {"taskDefinitionArn": "<arn>", "databaseId": "<RDS resource id>", "secretVersion": "<id>"} (the last only
makes `pulumi up` invoke again for a new secret value). Environment: CLUSTER, SUBNETS,
SECURITY_GROUPS (comma-separated), ASSIGN_PUBLIC_IP (true/false), DB_INSTANCE_ID, and optionally
STATUS_PARAMETER, WAKER_FUNCTION and RESTORED (true for a stack restored from a snapshot: the migration task
runs the restore guard for this database, and once it has, the waker's maintenance hold is lifted).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contracts.waker import WAKER_FUNCTION_VARIABLE, Migration, Status, to_event

from . import adapters
from .policy import database_action, judge_task

RESTORED_DATABASE = "AIRFLOW_RESTORED_DATABASE"  # read by the restore guard (infra/airflow_env.py)

logger = logging.getLogger()
logger.setLevel(logging.INFO)

POLL_SECONDS = 15
SAFETY_MARGIN_SECONDS = 20


class MigrationFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class RunnerConfig:
    cluster: str
    subnets: tuple[str, ...]
    security_groups: tuple[str, ...]
    assign_public_ip: bool
    db_instance_id: str
    status_parameter: str | None = None  # SSM parameter holding the last outcome, for `airflow-stack status`
    waker_function: str | None = None  # told when a restored database has been guarded
    restored: bool = False  # the stack's database is restored from a snapshot (the migration runs the guard)

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> RunnerConfig:
        missing = [k for k in ("CLUSTER", "SUBNETS", "SECURITY_GROUPS", "DB_INSTANCE_ID") if not env.get(k)]
        if missing:
            raise MigrationFailed(f"environment variables missing: {', '.join(missing)}")
        return cls(
            cluster=env["CLUSTER"],
            subnets=tuple(s for s in env["SUBNETS"].split(",") if s),
            security_groups=tuple(s for s in env["SECURITY_GROUPS"].split(",") if s),
            assign_public_ip=env.get("ASSIGN_PUBLIC_IP", "false").lower() == "true",
            db_instance_id=env["DB_INSTANCE_ID"],
            status_parameter=env.get("STATUS_PARAMETER") or None,
            waker_function=env.get(WAKER_FUNCTION_VARIABLE) or None,
            restored=env.get("RESTORED", "").lower() == "true",
        )


DEPLOY_HOLD_MARGIN_MINUTES = 10  # past the runner's own time: the hold ends by itself if the runner cannot end it


def log(event: str, **fields: Any) -> None:
    logger.info(json.dumps({"event": event, **fields}, default=str))


def task_definition_of(event: Any) -> str:
    arn = event.get("taskDefinitionArn") if isinstance(event, dict) else None
    if not isinstance(arn, str) or ":task-definition/" not in arn:
        raise MigrationFailed(
            'event must be {"taskDefinitionArn": "<ECS task definition ARN>"}, '
            f"got {json.dumps(event, default=str)[:200]}"
        )
    return arn


def migrate(
    event: Any,
    *,
    config: RunnerConfig,
    ecs: Any,
    rds: Any,
    seconds_left: Callable[[], float],
    sleep: Callable[[float], None] = time.sleep,
    ssm: Any = None,
    lambda_client: Any = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> dict[str, str]:
    """Run the migration and record its outcome (success or the reason it failed) for operators."""
    task_definition = task_definition_of(event)
    database = event.get("databaseId") if isinstance(event.get("databaseId"), str) else ""
    old_version = "not held"
    try:
        old_version = _hold_old_version(config, lambda_client, seconds_left=seconds_left, sleep=sleep)
        result = _migrate(
            task_definition,
            config=config,
            ecs=ecs,
            rds=rds,
            seconds_left=seconds_left,
            sleep=sleep,
            environment={RESTORED_DATABASE: database} if database else {},
        )
    except MigrationFailed as error:
        # The services keep the version they had (the update stops here), so they may run again at once.
        _release(config, lambda_client, f"migration failed: {str(error)[:120]}")
        _record(
            ssm,
            config,
            {
                "status": "failed",
                "reason": str(error),
                "oldVersion": old_version,
                "taskDefinitionArn": task_definition,
                "at": now().isoformat(),
            },
        )
        raise
    # Released at once: `pulumi up` moves the services to the new version next, within seconds, and a task of
    # the old version started meanwhile waits in its wait-for-migrations container (the schema is not its own).
    _release(config, lambda_client, "migrated: pulumi up now moves the services to the new version")
    result = {**result, "oldVersion": old_version}
    _record(ssm, config, {**result, "at": now().isoformat()})
    if config.restored and config.waker_function and lambda_client is not None:
        adapters.end_maintenance(
            lambda_client, config.waker_function, f"restore guard ran on {database or 'the database'}"
        )
        log("maintenance-ended", waker=config.waker_function, database=database)
    return result


def _hold_old_version(
    config: RunnerConfig, lambda_client: Any, *, seconds_left: Callable[[], float], sleep: Callable[[float], None]
) -> str:
    """Have the waker hold the stack asleep for the migration (its services at zero, every wake refused, the
    database up: whether or not `predeploy` ran) and wait until no task of the old version runs. Says which it
    was: asleep already, or held asleep once its tasks stopped."""
    if not config.waker_function or lambda_client is None:
        return "not held: the runner has no waker to ask"
    minutes = int(seconds_left() // 60) + DEPLOY_HOLD_MARGIN_MINUTES
    request = to_event(Migration(hold_minutes=minutes, reason="airflow db migrate (pulumi up)"))
    while True:
        answer = adapters.ask_waker(lambda_client, config.waker_function, request)
        if answer is None:
            log("old-version", held="no waker yet: a first deploy, nothing of the stack runs")
            return "none: a first deploy"
        if answer.get("ok") or not answer.get("busy"):
            break
        _wait_or_fail(seconds_left, sleep, "the waker stayed busy: the stack could not be held asleep")
    if not answer.get("ok"):
        raise MigrationFailed(
            f"the waker did not hold the stack asleep for the migration: {answer.get('error') or answer.get('reason')}"
        )
    before = _running(answer)
    log("database-held", waker=config.waker_function, minutes=minutes, runningBefore=before)
    running = before
    while running:
        _wait_or_fail(
            seconds_left, sleep, f"{running} task(s) of the old version still run: the migration did not start"
        )
        status = adapters.ask_waker(lambda_client, config.waker_function, to_event(Status())) or {}
        running = _running(status) if status.get("current") else running
    held = "asleep" if not before else f"held asleep: {before} task(s) of the old version stopped first"
    log("old-version", held=held)
    return held


def _running(answer: Mapping[str, Any]) -> int:
    running = answer.get("current", {}).get("running", {})
    return sum(n for n in running.values() if isinstance(n, int) and n > 0) if isinstance(running, dict) else 0


def _wait_or_fail(seconds_left: Callable[[], float], sleep: Callable[[float], None], why: str) -> None:
    if seconds_left() < POLL_SECONDS + SAFETY_MARGIN_SECONDS:
        raise MigrationFailed(f"{why}; the components keep their current version: run `pulumi up` again")
    sleep(POLL_SECONDS)


def _release(config: RunnerConfig, lambda_client: Any, reason: str) -> None:
    """End the hold; where the waker cannot be told, the hold ends by itself at its time."""
    if not config.waker_function or lambda_client is None:
        return
    try:
        answer = adapters.ask_waker(
            lambda_client, config.waker_function, to_event(Migration(hold_minutes=0, reason=reason))
        )
    except Exception as error:  # the migration's own outcome stands; the hold ends by itself at its time
        answer = {"ok": False, "error": str(error)}
    log("hold-released", ok=bool(answer is None or answer.get("ok")), answer=answer)


def _record(ssm: Any, config: RunnerConfig, outcome: dict[str, str]) -> None:
    if ssm is not None and config.status_parameter:
        adapters.record_outcome(ssm, config.status_parameter, outcome)


def _migrate(
    task_definition: str,
    *,
    config: RunnerConfig,
    ecs: Any,
    rds: Any,
    seconds_left: Callable[[], float],
    sleep: Callable[[float], None],
    environment: dict[str, str],
) -> dict[str, str]:

    started_database = False
    while True:
        status = adapters.database_status(rds, config.db_instance_id)
        action = database_action(status)
        log("database", instance=config.db_instance_id, status=status, action=action)
        if action == "proceed":
            break
        if action == "fail":
            raise MigrationFailed(f"database {config.db_instance_id} is {status}; cannot migrate")
        if action == "start" and not started_database:
            adapters.start_database(rds, config.db_instance_id)
            started_database = True
        if seconds_left() < POLL_SECONDS + SAFETY_MARGIN_SECONDS:
            raise MigrationFailed(
                f"database {config.db_instance_id} is still {status}; run `pulumi up` again once it is available"
            )
        sleep(POLL_SECONDS)

    task_arn = adapters.run_task(
        ecs,
        cluster=config.cluster,
        task_definition=task_definition,
        subnets=config.subnets,
        security_groups=config.security_groups,
        assign_public_ip=config.assign_public_ip,
        started_by="airflow-migrate",
        environment=environment,
    )
    log("migration-started", task=task_arn, taskDefinition=task_definition)
    while True:
        outcome = judge_task(adapters.describe_task(ecs, cluster=config.cluster, task_arn=task_arn))
        if outcome.finished:
            break
        if seconds_left() < POLL_SECONDS + SAFETY_MARGIN_SECONDS:
            raise MigrationFailed(
                f"migration task {task_arn} is still running ({outcome.reason}); the "
                "components keep their current version: run `pulumi up` again when it ends"
            )
        sleep(POLL_SECONDS)

    log("migration-finished", task=task_arn, succeeded=outcome.succeeded, reason=outcome.reason)
    if not outcome.succeeded:
        raise MigrationFailed(outcome.reason)
    return {"status": "migrated", "taskArn": task_arn, "taskDefinitionArn": task_definition}


def handler(event: Any, context: Any) -> dict[str, str]:
    import boto3
    from botocore.config import Config

    return migrate(
        event,
        config=RunnerConfig.from_environment(os.environ),
        ecs=boto3.client("ecs"),
        rds=boto3.client("rds"),
        ssm=boto3.client("ssm"),
        # The waker answers within its own 60 s timeout: the read waits a little longer than that.
        lambda_client=boto3.client("lambda", config=Config(read_timeout=75, retries={"mode": "standard"})),
        seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
