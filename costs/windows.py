"""A stack's wake windows as the simulator's holds: each EventBridge Scheduler cron expression, in its time
zone, expanded over the simulated month by the one cron reader (contracts/cron.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from contracts.cron import parse


def window_holds(windows: Iterable, start: datetime, minutes: int) -> tuple[tuple[int, int], ...]:
    """(minute, hold minutes) for every firing of every window (the waker's wake with `holdMinutes`)."""
    holds = []
    for window in windows:
        holds += [(m, window.duration_minutes) for m in parse(window.cron).occurrences(window.timezone, start, minutes)]
    return tuple(sorted(holds))
