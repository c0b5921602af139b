"""The cost model (from the program's resources) and the simulator (the waker's real policy, minute by minute)."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator

import pytest

from contracts.components import COMPONENTS
from contracts.waker import WakerSettings
from costs.billing import minute_costs, monthly
from costs.chart import chart
from costs.model import PRICES_FILE, Item, Monitoring, Prices, StackCost, price_stack
from costs.report import RATIO_GOAL, Report, build_report, figures, why
from costs.simulate import MINUTES, START, BootTimes, Run, Workload, simulate
from devtools import docs_check
from infra.settings import load_settings
from offline.recording import Secret, load_stack_file
from tests.support.variants import VARIANTS

SERVICES = {c: c for c in COMPONENTS}
DAY = 24 * 60
README = docs_check.ROOT / "README.md"


def test_every_price_says_where_it_comes_from():
    document = json.loads(PRICES_FILE.read_text())
    assert document["region"] == "us-gov-east-1"
    for key, entry in document["prices"].items():
        assert entry["price"] > 0 and entry["source"] and entry["as_of"], key
        assert isinstance(entry["estimate"], bool), key
    assert document["prices"]["fargate_x86_vcpu_hour"]["price"] == 0.0486  # published GovCloud rate


@pytest.fixture(scope="module")
def reports(recordings) -> Iterator[Callable[[str], Report]]:
    """Each stack's cost report, computed once: 30 simulated days per workload, and per sensitivity case where
    the README quotes that stack's sensitivity table (a month of five workloads is ten seconds), from the
    stack's recording the suite made already."""
    quoted = README.read_text()

    def report(stack: str) -> Report:
        assert VARIANTS[stack] == (stack, {}), "the report prices the stack as its own stack file sets it"
        return build_report(stack, sensitivity=f"cost-{stack}.sensitivity" in quoted, recording=recordings[stack])

    yield functools.cache(report)


@pytest.fixture(scope="module")
def stack_costs(reports):
    return {stack: reports(stack).cost for stack in ("dev", "prod")}


def test_idle_cost_is_itemised_from_the_programs_resources(stack_costs):
    dev, prod = stack_costs["dev"], stack_costs["prod"]
    dev_items = {i.name for i in dev.idle}
    prod_items = {i.name for i in prod.idle}
    # dev stops its database while asleep (billed only awake); prod keeps it; only prod has a load balancer.
    assert "database instance" not in dev_items and "database instance" in {i.name for i in dev.awake}
    assert {"database instance", "load balancer"} <= prod_items
    assert "load balancer" not in dev_items
    assert {"database storage", "secrets", "private DNS zone", "waker"} <= dev_items
    storage = next(i for i in prod.idle if i.name == "database storage")
    assert storage.amount == pytest.approx(20 * Prices.load()["rds_gp3_gb_month"])
    assert 0 < dev.idle_month < prod.idle_month
    # An awake hour is the core services' Fargate time, at the x86 rate (what both stacks run).
    api = next(i for i in prod.awake if i.name == "api-server")
    prices = Prices.load()
    assert api.amount == pytest.approx(
        prices["fargate_x86_vcpu_hour"] + 2 * prices["fargate_x86_gb_hour"] + prices["public_ipv4_hour"]
    )


def test_spot_workers_price_the_first_worker_on_demand(recordings):
    """The first worker runs on FARGATE (the strategy's base of one); only the rest at the Spot discount."""
    prices = Prices.load()
    stack, overrides = VARIANTS["existing-vpc-oidc"]
    config = {**load_stack_file(stack), **overrides}
    settings = load_settings(
        stack,
        {key: value.value if isinstance(value, Secret) else value for key, value in config.items()},
        secret_keys=[key for key, value in config.items() if isinstance(value, Secret)],
    )
    opted = price_stack(recordings["existing-vpc-oidc"], settings, prices)
    assert opted.first_worker_hour > opted.worker_hour
    assert opted.worker_hour == pytest.approx(opted.first_worker_hour * (1 - prices["fargate_spot_discount"]), rel=0.05)
    assert opted.workers_hour(3) == pytest.approx(opted.first_worker_hour + 2 * opted.worker_hour)
    assert opted.workers_hour(0) == 0.0


