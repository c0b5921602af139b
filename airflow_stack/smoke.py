"""`airflow-stack smoke --stack S`: after a deploy, show in the stack's own account that it works end to end.

1. bundle   the smoke DAG (dags/airflow_smoke.py) is in the stack's DAG bundle: `make deploy-dags` ships it.
2. wake     the waker wakes the stack and holds it for the smoke; every core service reaches its desired count.
3. trigger  one one-off ECS task of the dag-processor's task definition (of the components that reach the
            metadata database, the one handed the fewest secrets) runs `airflow dags trigger airflow_smoke`
            until the dag-processor has parsed the file, then `airflow dags unpause airflow_smoke`. ECS's exit
            code is the answer; a failure names the task's log stream.
4. log      the scheduler queues the run's one task, a Celery worker runs it, and Airflow's remote logging writes
            its log to the bucket (logs/dag_id=airflow_smoke/run_id=<run>/...): the line the task prints is read
            back from there.
5. sleep    the waker is asked to sleep, not forced: while other work is active it refuses and is asked again,
            and a stack others keep busy is left awake, saying why. Then every service reaches zero.

Each step is printed with the seconds since the command began. Run it as the deploying role: step 3 passes the
dag-processor's task and execution roles to ECS (iam:PassRole), which the operator policy does not allow, and
reads the smoke DAG's logs. `--no-sleep` leaves the stack awake (for its hold) instead of step 5. Interrupted
(Ctrl-C, SIGTERM), it stops the trigger task if it runs; the stack sleeps once idle after its hold.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from airflow_stack import operations
from airflow_stack.outputs import StackError
from airflow_stack.terminal import printable
from contracts.waker import Sleep, Wake, to_event

DAG_ID = "airflow_smoke"
DAG_FILE = "dags/airflow_smoke.py"  # its key in the bundle (deploy_dags.PREFIX + the file's name)
SMOKE_LINE = "airflow-stack smoke: ok"  # what the DAG's task prints (dags/airflow_smoke.py)
TRIGGER_COMPONENT = "dag-processor"
STARTED_BY = "airflow-stack-smoke"
HOLD_MINUTES = 30
# Until the dag-processor has parsed a newly shipped file, `airflow dags trigger` finds no DAG: asked again.
TRIGGER_ATTEMPTS, TRIGGER_PAUSE_SECONDS = 30, 10
TRIGGER_SCRIPT = (
    'for attempt in $(seq 1 "$2"); do '
    'if airflow dags trigger "$0" --run-id "$1"; then exec airflow dags unpause "$0"; fi; '
    'sleep "$3"; done; '
    'echo "no DAG $0 in the metadata database after $2 attempts: is dags/$0.py in the bundle?" >&2; exit 3'
)


class SmokeFailed(StackError):
    """A step of the smoke did not do what it should (exit 1, as a wait that timed out)."""


def trigger_command(run_id: str) -> list[str]:
    """The one-off task's command: arguments as bash's positional ones, never spliced into the script."""
    return [
        "bash",
        "-c",
        TRIGGER_SCRIPT,
        DAG_ID,
        run_id,
        str(TRIGGER_ATTEMPTS),
        str(TRIGGER_PAUSE_SECONDS),
    ]


@dataclass(frozen=True)
class Clock:
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


@dataclass(frozen=True)
class Timeouts:
    wake: float = 15 * 60
    trigger: float = 10 * 60
    log: float = 10 * 60
    sleep: float = 10 * 60
    interval: float = 10


class Steps:
    """Prints each step with the seconds since the start."""

    def __init__(self, clock: Clock, out: Callable[[str], None] = print) -> None:
        self.clock, self.out, self.started = clock, out, clock.monotonic()

    def __call__(self, step: str, text: str) -> None:
        self.out(f"[{self.clock.monotonic() - self.started:6.0f} s] {step:<8} {printable(text)}")


def smoke(
    stack: operations.Stack,
    *,
    timeouts: Timeouts | None = None,
    clock: Clock | None = None,
    leave_awake: bool = False,
    out: Callable[[str], None] = print,
) -> str:
    """Every step, in order; the run's id. SmokeFailed (or StackError) names the step that did not pass."""
    timeouts, clock = timeouts or Timeouts(), clock or Clock()
    step = Steps(clock, out)
    bucket = stack.outputs["dagBucket"]
    s3 = stack.client("s3")
    try:
        s3.head_object(Bucket=bucket, Key=DAG_FILE)
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
            raise
        raise StackError(
            f"s3://{bucket}/{DAG_FILE} is not there: ship the DAGs first (`make deploy-dags STACK="
            f"{stack.outputs.stack}`); nothing was woken"
        ) from None
    step("bundle", f"s3://{bucket}/{DAG_FILE} is in the DAG bundle")

    answer = stack.invoke_waker(to_event(Wake(hold_minutes=HOLD_MINUTES, reason="airflow-stack smoke")))
    if not answer.get("ok", False):
        raise StackError(f"the waker refused to wake the stack: {answer.get('error') or answer.get('reason')}")
    step("wake", f"{_said(answer)} (held {HOLD_MINUTES} min)")
    if not _counts_reach(stack, operations.all_up, "wake", timeouts.wake, step, timeouts, clock):
        raise SmokeFailed(f"the stack was not up after {timeouts.wake / 60:.0f} min (`airflow-stack status` says why)")
    step("wake", "every core service runs")

    run_id = f"smoke__{clock.now():%Y-%m-%dT%H-%M-%S}"
    ecs = stack.client("ecs")
    task_arn, log_stream = start_trigger(ecs, stack, run_id)
    step("trigger", f"one-off {TRIGGER_COMPONENT} task {task_arn.rsplit('/', 1)[-1]}: airflow dags trigger {DAG_ID}")
    try:
        code = wait_for_task(ecs, stack.outputs["clusterName"], task_arn, timeouts, clock)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the task this command started does not outlive it
        ecs.stop_task(cluster=stack.outputs["clusterName"], task=task_arn, reason="airflow-stack smoke: interrupted")
        raise
    if code != 0:
        raise SmokeFailed(f"the trigger task exited {code}: its log is {log_stream}")
    step("trigger", f"run {run_id} created, {DAG_ID} unpaused (exit 0)")

    key, line = wait_for_log(s3, bucket, run_id, timeouts, clock)
    step("log", f"s3://{bucket}/{key}: {line}")

    if leave_awake:
        step("sleep", f"left awake (--no-sleep): it sleeps once idle after its {HOLD_MINUTES} min hold")
        return run_id
    let_sleep(stack, step, timeouts, clock)
    return run_id


