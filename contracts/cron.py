"""EventBridge Scheduler cron expressions: the one reader, for the settings (which refuse what it cannot read),
the cost simulator and anything else that needs a window's firings.

`cron(minutes hours day-of-month month day-of-week year)`, as documented at
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html (the page EventBridge
Scheduler's cron-based schedules refer to):

| field        | values             | wildcards        |
| minutes      | 0-59               | , - * /          |
| hours        | 0-23               | , - * /          |
| day-of-month | 1-31               | , - * ? / L W    |
| month        | 1-12 or JAN-DEC    | , - * /          |
| day-of-week  | 1-7 or SUN-SAT     | , - * ? L #      |
| year         | 1970-2199          | , - * /          |

`L` is the last day of the month (day-of-month) or of the week, Saturday (day-of-week); `nL` in day-of-week
the month's last weekday n (5L: its last Thursday); `nW` the weekday nearest day n, within the month; `LW`
the month's last weekday; `n#k` the k-th weekday n of the month, alone in its field. `a/n` steps from a (`*/n`
from the field's first value) to the field's last. One of day-of-month and day-of-week is `?`, the other not.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

EXAMPLE = "cron(0 8 ? * MON-FRI *)"
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # 1-7


class CronError(ValueError):
    """Not an expression EventBridge accepts; the message names the field and what it takes."""


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...]
    wildcards: str  # beyond `,` `-` `*`


_FIELDS = (
    _Field("minutes", 0, 59, (), "/"),
    _Field("hours", 0, 23, (), "/"),
    _Field("day-of-month", 1, 31, (), "?/LW"),
    _Field("month", 1, 12, MONTHS, "/"),
    _Field("day-of-week", 1, 7, DAYS, "?L#"),
    _Field("year", 1970, 2199, (), "/"),
)

DayRule = Callable[[date], bool]


def _weekday(day: date) -> int:
    """1 (SUN) to 7 (SAT), as the day-of-week field counts."""
    return day.isoweekday() % 7 + 1


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(day: date, target: int) -> bool:
    """Whether `day` is the weekday (MON-FRI) nearest day `target` of its month, not leaving the month."""
    last = _last_day(day)
    if target > last:
        return False
    wanted = date(day.year, day.month, target)
    if wanted.isoweekday() == 6:  # Saturday: the Friday before, or the Monday after on the 1st
        wanted = wanted + timedelta(days=2) if target == 1 else wanted - timedelta(days=1)
    elif wanted.isoweekday() == 7:  # Sunday: the Monday after, or the Friday before on the last day
        wanted = wanted - timedelta(days=2) if target == last else wanted + timedelta(days=1)
    return day == wanted


def _last_weekday_of_month(day: date) -> bool:
    last = date(day.year, day.month, _last_day(day))
    while last.isoweekday() > 5:
        last -= timedelta(days=1)
    return day == last


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day: DayRule  # day-of-month or day-of-week, whichever is not `?`

    def fires_on(self, day: date) -> bool:
        return day.month in self.months and day.year in self.years and self.day(day)

    def occurrences(self, timezone: str, start: datetime, minutes: int) -> list[int]:
        """Minutes after `start` (aware) at which the schedule fires within `minutes`, in its time zone."""
        zone = ZoneInfo(timezone)
        found = set()
        first = start.astimezone(zone).date() - timedelta(days=1)
        for offset_days in range(minutes // (24 * 60) + 3):
            day = first + timedelta(days=offset_days)
            if not self.fires_on(day):
                continue
            for hour in sorted(self.hours):
                for minute in sorted(self.minutes):
                    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                    offset = int((local - start).total_seconds() // 60)
                    if 0 <= offset < minutes:
                        found.add(offset)
        return sorted(found)


def _number(token: str, field: _Field) -> int:
    if token.upper() in field.names:
        return field.names.index(token.upper()) + 1
    if not re.fullmatch(r"[0-9]{1,4}", token) or not field.low <= int(token) <= field.high:
        raise CronError(
            f"has a {field.name} field value {token!r} out of {field.low}-{field.high}"
            + (f" (or {field.names[0]}-{field.names[-1]})" if field.names else "")
            + f"; like {EXAMPLE}"
        )
    return int(token)


def _values(text: str, field: _Field) -> frozenset[int]:
    """The values of a field of `,` `-` `*` `/` (`*` alone: all)."""
    values: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        if slash and "/" not in field.wildcards:
            raise CronError(f"has a {field.name} field {text!r}: `/` is not allowed there; like {EXAMPLE}")
        if slash and not re.fullmatch(r"[1-9][0-9]{0,3}", step_text):
            raise CronError(f"has a {field.name} field {text!r}: the step after `/` must be a positive number")
        step = int(step_text) if slash else 1
        if base == "*":
            start, end = field.low, field.high
        elif "-" in base:
            low_text, _, high_text = base.partition("-")
            start, end = _number(low_text, field), _number(high_text, field)
            if start > end:
                raise CronError(f"has a {field.name} field range {base!r} that runs backwards")
        else:
            start = _number(base, field)
            end = field.high if slash else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


def _day_of_month(text: str) -> DayRule:
    field = _FIELDS[2]
    if text == "L":
        return lambda day: day.day == _last_day(day)
    if text == "LW":
        return _last_weekday_of_month
    nearest = re.fullmatch(r"([0-9]{1,2})W", text)
    if nearest:
        target = _number(nearest.group(1), field)
        return lambda day: _nearest_weekday(day, target)
    if "L" in text or "W" in text:
        raise CronError(f"has a day-of-month field {text!r}: L, LW and nW (1-31) stand alone; like {EXAMPLE}")
    days = _values(text, field)
    return lambda day: day.day in days


def _day_of_week(text: str) -> DayRule:
    field = _FIELDS[4]
    if text == "L":
        return lambda day: _weekday(day) == 7
    last = re.fullmatch(r"([1-7]|[A-Za-z]{3})L", text)
    if last:
        weekday = _number(last.group(1), field)
        return lambda day: _weekday(day) == weekday and day.day + 7 > _last_day(day)
    nth = re.fullmatch(r"([1-7]|[A-Za-z]{3})#([1-5])", text)
    if nth:
        weekday, which = _number(nth.group(1), field), int(nth.group(2))
        return lambda day: _weekday(day) == weekday and (day.day - 1) // 7 + 1 == which
    days = _values(text, field)
    return lambda day: _weekday(day) in days


def parse(expression: object) -> Cron:
    """The expression read as EventBridge reads it, or CronError naming what is wrong."""
    match = re.fullmatch(r"cron\((.*)\)", expression.strip()) if isinstance(expression, str) else None
    fields = match.group(1).split() if match else []
    if len(fields) != 6:
        raise CronError(
            "must be an EventBridge Scheduler cron expression with 6 fields (minutes hours day-of-month month "
            f"day-of-week year) like {EXAMPLE}, got {expression!r}"
        )
    if not all(re.fullmatch(r"[0-9A-Za-z,\-*?/#]+", f) for f in fields):
        raise CronError(
            f"has characters EventBridge does not read (digits, names and , - * ? / L W # only): {expression!r}"
        )
    minute_text, hour_text, dom_text, month_text, dow_text, year_text = fields
    for text, field in zip(fields, _FIELDS, strict=True):
        if text == "?" and "?" not in field.wildcards:
            raise CronError(f"has `?` in its {field.name} field: only day-of-month and day-of-week take it")
    if (dom_text == "?") == (dow_text == "?"):
        raise CronError(f"must have ? in exactly one of day-of-month and day-of-week, like {EXAMPLE}")
    day = _day_of_week(dow_text) if dom_text == "?" else _day_of_month(dom_text)
    return Cron(
        expression=expression.strip() if isinstance(expression, str) else "",
        minutes=_values(minute_text, _FIELDS[0]),
        hours=_values(hour_text, _FIELDS[1]),
        months=_values(month_text, _FIELDS[3]),
        years=_values(year_text, _FIELDS[5]),
        day=day,
    )
