"""The cost report's figures: each standard workload simulated for 30 days on a stack's settings, its bill
against the ideal's (a cluster that knows the future: simulate.oracle) and an always-on cluster's, the
sensitivity to boot times, and the targets (`python -m costs` prints them; costs/__main__.py)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from contracts.waker import WakerSettings
from costs.billing import money, monthly, oracle_cost
from costs.model import (
    Prices,
    StackCost,
    price_stack,
)
from costs.simulate import MINUTES, START, BootTimes, Result, Workload, simulate
from costs.windows import window_holds
from costs.workloads import standard

if TYPE_CHECKING:
    from offline.recording import Recording

ROOT = Path(__file__).resolve().parents[1]

RATIO_GOAL = 1.3  # every standard workload within 1.3x the database-aware oracle
LATE_MINUTES = 1  # a task starting more than this after it could have is late
# Idle month targets, everything counted: (stack, database stopped while asleep) -> USD.
IDLE_TARGETS = {("dev", True): 4.00, ("prod", False): 52.00, ("prod", True): 30.00}
BOOT = BootTimes()  # the 3-minute Fargate boot the targets are set at
SENSITIVITY = (
    ("5-min boot", BootTimes(task_start=5)),
    ("20-min database start", BootTimes(database_start=20)),
)


@dataclass(frozen=True)
class Row:
    workload: Workload
    result: Result
    cost: float
    always_on: float
    oracle: float
    mwaa: float
    boot: BootTimes
    late_tasks: int = 0

    @classmethod
    def late(cls, result: Result) -> int:
        return sum(1 for minutes in result.task_lateness if minutes > LATE_MINUTES)

    @property
    def ratio(self) -> float:
        return self.cost / self.oracle if self.oracle else float("inf")


def waker_settings(settings) -> WakerSettings:
    """The waker's settings for a stack, exactly as the program hands them to the Lambda."""
    from infra.components.waker_documents import lambda_settings

    return lambda_settings(settings, {c: c for c in settings.services.enabled})


def why(row: Row) -> str:
    if row.ratio <= RATIO_GOAL:
        return ""
    if row.result.wakes / 30 > 12:
        return "wakes for every run and idles idleMinutes after each: shorter idle or batching runs would help"
    return "idle time after each run (idleMinutes) dominates short runs"


def with_windows(workload: Workload, holds: tuple[tuple[int, int], ...]) -> Workload:
    """The workload on a stack whose wake windows also wake it (and hold it up)."""
    return replace(workload, holds=tuple(sorted((*workload.holds, *holds))))


def run_rows(
    cost: StackCost, prices: Prices, policy_settings: WakerSettings, workloads: list[Workload], boot: BootTimes
) -> list[Row]:
    always_on = cost.always_on_month(prices)
    mwaa = prices["mwaa_mw1_small_hour"] * prices.hours_per_month
    reads = cost.monitoring.metrics_per_read if cost.monitoring else 0
    rows = []
    for workload in workloads:
        result = simulate(workload, policy_settings, boot, metrics_per_read=reads)
        rows.append(
            Row(
                workload,
                result,
                monthly(cost, result, prices),
                always_on,
                oracle_cost(cost, workload, policy_settings, boot, prices),
                mwaa,
                boot,
                Row.late(result),
            )
        )
    return rows


@dataclass(frozen=True)
class Report:
    stack: str
    cost: StackCost
    prices: Prices
    rows: list[Row]
    sensitivity: list[tuple[str, list[Row]]]
    database_stop_option: float | None  # prod: the idle month with waker.stopDatabase


def build_report(stack: str, sensitivity: bool = True, recording: Recording | None = None) -> Report:
    """The stack's priced resources and one simulated month per standard workload (and per sensitivity).
    `recording`: the stack's program already recorded with its own settings (else it is run here)."""
    from infra.settings import load_settings
    from offline.recording import load_stack_file, run_stack

    config = load_stack_file(stack)
    settings = load_settings(stack, config)
    prices = Prices.load()
    cost = price_stack(recording or run_stack(stack), settings, prices)
    policy_settings = waker_settings(settings)
    holds = window_holds(settings.waker.windows, START, MINUTES)
    workloads = [with_windows(w, holds) for w in standard()]
    rows = run_rows(cost, prices, policy_settings, workloads, BOOT)
    more = (
        [(label, run_rows(cost, prices, policy_settings, workloads, boot)) for label, boot in SENSITIVITY]
        if sensitivity
        else []
    )
    option = None
    if not settings.waker.stop_database and (stack, True) in IDLE_TARGETS:
        waker_config = {**json.loads(config.get("airflow:waker", "{}")), "stopDatabase": True}
        overrides = {"airflow:waker": json.dumps(waker_config)}
        stopped = {**config, **overrides}
        option = price_stack(run_stack(stack, overrides), load_settings(stack, stopped), prices).idle_month
    return Report(stack, cost, prices, rows, more, option)


# The columns of the workload table, in words (`make cost` prints what each means below the table).
COLUMNS = (
    ("workload", 15, "<"),
    ("hours awake", 13, ">"),
    ("wakes a day", 13, ">"),
    ("late tasks", 12, ">"),
    ("latest start", 14, ">"),
    ("cost a month", 14, ">"),
    ("always on", 11, ">"),
    ("ideal", 10, ">"),
    ("vs ideal", 10, ">"),
)


