"""The standard workloads the cost report simulates (30 days from a Monday, minute 0 = 00:00 UTC)."""

from __future__ import annotations

import random

from costs.simulate import MINUTES, Run, Workload

DAY = 24 * 60


def weekdays() -> list[int]:
    return [d for d in range(MINUTES // DAY) if d % 7 < 5]


def hourly_job() -> Workload:
    runs = tuple(Run(due=h * 60, duration=5) for h in range(1, MINUTES // 60))
    return Workload("hourly-5min", "a 5-minute job every hour", runs)


def daily_job() -> Workload:
    runs = tuple(Run(due=d * DAY + 2 * 60, duration=60, tasks=2) for d in range(MINUTES // DAY))
    return Workload("daily-1h", "a 1-hour job (2 tasks) every day at 02:00", runs)


def office_hours() -> Workload:
    holds = tuple((d * DAY + 8 * 60, 10 * 60) for d in weekdays())  # a wake window 08:00-18:00 on weekdays
    manual = tuple(Run(due=d * DAY + h * 60, duration=10, kind="manual") for d in weekdays() for h in (10, 13, 16))
    ui = frozenset(d * DAY + m for d in weekdays() for m in range(8 * 60, 18 * 60, 7))
    return Workload(
        "office-hours",
        "UI 08:00-18:00 on weekdays (a wake window), 3 manual runs a day",
        manual,
        holds=holds,
        ui_minutes=ui,
    )


def bursty_events(seed: int = 7) -> Workload:
    rng = random.Random(seed)  # noqa: S311 - a repeatable workload, not a secret
    runs = []
    for day in range(MINUTES // DAY):
        for _ in range(6):  # six bursts a day at random times, ten files each within five minutes
            start = day * DAY + rng.randrange(DAY - 10)
            runs += [Run(due=start + rng.randrange(5), duration=3, kind="event") for _ in range(10)]
    return Workload("bursty-events", "6 bursts a day of 10 SQS events, each a 3-minute run", tuple(runs))


def heavy_day() -> Workload:
    base = daily_job().runs
    heavy = Run(due=14 * DAY + 6 * 60, duration=10, tasks=200)  # a backfill-sized day: 200 parallel tasks
    return Workload("heavy-day", "the daily job, and one day a 200-task run of 10-minute tasks", (*base, heavy))


def standard() -> list[Workload]:
    return [hourly_job(), daily_job(), office_hours(), bursty_events(), heavy_day()]
