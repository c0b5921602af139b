"""What the `airflow-stack` subcommands do, against AWS clients handed in (boto3 in use, moto in tests)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow_stack.outputs import NotDeployed, StackError, StackOutputs, WakerFailed
from contracts.components import CORE
from contracts.database import DATABASE_STUCK
from contracts.waker import Deploy, Status, to_event
from infra.airflow_env import ADMIN_PASSWORD

Invoke = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Stack:
    """One stack's outputs, its AWS clients and a way to ask its waker."""

    outputs: StackOutputs
    client: Callable[[str], Any]  # service name -> boto3 client in the stack's region
    invoke_waker: Invoke


# Stack name, outputs file (None: from the Pulumi CLI) -> the stack to act on.
StackFactory = Callable[[str, Path | None], Stack]


def lambda_invoker(lambda_client: Any, function: str) -> Invoke:
    def invoke(event: dict[str, Any]) -> dict[str, Any]:
        response = lambda_client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        body = response["Payload"].read().decode(errors="replace")
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        if response.get("FunctionError") or not isinstance(answer, dict):
            raise WakerFailed(f"the waker failed: {_first_line(answer, body)} (its log has the rest)")
        return answer

    return invoke


def _first_line(answer: Any, body: str) -> str:
    """What Lambda says of a failed run: its errorType and the first line of its errorMessage."""
    if isinstance(answer, dict) and ("errorType" in answer or "errorMessage" in answer):
        message = str(answer.get("errorMessage") or "").strip().splitlines()
        return f"{answer.get('errorType', 'Error')}: {message[0] if message else ''}"[:300]
    return (body.strip().splitlines() or ["no answer"])[0][:300]


# --- status ------------------------------------------------------------------------------------------------


def status(stack: Stack) -> dict[str, Any]:
    """The waker's view (state, reason, counts, signals, next wake) plus the database and the last migration."""
    report = stack.invoke_waker(to_event(Status()))
    database = stack.client("rds").describe_db_instances(DBInstanceIdentifier=stack.outputs["databaseIdentifier"])
    migration: dict[str, Any] = {}
    if stack.outputs.get("migrationStatusParameter"):
        ssm = stack.client("ssm")
        try:
            value = ssm.get_parameter(Name=stack.outputs["migrationStatusParameter"])["Parameter"]["Value"]
            migration = json.loads(value or "{}")
        except ssm.exceptions.ParameterNotFound:
            migration = {}
    return {
        "stack": stack.outputs.stack,
        **report,
        "database": database["DBInstances"][0]["DBInstanceStatus"],
        "migration": migration,
        "uiUrl": stack.outputs.get("uiUrl"),
    }


def _lead_lines(lead: dict[str, Any] | None) -> list[str]:
    """The learned lead: how long before a due DAG the waker acts, and the measured wakes behind it."""
    if not lead:
        return []

    def figures(values: list[float]) -> str:
        return ", ".join(f"{v:g}" for v in values) + " min" if values else "none measured yet (the configured lead)"

    wakes = figures(lead.get("measuredWakeMinutes") or [])
    lines = [f"lead        {lead.get('servicesMinutes')} min; wakes measured: {wakes}"]
    if lead.get("databaseMinutes") is not None:
        lines.append(
            f"            + {lead['databaseMinutes']} min while the database is stopped; starts measured: "
            f"{figures(lead.get('measuredDatabaseStartMinutes') or [])}"
        )
    return lines


def render_status(status: dict[str, Any]) -> str:
    lines = [
        f"stack       {status['stack']}",
        f"state       {status.get('state')}  ({status.get('reason')})",
        f"database    {status['database']}",
        f"next wake   {status.get('nextWakeAt') or '-'}   next DAG due {status.get('nextDueAt') or '-'}",
        f"held until  {status.get('holdUntil') or '-'}",
        *_lead_lines(status.get("lead")),
        *(
            ["ticks       hourly watch only (asleep and still: any wake switches the minute tick on)"]
            if status.get("minuteTicks") is False
            else []
        ),
        *(
            [f"MAINTENANCE {status['maintenance']} (nothing wakes the stack until it ends)"]
            if status.get("maintenance")
            else []
        ),
        f"UI          {status.get('uiUrl') or '-'}",
    ]
    migration = status.get("migration") or {}
    if migration:
        lines.append(
            f"migration   {migration.get('status')} at {migration.get('at')}"
            + (f": {migration['reason']}" if migration.get("status") == "failed" else "")
            + (f" (old version {migration['oldVersion']})" if migration.get("oldVersion") else "")
        )
    for component, problem in sorted((status.get("notStarting") or {}).items()):
        lines.append(f"NOT STARTING {component}: short of its desired count since {problem.get('shortSince')}")
        lines += [f"  ECS: {event}" for event in problem.get("events") or []]
    current = status.get("current", {})
    lines += ["", f"{'service':<15}{'desired':>8}{'running':>8}"]
    for name in sorted(current.get("desired", {})):
        lines.append(f"{name:<15}{current['desired'][name]:>8}{current.get('running', {}).get(name, 0):>8}")
    signals = status.get("signals", {})
    reporter = signals.get("reporter") or {}
    tasks = reporter.get("taskInstances", {})
    lines += [
        "",
        f"active work DAG runs queued {reporter.get('dagRunsQueued', '?')}, "
        f"running {reporter.get('dagRunsRunning', '?')};"
        f" tasks queued {tasks.get('queued', '?')}, running {tasks.get('running', '?')}"
        + ("  (reporter silent)" if signals.get("reporterStale") or not reporter else ""),
        f"queues      broker {signals.get('brokerVisible', 0)} waiting + {signals.get('brokerInFlight', 0)} in flight;"
        f" event queues {signals.get('eventQueueMessages', 0)}",
    ]
    return "\n".join(lines)


