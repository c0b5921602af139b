"""The cost report of a stack: idle and awake costs from its resources, then 30 simulated days per workload.

    uv run python -m costs.report dev            (or `make cost STACK=dev`)

Prints both tables and writes a chart of one simulated week's awake timeline to build/cost-<stack>-week.png.
Prices come from costs/prices.json (GovCloud figures where published, marked estimates otherwise).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from contracts.waker import WakerSettings
from costs.image_pull import describe, recorded
from costs.model import (
    CORE,
    REPORTER_METRICS,
    WAKER_METRICS,
    Monitoring,
    Prices,
    StackCost,
    price_stack,
    render,
)
from costs.simulate import MINUTES, START, BootTimes, Minute, Result, Workload, oracle, simulate
from costs.windows import window_holds
from costs.workloads import standard

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


def monthly(cost: StackCost, result: Result, prices: Prices) -> float:
    """A simulated month's bill: what exists, plus what ran (scaled from 30 days to the month)."""
    scale = prices.hours_per_month * 60 / MINUTES
    rates = {item.name: item.amount for item in cost.awake}
    ran = sum(minutes / 60 * rates.get(component, 0.0) for component, minutes in result.service_minutes.items())
    ran += result.worker_minutes / 60 * cost.worker_hour
    if cost.database_stopped_while_asleep:
        ran += result.database_minutes / 60 * cost.database_hour
    return cost.idle_month + (ran + usage(cost, result)) * scale


def usage(cost: StackCost, result: Result) -> float:
    """API charges of the simulated days beyond the idle month: the metric reads and writes the waker and
    reporter made, the custom metrics by the hours in which they received data, the broker's requests while
    workers ran, the Scheduler's one-time wakes and windows, and the waker's minute ticks."""
    m = cost.monitoring
    if m is None:
        return 0.0
    hours = len(result.waker_metric_hours) * WAKER_METRICS + len(result.reporter_metric_hours) * REPORTER_METRICS
    metrics = result.metrics_read * m.per_metric_read + result.metric_writes * m.per_write + hours * m.per_metric_hour
    requests = result.sqs_requests * m.per_sqs_request + result.scheduler_invocations * m.per_scheduler_invocation
    return metrics + requests + result.minute_ticks * m.per_tick


def oracle_cost(cost: StackCost, workload: Workload, settings: WakerSettings, boot: BootTimes, prices: Prices) -> float:
    best = oracle(workload, boot, settings)
    scale = prices.hours_per_month * 60 / MINUTES
    core = sum(item.amount for item in cost.awake if item.name in CORE)
    database = best.database_hours * cost.database_hour if cost.database_stopped_while_asleep else 0.0
    ran = best.core_hours * (core + cost.monitoring_hour) + best.worker_hours * cost.worker_hour + database
    return cost.idle_month + ran * scale


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


def build_report(stack: str, sensitivity: bool = True) -> Report:
    """The stack's priced resources and one simulated month per standard workload (and per sensitivity)."""
    from infra.settings import load_settings
    from offline.recording import load_stack_file, run_stack

    config = load_stack_file(stack)
    settings = load_settings(stack, config)
    prices = Prices.load()
    cost = price_stack(run_stack(stack), settings, prices)
    policy_settings = waker_settings(settings)
    holds = window_holds(settings.waker.windows, START, MINUTES)
    workloads = [with_windows(w, holds) for w in standard()]
    rows = run_rows(cost, prices, policy_settings, workloads, BOOT)
    more = [(label, run_rows(cost, prices, policy_settings, workloads, boot)) for label, boot in SENSITIVITY]
    option = None
    if not settings.waker.stop_database and (stack, True) in IDLE_TARGETS:
        waker_config = {**json.loads(config.get("airflow:waker", "{}")), "stopDatabase": True}
        overrides = {"airflow:waker": json.dumps(waker_config)}
        stopped = {**config, **overrides}
        option = price_stack(run_stack(stack, overrides), load_settings(stack, stopped), prices).idle_month
    return Report(stack, cost, prices, rows, more if sensitivity else [], option)


def build_rows(stack: str) -> tuple[StackCost, Prices, list[Row]]:
    report = build_report(stack, sensitivity=False)
    return report.cost, report.prices, report.rows


