"""The waker's decisions: (now, settings, observation, state, request) -> Decision. Pure and deterministic.

Invariants kept here (and checked by property tests):
1. No scale-in kills a running task: core services never go to zero while work is active or unknown, and
   workers are never reduced while activity is unknown, nor while a task runs unless the workers protect
   themselves from scale-in (then ECS stops only idle ones). A database stopped or stopping runs nothing:
   services found up on one are decided as from asleep (to zero, and back once it serves a reason to wake).
2. A DAG due at T finds the cluster up by T: asleep, the cluster wakes once `now >= T - lead` (the lead is
   learned from measured wakes within its bounds, and grows by the database's start time, once, while the
   database is stopped or being stopped), with the workers its first tasks need, and going to sleep
   schedules a wake at that moment. Only a forced sleep's hold defers it: the wake is then at the hold's end.
3. Desired counts are absolute and bounded: core services 0 or 1, workers 0..max_workers.
4. A person's wake is never dropped: asked for while the database cannot serve it, it is kept until the
   stack is brought up, and its hold runs from then.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from contracts.components import WORKER
from contracts.waker import (
    Deploy,
    Maintenance,
    Migration,
    Request,
    Sleep,
    Status,
    Tick,
    Wake,
    WakerSettings,
)

from .lead import database_lead_minutes, measure, services_lead_minutes
from .model import (
    DATABASE_DOWN,
    DATABASE_READY,
    DatabaseAction,
    Decision,
    Observation,
    ReporterMetrics,
    UiRoute,
    WakerState,
)


def _minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def fresh_reporter(now: datetime, settings: WakerSettings, observed: Observation) -> ReporterMetrics | None:
    reporter = observed.reporter
    if reporter is None or now - reporter.published_at > _minutes(settings.reporter_stale_minutes):
        return None
    return reporter


def wake_lead(
    settings: WakerSettings, observed: Observation, state: WakerState, stopping_database: bool = False
) -> timedelta:
    """How long before a due DAG to act: the services' lead, plus the database's start time while it is
    stopped (or about to be: the wake written when going to sleep is the one the database needs)."""
    lead = _minutes(services_lead_minutes(settings, state))
    if settings.stop_database and (observed.database_status in DATABASE_DOWN or stopping_database):
        lead += _minutes(database_lead_minutes(settings, state))
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
    return min(now - timedelta(seconds=settings.task_queued_timeout_seconds), reporter.published_at - _minutes(1))


def first_task_workers(settings: WakerSettings, state: WakerState) -> int:
    """Workers to start with a wake for a due DAG: enough for its first tasks (at least one), so they find
    workers running rather than asking for them once queued."""
    needed = max(1, math.ceil(state.next_due_first_tasks / settings.worker_concurrency))
    return min(settings.max_workers, needed)


def _hold(state: WakerState, now: datetime) -> bool:
    return state.hold_until is not None and now < state.hold_until


def _sleep_hold(state: WakerState, now: datetime) -> bool:
    return state.sleep_hold_until is not None and now < state.sleep_hold_until


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%MZ")


def decide(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState, request: Request
) -> Decision:
    reporter = fresh_reporter(now, settings, observed)
    if reporter is not None:
        state = state.but(next_due_at=reporter.next_due_at, next_due_first_tasks=reporter.next_due_first_tasks)
    state = measure(now, observed, state, reporter)
    ignored, visit = "", ""
    if isinstance(request, Wake) and request.source == "visit":
        # Only the visit that wakes the stack counts against the day's limit: visits while it is already up or
        # waking keep it up (the hold) and count for nothing, however many arrive at once.
        day = now.date().isoformat()
        visits = state.visit_wakes if state.visit_wakes_day == day else 0
        up = any(observed.desired.get(c, 0) > 0 for c in settings.core) or state.wake_pending
        if state.maintenance or _migration_holds(state, now):
            visit = "held"  # refused below, and counted for nothing
        elif _sleep_hold(state, now):
            assert state.sleep_hold_until is not None
            visit = "held"
            ignored = f"visit wake ignored: put to sleep until {_fmt(state.sleep_hold_until)}; "
            request = Tick()  # asleep on purpose: only an explicit wake request ends a forced sleep's hold
        elif up:
            visit = "already"
        elif visits >= settings.max_visit_wakes_per_day:
            visit = "limit"
            ignored = f"visit wake ignored: {visits} today, the most max_visit_wakes_per_day allows; "
            request = Tick()  # a crawler or checker must not keep the stack up: decide as if nobody came
        else:
            visit = "woke"
            state = state.but(visit_wakes_day=day, visit_wakes=visits + 1)
    elif isinstance(request, Wake) and request.source == "schedule" and _sleep_hold(state, now):
        # The one-time wake for a due DAG, written before the stack was put to sleep by force (or fired late):
        # the hold outlasts it, and the wake is written again for the hold's end.
        assert state.sleep_hold_until is not None
        ignored = f"scheduled wake deferred: put to sleep until {_fmt(state.sleep_hold_until)}; "
        request = Tick()
    if isinstance(request, Maintenance):
        if request.on:
            state = state.but(
                maintenance=request.reason, maintenance_since=now, hold_until=None, hold_reason="", wake_pending=False
            )
        else:
            state = state.but(maintenance="", maintenance_since=None)
        request = Tick()
    if isinstance(request, Deploy):
        until = now + _minutes(request.hold_minutes)
        if state.database_hold_until is None or state.database_hold_until < until:
            state = state.but(database_hold_until=until)
        request = Tick()  # the services are decided as on any tick; only the database is held
    if isinstance(request, Migration):
        until = now + _minutes(request.hold_minutes)
        state = state.but(migration_until=until, migration_reason=request.reason)
        if state.database_hold_until is None or state.database_hold_until < until:
            state = state.but(database_hold_until=until)
        request = Tick()
    if _migration_holds(state, now):  # before a wake is taken in: one refused here is not kept for later either
        held = _held_for_migration(now, settings, observed, state, request)
        return held.but(ui_route=ui_route(held, observed), visit="held" if visit else "")
    if isinstance(request, Wake) and _by_person(request) and not _database_serves(settings, observed):
        # The stack cannot be up before its database: a person's wake is kept, however long the database takes,
        # and its hold runs from when the stack is brought up. (The waker's own wake for a due DAG starts the
        # database; the services follow at the usual lead.)
        minutes = max(request.hold_minutes, state.wake_pending_minutes if state.wake_pending else 0)
        state = state.but(
            wake_pending=True, wake_pending_minutes=minutes, hold_reason=request.reason, sleep_hold_until=None
        )
    elif isinstance(request, Wake):
        hold_until = now + _minutes(request.hold_minutes)
        if state.hold_until and state.hold_until > hold_until:
            hold_until = state.hold_until
        state = state.but(hold_until=hold_until, hold_reason=request.reason, sleep_hold_until=None)

    if state.maintenance and not isinstance(request, Status):
        held = _in_maintenance(now, settings, observed, state, request)
        return held.but(ui_route=ui_route(held, observed), visit="held" if visit else "")
    # A status request is decided like a tick; the handler reports the decision and acts on none of it.
    services_up = any(observed.desired.get(c, 0) > 0 for c in settings.core)
    if services_up and observed.database_status in DATABASE_DOWN:
        # Up on a database that is stopped or stopping, nothing can run (a scale-down that failed after the
        # database was stopped, or counts set by hand): decided as from asleep, so the services go to zero and
        # come back, with a wake's hold, once the database serves again.
        decision = _decide_asleep(now, settings, observed, state.but(awake_since=None, idle_since=None), request)
        repaired = f"repaired: services were up with the database {observed.database_status}"
        decision = decision.but(reason=f"{repaired}; {decision.reason}")
    elif services_up:
        decision = _decide_awake(now, settings, observed, state, reporter, request)
    else:
        decision = _decide_asleep(now, settings, observed, state, request)
    if ignored:
        decision = decision.but(reason=ignored + decision.reason)
    if visit:
        decision = decision.but(visit=visit)
    short_since, not_starting = services_not_starting(now, settings, observed, state)
    if not_starting:
        since = {c: short_since[c][11:16] for c in not_starting}
        decision = decision.but(
            reason=decision.reason
            + "; not starting: "
            + ", ".join(f"{c} (short since {since[c]})" for c in not_starting),
        )
    final_state = decision.state.but(short_since=short_since)
    if decision.database_action == "start" and observed.database_status == "stopped":
        final_state = final_state.but(database_start_asked_at=now)
    return decision.but(ui_route=ui_route(decision, observed), state=final_state, not_starting=not_starting)


def services_not_starting(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState
) -> tuple[dict[str, str], tuple[str, ...]]:
    """Services whose running count has stayed below the desired count longer than the start limit: tasks
    that cannot be placed (no capacity, an architecture or Spot not offered, an image that cannot be pulled)
    must not go unnoticed. Returns when each service fell short, and the ones past the limit."""
    short_since: dict[str, str] = {}
    for component, wanted in observed.desired.items():
        if wanted > observed.running.get(component, 0):
            short_since[component] = state.short_since.get(component) or now.isoformat()
    late = tuple(
        sorted(
            c
            for c, since in short_since.items()
            if now - datetime.fromisoformat(since) >= _minutes(settings.start_limit_minutes)
        )
    )
    return short_since, late


def ui_route(decision: Decision, observed: Observation) -> UiRoute | None:
    """Visitors go to Airflow only when its api-server is up and healthy; otherwise to the waking page."""
    if observed.api_server_healthy is None:
        return None
    up = decision.desired.get("api-server", 0) > 0 and observed.api_server_healthy
    return "airflow" if up else "waking-page"


def _asleep_counts(settings: WakerSettings) -> dict[str, int]:
    return dict.fromkeys(settings.services, 0)


def _awake_counts(settings: WakerSettings, workers: int) -> dict[str, int]:
    counts = dict.fromkeys(settings.core, 1)
    if WORKER in settings.services:
        counts[WORKER] = workers
    return counts


def _next_wake(
    settings: WakerSettings, observed: Observation, state: WakerState, stopping_database: bool = False
) -> datetime | None:
    if state.next_due_at is None:
        return None
    return state.next_due_at - wake_lead(settings, observed, state, stopping_database)


def _due_now(now: datetime, settings: WakerSettings, observed: Observation, state: WakerState) -> bool:
    next_wake = _next_wake(settings, observed, state)
    return next_wake is not None and now >= next_wake


def _by_person(request: Request) -> bool:
    """A wake someone asked for; the one-time wake the waker writes for a due DAG is not."""
    return isinstance(request, Wake) and request.source != "schedule"


def _scheduled_only(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState, request: Request
) -> bool:
    """Woken for work nobody watches: a due DAG or queued messages, with no person's request and no hold (the
    short grace applies). The one-time wake the waker schedules for a due DAG is not a person's."""
    if _by_person(request):
        return False
    due = isinstance(request, Wake) or _due_now(now, settings, observed, state)
    return not _hold(state, now) and (due or observed.queued_messages > 0)