def _line(values: tuple[str, ...]) -> str:
    return "".join(f"{v:{align}{width}}" for v, (_, width, align) in zip(values, COLUMNS, strict=True))


def render_rows(rows: list[Row]) -> str:
    header = _line(tuple(name for name, _, _ in COLUMNS)) + "  note"
    lines = [header, "-" * len(header)]
    for row in rows:
        r = row.result
        values = (
            row.workload.name,
            f"{r.awake_minutes / 60:.1f}",
            f"{r.wakes / 30:.1f}",
            str(row.late_tasks),
            f"{max(r.task_lateness, default=0)} min",
            money(row.cost),
            money(row.always_on),
            money(row.oracle),
            f"{row.ratio:.2f}x",
        )
        lines.append(f"{_line(values)}  {why(row)}".rstrip())
    waits = [(row.workload.name, max(row.result.event_waits)) for row in rows if max(row.result.event_waits, default=0)]
    if waits:
        lines.append("")
        lines += [
            f"{name}: runs that arrive while asleep (events, manual) wait up to {w} min for the cluster"
            for name, w in waits
        ]
    return "\n".join(lines)


def column_meanings(rows: list[Row], region: str) -> str:
    mwaa = rows[0].mwaa if rows else 0.0
    return "\n".join(
        [
            "hours awake: a month's hours with the Airflow services up. wakes a day: times it woke, on average.",
            f"late tasks: tasks that started more than {LATE_MINUTES} min after they could have on a cluster that",
            "  never sleeps. latest start: the longest any task waited for that.",
            "cost a month: this stack's bill for the workload. always on: the same stack, never asleep.",
            "ideal: a cluster that knows the future, up only while tasks run and while people asked for it, its",
            "  database up where the settings keep it. vs ideal: cost a month / ideal.",
            f"MWAA is not offered in {region}. In a commercial Region its smallest environment (mw1.small) lists at",
            f"  {money(mwaa)} a month, always on: for comparison only.",
        ]
    )


def targets(report: Report) -> list[tuple[str, bool]]:
    """The cost and lateness targets, each with whether this stack meets it."""
    cost = report.cost
    out = []
    goal = IDLE_TARGETS.get((report.stack, cost.database_stopped_while_asleep))
    if goal is not None:
        out.append((f"idle {money(cost.idle_month)} a month <= {money(goal)}", cost.idle_month <= goal))
    option_goal = IDLE_TARGETS.get((report.stack, True))
    if report.database_stop_option is not None and option_goal is not None:
        out.append(
            (
                f"idle with waker.stopDatabase: true {money(report.database_stop_option)} <= {money(option_goal)}",
                report.database_stop_option <= option_goal,
            )
        )
    worst = max(report.rows, key=lambda r: r.ratio)
    out.append(
        (
            f"every workload <= {RATIO_GOAL}x the ideal (highest: {worst.workload.name} {worst.ratio:.2f}x)",
            worst.ratio <= RATIO_GOAL,
        )
    )
    late = sum(r.late_tasks for r in report.rows)
    out.append((f"0 tasks more than {LATE_MINUTES} min late at a {BOOT.task_start}-min boot (found {late})", late == 0))
    return out


def render_sensitivity(report: Report) -> str:
    lines = [f"{'workload':<15}{'case':<24}{'late tasks':>12}{'latest start':>14}{'cost a month':>14}{'vs ideal':>10}"]
    lines.append("-" * len(lines[0]))
    for label, rows in report.sensitivity:
        for row in rows:
            latest = f"{max(row.result.task_lateness, default=0)} min"
            lines.append(
                f"{row.workload.name:<15}{label:<24}{row.late_tasks:>12}"
                f"{latest:>14}{money(row.cost):>14}{f'{row.ratio:.2f}x':>10}"
            )
    return "\n".join(lines)


def render_targets(report: Report) -> str:
    return "\n".join(f"  [{'met' if ok else 'MISSED'}] {text}" for text, ok in targets(report))


def figures(report: Report) -> dict[str, Any]:
    """What the README quotes from this report (checked by `make docs-check`)."""
    cost, rows = report.cost, report.rows
    boot = rows[0].boot if rows else None
    return {
        "idle_month": round(cost.idle_month, 2),
        "idle_month_database_stopped": round(report.database_stop_option, 2)
        if report.database_stop_option is not None
        else None,
        "always_on_month": round(rows[0].always_on if rows else 0.0, 2),
        "table": render_rows(rows),
        "sensitivity": render_sensitivity(report),
        "targets": render_targets(report),
        "boot": asdict(boot) if boot else {},
        "workloads": {
            row.workload.name: {
                "cost_month": round(row.cost, 2),
                "ratio": round(row.ratio, 2),
                "late_tasks": row.late_tasks,
                "max_task_lateness_minutes": max(row.result.task_lateness, default=0),
                "max_event_wait_minutes": max(row.result.event_waits, default=0),
            }
            for row in rows
        },
    }