def hand_cost() -> StackCost:
    cost = StackCost("hand", idle=[Item("fixed", 10.0, "")], worker_hour=0.06, first_worker_hour=0.06)
    cost.awake = [Item(c, 0.03, "") for c in ("api-server", "scheduler", "dag-processor", "triggerer")]
    return cost


def test_one_daily_run_costs_what_a_hand_calculation_gives():
    settings = WakerSettings(services=SERVICES, idle_minutes=10, wake_lead_minutes=5, worker_concurrency=4)
    boot = BootTimes(task_start=2, scheduler_ready=1)
    workload = Workload("daily", "one 30-minute run at 10:00", tuple(Run(d * DAY + 600, 30) for d in range(30)))
    result = simulate(workload, settings, boot)
    # Each day: awake from due - lead (09:55), with one worker asked for at the wake, through the task
    # (30 min) and the short grace of a wake for scheduled work only (1 min): 5 + 30 + 1 = 36 minutes; the
    # worker from the wake until the task ends: 5 + 30 = 35. After three measured wakes (reporter and worker
    # ready 3 minutes after the wake) the lead is learned: 3 + 1 margin = 4 minutes, so a day is 35 and 34.
    assert result.awake_minutes == 3 * 36 + 27 * 35
    assert result.worker_minutes == 3 * 35 + 27 * 34
    assert result.wakes == 30 and result.late_scheduled == [] and max(result.task_lateness) == 0
    # API calls beyond the tick: each wake is the one-time schedule's invocation; the worker polls the broker
    # every 11 s while it runs (from 2 minutes after it is asked for through the minute it is stopped), and
    # each task is sent and deleted.
    assert result.scheduler_invocations == 30
    worker_running = 3 * (35 - 2 + 1) + 27 * (34 - 2 + 1)
    assert result.sqs_requests == pytest.approx(worker_running * 60 / 11 + 30 * 2)
    prices = Prices.load()
    scale = prices.hours_per_month * 60 / MINUTES
    awake, workers = 3 * 36 + 27 * 35, 3 * 35 + 27 * 34
    expected = 10.0 + (awake / 60 * 4 * 0.03 + workers / 60 * 0.06) * scale
    assert monthly(hand_cost(), result, prices) == pytest.approx(expected)