def _reasons_to_wake(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState, request: Request
) -> list[str]:
    if isinstance(request, Wake):
        return [f"wake requested: {request.reason}"]
    if state.wake_pending:
        return [f"wake requested, waiting for the database: {state.hold_reason}"]
    if _sleep_hold(state, now):
        return []  # put to sleep by hand: only an explicit wake request wakes it before the hold ends
    reasons = []
    if _hold(state, now):
        assert state.hold_until is not None
        reasons.append(f"held awake until {_fmt(state.hold_until)} ({state.hold_reason})")
    next_wake = _next_wake(settings, observed, state)
    if next_wake is not None and now >= next_wake:
        assert state.next_due_at is not None
        reasons.append(f"a DAG is due at {_fmt(state.next_due_at)}")
    if observed.queued_messages > 0:
        reasons.append(f"{observed.queued_messages} message(s) queued")
    return reasons


def _decide_asleep(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState, request: Request
) -> Decision:
    asleep = _asleep_counts(settings)
    if isinstance(request, Sleep):
        state = _sleep_holds(now, settings, state, request)
        return Decision(
            "asleep",
            asleep,
            state.but(last_reason="already asleep"),
            "already asleep",
            wake_at=_wake_at(now, settings, observed, state),
        )

    reasons = _reasons_to_wake(now, settings, observed, state, request)
    if reasons:
        reason = "; ".join(reasons)
        if settings.stop_database and observed.database_status not in (*DATABASE_READY, None):
            action: DatabaseAction | None = "start" if observed.database_status == "stopped" else None
            return Decision(
                "waking",
                asleep,
                state.but(last_reason=reason),
                f"waking, database first: {reason}",
                wake_at=None,
                database_action=action,
            )
        workers = worker_target(settings, observed, None)
        if _due_now(now, settings, observed, state):
            workers = max(workers, first_task_workers(settings, state))
        if state.wake_pending:  # the wake kept while the database came up: its hold runs from now
            hold_until = now + _minutes(state.wake_pending_minutes)
            if state.hold_until is None or state.hold_until < hold_until:
                state = state.but(hold_until=hold_until)
            state = state.but(wake_pending=False, wake_pending_minutes=0)
        state = state.but(
            awake_since=now,
            asleep_since=None,
            idle_since=None,
            last_reason=reason,
            wake_measured=False,
            scheduled_only=_scheduled_only(now, settings, observed, state, request),
        )
        return Decision("waking", _awake_counts(settings, workers), state, f"waking: {reason}")

    next_wake = _wake_at(now, settings, observed, state)
    action = _database_while_asleep(now, settings, observed, next_wake, state)
    if action == "stop":
        next_wake = _wake_at(now, settings, observed, state, stopping_database=True)
    reason = f"asleep; next wake {_fmt(next_wake)}" if next_wake else "asleep; no DAG due"
    if _database_held(state, now):
        assert state.database_hold_until is not None
        reason += f"; database held up until {_fmt(state.database_hold_until)} for a deploy"
    if action:
        reason += f"; {'starting' if action == 'start' else 'stopping'} the database"
    return Decision("asleep", asleep, state.but(last_reason=reason), reason, wake_at=next_wake, database_action=action)