# --- wake and sleep ----------------------------------------------------------------------------------------


def parse_duration(text: str) -> int:
    """Minutes in '90', '90m', '2h' or '1h30m'."""
    import re

    # At most 6 digits each: a year is 525600 minutes, and no number this long reaches int() (a 5000-digit one
    # would raise there).
    match = re.fullmatch(r"(?:(\d{1,6})h)?(?:(\d{1,6})m?)?", text.strip())
    if not text.strip() or match is None or not any(match.groups()):
        raise StackError(f"a duration like 90m, 2h or 1h30m, not {text[:40]!r}{'...' if len(text) > 40 else ''}")
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def database_status(stack: Stack) -> str:
    described = stack.client("rds").describe_db_instances(DBInstanceIdentifier=stack.outputs["databaseIdentifier"])
    return described["DBInstances"][0]["DBInstanceStatus"]


def stuck_at(status: str) -> None:
    """StackError if the database is in a status it does not leave by itself (no wait would end)."""
    if status in DATABASE_STUCK:
        raise StackError(f"the database is {status} and will not become available by itself: {DATABASE_STUCK[status]}")


def wait_for_counts(
    stack: Stack,
    want: Callable[[dict[str, int], dict[str, int]], bool],
    *,
    timeout: float,
    interval: float = 10,
    progress: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    watch_database: bool = False,
) -> bool:
    """Poll the ECS services until `want(desired, running)` holds or the timeout passes; with
    `watch_database` (a wake: the services follow the database), stop at once if it cannot come up."""
    ecs = stack.client("ecs")
    names = stack.outputs.services
    deadline = clock() + timeout
    while True:
        if watch_database and stack.outputs.get("databaseIdentifier"):
            stuck_at(database_status(stack))
        described = ecs.describe_services(cluster=stack.outputs["clusterName"], services=list(names.values()))
        by_name = {s["serviceName"]: s for s in described["services"]}
        desired = {c: by_name.get(n, {}).get("desiredCount", 0) for c, n in names.items()}
        running = {c: by_name.get(n, {}).get("runningCount", 0) for c, n in names.items()}
        progress("  " + "  ".join(f"{c} {running[c]}/{desired[c]}" for c in sorted(names)))
        if want(desired, running):
            return True
        if clock() >= deadline:
            return False
        sleep(interval)


def all_up(desired: dict[str, int], running: dict[str, int]) -> bool:
    core = [c for c in CORE if c in desired]
    return all(desired[c] > 0 and running[c] >= desired[c] for c in core)


def all_down(desired: dict[str, int], running: dict[str, int]) -> bool:
    return all(n == 0 for n in running.values()) and all(n == 0 for n in desired.values())


# --- deploy ----------------------------------------------------------------------------------------------------


def prepare_deploy(
    stack: Stack,
    *,
    hold_minutes: int,
    timeout: float,
    interval: float = 20,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Ask the waker to start the database (if it stopped it) and hold it up, then wait until it is available:
    RDS refuses changes to a stopped instance, so `pulumi up` would fail on a sleeping dev stack."""
    answer = stack.invoke_waker(to_event(Deploy(hold_minutes=hold_minutes, reason="pulumi up")))
    if not answer.get("ok", False):
        raise StackError(f"the waker did not take the deploy hold: {answer.get('error') or answer.get('reason')}")
    deadline = clock() + timeout
    while True:
        status = database_status(stack)
        if status == "available":
            return status
        stuck_at(status)
        if clock() >= deadline:
            raise StackError(f"the database is still {status}: run predeploy again, or wait and run pulumi up")
        print(f"  database {status}")
        sleep(interval)


# --- snapshot ------------------------------------------------------------------------------------------------


def snapshot(stack: Stack, *, now: datetime | None = None, delay: int = 30, attempts: int = 120) -> str:
    rds = stack.client("rds")
    instance = stack.outputs["databaseIdentifier"]
    identifier = f"{instance}-{(now or datetime.now(UTC)).strftime('%Y%m%d-%H%M%S')}"
    rds.create_db_snapshot(
        DBSnapshotIdentifier=identifier,
        DBInstanceIdentifier=instance,
        Tags=[{"Key": "CreatedBy", "Value": "airflow-stack snapshot"}],
    )
    rds.get_waiter("db_snapshot_available").wait(
        DBSnapshotIdentifier=identifier, WaiterConfig={"Delay": delay, "MaxAttempts": attempts}
    )
    return identifier


def admin_password(stack: Stack) -> str:
    """The first admin user's password: the one key of the stack's Airflow secret a person needs to log in.
    Nothing else of the secret is printed (it also holds the database connection and the stack's keys)."""
    arn = stack.outputs.get("airflowSecretArn")
    if not arn:
        raise NotDeployed(f"stack {stack.outputs.stack} has no airflowSecretArn output: deploy it first")
    document = json.loads(stack.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])
    password = document.get(ADMIN_PASSWORD) if isinstance(document, dict) else None
    if not isinstance(password, str) or not password:
        raise StackError(f"the stack's Airflow secret has no {ADMIN_PASSWORD} key")
    return password