def test_metric_calls_are_the_simulated_policys_own_and_stop_while_asleep():
    settings = WakerSettings(services=SERVICES, idle_minutes=10, wake_lead_minutes=5)
    asleep = simulate(Workload("none", "", ()), settings, minutes=3 * DAY, metrics_per_read=12)
    assert (asleep.metrics_read, asleep.metric_writes, asleep.waker_metric_hours) == (0, 0, set())
    # Asleep and still, the minute tick is off after the month's first (the hourly watch is in the idle month).
    assert asleep.minute_ticks == 1
    events = simulate(Workload("events", "", (Run(600, 3, kind="event"),)), settings, minutes=DAY)
    assert events.minute_ticks == DAY, "watched event queues keep the minute tick on"
    daily = simulate(
        Workload("daily", "", tuple(Run(d * DAY + 600, 30) for d in range(3))),
        settings,
        minutes=3 * DAY,
        metrics_per_read=12,
    )
    # A tick reads (12 metrics) when it finds anything asked for or running: not the tick that wakes the
    # cluster, but the one that puts it to sleep; as many ticks as minutes awake.
    awake_ticks = sum(1 for m in daily.billed if m.services)
    assert daily.metrics_read == 12 * awake_ticks == 12 * daily.awake_minutes
    # The minute tick runs from the wake (the waker's one-time wake switches it on) until the stack is still.
    assert daily.minute_ticks == sum(1 for m in daily.billed if m.minute_tick)
    assert daily.awake_minutes <= daily.minute_ticks <= daily.awake_minutes + 3 * 6
    # Writes: the waker's each awake tick plus the one that puts it to sleep, the reporter's while the
    # scheduler runs; and the bill counts them (CloudWatch pricing: per metric read, per write request).
    assert daily.metric_writes > awake_ticks and len(daily.waker_metric_hours) <= 3 * 2
    cost = hand_cost()
    cost.monitoring = Monitoring(per_metric_read=1e-5, per_write=1e-5, per_metric_hour=5e-4, metrics_per_read=12)
    prices = Prices.load()
    with_calls = monthly(cost, daily, prices)
    cost.monitoring = None
    assert with_calls > monthly(cost, daily, prices)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_asleep_and_still_the_minutes_between_invocations_are_what_deciding_each_would_give(stack):
    """The simulator asks the policy only when the waker runs (its minute tick, or asleep and still the hourly
    watch, the one-time wake, a window, a UI request); asking it every minute must give the same month."""
    from costs.report import waker_settings, with_windows
    from costs.windows import window_holds
    from costs.workloads import standard

    settings = load_settings(stack, load_stack_file(stack))
    policy_settings = waker_settings(settings)
    days = 4  # four days from a Monday: nights, office hours, and each workload's own runs
    holds = window_holds(settings.waker.windows, START, days * DAY)
    for workload in standard():
        if workload.name == "bursty-events":
            continue  # its watched queues keep the minute tick on: nothing is skipped
        workload = with_windows(workload, holds)
        skipping = simulate(workload, policy_settings, minutes=days * DAY)
        deciding = simulate(workload, policy_settings, minutes=days * DAY, every_minute=True)
        assert skipping == deciding, workload.name
        assert skipping.minute_ticks < days * DAY, f"{workload.name}: the minute tick never went off"
    # Asleep through the night with the minute tick off, the one-time wake wakes it at due - lead, in time.
    due = Workload("due", "", (Run(DAY + 607, 5),))
    quiet = WakerSettings(services=SERVICES, wake_lead_minutes=5)
    skipping = simulate(due, quiet, BootTimes(task_start=2, scheduler_ready=1), minutes=2 * DAY)
    assert skipping == simulate(
        due, quiet, BootTimes(task_start=2, scheduler_ready=1), minutes=2 * DAY, every_minute=True
    )
    woken = next(minute for minute, up in enumerate(skipping.timeline) if up)
    assert woken == DAY + 607 - 5 and skipping.late_scheduled == []


def test_a_lead_shorter_than_the_boot_time_starts_runs_late():
    settings = WakerSettings(services=SERVICES, wake_lead_minutes=1)
    workload = Workload("daily", "", tuple(Run(d * DAY + 600, 30) for d in range(3)))
    result = simulate(workload, settings, BootTimes(task_start=2, scheduler_ready=1), minutes=3 * DAY)
    # Woken at due - 1, running 2 minutes later, scheduling 1 minute after that: 2 minutes late each day.
    assert result.late_scheduled == [2, 2, 2]


def test_the_learned_lead_puts_runs_on_time_after_three_measured_wakes():
    settings = WakerSettings(services=SERVICES, wake_lead_minutes=1)
    workload = Workload("daily", "", tuple(Run(d * DAY + 600, 30) for d in range(6)))
    result = simulate(workload, settings, BootTimes(task_start=2, scheduler_ready=1), minutes=6 * DAY)
    # Each wake is measured at 3 minutes (reporter and worker ready); from the fourth the lead is 3 + 1.
    assert result.late_scheduled == [2, 2, 2]
    assert result.task_lateness == [2, 2, 2, 0, 0, 0]


def test_a_task_ending_frees_its_slot_for_a_task_starting_that_minute():
    settings = WakerSettings(services=SERVICES, wake_lead_minutes=5, max_workers=1, worker_concurrency=4)
    workload = Workload("wide", "", (Run(600, 10, tasks=12),))
    result = simulate(workload, settings, BootTimes(task_start=2, scheduler_ready=1), minutes=DAY)
    # Three waves of four on one worker: 10:00, 10:10, 10:20, as on a cluster that never sleeps.
    assert result.task_lateness == [0] * 12