def _future(moment: datetime | None, now: datetime) -> datetime | None:
    return moment if moment is not None and moment > now else None


def _wake_at(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState, stopping_database: bool = False
) -> datetime | None:
    """The one-time wake to write while asleep: the due DAG's, but never inside a forced sleep's hold; a DAG due
    during it is woken for at the hold's end (the minute tick may be off by then, so the wake must stay written)."""
    wake = _next_wake(settings, observed, state, stopping_database)
    if wake is not None and _sleep_hold(state, now):
        assert state.sleep_hold_until is not None
        wake = max(wake, state.sleep_hold_until)
    return _future(wake, now)


def _in_maintenance(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState, request: Request
) -> Decision:
    """Held asleep: everything at zero, no one-time wake, every wake refused; a deploy may start the database."""
    assert state.maintenance_since is not None
    reason = f"in maintenance since {_fmt(state.maintenance_since)}: {state.maintenance}"
    if isinstance(request, Wake):
        return Decision("asleep", _asleep_counts(settings), state, f"wake refused: {reason}", refused=True)
    held = _database_held(state, now) and settings.stop_database and observed.database_status == "stopped"
    state = state.but(awake_since=None, idle_since=None, last_reason=reason)
    return Decision("asleep", _asleep_counts(settings), state, reason, database_action="start" if held else None)


