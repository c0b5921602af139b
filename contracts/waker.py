"""The waker's contract with what configures and calls it.

- Its settings (`WAKER_SETTINGS`): the tuning a stack file may set under `airflow:waker` and what the program
  adds; the defaults here are the only ones (the settings reader and the README's table take theirs from here).
- Its environment: the variables the program sets and the handler reads.
- Its events: the requests it accepts, `to_event` to build one (the CLI, the waking page, the migration runner,
  the program's schedules) and `parse_event`, the one reader (the waker, before anything is read or changed).
- The names of the schedules it keeps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import Any, Literal

from contracts.components import CORE

# --- settings ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class WakerTuning:
    """What a stack file may set under `airflow:waker` (as camelCase keys), with the defaults."""

    idle_minutes: int = 15
    wake_lead_minutes: int = 5  # until enough wakes are measured; then learned within the bounds below
    wake_lead_min_minutes: int = 2
    wake_lead_max_minutes: int = 20
    # After a wake for scheduled work only (no person, no hold, no UI request), sleep this soon once idle.
    scheduled_grace_minutes: int = 1
    max_workers: int = 4
    reporter_stale_minutes: int = 5
    boot_grace_minutes: int = 10
    stop_database: bool = False
    database_start_minutes: int = 15  # how long RDS takes to start, added to the lead when it is stopped
    database_stop_after_minutes: int = 120  # stop RDS only if the next wake is at least this far away
    default_hold_minutes: int = 60
    max_visit_wakes_per_day: int = 12  # wakes from the waking page (a crawler cannot keep the stack up)


def task_queued_timeout_seconds(tuning: WakerTuning) -> int:
    """Airflow's `[scheduler] task_queued_timeout`: how long a queued task may wait for a worker before the
    scheduler fails it. A worker's boot, twice (a first task that failed to start), the database's start when
    the waker stops it, and a margin of waker ticks: Airflow's default of 600 s is shorter than a cold start
    with the database stopped. The waker reads it too: a broker message older than this, while the reporter
    sees no queued task, is one whose task Airflow has already failed."""
    database = tuning.database_start_minutes if tuning.stop_database else 0
    return 60 * (2 * tuning.boot_grace_minutes + database + tuning.wake_lead_minutes + 5)


@dataclass(frozen=True, kw_only=True)
class WakerSettings(WakerTuning):
    """The waker's settings as it reads them: the stack's tuning and what the program knows of the stack."""

    services: Mapping[str, str] = field(default_factory=dict)  # component -> ECS service name
    worker_concurrency: int = 8
    # Workers protect themselves from scale-in while they hold a task (the image's worker_protection), so
    # workers may be scaled in while tasks run on others.
    scale_in_protection: bool = False
    # A service whose running count stays below its desired count this long raises the alarm.
    start_limit_minutes: int = 15
    # Airflow's `[scheduler] task_queued_timeout` as the stack sets it: by the formula above unless given.
    task_queued_timeout_seconds: int = 0

    def __post_init__(self) -> None:
        if not self.task_queued_timeout_seconds:
            object.__setattr__(self, "task_queued_timeout_seconds", task_queued_timeout_seconds(self))

    @property
    def core(self) -> tuple[str, ...]:
        return tuple(c for c in CORE if c in self.services)

    @classmethod
    def from_json(cls, text: str) -> WakerSettings:
        raw = json.loads(text)
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown waker settings: {', '.join(sorted(unknown))}")
        return cls(**raw)

    def to_json(self) -> str:
        return json.dumps({f.name: _plain(getattr(self, f.name)) for f in fields(self)}, sort_keys=True)


def _plain(value: Any) -> Any:
    return dict(value) if isinstance(value, Mapping) else value


# --- environment ------------------------------------------------------------------------------------------


class WakerVariable(StrEnum):
    STACK = "STACK"  # the stack's physical-name prefix, e.g. airflow-dev
    CLUSTER = "CLUSTER"
    WAKER_SETTINGS = "WAKER_SETTINGS"  # WakerSettings.to_json()
    BROKER_QUEUE_URL = "BROKER_QUEUE_URL"
    BROKER_PARKING_QUEUE_URL = "BROKER_PARKING_QUEUE_URL"  # the broker's dead-letter queue: stale messages go there
    EVENT_QUEUE_URLS = "EVENT_QUEUE_URLS"  # a JSON list
    METRIC_NAMESPACE = "METRIC_NAMESPACE"
    SCHEDULE_GROUP = "SCHEDULE_GROUP"
    SCHEDULER_ROLE_ARN = "SCHEDULER_ROLE_ARN"
    STATE_PARAMETER = "STATE_PARAMETER"
    LEASE_PARAMETER = "LEASE_PARAMETER"
    DB_INSTANCE_ID = "DB_INSTANCE_ID"
    LOAD_BALANCER = "LOAD_BALANCER"  # CloudWatch dimension values, e.g. app/airflow-dev-ui/0123456789abcdef
    TARGET_GROUP = "TARGET_GROUP"
    LISTENER_RULE_ARN = "LISTENER_RULE_ARN"  # the waking page's rule: catches the UI's visitors while asleep
    API_TARGET_GROUP_ARN = "API_TARGET_GROUP_ARN"  # whose health says the UI can be shown
    # Without a load balancer: the api-server's log group, whose access log says whether someone uses the UI.
    API_SERVER_LOG_GROUP = "API_SERVER_LOG_GROUP"
    ALARM_TOPIC_ARN = "ALARM_TOPIC_ARN"
    TICK_SCHEDULE = "TICK_SCHEDULE"  # the per-minute tick, switched off while asleep and still


REQUIRED_VARIABLES = (
    WakerVariable.STACK,
    WakerVariable.CLUSTER,
    WakerVariable.WAKER_SETTINGS,
    WakerVariable.BROKER_QUEUE_URL,
    WakerVariable.BROKER_PARKING_QUEUE_URL,
    WakerVariable.METRIC_NAMESPACE,
    WakerVariable.SCHEDULE_GROUP,
    WakerVariable.SCHEDULER_ROLE_ARN,
    WakerVariable.STATE_PARAMETER,
    WakerVariable.LEASE_PARAMETER,
)

# The variables a caller of the waker is given: the waking page and the migration runner.
WAKER_FUNCTION_VARIABLE = "WAKER_FUNCTION"

# --- the parameters each run may write, besides its state ------------------------------------------------

LEASE_GUARD_DEPTH = 2  # how many guards a takeover may stack (each guards the takeover of the one below)


def dag_change_parameter(stack_prefix: str) -> str:
    """The marker of the last DAG-bundle change the waker acted on: a burst of uploads wakes it once."""
    return f"/{stack_prefix}/waker/dag-change"


def lease_parameters(lease_parameter: str) -> tuple[str, ...]:
    """The lease parameter and its takeover guards, in order: the waker creates and deletes each of them, and
    its policy names exactly these."""
    return tuple(f"{lease_parameter}{'-takeover' * depth}" for depth in range(LEASE_GUARD_DEPTH + 1))


# --- schedules --------------------------------------------------------------------------------------------

TICK, WATCH = "tick", "watch"  # the per-minute tick (on while anything runs) and the hourly watch
NEXT_DUE_WAKE = "next-due-wake"  # the one-time schedule the waker keeps for the next DAG due


def schedule_name(stack_prefix: str, key: str) -> str:
    """The physical name of one of the stack's schedules, e.g. airflow-dev-tick."""
    return f"{stack_prefix}-{key}"


