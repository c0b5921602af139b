"""Asleep: what wakes the stack, what keeps it asleep (a forced sleep's hold), the database while it
sleeps, and going to sleep."""

from __future__ import annotations

from datetime import datetime, timedelta

from contracts.waker import Request, Sleep, Wake, WakerSettings

from ..model import (
    DATABASE_READY,
    DatabaseAction,
    Decision,
    Observation,
    WakerState,
)
from .rules import (
    asleep_counts,
    awake_counts,
    by_person,
    dag_wake,
    database_held,
    due_now,
    first_task_workers,
    fmt,
    future,
    held_awake,
    minutes,
    sleep_held,
    wake_time,
    worker_target,
)


def scheduled_only(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState, request: Request
) -> bool:
    """Woken for work nobody watches: a due DAG or queued messages, with no person's request and no hold (the
    short grace applies). The one-time wake the waker schedules for a due DAG is not a person's."""
    if by_person(request):
        return False
    due = isinstance(request, Wake) or due_now(now, settings, observed, state)
    return not held_awake(state, now) and (due or observed.queued_messages > 0)


def reasons_to_wake(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState, request: Request
) -> list[str]:
    if isinstance(request, Wake):
        return [f"wake requested: {request.reason}"]
    if state.wake_pending:
        return [f"wake requested, waiting for the database: {state.hold_reason}"]
    if sleep_held(state, now):
        return []  # put to sleep by hand: only an explicit wake request wakes it before the hold ends
    reasons = []
    if held_awake(state, now):
        assert state.hold_until is not None
        reasons.append(f"held awake until {fmt(state.hold_until)} ({state.hold_reason})")
    next_wake = dag_wake(settings, observed, state)
    if next_wake is not None and now >= next_wake:
        assert state.next_due_at is not None
        reasons.append(f"a DAG is due at {fmt(state.next_due_at)}")
    if observed.queued_messages > 0:
        reasons.append(f"{observed.queued_messages} message(s) queued")
    return reasons


def decide_asleep(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState, request: Request
) -> Decision:
    asleep = asleep_counts(settings)
    if isinstance(request, Sleep):
        state = with_sleep_hold(now, settings, state, request)
        return Decision(
            "asleep",
            asleep,
            state.but(last_reason="already asleep"),
            "already asleep",
            wake_at=future(wake_time(now, settings, observed, state), now),
        )

    reasons = reasons_to_wake(now, settings, observed, state, request)
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
        if due_now(now, settings, observed, state):
            workers = max(workers, first_task_workers(settings, state))
        if state.wake_pending:  # the wake kept while the database came up: its hold runs from now
            hold_until = now + minutes(state.wake_pending_minutes)
            if state.hold_until is None or state.hold_until < hold_until:
                state = state.but(hold_until=hold_until)
            state = state.but(wake_pending=False, wake_pending_minutes=0)
        state = state.but(
            awake_since=now,
            asleep_since=None,
            idle_since=None,
            last_reason=reason,
            wake_measured=False,
            scheduled_only=scheduled_only(now, settings, observed, state, request),
        )
        return Decision("waking", awake_counts(settings, workers), state, f"waking: {reason}")

    _, next_wake, action = sleeping(now, settings, observed, state)  # a wake now or past woke it above
    reason = f"asleep; next wake {fmt(next_wake)}" if next_wake else "asleep; no DAG due"
    if database_held(state, now):
        assert state.database_hold_until is not None
        reason += f"; database held up until {fmt(state.database_hold_until)} for a deploy"
    if action:
        reason += f"; {'starting' if action == 'start' else 'stopping'} the database"
    return Decision("asleep", asleep, state.but(last_reason=reason), reason, wake_at=next_wake, database_action=action)


def sleeping(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState
) -> tuple[datetime | None, datetime | None, DatabaseAction | None]:
    """While asleep: when the stack must be up again (maybe now), the one-time wake to write for it (in the
    future, or none), and what to do with the database. A database stopped now makes the wake earlier by its
    start time: one wake, written once, early enough to start it again."""
    wake = wake_time(now, settings, observed, state)
    action = database_while_asleep(now, settings, observed, wake, state)
    if action == "stop":
        wake = wake_time(now, settings, observed, state, stopping_database=True)
    return wake, future(wake, now), action


def database_while_asleep(
    now: datetime, settings: WakerSettings, observed: Observation, wake: datetime | None, state: WakerState
) -> DatabaseAction | None:
    """Start or stop the database while the services sleep; `wake` is when they must be up again (maybe now)."""
    if not settings.stop_database:
        return None
    if database_held(state, now):  # a deploy runs: started if stopped, never stopped
        return "start" if observed.database_status == "stopped" else None
    # A stopped database is started at the next wake, which is early by its start time already (wake_lead).
    if observed.database_status == "stopped" and wake is not None:
        return "start" if now >= wake else None
    # Stop it when the sleep is long enough (again after AWS restarts it after seven days); never with a DAG
    # due now, which the next tick wakes the stack for.
    far = wake is None or wake - now >= minutes(settings.database_stop_after_minutes)
    if observed.database_status in DATABASE_READY and far:
        return "stop"
    return None


def with_sleep_hold(now: datetime, settings: WakerSettings, state: WakerState, request: Sleep) -> WakerState:
    """A forced sleep holds the stack asleep for its hold (`default_hold_minutes` unless it names one): only a
    person's wake ends it early. A plain sleep holds nothing unless it names a hold, so a due DAG, queued
    work or a visit wakes it as usual. A sleep never shortens a hold already running (as a wake's hold). The
    hold ends on a whole second, as the one-time wake written for its end is (`at()` takes seconds): that
    wake must not fire inside it."""
    state = state.but(hold_until=None, hold_reason="", wake_pending=False)
    hold_minutes = request.hold_minutes
    if hold_minutes is None:
        hold_minutes = settings.default_hold_minutes if request.force else 0
    if hold_minutes == 0:
        return state
    until = now + minutes(hold_minutes)
    if until.microsecond:
        until = until.replace(microsecond=0) + timedelta(seconds=1)
    if state.sleep_hold_until is not None and state.sleep_hold_until > until:
        until = state.sleep_hold_until
    return state.but(sleep_hold_until=until)


def go_to_sleep(now: datetime, settings: WakerSettings, observed: Observation, state: WakerState, why: str) -> Decision:
    wake, next_wake, action = sleeping(now, settings, observed, state)
    if next_wake is not None:
        when = f"next wake {fmt(next_wake)}"
    elif wake is not None:  # put to sleep inside a due DAG's lead: the next tick wakes it again
        assert state.next_due_at is not None
        when = f"a DAG is due at {fmt(state.next_due_at)}"
    else:
        when = "no DAG due"
    reason = f"going to sleep: {why}; {when}"
    state = state.but(
        awake_since=None, asleep_since=now, idle_since=None, hold_until=None, hold_reason="", last_reason=reason
    )
    return Decision("asleep", asleep_counts(settings), state, reason, wake_at=next_wake, database_action=action)