def _counts_reach(
    stack: operations.Stack,
    want: Callable[[dict[str, int], dict[str, int]], bool],
    name: str,
    timeout: float,
    step: Steps,
    timeouts: Timeouts,
    clock: Clock,
) -> bool:
    """The services' counts followed, one progress line per poll under the step's name; on the way up the
    database is watched too (the services follow it)."""
    return operations.wait_for_counts(
        stack,
        want,
        timeout=timeout,
        interval=timeouts.interval,
        progress=lambda line: step(name, line.strip()),
        sleep=clock.sleep,
        clock=clock.monotonic,
        watch_database=want is operations.all_up,
    )


def start_trigger(ecs: Any, stack: operations.Stack, run_id: str) -> tuple[str, str]:
    """RunTask of the dag-processor's task definition, on its service's network; (task ARN, its log stream)."""
    cluster = stack.outputs["clusterName"]
    service_name = stack.outputs.services[TRIGGER_COMPONENT]
    service = ecs.describe_services(cluster=cluster, services=[service_name])["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])["taskDefinition"]
    container = next(c for c in definition["containerDefinitions"] if c["name"] == TRIGGER_COMPONENT)
    placement = (
        {"capacityProviderStrategy": service["capacityProviderStrategy"]}
        if service.get("capacityProviderStrategy")
        else {"launchType": service.get("launchType") or "FARGATE"}
    )
    answer = ecs.run_task(
        cluster=cluster,
        taskDefinition=service["taskDefinition"],
        count=1,
        startedBy=STARTED_BY,
        networkConfiguration=service["networkConfiguration"],
        overrides={"containerOverrides": [{"name": TRIGGER_COMPONENT, "command": trigger_command(run_id)}]},
        **placement,
    )
    if answer.get("failures") or not answer.get("tasks"):
        reasons = "; ".join(str(f.get("reason")) for f in answer.get("failures") or []) or "no task"
        raise SmokeFailed(f"ECS did not start the trigger task: {reasons}")
    task_arn = answer["tasks"][0]["taskArn"]
    options = (container.get("logConfiguration") or {}).get("options") or {}
    stream = f"{options.get('awslogs-stream-prefix', '')}/{TRIGGER_COMPONENT}/{task_arn.rsplit('/', 1)[-1]}"
    return task_arn, f"log group {options.get('awslogs-group')}, stream {stream}"


def wait_for_task(ecs: Any, cluster: str, task_arn: str, timeouts: Timeouts, clock: Clock) -> int:
    """The exit code of the task's essential container once ECS has stopped it; stopped at the timeout."""
    deadline = clock.monotonic() + timeouts.trigger
    while True:
        task = ecs.describe_tasks(cluster=cluster, tasks=[task_arn])["tasks"][0]
        if task.get("lastStatus") == "STOPPED":
            container = next((c for c in task.get("containers", []) if c.get("name") == TRIGGER_COMPONENT), {})
            if container.get("exitCode") is None:
                raise SmokeFailed(
                    f"the trigger task stopped before its command ran: {task.get('stoppedReason') or 'no reason'}"
                    + "".join(f"; {c['reason']}" for c in task.get("containers", []) if c.get("reason"))
                )
            return int(container["exitCode"])
        if clock.monotonic() >= deadline:
            ecs.stop_task(cluster=cluster, task=task_arn, reason="airflow-stack smoke: timed out")
            raise SmokeFailed(
                f"the trigger task was still {task.get('lastStatus')} after {timeouts.trigger / 60:.0f} min "
                "(stopped): capacity or image pull"
            )
        clock.sleep(timeouts.interval)


def wait_for_log(s3: Any, bucket: str, run_id: str, timeouts: Timeouts, clock: Clock) -> tuple[str, str]:
    """The key of the task's log in the bucket and the smoke line in it."""
    prefix = f"logs/dag_id={DAG_ID}/run_id={run_id}/"
    deadline = clock.monotonic() + timeouts.log
    while True:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])]
        for key in sorted(keys):
            text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8", errors="replace")
            found = next((line for line in text.splitlines() if SMOKE_LINE in line), None)
            if found is not None:
                return key, _event_text(found)
        if clock.monotonic() >= deadline:
            seen = f"{len(keys)} log file(s) without the line" if keys else "no log"
            raise SmokeFailed(
                f"{seen} under s3://{bucket}/{prefix} after {timeouts.log / 60:.0f} min: the run's task did not "
                "finish on a worker, or its log did not reach the bucket (see the worker's log group)"
            )
        clock.sleep(timeouts.interval)


