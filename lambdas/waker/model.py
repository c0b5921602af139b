"""Plain data the waker decides on: what it observed, what it remembers, what it decided (its settings and the
requests it accepts are the contract in contracts/waker.py).

No AWS, no clock: the handler fills these from the adapters and the policy maps them to a `Decision`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

DATABASE_READY = ("available",)  # RDS statuses
DATABASE_DOWN = ("stopped", "stopping")


@dataclass(frozen=True)
class ReporterMetrics:
    """The activity reporter's latest figures, as published beside the scheduler."""

    published_at: datetime
    dag_runs_queued: int = 0
    dag_runs_running: int = 0
    task_instances: Mapping[str, int] = field(default_factory=dict)  # active state -> count
    dags_due: int = 0
    seconds_until_next_due: float | None = None
    asset_queue: int = 0
    next_due_first_tasks: int = 0  # root tasks of the DAGs due next: the workers to start with their wake

    @property
    def active(self) -> int:
        return (
            self.dag_runs_queued
            + self.dag_runs_running
            + sum(self.task_instances.values())
            + self.dags_due
            + (self.asset_queue)
        )

    @property
    def next_due_at(self) -> datetime | None:
        if self.seconds_until_next_due is None:
            return None
        return self.published_at + timedelta(seconds=self.seconds_until_next_due)

    def tasks(self, *states: str) -> int:
        return sum(self.task_instances.get(s, 0) for s in states)


@dataclass(frozen=True)
class Observation:
    desired: Mapping[str, int]  # component -> ECS desired count
    running: Mapping[str, int]
    reporter: ReporterMetrics | None = None
    broker_visible: int = 0
    broker_in_flight: int = 0  # received by a worker, or orphaned by one that died: not demand on its own
    event_queue_messages: int = 0  # visible messages on the watched event queues
    missing_event_queues: tuple[str, ...] = ()  # watched queues that do not exist (their owner deleted them)
    ui_requests: int = 0
    database_status: str | None = None  # None: the waker does not manage the database
    api_server_healthy: bool | None = None  # None: no load balancer (so no waking page to switch)
    service_events: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # newest ECS events

    @property
    def queued_messages(self) -> int:
        """Messages waiting for someone to take them. In-flight broker messages are left out: one a worker
        holds is running (the reporter says so), and one a killed worker left behind stays invisible for the
        broker's visibility timeout (hours) and no worker could take it."""
        return self.broker_visible + self.event_queue_messages


@dataclass(frozen=True)
class WakerState:
    """What the waker remembers between invocations (kept in an SSM parameter)."""

    awake_since: datetime | None = None
    asleep_since: datetime | None = None
    idle_since: datetime | None = None
    hold_until: datetime | None = None
    hold_reason: str = ""
    sleep_hold_until: datetime | None = None
    next_due_at: datetime | None = None
    next_due_first_tasks: int = 0
    scheduled_wake_at: datetime | None = None
    last_reason: str = ""
    visit_wakes_day: str = ""  # UTC date of the count below
    visit_wakes: int = 0
    database_hold_until: datetime | None = None  # a deploy needs the database up (never stopped) until then
    maintenance: str = ""  # why nothing may wake the stack (a database being replaced), "" when not held
    maintenance_since: datetime | None = None
    # A migration runs until then (contracts.waker.Migration): the services held at zero, every wake refused.
    migration_until: datetime | None = None
    migration_reason: str = ""
    # component -> when its running count first fell short of its desired count (ISO time)
    short_since: Mapping[str, str] = field(default_factory=dict)
    raised: tuple[str, ...] = ()  # problems the waker has told operators about and not yet resolved (notices.py)
    minute_ticks: bool = True  # the per-minute tick schedule is on (metering.minute_ticks)
    # Measured wakes, newest last (at most MEASURED_WAKES): minutes from setting the counts until the reporter
    # published and the first worker ran; and from asking RDS to start until it was available.
    wake_minutes: tuple[float, ...] = ()
    database_start_minutes: tuple[float, ...] = ()
    database_start_asked_at: datetime | None = None
    wake_measured: bool = False  # this wake's figure is in `wake_minutes`
    scheduled_only: bool = False  # this wake is for scheduled work only: the short grace applies
    # A wake asked for while the database could not serve it (stopped, stopping, starting): kept until the
    # stack is brought up, its hold running from then.
    wake_pending: bool = False
    wake_pending_minutes: int = 0

    def to_json(self) -> str:
        return json.dumps({k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()})

    @classmethod
    def from_json(cls, text: str | None) -> WakerState:
        return cls.read(text)[0]

    @classmethod
    def read(cls, text: str | None) -> tuple[WakerState, list[str]]:
        """The stored state, every field checked against its kind; a field that is not what it must be (a bad
        date, a word for a number) is dropped for its default and named, and a document that is not a JSON
        object is read as a new state: the waker then converges from what it observes, and its next save
        repairs the parameter. No stored value can make every run fail."""
        if not text:
            return cls(), []
        try:
            raw = json.loads(text)
        except ValueError:
            return cls(), ["the stored state is not JSON"]
        if not isinstance(raw, dict):
            return cls(), [f"the stored state is a JSON {type(raw).__name__}, not an object"]
        values: dict[str, Any] = {}
        repairs: list[str] = []
        for f in fields(cls):
            if raw.get(f.name) is None:
                continue
            try:
                values[f.name] = _state_value(f.name, str(f.type), raw[f.name])
            except (TypeError, ValueError) as error:
                repairs.append(f"{f.name}: {error}")
        return cls(**values), repairs

    def but(self, **changes: Any) -> WakerState:
        """A copy with `changes`. The same as dataclasses.replace (there is no __post_init__ to run) at a
        tenth of its cost: the cost simulator calls it a million times a month of minutes."""
        return _copy(self, _STATE_FIELDS, changes)


