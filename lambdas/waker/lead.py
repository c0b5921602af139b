"""The learned lead: each wake and each database start measured, and the lead taken from the recent ones.

A wake is measured from setting the counts until the activity reporter has published and the first worker
asked for runs; a database start from StartDBInstance until the instance is available. The last
MEASURED_WAKES of each are kept in the waker's state; the lead is their 90th percentile plus a margin, within
bounds, or the configured figure until MIN_MEASURED are known. Fargate pulls the whole image on every start,
and AWS says a stopped RDS instance can take "from minutes to hours" to start: a fixed lead is a guess.
"""

from __future__ import annotations

import functools
import math
from datetime import datetime

from contracts.components import WORKER
from contracts.waker import WakerSettings

from .model import DATABASE_READY, Observation, ReporterMetrics, WakerState

MEASURED_WAKES = 10  # the recent wakes the lead is learned from
MIN_MEASURED = 3  # fewer than this: the configured lead
LEAD_MARGIN_MINUTES = 1.0
DATABASE_LEAD_BOUNDS = (5, 60)


def _p90(values: tuple[float, ...]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


@functools.lru_cache(maxsize=64)  # asked on every tick of every decision; the figures change once per wake
def _learned(measured: tuple[float, ...], configured: int, low: int, high: int) -> int:
    """p90 of the measured figures plus the margin, within [low, high]; `configured` until enough are known."""
    if len(measured) < MIN_MEASURED:
        return configured
    return min(high, max(low, math.ceil(_p90(measured) + LEAD_MARGIN_MINUTES)))


def services_lead_minutes(settings: WakerSettings, state: WakerState) -> int:
    """The services' lead: the 90th percentile of the measured wakes (counts set until the reporter published
    and the first worker ran) plus a margin, within [wake_lead_min_minutes, wake_lead_max_minutes]; the
    configured `wake_lead_minutes` until MIN_MEASURED wakes are measured."""
    return _learned(
        state.wake_minutes, settings.wake_lead_minutes, settings.wake_lead_min_minutes, settings.wake_lead_max_minutes
    )


def database_lead_minutes(settings: WakerSettings, state: WakerState) -> int:
    """The database's start time, learned the same way from measured starts (AWS: minutes to hours)."""
    return _learned(state.database_start_minutes, settings.database_start_minutes, *DATABASE_LEAD_BOUNDS)


def _recent(values: tuple[float, ...], value: float) -> tuple[float, ...]:
    return (*values, round(value, 2))[-MEASURED_WAKES:]


def measure(now: datetime, observed: Observation, state: WakerState, reporter: ReporterMetrics | None) -> WakerState:
    """Record this wake's figure once it is ready (the reporter has published since the counts were set, and
    a worker asked for runs), and a database start once it is available."""
    if state.awake_since is not None and not state.wake_measured and reporter is not None:
        worker_ready = observed.desired.get(WORKER, 0) == 0 or observed.running.get(WORKER, 0) > 0
        if reporter.published_at >= state.awake_since and worker_ready:
            minutes = (now - state.awake_since).total_seconds() / 60
            state = state.but(wake_minutes=_recent(state.wake_minutes, minutes), wake_measured=True)
    if state.database_start_asked_at is not None and observed.database_status in DATABASE_READY:
        minutes = (now - state.database_start_asked_at).total_seconds() / 60
        state = state.but(
            database_start_minutes=_recent(state.database_start_minutes, minutes), database_start_asked_at=None
        )
    return state