# --- events -----------------------------------------------------------------------------------------------

MAX_HOLD_MINUTES = 24 * 60
DEPLOY_HOLD_MINUTES = 60
# request: a person or a tool; visit: the waking page; schedule: a due DAG or a window; change: the DAG bundle
# changed (one wake per burst of uploads, lambdas/waker/adapters/change.py).
WakeSource = Literal["request", "visit", "schedule", "change"]
WAKE_SOURCES: tuple[WakeSource, ...] = ("request", "visit", "schedule", "change")


@dataclass(frozen=True)
class Tick:
    kind: Literal["tick"] = "tick"


@dataclass(frozen=True)
class Wake:
    hold_minutes: int
    reason: str
    source: WakeSource = "request"
    kind: Literal["wake"] = "wake"


@dataclass(frozen=True)
class Sleep:
    reason: str
    force: bool = False
    hold_minutes: int | None = None
    kind: Literal["sleep"] = "sleep"


@dataclass(frozen=True)
class Status:
    kind: Literal["status"] = "status"


@dataclass(frozen=True)
class Deploy:
    """`pulumi up` is about to run: the database must be up (RDS refuses changes to a stopped instance), and
    stay up for the hold; the Airflow services are left as they are."""

    hold_minutes: int
    reason: str
    kind: Literal["deploy"] = "deploy"


@dataclass(frozen=True)
class Maintenance:
    """Hold the stack asleep, refusing every wake, until turned off (while its database is replaced and not
    yet guarded); deploys may still start the database."""

    on: bool
    reason: str
    kind: Literal["maintenance"] = "maintenance"


