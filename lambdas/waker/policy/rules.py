"""What every decision shares: the reporter's freshness, the lead, worker targets, the holds, the counts
and the one-time wake."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from contracts.components import WORKER
from contracts.waker import Request, Wake, WakerSettings

from ..lead import database_lead_minutes, services_lead_minutes
from ..model import (
    DATABASE_DOWN,
    DATABASE_READY,
    Observation,
    ReporterMetrics,
    WakerState,
)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ")


def fresh_reporter(now: datetime, settings: WakerSettings, observed: Observation) -> ReporterMetrics | None:
    reporter = observed.reporter
    if reporter is None or now - reporter.published_at > minutes(settings.reporter_stale_minutes):
        return None
    return reporter


def wake_lead(
    settings: WakerSettings, observed: Observation, state: WakerState, stopping_database: bool = False
) -> timedelta:
    """How long before a due DAG to act: the services' lead, plus the database's start time while it is
    stopped (or about to be: the wake written when going to sleep is the one the database needs)."""
    lead = minutes(services_lead_minutes(settings, state))
    if settings.stop_database and (observed.database_status in DATABASE_DOWN or stopping_database):
        lead += minutes(database_lead_minutes(settings, state))
    return lead


def worker_target(settings: WakerSettings, observed: Observation, reporter: ReporterMetrics | None) -> int:
    """Workers for waiting plus running Celery tasks at the configured concurrency, within bounds. Waiting
    work is the visible broker messages or the reporter's queued tasks (the same tasks, seen twice);
    running work is the reporter's. In-flight messages alone are no demand (see `Observation`)."""
    waiting = max(observed.broker_visible, reporter.tasks("queued") if reporter else 0)
    running = reporter.tasks("running") if reporter else 0
    return min(settings.max_workers, math.ceil((waiting + running) / settings.worker_concurrency))


def stale_broker_cutoff(now: datetime, settings: WakerSettings, observed: Observation) -> datetime | None:
    """Broker messages sent before the returned moment are stale, or None when none can be judged so.

    A task Airflow queues gets a broker message; a worker that takes it hides it. A task that waited past
    `task_queued_timeout` (a worker that could not be placed) is failed by the scheduler, but Celery's revoke
    cannot reach SQS (kombu's SQS transport has no broadcast), so its message stays visible for the queue's
    retention and would keep the stack awake, or wake it, for days. With a fresh reporter seeing no queued
    task, a visible message older than the timeout belongs to no task; a younger one may belong to a task
    queued since the reporter published, so it is kept."""
    reporter = fresh_reporter(now, settings, observed)
    if reporter is None or observed.broker_visible == 0 or reporter.tasks("queued") > 0:
        return None
    # And sent well before the report: one sent since may be a task's the report could not yet see.
    return min(now - timedelta(seconds=settings.task_queued_timeout_seconds), reporter.published_at - minutes(1))


def first_task_workers(settings: WakerSettings, state: WakerState) -> int:
    """Workers to start with a wake for a due DAG: enough for its first tasks (at least one), so they find
    workers running rather than asking for them once queued."""
    needed = max(1, math.ceil(state.next_due_first_tasks / settings.worker_concurrency))
    return min(settings.max_workers, needed)


def held_awake(state: WakerState, now: datetime) -> bool:
    return state.hold_until is not None and now < state.hold_until


def sleep_held(state: WakerState, now: datetime) -> bool:
    return state.sleep_hold_until is not None and now < state.sleep_hold_until


def migration_holds(state: WakerState, now: datetime) -> bool:
    return state.migration_until is not None and now < state.migration_until


def database_held(state: WakerState, now: datetime) -> bool:
    return state.database_hold_until is not None and now < state.database_hold_until


def database_serves(settings: WakerSettings, observed: Observation) -> bool:
    """Whether the stack's database can serve a wake now (always, where the waker does not stop it)."""
    return not settings.stop_database or observed.database_status in (*DATABASE_READY, None)


def by_person(request: Request) -> bool:
    """A wake someone asked for; the one-time wake the waker writes for a due DAG is not."""
    return isinstance(request, Wake) and request.source != "schedule"


def asleep_counts(settings: WakerSettings) -> dict[str, int]:
    return dict.fromkeys(settings.services, 0)


def awake_counts(settings: WakerSettings, workers: int) -> dict[str, int]:
    counts = dict.fromkeys(settings.core, 1)
    if WORKER in settings.services:
        counts[WORKER] = workers
    return counts


def dag_wake(
    settings: WakerSettings, observed: Observation, state: WakerState, stopping_database: bool = False
) -> datetime | None:
    if state.next_due_at is None:
        return None
    return state.next_due_at - wake_lead(settings, observed, state, stopping_database)


def due_now(now: datetime, settings: WakerSettings, observed: Observation, state: WakerState) -> bool:
    next_wake = dag_wake(settings, observed, state)
    return next_wake is not None and now >= next_wake


def future(moment: datetime | None, now: datetime) -> datetime | None:
    return moment if moment is not None and moment > now else None


def wake_time(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState, stopping_database: bool = False
) -> datetime | None:
    """When the stack must be up again while asleep (it may be past: a DAG due now): the due DAG's wake, but
    never inside a forced sleep's hold; a DAG due during it is woken for at the hold's end (the minute tick may
    be off by then, so that wake must stay written)."""
    wake = dag_wake(settings, observed, state, stopping_database)
    if wake is not None and sleep_held(state, now):
        assert state.sleep_hold_until is not None
        wake = max(wake, state.sleep_hold_until)
    return wake
