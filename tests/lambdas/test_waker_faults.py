"""The real waker handler under generated faults on every AWS call it makes (moto, us-gov-east-1).

Each client is wrapped in a proxy that answers a chosen call with what AWS answers when it throttles
(`ThrottlingException`), denies (`AccessDenied...`) or cannot find the resource (each service's own
not-found error, raised as the modelled exception class the SDK raises:
https://boto3.amazonaws.com/v1/documentation/api/latest/guide/error-handling.html). Hypothesis draws where the
stack starts, what is asked, which call fails and how. The properties, over every run:

- it answers, or raises only the AWS error it was given (never a bug of its own: KeyError, TypeError...);
- the next run without the fault does not raise: no fault leaves a state that fails again;
- two runs later every count it asked for is applied, and matches its answer: nothing half-applied stays;
- no count is ever negative or above its bound (core services 0 or 1, workers 0..maxWorkers).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdas.waker.handler import Clients, handle
from standin.waker_world import World, minutes, moto_world

# Every AWS call the waker makes, by the client it makes it with. The coverage test below fails when the
# waker makes one that is not listed here (so a new call cannot escape the faults).
CALLS = {
    "ecs": ("DescribeServices", "UpdateService"),
    "sqs": ("GetQueueAttributes", "ReceiveMessage", "SendMessage", "DeleteMessage", "ChangeMessageVisibilityBatch"),
    "cloudwatch": ("GetMetricData", "PutMetricData"),
    "scheduler": ("GetSchedule", "CreateSchedule", "UpdateSchedule", "DeleteSchedule"),
    "rds": ("DescribeDBInstances", "StartDBInstance", "StopDBInstance"),
    "ssm": ("GetParameter", "PutParameter", "DeleteParameter"),
    "elbv2": ("DescribeTargetHealth", "DescribeRules", "ModifyRule"),
    "sns": ("Publish",),
    "logs": ("FilterLogEvents",),
}
NOT_FOUND = {
    "ecs": "ClusterNotFoundException",
    "sqs": "AWS.SimpleQueueService.NonExistentQueue",
    "cloudwatch": "ResourceNotFound",
    "scheduler": "ResourceNotFoundException",
    "rds": "DBInstanceNotFound",
    "ssm": "ParameterNotFound",
    "elbv2": "RuleNotFound",
    "sns": "NotFound",
    "logs": "ResourceNotFoundException",
}
FAULTS = ("throttled", "denied", "not-found")
# What a run must read (and its lease and state) before it can decide anything: a fault there fails the run.
DECIDES_ON = {
    "ecs:DescribeServices",
    "sqs:GetQueueAttributes",
    "rds:DescribeDBInstances",
    "ssm:GetParameter",
    "ssm:PutParameter",
}
# Reads whose failure is read as "unknown" (busy while up) and never fails the run.
SOFT_READS = {"cloudwatch:GetMetricData", "elbv2:DescribeTargetHealth", "logs:FilterLogEvents"}
CLIENT_NAMES = tuple(f.name for f in dataclasses.fields(Clients))
BOUND = {"worker": 4}  # the world's maxWorkers; every other service 0 or 1


class Plan:
    """Which call fails, how, and every call made (with its arguments)."""

    def __init__(self, target: str | None = None, fault: str = "throttled", occurrence: int = 0):
        self.target, self.fault, self.occurrence = target, fault, occurrence
        self.seen: Counter[str] = Counter()
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def error(self, service: str, client: Any, operation: str) -> Exception | None:
        key = f"{service}:{operation}"
        self.seen[key] += 1
        if key != self.target or self.seen[key] != self.occurrence + 1:
            return None
        code = {
            "throttled": "ThrottlingException",
            "denied": "AccessDeniedException",
            "not-found": NOT_FOUND[service],
        }[self.fault]
        response = {"Error": {"Code": code, "Message": f"injected: {self.fault}"}}
        return client.exceptions.from_code(code)(response, operation)


class FaultyClient:
    """A boto3 client whose calls go through `plan`; its modelled exceptions stay the real client's."""

    def __init__(self, service: str, client: Any, plan: Plan):
        self._service, self._client, self._plan = service, client, plan

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        operation = self._client.meta.method_to_api_mapping.get(name)
        if operation is None:
            return attribute  # exceptions, meta, paginators

        def call(**kwargs: Any) -> Any:
            self._plan.calls.append((f"{self._service}:{operation}", kwargs))
            error = self._plan.error(self._service, self._client, operation)
            if error is not None:
                raise error
            return attribute(**kwargs)

        return call


