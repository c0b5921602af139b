"""Awake: what keeps the stack up, the workers it needs, and when it may sleep (by request or idle)."""

from __future__ import annotations

from datetime import datetime

from contracts.components import WORKER
from contracts.waker import Request, Sleep, WakerSettings

from ..model import (
    Decision,
    Observation,
    ReporterMetrics,
    WakerState,
)
from .asleep import go_to_sleep, with_sleep_hold
from .rules import awake_counts, by_person, dag_wake, first_task_workers, fmt, held_awake, minutes, worker_target


def decide_awake(
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
    if state.scheduled_only and (by_person(request) or observed.ui_requests):
        state = state.but(scheduled_only=False)  # someone is using it: the usual idle time again
    booting = now - state.awake_since < minutes(settings.boot_grace_minutes) if state.awake_since else False
    unknown = reporter is None
    running_tasks = reporter.tasks("running") if reporter else 0
    active = observed.queued_messages + (reporter.active if reporter else 0)

    current_workers = observed.desired.get(WORKER, 0)
    workers = worker_target(settings, observed, reporter)
    if workers < current_workers and (unknown or (running_tasks > 0 and not settings.scale_in_protection)):
        workers = current_workers  # never scale in when we cannot tell, nor under an unprotected running task
    next_wake = dag_wake(settings, observed, state)
    if next_wake is not None and now >= next_wake:
        workers = max(workers, first_task_workers(settings, state))
    awake = awake_counts(settings, workers)

    # After a wake for scheduled work only, sleep soon once idle (unless the next run is about as near).
    idle_limit = minutes(settings.scheduled_grace_minutes if state.scheduled_only else settings.idle_minutes)
    due_soon = next_wake is not None and now >= next_wake - idle_limit
    busy = []
    if unknown:
        busy.append("activity unknown (reporter silent)" if not booting else "starting up")
    if active:
        busy.append(f"{active} item(s) of work active or queued")
    if due_soon:
        assert state.next_due_at is not None
        busy.append(f"a DAG is due at {fmt(state.next_due_at)}")
    if held_awake(state, now):
        assert state.hold_until is not None
        busy.append(f"held awake until {fmt(state.hold_until)} ({state.hold_reason})")
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
        held = with_sleep_hold(now, settings, state, request)
        return go_to_sleep(now, settings, observed, held, f"sleep requested: {request.reason}")

    if busy:
        reason = "awake: " + "; ".join(busy)
        state = state.but(idle_since=None, last_reason=reason)
        return Decision("awake", awake, state, reason, reporter_stale=unknown and not booting)

    idle_since = state.idle_since or now
    if now - idle_since < idle_limit:
        reason = f"awake, idle since {fmt(idle_since)}"
        return Decision("awake", awake, state.but(idle_since=idle_since, last_reason=reason), reason)
    return go_to_sleep(now, settings, observed, state, f"idle since {fmt(idle_since)}")