def _migration_holds(state: WakerState, now: datetime) -> bool:
    return state.migration_until is not None and now < state.migration_until


def _held_for_migration(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState, request: Request
) -> Decision:
    """A migration runs: the old version held at zero (not one of its components may run against a schema being
    changed), every wake refused, the database up. What the stack was doing is kept (a wake's hold, queued work,
    a due DAG) and decided on again once the hold ends, which the minute tick follows."""
    assert state.migration_until is not None
    reason = f"held asleep for a migration until {_fmt(state.migration_until)}: {state.migration_reason}"
    if isinstance(request, Wake):
        reason = f"wake refused: {reason}; ask again after it"
        return Decision("asleep", _asleep_counts(settings), state, reason, refused=True, follow_up=True)
    start = settings.stop_database and observed.database_status == "stopped"
    asleep_since = state.asleep_since or now
    state = state.but(awake_since=None, idle_since=None, asleep_since=asleep_since, last_reason=reason)
    return Decision(
        "asleep", _asleep_counts(settings), state, reason, database_action="start" if start else None, follow_up=True
    )


def _database_held(state: WakerState, now: datetime) -> bool:
    return state.database_hold_until is not None and now < state.database_hold_until


def _database_while_asleep(
    now: datetime, settings: WakerSettings, observed: Observation, next_wake: datetime | None, state: WakerState
) -> DatabaseAction | None:
    if not settings.stop_database:
        return None
    if _database_held(state, now):  # a deploy runs: started if stopped, never stopped
        return "start" if observed.database_status == "stopped" else None
    # A stopped database is started at the next wake, which is early by its start time already (wake_lead).
    if observed.database_status == "stopped" and next_wake is not None:
        return "start" if now >= next_wake else None
    # Stop it when the sleep is long enough (again after AWS restarts it after seven days).
    far = next_wake is None or next_wake - now >= _minutes(settings.database_stop_after_minutes)
    if observed.database_status in DATABASE_READY and far:
        return "stop"
    return None


def _sleep_holds(now: datetime, settings: WakerSettings, state: WakerState, request: Sleep) -> WakerState:
    """A forced sleep holds the stack asleep for its hold (`default_hold_minutes` unless it names one): only a
    person's wake ends it early. A plain sleep holds nothing unless it names a hold, so a due DAG, queued
    work or a visit wakes it as usual. The hold ends on a whole second, as the one-time wake written for
    its end is (`at()` takes seconds): that wake must not fire inside it."""
    state = state.but(hold_until=None, hold_reason="", wake_pending=False, sleep_hold_until=None)
    minutes = request.hold_minutes
    if minutes is None:
        minutes = settings.default_hold_minutes if request.force else 0
    if minutes == 0:
        return state
    until = now + _minutes(minutes)
    if until.microsecond:
        until = until.replace(microsecond=0) + timedelta(seconds=1)
    return state.but(sleep_hold_until=until)


