"""The cost report's chart: one simulated week per workload, minute by minute, shaded by what runs."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from costs.billing import minute_costs, money
from costs.model import Prices, StackCost
from costs.report import Row
from costs.simulate import START, Minute

# The chart's shades, in the order of the legend: white and a mid grey asleep (the database stopped or up),
# blue awake without a worker, oranges darker with more workers.
SHADES = (
    ("asleep, database stopped (its storage billed)", "#ffffff"),
    ("asleep, database up (billed)", "#969696"),
    ("awake: api-server, scheduler, dag-processor, triggerer; no worker", "#4292c6"),
    ("awake + 1 worker", "#fdae6b"),
    ("awake + 2 workers", "#f16913"),
    ("awake + 3 or more workers", "#8c2d04"),
)
DAY = 24 * 60


def busiest_week(rows: list[Row], days: int) -> int:
    """The first day (a Monday: day 0 is one) of the week holding the month's busiest day: the most worker
    minutes of any workload (the heavy day's 200-task run), where the waker's scaling shows."""
    best_day, best = 0, -1
    for row in rows:
        billed = row.result.billed
        for day in range(len(billed) // DAY):
            workers = sum(m.workers for m in billed[day * DAY : (day + 1) * DAY])
            if workers > best:
                best_day, best = day, workers
    last_start = max(0, len(rows[0].result.billed) // DAY - days) if rows else 0
    return min(best_day - best_day % 7, last_start)


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

    days, day = 7, DAY
    first = busiest_week(rows, days)
    colors = ListedColormap([color for _, color in SHADES])
    figure, axes = plt.subplots(len(rows), 1, figsize=(13, 1.55 * len(rows) + 1.6), sharex=True)
    for axis, row in zip(axes, rows, strict=True):
        billed = row.result.billed[first * day : (first + days) * day]
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
        per_minute = minute_costs(row.result, cost, prices)
        for d in range(days):
            spent = sum(per_minute[(first + d) * day : (first + d + 1) * day])
            axis.text(24.3, d + 0.5, f"${spent:.2f}", va="center", fontsize=8)
        axis.set_yticks(
            [d + 0.5 for d in range(days)],
            [f"{(START + timedelta(days=first + d)).strftime('%a')} day {first + d + 1}" for d in range(days)],
        )
        axis.tick_params(axis="y", labelsize=8)
        axis.set_title(
            f"{row.workload.name} ({row.workload.description}): {money(row.cost)} a month, {row.ratio:.2f}x the "
            f"ideal, {row.result.wakes / 30:.1f} wakes a day",
            fontsize=9,
            loc="left",
        )
        axis.text(24.3, -0.25, "cost/day", fontsize=8)
    axes[-1].set_xticks(range(0, 25, 3), [f"{h:02d}:00" for h in range(0, 25, 3)])
    axes[-1].set_xlabel("time of day (UTC)")
    figure.legend(
        handles=[Patch(facecolor=color, edgecolor="#333333", label=label) for label, color in SHADES],
        loc="lower center",
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    figure.suptitle(
        f"Stack '{stack}': days {first + 1} to {first + days} of 30 simulated, the week with the busiest day; what "
        "the waker keeps running, minute by minute, and each day's cost (ideal: a cluster that knows the future)",
        fontsize=10,
    )
    figure.tight_layout(rect=(0, 0.07, 0.97, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
