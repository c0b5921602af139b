"""A stack's wake windows as the simulator's holds: each EventBridge Scheduler cron expression, in its time
zone, expanded over the simulated month.

EventBridge cron: `cron(minutes hours day-of-month month day-of-week year)`, day-of-week 1-7 = SUN-SAT or
names, one of day-of-month and day-of-week `?`; `*`, `a-b`, `a,b` and `a/n` in any field
(https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html#cron-based).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MONTHS = {m: i for i, m in enumerate(MONTH_NAMES, start=1)}


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """The values a field allows (None: any)."""
    if field in ("*", "?"):
        return None
    allowed: set[int] = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/")
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-")
            start, end = _number(a, names), _number(b, names)
        else:
            start = _number(part, names)
            end = start if "/" not in field else high
        allowed.update(range(start, end + 1, step))
    return allowed


def _number(text: str, names: dict[str, int] | None) -> int:
    return names[text.upper()] if names and text.upper() in names else int(text)


def occurrences(cron: str, timezone: str, start: datetime, minutes: int) -> list[int]:
    """Minutes after `start` (UTC) at which the cron expression fires, in its time zone."""
    body = cron.strip()
    if not (body.startswith("cron(") and body.endswith(")")):
        raise ValueError(f"not an EventBridge cron expression: {cron}")
    fields = body[5:-1].split()
    if len(fields) != 6:
        raise ValueError(f"cron needs 6 fields: {cron}")
    minute_f, hour_f, dom_f, month_f, dow_f, year_f = fields
    allowed_minutes = _values(minute_f, 0, 59)
    hours = _values(hour_f, 0, 23)
    dom = _values(dom_f, 1, 31)
    months = _values(month_f, 1, 12, MONTHS)
    dow = _values(dow_f, 1, 7, DAYS)
    years = _values(year_f, 1970, 2199)
    zone = ZoneInfo(timezone)
    found = []
    first = start.astimezone(zone).date() - timedelta(days=1)
    for day_offset in range(minutes // (24 * 60) + 3):
        day = first + timedelta(days=day_offset)
        weekday = day.isoweekday() % 7 + 1  # SUN=1 .. SAT=7
        if months is not None and day.month not in months:
            continue
        if years is not None and day.year not in years:
            continue
        if dom is not None and day.day not in dom:
            continue
        if dow is not None and weekday not in dow:
            continue
        for hour in sorted(hours if hours is not None else range(24)):
            for minute in sorted(allowed_minutes if allowed_minutes is not None else range(60)):
                local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                offset = int((local - start).total_seconds() // 60)
                if 0 <= offset < minutes:
                    found.append(offset)
    return sorted(set(found))


def window_holds(windows: Iterable, start: datetime, minutes: int) -> tuple[tuple[int, int], ...]:
    """(minute, hold minutes) for every firing of every window (the waker's wake with `holdMinutes`)."""
    holds = []
    for window in windows:
        holds += [(m, window.duration_minutes) for m in occurrences(window.cron, window.timezone, start, minutes)]
    return tuple(sorted(holds))