def test_a_stopped_database_is_started_in_time_for_scheduled_runs():
    settings = WakerSettings(
        services=SERVICES, stop_database=True, database_start_minutes=15, database_stop_after_minutes=120
    )
    workload = Workload("daily", "", tuple(Run(d * DAY + 600, 30) for d in range(5)))
    result = simulate(workload, settings, BootTimes(database_start=8), minutes=5 * DAY)
    assert result.late_scheduled == []
    assert result.database_minutes < 5 * DAY / 4, "the database sleeps most of the day"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_readme_quotes_todays_cost_report(stack, reports):
    # The figures `python -m costs <stack> --json` prints (the README's source for them), from the same report.
    measured = json.loads(json.dumps(figures(reports(stack))))
    problems = docs_check.check(
        README,
        quick=True,
        write=False,
        skip=set(docs_check.SOURCES) - {f"cost-{stack}"},
        measured={f"cost-{stack}": measured},
    )
    assert problems == [], "\n".join(problems) + "\n(when meant: make docs-check WRITE=1)"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_standard_workloads_with_default_settings(stack, tmp_path, reports):
    report = reports(stack)
    cost, prices, rows = report.cost, report.prices, report.rows
    assert {row.workload.name for row in rows} == {
        "hourly-5min",
        "daily-1h",
        "office-hours",
        "bursty-events",
        "heavy-day",
    }
    for row in rows:
        # The chart's per-day costs add up to the table's month (30 simulated days scaled to a month).
        scale = prices.hours_per_month * 60 / MINUTES
        assert sum(minute_costs(row.result, cost, prices)) * scale == pytest.approx(row.cost, rel=1e-6), (
            row.workload.name
        )
        assert row.result.late_scheduled == [], f"{row.workload.name}: scheduled runs started late"
        assert row.late_tasks == 0, f"{row.workload.name}: tasks started late at a {row.boot.task_start}-min boot"
        assert row.result.unfinished == 0, row.workload.name
        assert row.cost < row.always_on, row.workload.name
        if row.ratio > RATIO_GOAL:
            assert why(row), f"{row.workload.name} is {row.ratio:.2f}x the ideal and the report does not say why"
    chart(rows, tmp_path / "week.png", stack, cost, prices)
    assert (tmp_path / "week.png").read_bytes().startswith(b"\x89PNG")


def test_the_report_speaks_in_words_and_its_chart_shows_the_busy_week(reports):
    """Regression: columns named `oracle`, `x oracle`, `wakes/d`, an `MWAA ref` column in a Region without MWAA, no
    word on the workloads, a chart of week 1 while the heavy day is day 15, and two greys hard to tell apart."""
    from matplotlib.colors import to_rgb

    from costs.chart import SHADES, busiest_week
    from costs.report import column_meanings, render_rows, render_sensitivity

    report = reports("dev")
    table = render_rows(report.rows)
    header = table.splitlines()[0]
    for word in ("hours awake", "wakes a day", "late tasks", "latest start", "cost a month", "ideal", "vs ideal"):
        assert word in header, word
    for jargon in ("oracle", "MWAA", "wakes/d", "cost/mo"):
        assert jargon not in table and jargon not in render_sensitivity(report), jargon
    meanings = column_meanings(report.rows, report.prices.region)
    assert "MWAA is not offered in us-gov-east-1" in meanings and "ideal: a cluster that knows the future" in meanings
    assert all(row.workload.description for row in report.rows)
    # The heavy day (day 15, a Monday) is in the week drawn.
    heavy = next(r for r in report.rows if r.workload.name == "heavy-day")
    day_of_run = max(range(30), key=lambda d: sum(m.workers for m in heavy.result.billed[d * DAY : (d + 1) * DAY]))
    first = busiest_week(report.rows, 7)
    assert day_of_run == 14 and first <= day_of_run < first + 7 and first % 7 == 0
    # Each shade differs clearly from every other (by more than a quarter of the range in some channel).
    colors = [to_rgb(color) for _, color in SHADES]
    for i, a in enumerate(colors):
        for b in colors[i + 1 :]:
            assert max(abs(x - y) for x, y in zip(a, b, strict=True)) > 0.25, (a, b)