@dataclass(frozen=True)
class Migration:
    """`airflow db migrate` runs (the migration runner, lambdas/migrator): the Airflow services are held at zero
    and every wake refused until `hold_minutes` from now, so no component of the old version runs against a
    schema being changed; the database is held up as for a deploy. Each request replaces the last one's end: the
    runner asks for its own time, and 0 once done (the hold ends at once)."""

    hold_minutes: int
    reason: str
    kind: Literal["migration"] = "migration"


Request = Tick | Wake | Sleep | Status | Deploy | Maintenance | Migration

EVENTS: dict[str, set[str]] = {
    "tick": set(),
    "wake": {"holdMinutes", "reason", "source"},
    "sleep": {"reason", "force", "holdMinutes"},
    "status": set(),
    "deploy": {"holdMinutes", "reason"},
    "maintenance": {"on", "reason"},
    "migration": {"holdMinutes", "reason"},
}


class BadEvent(ValueError):
    pass


def to_event(request: Request) -> dict[str, Any]:
    """The JSON object that asks the waker for `request`; refused here (BadEvent) if the waker would refuse it."""
    event: dict[str, Any] = {"action": request.kind}
    if isinstance(request, Wake):
        event.update(holdMinutes=request.hold_minutes, reason=request.reason)
        if request.source != "request":
            event["source"] = request.source
    elif isinstance(request, Sleep):
        event.update(reason=request.reason, force=request.force)
        if request.hold_minutes is not None:
            event["holdMinutes"] = request.hold_minutes
    elif isinstance(request, Deploy | Migration):
        event.update(holdMinutes=request.hold_minutes, reason=request.reason)
    elif isinstance(request, Maintenance):
        event.update(on=request.on, reason=request.reason)
    if parse_event(event, default_hold_minutes=0) != request:
        raise BadEvent(f"the waker would read {event} as another request than {request}")
    return event


def _hold(event: dict[str, Any], default: int | None) -> int | None:
    value = event.get("holdMinutes")
    if value is None:  # absent or null: the default
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_HOLD_MINUTES:
        raise BadEvent(f"holdMinutes must be a whole number of minutes from 0 to {MAX_HOLD_MINUTES}, got {value!r}")
    return value


def _reason(event: dict[str, Any], default: str) -> str:
    value = event.get("reason")
    if value is None:
        return default
    if not isinstance(value, str) or not 0 < len(value.strip()) <= 200:
        raise BadEvent(f"reason must be a short text (1-200 characters), got {value!r}")
    return value.strip()


def parse_event(event: Any, *, default_hold_minutes: int) -> Request:
    """Turn an invocation payload into a request, or raise BadEvent saying what is allowed."""
    if not isinstance(event, dict):
        raise BadEvent('the event must be a JSON object like {"action": "status"}')
    action = event.get("action")
    if not isinstance(action, str) or action not in EVENTS:
        raise BadEvent(f"action must be one of {', '.join(EVENTS)}; got {action!r}")
    unknown = set(event) - EVENTS[action] - {"action"}
    if unknown:
        allowed = ", ".join(sorted(EVENTS[action])) or "nothing else"
        raise BadEvent(f"{action} takes {allowed}; unknown: {', '.join(sorted(unknown))}")
    if action == "tick":
        return Tick()
    if action == "status":
        return Status()
    if action == "wake":
        hold = _hold(event, default_hold_minutes)
        assert hold is not None
        source = event.get("source") or "request"
        if source not in WAKE_SOURCES:
            raise BadEvent(f"source must be {', '.join(WAKE_SOURCES[:-1])} or {WAKE_SOURCES[-1]}, got {source!r}")
        return Wake(hold_minutes=hold, reason=_reason(event, "manual wake"), source=source)
    if action == "maintenance":
        on = event.get("on")
        if not isinstance(on, bool):
            raise BadEvent(f"maintenance takes on: true or false, got {on!r}")
        return Maintenance(on=on, reason=_reason(event, "maintenance"))
    if action == "deploy":
        hold = _hold(event, DEPLOY_HOLD_MINUTES)
        assert hold is not None
        return Deploy(hold_minutes=hold, reason=_reason(event, "deploy"))
    if action == "migration":
        if event.get("holdMinutes") is None:
            raise BadEvent("migration takes holdMinutes: how long from now the services are held at zero")
        hold = _hold(event, None)
        assert hold is not None
        return Migration(hold_minutes=hold, reason=_reason(event, "migration"))
    force = event.get("force") if event.get("force") is not None else False
    if not isinstance(force, bool):
        raise BadEvent(f"force must be true or false, got {force!r}")
    return Sleep(reason=_reason(event, "manual sleep"), force=force, hold_minutes=_hold(event, None))