def _database_serves(settings: WakerSettings, observed: Observation) -> bool:
    """Whether the stack's database can serve a wake now (always, where the waker does not stop it)."""
    return not settings.stop_database or observed.database_status in (*DATABASE_READY, None)


def _decide_awake(
    now: datetime,
    settings: WakerSettings,
    observed: Observation,
    state: WakerState,
    reporter: ReporterMetrics | None,
    request: Request,
) -> Decision:
    if state.awake_since is None:
        # Found awake without having set the counts (woken by hand, or a reset memory): nothing to measure.
        state = state.but(awake_since=now, asleep_since=None, wake_measured=True, scheduled_only=False)
    if state.scheduled_only and (_by_person(request) or observed.ui_requests):
        state = state.but(scheduled_only=False)  # someone is using it: the usual idle time again
    booting = now - state.awake_since < _minutes(settings.boot_grace_minutes) if state.awake_since else False
    unknown = reporter is None
    running_tasks = reporter.tasks("running") if reporter else 0
    active = observed.queued_messages + (reporter.active if reporter else 0)

    current_workers = observed.desired.get(WORKER, 0)
    workers = worker_target(settings, observed, reporter)
    if workers < current_workers and (unknown or (running_tasks > 0 and not settings.scale_in_protection)):
        workers = current_workers  # never scale in when we cannot tell, nor under an unprotected running task
    next_wake = _next_wake(settings, observed, state)
    if next_wake is not None and now >= next_wake:
        workers = max(workers, first_task_workers(settings, state))
    awake = _awake_counts(settings, workers)

    # After a wake for scheduled work only, sleep soon once idle (unless the next run is about as near).
    idle_limit = _minutes(settings.scheduled_grace_minutes if state.scheduled_only else settings.idle_minutes)
    due_soon = next_wake is not None and now >= next_wake - idle_limit
    busy = []
    if unknown:
        busy.append("activity unknown (reporter silent)" if not booting else "starting up")
    if active:
        busy.append(f"{active} item(s) of work active or queued")
    if due_soon:
        assert state.next_due_at is not None
        busy.append(f"a DAG is due at {_fmt(state.next_due_at)}")
    if _hold(state, now):
        assert state.hold_until is not None
        busy.append(f"held awake until {_fmt(state.hold_until)} ({state.hold_reason})")
    if observed.ui_requests:
        busy.append(f"{observed.ui_requests} UI request(s)")

    if isinstance(request, Sleep):
        if busy and (unknown or active) and not request.force:
            reason = f"sleep refused: {'; '.join(busy)}; use force to sleep anyway (queued work stays queued)"
            return Decision(
                "awake",
                awake,
                state.but(last_reason=reason),
                reason,
                refused=True,
                reporter_stale=unknown and not booting,
            )
        return _go_to_sleep(
            now, settings, observed, _sleep_holds(now, settings, state, request), f"sleep requested: {request.reason}"
        )

    if busy:
        reason = "awake: " + "; ".join(busy)
        state = state.but(idle_since=None, last_reason=reason)
        return Decision("awake", awake, state, reason, reporter_stale=unknown and not booting)

    idle_since = state.idle_since or now
    if now - idle_since < idle_limit:
        reason = f"awake, idle since {_fmt(idle_since)}"
        return Decision("awake", awake, state.but(idle_since=idle_since, last_reason=reason), reason)
    return _go_to_sleep(now, settings, observed, state, f"idle since {_fmt(idle_since)}")


def _go_to_sleep(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState, why: str
) -> Decision:
    next_wake = _wake_at(now, settings, observed, state)
    action = _database_while_asleep(now, settings, observed, next_wake, state)
    if action == "stop":  # one wake, written once: early enough to start the database again
        next_wake = _wake_at(now, settings, observed, state, stopping_database=True)
    when = f"next wake {_fmt(next_wake)}" if next_wake else "no DAG due"
    reason = f"going to sleep: {why}; {when}"
    state = state.but(
        awake_since=None, asleep_since=now, idle_since=None, hold_until=None, hold_reason="", last_reason=reason
    )
    return Decision("asleep", _asleep_counts(settings), state, reason, wake_at=next_wake, database_action=action)
