"""Held asleep on purpose: maintenance, and a migration's hold."""

from __future__ import annotations

from datetime import datetime

from contracts.waker import Request, Wake, WakerSettings

from ..model import (
    Decision,
    Observation,
    WakerState,
)
from .rules import asleep_counts, database_held, fmt


def in_maintenance(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState, request: Request
) -> Decision:
    """Held asleep: everything at zero, no one-time wake, every wake refused; a deploy may start the database."""
    assert state.maintenance_since is not None
    reason = f"in maintenance since {fmt(state.maintenance_since)}: {state.maintenance}"
    if isinstance(request, Wake):
        return Decision("asleep", asleep_counts(settings), state, f"wake refused: {reason}", refused=True)
    held = database_held(state, now) and settings.stop_database and observed.database_status == "stopped"
    state = state.but(awake_since=None, idle_since=None, last_reason=reason)
    return Decision("asleep", asleep_counts(settings), state, reason, database_action="start" if held else None)


def held_for_migration(
    now: datetime, settings: WakerSettings, observed: Observation, state: WakerState, request: Request
) -> Decision:
    """A migration runs: the old version held at zero (not one of its components may run against a schema being
    changed), every wake refused, the database up. What the stack was doing is kept (a wake's hold, queued work,
    a due DAG) and decided on again once the hold ends, which the minute tick follows."""
    assert state.migration_until is not None
    reason = f"held asleep for a migration until {fmt(state.migration_until)}: {state.migration_reason}"
    if isinstance(request, Wake):
        reason = f"wake refused: {reason}; ask again after it"
        return Decision("asleep", asleep_counts(settings), state, reason, refused=True, follow_up=True)
    start = settings.stop_database and observed.database_status == "stopped"
    asleep_since = state.asleep_since or now
    state = state.but(awake_since=None, idle_since=None, asleep_since=asleep_since, last_reason=reason)
    return Decision(
        "asleep", asleep_counts(settings), state, reason, database_action="start" if start else None, follow_up=True
    )