def faulty(clients: Clients, plan: Plan) -> Clients:
    return Clients(*(FaultyClient(name, getattr(clients, name), plan) for name in CLIENT_NAMES))


# --- the stack's starting points and the requests ------------------------------------------------------------

STARTS = ("asleep", "asleep-due-soon", "asleep-database-stopped", "awake-idle", "awake-busy", "awake-stale-broker")
REQUESTS = {
    "tick": {"action": "tick"},
    "wake": {"action": "wake", "holdMinutes": 30, "reason": "a person"},
    "sleep": {"action": "sleep", "reason": "a person"},
    "sleep-force": {"action": "sleep", "reason": "a person", "force": True},
    "status": {"action": "status"},
    "deploy": {"action": "deploy", "holdMinutes": 60, "reason": "pulumi up"},
    "migration": {"action": "migration", "holdMinutes": 25, "reason": "airflow db migrate"},
    "dag-change": {"action": "wake", "holdMinutes": 10, "reason": "DAG bundle changed", "source": "change"},
}


# The requests the faults are drawn over: each that acts (a status request only reads, and a plain sleep's
# calls are a subset of a forced one's).
ACTING_REQUESTS = ("tick", "wake", "sleep-force", "deploy", "migration", "dag-change")


@dataclasses.dataclass
class Scene:
    world: World
    base: datetime
    start: str

    def report(self, at: datetime) -> None:
        """What the reporter says in this scene (published only while the stack is up)."""
        if self.start == "awake-busy":
            self.world.report(at, next_due_in=7200, dag_runs_running=1, **{"ti:queued": 12, "ti:running": 4})
        elif self.start.startswith("awake"):
            self.world.report(at, next_due_in=7200)

    def run(self, clients: Clients, event: dict[str, Any], at: datetime) -> dict[str, Any]:
        self.report(at - timedelta(seconds=20))
        world = self.world
        return handle(
            event,
            config=world.config,
            clients=clients,
            now=at,
            function_arn=world.function_arn,
            lease_wait_seconds=0,
        )


@contextlib.contextmanager
def scene(start: str) -> Iterator[Scene]:
    """A stack with a database it stops, a load balancer with the waking page, the api-server's log group and
    an alarm topic, brought to `start` by clean runs. The clock is near the real one (SQS's message times are
    real)."""
    base = datetime.now(UTC).replace(second=0, microsecond=0)
    # Both ways of seeing UI use at once (a stack has one or the other): every call is made in some scene.
    with moto_world(database=True, load_balancer=True, api_server_log=True, stop_database=True, max_workers=4) as world:
        current = Scene(world, base, start)
        clean = world.clients
        if start == "asleep-due-soon":  # put to sleep with a DAG due 8 minutes after `base`: a one-time wake
            current.run(clean, REQUESTS["wake"], base - minutes(20))
            world.report(base - minutes(19.5), next_due_in=(minutes(27.5)).total_seconds())
            current.run(clean, {"action": "sleep", "reason": "setup", "force": True}, base - minutes(19))
        if start == "asleep-database-stopped":
            current.run(clean, {"action": "tick"}, base - minutes(3))
        if start.startswith("awake"):
            current.run(clean, REQUESTS["wake"], base - minutes(3))
            assert world.config.api_target_group_arn
            world.clients.elbv2.register_targets(  # the api-server healthy: the UI routed to Airflow
                TargetGroupArn=world.config.api_target_group_arn, Targets=[{"Id": "10.40.0.10", "Port": 8080}]
            )
            current.run(clean, {"action": "tick"}, base - minutes(2))
        if start == "awake-busy":
            world.send_broker_messages(base - minutes(1), count=5)
        if start == "awake-stale-broker":
            timeout = minutes(world.config.settings.task_queued_timeout_seconds / 60)
            world.send_broker_messages(base - timeout - minutes(30), count=3)
            world.send_broker_messages(base - minutes(1), count=1)  # young: put back
        yield current