_STATE_FIELDS = frozenset(f.name for f in fields(WakerState))


def _copy(value: Any, names: frozenset[str], changes: dict[str, Any]) -> Any:
    """A copy of a frozen dataclass without __post_init__, with `changes` (each a field of `names`)."""
    unknown = changes.keys() - names
    if unknown:
        raise TypeError(f"{type(value).__name__} has no field {', '.join(sorted(unknown))}")
    copied = object.__new__(type(value))
    copied.__dict__.update(value.__dict__, **changes)
    return copied


_MAX_STORED_NUMBER = 10**6  # counts and minutes the state keeps are far below this


def _state_value(name: str, kind: str, value: Any) -> Any:
    """One stored field, as its annotation says it must be (ValueError or TypeError otherwise)."""
    if kind.startswith("datetime"):
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
        if parsed is None or parsed.tzinfo is None:
            raise ValueError(f"{value!r} is not a time with its zone")
        return parsed
    if kind == "bool":
        if not isinstance(value, bool):
            raise TypeError(f"{value!r} is not true or false")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_STORED_NUMBER:
            raise ValueError(f"{value!r} is not a count")
        return value
    if kind == "str":
        if not isinstance(value, str):
            raise TypeError(f"{value!r} is not text")
        return value
    if kind.startswith("tuple[float"):
        if not isinstance(value, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= _MAX_STORED_NUMBER for v in value
        ):
            raise ValueError(f"{value!r} is not a list of minutes")
        return tuple(float(v) for v in value)
    if kind.startswith("tuple[str"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"{value!r} is not a list of names")
        return tuple(value)
    if kind.startswith("Mapping[str, str]"):
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise TypeError(f"{value!r} is not a map of names to text")
        return dict(value)
    raise TypeError(f"no reader for {name} ({kind})")


Mode = Literal["asleep", "waking", "awake"]
DatabaseAction = Literal["start", "stop"]
UiRoute = Literal["airflow", "waking-page"]


@dataclass(frozen=True)
class Decision:
    mode: Mode
    desired: Mapping[str, int]
    state: WakerState
    reason: str
    wake_at: datetime | None = None  # the one-time wake to have scheduled (None: none)
    database_action: DatabaseAction | None = None
    reporter_stale: bool = False
    refused: bool = False
    ui_route: UiRoute | None = None  # where the load balancer sends visitors (None: no load balancer)
    not_starting: tuple[str, ...] = ()  # services short of their desired count for longer than the limit
    follow_up: bool = False  # a hold that ends by itself: the minute tick runs so its end is acted on
    # What a visit did (the waking page tells the visitor): woke the stack, found it already up or waking, was
    # refused by the day's limit, or found it held asleep ("" for other requests; a refusal by maintenance or
    # a migration is `refused`).
    visit: Literal["", "woke", "already", "limit", "held"] = ""

    def but(self, **changes: Any) -> Decision:
        """A copy with `changes`, as WakerState.but (every decision is copied on its way out)."""
        return _copy(self, _DECISION_FIELDS, changes)

    def changes(self, observed: Observation) -> dict[str, int]:
        """Services whose desired count must change (absolute counts, so repeating is harmless)."""
        return self.changes_to(observed.desired)

    def changes_to(self, desired: Mapping[str, int]) -> dict[str, int]:
        return {c: n for c, n in self.desired.items() if desired.get(c) != n}


_DECISION_FIELDS = frozenset(f.name for f in fields(Decision))


def utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
