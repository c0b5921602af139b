"""A request taken in (a visit counted, a hold set or deferred, maintenance, a deploy, a migration), then
decided from asleep, awake or held."""

from __future__ import annotations

from datetime import datetime

from contracts.waker import Deploy, Maintenance, Migration, Request, Status, Tick, Wake, WakerSettings

from ..lead import measure
from ..model import (
    DATABASE_DOWN,
    Decision,
    Observation,
    UiRoute,
    WakerState,
)
from .asleep import decide_asleep
from .awake import decide_awake
from .held import held_for_migration, in_maintenance
from .rules import by_person, database_serves, fmt, fresh_reporter, migration_holds, minutes, sleep_held


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
        if state.maintenance or migration_holds(state, now):
            visit = "held"  # refused below, and counted for nothing
        elif sleep_held(state, now):
            assert state.sleep_hold_until is not None
            visit = "held"
            ignored = f"visit wake ignored: put to sleep until {fmt(state.sleep_hold_until)}; "
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
    elif isinstance(request, Wake) and request.source == "schedule" and sleep_held(state, now):
        # The one-time wake for a due DAG, written before the stack was put to sleep by force (or fired late):
        # the hold outlasts it, and the wake is written again for the hold's end.
        assert state.sleep_hold_until is not None
        ignored = f"scheduled wake deferred: put to sleep until {fmt(state.sleep_hold_until)}; "
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
        until = now + minutes(request.hold_minutes)
        if state.database_hold_until is None or state.database_hold_until < until:
            state = state.but(database_hold_until=until)
        request = Tick()  # the services are decided as on any tick; only the database is held
    if isinstance(request, Migration):
        until = now + minutes(request.hold_minutes)
        state = state.but(migration_until=until, migration_reason=request.reason)
        if state.database_hold_until is None or state.database_hold_until < until:
            state = state.but(database_hold_until=until)
        request = Tick()
    if migration_holds(state, now):  # before a wake is taken in: one refused here is not kept for later either
        held = held_for_migration(now, settings, observed, state, request)
        return held.but(ui_route=ui_route(held, observed), visit="held" if visit else "")
    if isinstance(request, Wake) and by_person(request) and not database_serves(settings, observed):
        # The stack cannot be up before its database: a person's wake is kept, however long the database takes,
        # and its hold runs from when the stack is brought up. (The waker's own wake for a due DAG starts the
        # database; the services follow at the usual lead.)
        hold_minutes = max(request.hold_minutes, state.wake_pending_minutes if state.wake_pending else 0)
        state = state.but(
            wake_pending=True, wake_pending_minutes=hold_minutes, hold_reason=request.reason, sleep_hold_until=None
        )
    elif isinstance(request, Wake):
        hold_until = now + minutes(request.hold_minutes)
        if state.hold_until and state.hold_until > hold_until:
            hold_until = state.hold_until
        state = state.but(hold_until=hold_until, hold_reason=request.reason, sleep_hold_until=None)

    if state.maintenance and not isinstance(request, Status):
        held = in_maintenance(now, settings, observed, state, request)
        return held.but(ui_route=ui_route(held, observed), visit="held" if visit else "")
    # A status request is decided like a tick; the handler reports the decision and acts on none of it.
    services_up = any(observed.desired.get(c, 0) > 0 for c in settings.core)
    if services_up and observed.database_status in DATABASE_DOWN:
        # Up on a database that is stopped or stopping, nothing can run (a scale-down that failed after the
        # database was stopped, or counts set by hand): decided as from asleep, so the services go to zero and
        # come back, with a wake's hold, once the database serves again.
        decision = decide_asleep(now, settings, observed, state.but(awake_since=None, idle_since=None), request)
        repaired = f"repaired: services were up with the database {observed.database_status}"
        decision = decision.but(reason=f"{repaired}; {decision.reason}")
    elif services_up:
        decision = decide_awake(now, settings, observed, state, reporter, request)
    else:
        decision = decide_asleep(now, settings, observed, state, request)
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
            if now - datetime.fromisoformat(since) >= minutes(settings.start_limit_minutes)
        )
    )
    return short_since, late


def ui_route(decision: Decision, observed: Observation) -> UiRoute | None:
    """Visitors go to Airflow only when its api-server is up and healthy; otherwise to the waking page."""
    if observed.api_server_healthy is None:
        return None
    up = decision.desired.get("api-server", 0) > 0 and observed.api_server_healthy
    return "airflow" if up else "waking-page"