def _money(amount: float) -> str:
    return f"${amount:,.2f}"


def render_rows(rows: list[Row]) -> str:
    header = (
        f"{'workload':<15}{'awake h':>8}{'wakes/d':>8}{'late':>6}{'max late':>9}{'cost/mo':>10}"
        f"{'always on':>11}{'oracle':>9}{'x oracle':>9}{'MWAA ref':>10}  note"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        r = row.result
        lines.append(
            f"{row.workload.name:<15}{r.awake_minutes / 60:>8.1f}{r.wakes / 30:>8.1f}{row.late_tasks:>6}"
            f"{max(r.task_lateness, default=0):>8}m{_money(row.cost):>10}{_money(row.always_on):>11}"
            f"{_money(row.oracle):>9}{row.ratio:>9.2f}{_money(row.mwaa):>10}  {why(row)}"
        )
    waits = [(row.workload.name, max(row.result.event_waits)) for row in rows if max(row.result.event_waits, default=0)]
    if waits:
        lines.append("")
        lines += [
            f"{name}: runs that arrive while asleep (events, manual) wait up to {w} min for the cluster"
            for name, w in waits
        ]
    return "\n".join(lines)


def targets(report: Report) -> list[tuple[str, bool]]:
    """The cost and lateness targets, each with whether this stack meets it."""
    cost = report.cost
    out = []
    goal = IDLE_TARGETS.get((report.stack, cost.database_stopped_while_asleep))
    if goal is not None:
        out.append((f"idle {_money(cost.idle_month)} a month <= {_money(goal)}", cost.idle_month <= goal))
    option_goal = IDLE_TARGETS.get((report.stack, True))
    if report.database_stop_option is not None and option_goal is not None:
        out.append(
            (
                f"idle with waker.stopDatabase: true {_money(report.database_stop_option)} <= {_money(option_goal)}",
                report.database_stop_option <= option_goal,
            )
        )
    worst = max(report.rows, key=lambda r: r.ratio)
    out.append(
        (
            f"every workload <= {RATIO_GOAL}x the oracle (highest: {worst.workload.name} {worst.ratio:.2f}x)",
            worst.ratio <= RATIO_GOAL,
        )
    )
    late = sum(r.late_tasks for r in report.rows)
    out.append((f"0 tasks more than {LATE_MINUTES} min late at a {BOOT.task_start}-min boot (found {late})", late == 0))
    return out


def render_sensitivity(report: Report) -> str:
    lines = [f"{'workload':<15}{'case':<24}{'late':>6}{'max late':>9}{'cost/mo':>10}{'x oracle':>9}"]
    lines.append("-" * len(lines[0]))
    for label, rows in report.sensitivity:
        for row in rows:
            lines.append(
                f"{row.workload.name:<15}{label:<24}{row.late_tasks:>6}"
                f"{max(row.result.task_lateness, default=0):>8}m{_money(row.cost):>10}{row.ratio:>9.2f}"
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


def minute_costs(row: Row, cost: StackCost, prices: Prices) -> list[float]:
    """What each simulated minute costs: the idle floor's share, what runs, and its CloudWatch calls (a
    custom metric's hour is counted on the hour's first minute)."""
    rates = {item.name: item.amount for item in cost.awake}
    floor = cost.idle_month / (prices.hours_per_month * 60)
    database = cost.database_hour if cost.database_stopped_while_asleep else 0.0
    m = cost.monitoring or Monitoring(0.0, 0.0, 0.0, 0)
    costs = [
        floor
        + (sum(rates.get(s, 0.0) for s in minute.services) + minute.workers * cost.worker_hour) / 60
        + database * minute.database_up / 60
        + minute.metrics_read * m.per_metric_read
        + minute.metric_writes * m.per_write
        + minute.sqs_requests * m.per_sqs_request
        + minute.scheduler_invocations * m.per_scheduler_invocation
        + minute.minute_tick * m.per_tick
        for minute in row.result.billed
    ]
    for hour in row.result.waker_metric_hours:
        costs[hour * 60] += WAKER_METRICS * m.per_metric_hour
    for hour in row.result.reporter_metric_hours:
        costs[hour * 60] += REPORTER_METRICS * m.per_metric_hour
    return costs


# The chart's shades, in the order of the legend.
SHADES = (
    ("asleep, database stopped", "#f4f4f4"),
    ("asleep, database up", "#cfcfcf"),
    ("awake: scheduler, api-server, dag-processor, triggerer", "#6baed6"),
    ("awake, 1 worker", "#fdae6b"),
    ("awake, 2 workers", "#f16913"),
    ("awake, 3 or more workers", "#a63603"),
)


def shade(minute: Minute) -> int:
    if not minute.services:
        return 1 if minute.database_up else 0
    return 2 + min(minute.workers, 3)


def chart(rows: list[Row], path: Path, stack: str, cost: StackCost, prices: Prices) -> None:
    """One simulated week per workload: time of day across, days down, shaded by what runs; each day's cost."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    days, day = 7, 24 * 60
    colors = ListedColormap([color for _, color in SHADES])
    figure, axes = plt.subplots(len(rows), 1, figsize=(13, 1.55 * len(rows) + 1.6), sharex=True)
    for axis, row in zip(axes, rows, strict=True):
        billed = row.result.billed[: days * day]
        grid = [[shade(m) for m in billed[d * day : (d + 1) * day]] for d in range(days)]
        axis.imshow(
            grid,
            aspect="auto",
            cmap=colors,
            vmin=0,
            vmax=len(SHADES) - 1,
            interpolation="nearest",
            extent=(0, 24, days, 0),
        )
        per_minute = minute_costs(row, cost, prices)
        for d in range(days):
            spent = sum(per_minute[d * day : (d + 1) * day])
            axis.text(24.3, d + 0.5, f"${spent:.2f}", va="center", fontsize=8)
        axis.set_yticks(
            [d + 0.5 for d in range(days)], [(START + timedelta(days=d)).strftime("%a") for d in range(days)]
        )
        axis.tick_params(axis="y", labelsize=8)
        axis.set_title(
            f"{row.workload.name}: {_money(row.cost)} a month, {row.ratio:.2f}x the oracle, "
            f"{row.result.wakes / 30:.1f} wakes a day",
            fontsize=9,
            loc="left",
        )
        axis.text(24.3, -0.25, "cost/day", fontsize=8)
    axes[-1].set_xticks(range(0, 25, 3), [f"{h:02d}:00" for h in range(0, 25, 3)])
    axes[-1].set_xlabel("time of day (UTC)")
    figure.legend(
        handles=[Patch(facecolor=color, edgecolor="#999999", label=label) for label, color in SHADES],
        loc="lower center",
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    figure.suptitle(
        f"Stack '{stack}': the first simulated week of each workload (what the waker keeps running, minute by minute)",
        fontsize=11,
    )
    figure.tight_layout(rect=(0, 0.07, 0.97, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Cost report of a stack.")
    parser.add_argument("stack", help="stack name: Pulumi.<stack>.yaml")
    parser.add_argument(
        "--chart", type=Path, help="where to write the week chart (default build/cost-<stack>-week.png)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document, no chart")
    args = parser.parse_args(argv)
    report = build_report(args.stack)
    cost, prices, rows = report.cost, report.prices, report.rows
    if args.json:
        print(json.dumps(figures(report)))
        return 0
    print(render(cost, prices))
    print()
    basis = "partly estimated" if any(prices.estimate(k) for k in prices.table) else "published"
    boot = BOOT
    print(
        f"30 simulated days with the waker's policy and the stack's settings, wake windows included (monthly; "
        f"prices {basis}, see costs/prices.json). Fargate boot {boot.task_start} min, scheduler ready "
        f"{boot.scheduler_ready} min later, database start {boot.database_start} min. Late: tasks starting more "
        f"than {LATE_MINUTES} min after they could have on a cluster that never sleeps. Oracle: up only while "
        "tasks run and people asked for it, the database up where the stack's settings keep it up."
    )
    print(describe(recorded(), boot.task_start))
    print()
    print(render_rows(rows))
    print("\nSensitivity: the same workloads with a slower boot or database start")
    print()
    print(render_sensitivity(report))
    print("\nTargets")
    print(render_targets(report))
    path = args.chart or ROOT / "build" / f"cost-{args.stack}-week.png"
    chart(rows, path, args.stack, cost, prices)
    print(f"\nchart: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
