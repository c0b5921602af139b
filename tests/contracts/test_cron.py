"""The one EventBridge cron reader: every form the cron reference documents is accepted and evaluated, and
whatever it accepts it can evaluate (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html).
The settings refuse what it refuses, with its message."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.cron import CronError, parse
from infra.settings.schema import InvalidSetting, eventbridge_cron

NEW_YORK = ZoneInfo("America/New_York")
START = datetime(2026, 11, 1, tzinfo=UTC)
TWO_MONTHS = 61 * 24 * 60


def firings(expression: str, timezone: str = "America/New_York") -> list[datetime]:
    zone = ZoneInfo(timezone)
    return [
        (START + timedelta(minutes=m)).astimezone(zone)
        for m in parse(expression).occurrences(timezone, START, TWO_MONTHS)
    ]


def days(expression: str) -> list[date]:
    return sorted({f.date() for f in firings(expression)})


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        # L in day-of-month: the last day of the month.
        ("cron(0 8 L * ? *)", [date(2026, 11, 30), date(2026, 12, 31)]),
        # n#k: the k-th weekday n of the month (2 = MON): the first Monday.
        ("cron(0 8 ? * 2#1 *)", [date(2026, 11, 2), date(2026, 12, 7)]),
        ("cron(0 8 ? * MON#1 *)", [date(2026, 11, 2), date(2026, 12, 7)]),
        # nL in day-of-week: the month's last weekday n (6 = FRI).
        ("cron(0 8 ? * 6L *)", [date(2026, 11, 27), date(2026, 12, 25)]),
        # nW: the weekday nearest day n (15 Nov 2026 is a Sunday: Monday 16th).
        ("cron(0 8 15W * ? *)", [date(2026, 11, 16), date(2026, 12, 15)]),
        # LW: the month's last weekday.
        ("cron(0 8 LW * ? *)", [date(2026, 11, 30), date(2026, 12, 31)]),
        ("cron(0 8 1,15 * ? *)", [date(2026, 11, 1), date(2026, 11, 15), date(2026, 12, 1), date(2026, 12, 15)]),
        (
            "cron(0 8 ? DEC MON-FRI 2026)",
            [
                date(2026, 12, d)
                for d in (1, 2, 3, 4, 7, 8, 9, 10, 11, 14, 15, 16, 17, 18, 21, 22, 23, 24, 25, 28, 29, 30, 31)
            ],
        ),
    ],
)
def test_documented_day_forms_fire_on_the_right_days(expression, expected):
    assert eventbridge_cron(expression) == expression
    assert days(expression) == expected
    assert {(f.hour, f.minute) for f in firings(expression)} == {(8, 0)}  # 08:00 New York, across the DST change


def test_nearest_weekday_does_not_leave_the_month():
    rule = parse("cron(0 8 1W * ? *)")
    assert rule.fires_on(date(2026, 8, 3)) and not rule.fires_on(date(2026, 7, 31))  # 1 Aug 2026 is a Saturday
    rule = parse("cron(0 8 31W * ? *)")
    assert rule.fires_on(date(2026, 5, 29)) and not rule.fires_on(date(2026, 6, 1))  # 31 May 2026 is a Sunday
    assert not any(parse("cron(0 8 31W * ? *)").fires_on(date(2026, 11, d)) for d in range(1, 31))  # no 31 Nov


@pytest.mark.parametrize(
    ("expression", "minutes"),
    [
        ("cron(1/10 9 * * ? *)", [1, 11, 21, 31, 41, 51]),  # the reference's own example
        ("cron(*/15 9 * * ? *)", [0, 15, 30, 45]),
        ("cron(5-20/5 9 * * ? *)", [5, 10, 15, 20]),
        ("cron(0,30 9 * * ? *)", [0, 30]),
    ],
)
def test_increments_lists_and_ranges(expression, minutes):
    assert sorted({f.minute for f in firings(expression, "UTC")}) == minutes


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("cron(0 8 * *)", "6 fields"),
        ("rate(1 hour)", "cron("),
        ("cron(0 25 ? * MON *)", "0-23"),
        ("cron(0 8 * * MON *)", "exactly one"),  # a day in both fields
        ("cron(0 8 ? * ? *)", "exactly one"),
        ("cron(0 8 ? * MON/2 *)", "`/` is not allowed"),  # not in day-of-week
        ("cron(0 8 ? * 3#1,6#3 *)", "day-of-week"),  # one expression only with #
        ("cron(0 8 5L * ? *)", "stand alone"),
        ("cron(0 8 ? * 8#1 *)", "1-7"),
        ("cron(0 8 ? * 2#6 *)", "day-of-week"),
        ("cron(0 ⁸ * * ? *)", "characters"),  # a superscript digit
        ("cron(0 ٨ * * ? *)", "characters"),  # an Arabic-Indic digit
        ("cron(0 8 ? 13 MON *)", "1-12"),
        ("cron(0 8 ? * MON 2200)", "1970-2199"),
        ("cron(0 ? * * ? *)", "only day-of-month and day-of-week"),
        ("cron(0 20-8 * * ? *)", "backwards"),
        ("cron(0/0 8 * * ? *)", "positive"),
        (None, "6 fields"),
    ],
)
def test_what_eventbridge_refuses_is_refused_with_the_field_named(expression, says):
    with pytest.raises(CronError) as refused:
        parse(expression)
    assert says in str(refused.value)
    with pytest.raises(InvalidSetting):
        eventbridge_cron(expression)


FIELD = st.sampled_from(["*", "0", "5", "1-5", "0/15", "*/10", "3,7", "MON", "JAN", "L", "W", "#", "?", "L-2"])


@given(
    st.lists(
        st.one_of(FIELD, st.text(alphabet="0123456789*,-/?LW#MONJA", min_size=1, max_size=6)), min_size=6, max_size=6
    )
)
def test_what_the_reader_accepts_it_can_evaluate(fields):
    expression = f"cron({' '.join(fields)})"
    try:
        rule = parse(expression)
    except CronError:
        return
    rule.occurrences("Pacific/Chatham", START, 3 * 24 * 60)  # never raises: an accepted form has a meaning
    for day in range(1, 60):
        rule.fires_on(date(2026, 1, 1) + timedelta(days=day))