# --- the properties --------------------------------------------------------------------------------------------


def bounded(plan: Plan) -> list[str]:
    wrong = []
    for key, arguments in plan.calls:
        if key == "ecs:UpdateService":
            count, service = arguments["desiredCount"], arguments["service"]
            if not 0 <= count <= BOUND.get(service, 1):
                wrong.append(f"{service}={count}")
    return wrong


def story(start: str, request: str, plan: Plan) -> list[str]:
    """Run the faulty request and two clean ticks; what broke a property (empty: none)."""
    broken: list[str] = []
    with scene(start) as current:
        world = current.world
        at = current.base
        first: dict[str, Any] | None = None
        try:
            first = current.run(faulty(world.clients, plan), REQUESTS[request], at)
        except ClientError as error:
            if "injected" not in str(error):
                broken.append(f"raised an error it was not given: {error!r}")
        except Exception as error:  # a bug of the waker's own
            broken.append(f"raised {error!r}")
        clean = Plan()
        for minute in (1, 2):
            try:
                answer = current.run(faulty(world.clients, clean), {"action": "tick"}, at + minutes(minute))
            except Exception as error:
                broken.append(f"the clean run {minute} minute(s) later raised {error!r}")
                return broken
        # What was asked is kept: answered, or failed once it was decided (a fault before the decision, on
        # what it must know or on its lease or state, fails the request and the caller sees it fail).
        remembered = first is not None or plan.target not in DECIDES_ON
        if first is None and plan.target in SOFT_READS:
            broken.append(f"a fault on {plan.target} (read as unknown) failed the run")
        if first is not None and (first.get("busy") or first.get("refused") or not first.get("ok", True)):
            remembered = False
        if remembered and request == "wake" and answer.get("state") not in ("waking", "awake"):
            broken.append(f"the wake was dropped: {answer.get('state')}: {answer.get('reason')}")
        if remembered and request == "deploy" and not answer.get("databaseHeldUntil"):
            broken.append(f"the deploy's database hold was dropped: {answer.get('reason')}")
        if remembered and request == "migration" and (answer.get("state") != "asleep" or any(world.desired().values())):
            broken.append(f"the old version ran during the migration: {answer.get('reason')}")
        if first is not None and first.get("ok") and request == "sleep-force" and answer.get("state") != "asleep":
            broken.append(f"the answered sleep was undone: {answer.get('reason')}")
        if answer.get("busy"):
            broken.append("still busy two minutes later: the lease wedged")
        elif answer["desired"] != world.desired():
            broken.append(f"half-applied: answered {answer['desired']}, applied {world.desired()}")
        broken += [f"count out of bounds: {w}" for w in bounded(plan) + bounded(clean)]
    return broken


@functools.cache
def calls_by_scene() -> dict[str, set[tuple[str, str]]]:
    """Each call the waker makes, and the (start, request) scenes that make it, from clean runs."""
    found: dict[str, set[tuple[str, str]]] = {}
    for start in STARTS:
        for request in ACTING_REQUESTS:
            plan = Plan()
            assert story(start, request, plan) == [], (start, request)
            for key, _ in plan.calls:
                found.setdefault(key, set()).add((start, request))
    return found


ALL_CALLS = sorted(f"{service}:{operation}" for service, operations in CALLS.items() for operation in operations)


def test_the_scenes_make_every_call_the_waker_makes_and_no_other():
    made = set(calls_by_scene())
    assert made - set(ALL_CALLS) == set(), "a call no fault reaches: add it to CALLS"
    assert set(ALL_CALLS) - made == set(), "a listed call no scene makes: add a scene that makes it"


@pytest.mark.parametrize("target", ALL_CALLS)
# The same examples on every run (derandomize): what passes here passes in CI. Raise max_examples to search wider.
@settings(max_examples=2, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), fault=st.sampled_from(FAULTS), occurrence=st.integers(0, 1))
def test_a_fault_on_any_call_is_answered_and_repaired(target, data, fault, occurrence):
    start, request = data.draw(st.sampled_from(sorted(calls_by_scene()[target])), label="scene")
    assert story(start, request, Plan(target, fault, occurrence)) == []
