"""`airflow-stack preflight --stack S --probe`: after `pulumi up`, start what the settings assume GovCloud
offers, and say what started.

Fargate documents X86_64 tasks on FARGATE for GovCloud; ARM64 and Fargate Spot it does not, and ECS does not
fall back from a capacity provider that cannot place a task. So the probe runs one short task (`airflow
version`) of the stack's own worker task definition (its image, its architecture, its roles and network)
on each capacity provider the worker service's strategy names, waits until it runs or stops, stops it, and
reports what happened. Then, with read-only calls, the rest the program assumes: each function's runtime,
architecture and log group (and the waker answering a status request, which changes nothing), the
EventBridge Scheduler schedules, and with a load balancer the waking page's rule with its `source-ip`
condition. Each failure names the setting that falls back.

The task is tagged and `startedBy` the probe, runs a command that reads no queue, and is stopped when the
probe ends, however it ends.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from airflow_stack.operations import Stack
from airflow_stack.preflight import Check
from contracts.components import WORKER
from contracts.stacks import stack_prefix
from contracts.waker import TICK, WATCH, Status, WakerVariable, schedule_name, to_event

PROBE_COMMAND = ["airflow", "version"]
STARTED_BY = "airflow-stack-probe"
# What to set when a capacity provider or an architecture does not start (ECS and Lambda spell it each their way).
FALLBACKS = {"fargate_spot": "services.workerSpot: false", "arm64": "image.architecture: x86_64"}


@dataclass(frozen=True)
class Clock:
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic


def _fallback(*keys: str) -> str:
    named = [FALLBACKS[k.lower()] for k in keys if k.lower() in FALLBACKS]
    return f"set {' or '.join(dict.fromkeys(named))}, then `pulumi up`" if named else "no setting replaces it"


def probe(stack: Stack, *, timeout_seconds: float = 600, clock: Clock | None = None) -> list[Check]:
    """Every probe, in order: the worker's capacity, the functions, the schedules, the load balancer's rule."""
    checks = list(worker_capacity(stack, timeout_seconds, clock or Clock()))
    checks += functions(stack)
    checks.append(schedules(stack))
    rule = waking_rule(stack)
    if rule is not None:
        checks.append(rule)
    return checks


# --- the worker's capacity ---------------------------------------------------------------------------------


def worker_capacity(stack: Stack, timeout_seconds: float, clock: Clock) -> Iterator[Check]:
    ecs = stack.client("ecs")
    cluster = stack.outputs["clusterName"]
    service = ecs.describe_services(cluster=cluster, services=[stack.outputs.services[WORKER]])["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    architecture = (definition.get("runtimePlatform") or {}).get("cpuArchitecture", "X86_64")
    strategy = service.get("capacityProviderStrategy") or []
    providers = [item["capacityProvider"] for item in strategy] or [service.get("launchType") or "FARGATE"]
    container = definition["containerDefinitions"][0]["name"]
    for provider in providers:
        name = f"{architecture} on {provider}"
        outcome = _run_one(ecs, cluster, service, provider, container, timeout_seconds, clock)
        if outcome is None:
            yield Check("ok", f"probe {name}", "a worker task of the stack's image started")
        else:
            yield Check("FAIL", f"probe {name}", outcome, _fallback(provider, architecture))


def _run_one(
    ecs: Any, cluster: str, service: dict[str, Any], provider: str, container: str, timeout: float, clock: Clock
) -> str | None:
    """None when the task started (reached RUNNING), else what ECS said."""
    try:
        answer = ecs.run_task(
            cluster=cluster,
            taskDefinition=service["taskDefinition"],
            capacityProviderStrategy=[{"capacityProvider": provider, "weight": 1}],
            networkConfiguration=service["networkConfiguration"],
            overrides={"containerOverrides": [{"name": container, "command": PROBE_COMMAND}]},
            startedBy=STARTED_BY,
            tags=[{"key": "airflow-stack", "value": "probe"}],
        )
    except ecs.exceptions.ClientError as error:  # e.g. a provider the cluster does not have
        return f"RunTask refused: {error}"
    if answer.get("failures"):
        return "; ".join(
            f"{f.get('reason')}" + (f" ({f['detail']})" if f.get("detail") else "") for f in answer["failures"]
        )
    task_arn = answer["tasks"][0]["taskArn"]
    try:
        return _watch(ecs, cluster, task_arn, timeout, clock)
    finally:
        with contextlib.suppress(Exception):
            ecs.stop_task(cluster=cluster, task=task_arn, reason="airflow-stack preflight --probe: done")


def _started(task: dict[str, Any]) -> bool:
    """Reached RUNNING: ECS sets `startedAt` then; DEACTIVATING follows only RUNNING; a container that exited
    had started (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task-lifecycle-explanation.html)."""
    return (
        bool(task.get("startedAt"))
        or task.get("lastStatus") in ("RUNNING", "DEACTIVATING")
        or any(c.get("exitCode") is not None for c in task.get("containers", []))
    )


def _watch(ecs: Any, cluster: str, task_arn: str, timeout: float, clock: Clock) -> str | None:
    deadline = clock.monotonic() + timeout
    while True:
        task = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]
        if _started(task):
            return None
        if task.get("lastStatus") == "STOPPED":
            reasons = [
                task.get("stoppedReason") or "stopped",
                *(c["reason"] for c in task.get("containers", []) if c.get("reason")),
            ]
            return "did not start: " + "; ".join(reasons)
        if clock.monotonic() >= deadline:
            return f"still {task.get('lastStatus', 'PENDING')} after {timeout:.0f} s (stopped): capacity or image pull"
        clock.sleep(5)


# --- functions, schedules, the load balancer's rule ------------------------------------------------------------


def functions(stack: Stack) -> Iterator[Check]:
    lambdas = stack.client("lambda")
    for key in ("wakerFunction", "migrationFunction"):
        name = stack.outputs.get(key)
        if not name:
            continue
        try:
            config = lambdas.get_function_configuration(FunctionName=name)
        except lambdas.exceptions.ResourceNotFoundException:
            yield Check("FAIL", f"probe {name}", "not found: run `pulumi up` first")
            continue
        described = f"{config.get('Runtime')} on {', '.join(config.get('Architectures', ['x86_64']))}"
        if config.get("State", "Active") != "Active" or config.get("LastUpdateStatus", "Successful") == "Failed":
            reason = config.get("StateReason") or config.get("LastUpdateStatusReason") or config.get("State")
            yield Check(
                "FAIL",
                f"probe {name}",
                f"{described}: {reason}",
                _fallback(*config.get("Architectures", [])) + " (or lambdaRuntime)",
            )
            continue
        yield Check(
            "ok",
            f"probe {name}",
            f"{described}, logs to {(config.get('LoggingConfig') or {}).get('LogGroup', 'its default group')}",
        )
    answer = stack.invoke_waker(to_event(Status()))
    if answer.get("ok"):
        yield Check("ok", "probe waker", f"answers a status request: {answer.get('state')}")
    else:
        yield Check(
            "FAIL",
            "probe waker",
            f"a status request failed: {answer.get('error') or answer}",
            "`airflow-stack status` and the waker's log group",
        )


def schedules(stack: Stack) -> Check:
    scheduler = stack.client("scheduler")
    group = stack_prefix(stack.outputs.stack)
    found = []
    for key in (TICK, WATCH):
        try:
            schedule = scheduler.get_schedule(GroupName=group, Name=schedule_name(group, key))
            found.append(f"{schedule['Name']} {schedule.get('State', '')}".strip())
        except scheduler.exceptions.ResourceNotFoundException:
            return Check(
                "FAIL",
                "probe schedules",
                f"{schedule_name(group, key)} not found in group {group}",
                "run `pulumi up`; no setting replaces EventBridge Scheduler",
            )
    return Check("ok", "probe schedules", ", ".join(found))


def waking_rule(stack: Stack) -> Check | None:
    """With a load balancer: whether ELB takes the `source-ip` condition the waker switches the waking page's
    rule off with. Once the waker has set it, reading the rule tells; before, the probe adds `source-ip
    0.0.0.0/0` (every IPv4 client, so the rule still catches each visitor) beside the rule's path pattern and
    puts the rule back as it found it."""
    lambdas = stack.client("lambda")
    configuration = lambdas.get_function_configuration(FunctionName=stack.outputs["wakerFunction"])
    rule_arn = ((configuration.get("Environment") or {}).get("Variables") or {}).get(WakerVariable.LISTENER_RULE_ARN)
    if not rule_arn:
        return None
    elbv2 = stack.client("elbv2")
    conditions = elbv2.describe_rules(RuleArns=[rule_arn])["Rules"][0]["Conditions"]
    if any(c.get("Field") == "source-ip" for c in conditions):
        return Check("ok", "probe waking page rule", "the waker's source-ip condition is on the rule: ELB took it")
    paths = [v for c in conditions if c.get("Field") == "path-pattern" for v in _values(c, "PathPatternConfig")]
    as_found = [{"Field": "path-pattern", "PathPatternConfig": {"Values": paths}}]
    try:
        elbv2.modify_rule(RuleArn=rule_arn, Conditions=[*as_found, EVERY_IPV4_CLIENT])
    except elbv2.exceptions.ClientError as error:
        return Check(
            "FAIL", "probe waking page rule", f"ELB refused a source-ip condition: {error}", "ui.wakeOnVisit: false"
        )
    finally:
        elbv2.modify_rule(RuleArn=rule_arn, Conditions=as_found)
    return Check("ok", "probe waking page rule", "ELB takes the source-ip condition the waker switches with")


EVERY_IPV4_CLIENT = {"Field": "source-ip", "SourceIpConfig": {"Values": ["0.0.0.0/0"]}}


def _values(condition: dict[str, Any], config: str) -> list[str]:
    return list((condition.get(config) or {}).get("Values") or condition.get("Values") or [])