def _said(answer: dict[str, Any]) -> str:
    """The waker's answer in one phrase: its reason, after its state unless the reason already begins with it."""
    state, reason = str(answer.get("state")), str(answer.get("reason"))
    return reason if reason.startswith(state) else f"{state}: {reason}"


def _event_text(line: str) -> str:
    """The task's own words from one log line (Airflow writes each event as JSON with an `event` key)."""
    try:
        event = json.loads(line)
    except ValueError:
        return line.strip()[:200]
    return str(event.get("event", line))[:200] if isinstance(event, dict) else line.strip()[:200]


def let_sleep(stack: operations.Stack, step: Steps, timeouts: Timeouts, clock: Clock) -> None:
    """Ask the waker to sleep until it agrees (it reads activity up to a minute late), then wait for zero."""
    deadline = clock.monotonic() + timeouts.sleep
    while True:
        answer = stack.invoke_waker(to_event(Sleep(reason="airflow-stack smoke passed")))
        if answer.get("ok", False):
            step("sleep", _said(answer))
            break
        why = answer.get("error") or answer.get("reason")
        if clock.monotonic() >= deadline:
            step("sleep", f"left awake: the waker keeps it for other work ({why}); it sleeps once idle")
            return
        step("sleep", f"not yet: {why}")
        clock.sleep(max(timeouts.interval, 30))
    if not _counts_reach(stack, operations.all_down, "sleep", timeouts.sleep, step, timeouts, clock):
        raise SmokeFailed(f"the waker agreed to sleep but services still ran after {timeouts.sleep / 60:.0f} min")
    step("sleep", "every service at zero")
