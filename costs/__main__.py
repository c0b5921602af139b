"""The cost report of a stack: idle and awake costs from its resources, then 30 simulated days per workload.

    uv run python -m costs dev            (or `make cost STACK=dev`)

Prints both tables and writes a chart of one simulated week's awake timeline to build/cost-<stack>-week.png.
Prices come from costs/prices.json (GovCloud figures where published, marked estimates otherwise).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from costs.chart import chart
from costs.image_pull import describe, recorded
from costs.model import Prices, price_stack, render
from costs.report import (
    BOOT,
    ROOT,
    build_report,
    column_meanings,
    figures,
    render_rows,
    render_sensitivity,
    render_targets,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Cost report of a stack.")
    parser.add_argument("stack", help="stack name: Pulumi.<stack>.yaml")
    parser.add_argument(
        "--chart", type=Path, help="where to write the week chart (default build/cost-<stack>-week.png)"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document, no chart")
    parser.add_argument("--idle", action="store_true", help="print only the idle month (what `make plan` ends with)")
    args = parser.parse_args(argv)
    if args.idle:
        print(idle_line(args.stack))
        return 0
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
        f"{boot.scheduler_ready} min later, database start {boot.database_start} min."
    )
    print(describe(recorded(), boot.task_start))
    print("\nThe workloads:")
    for row in rows:
        print(f"  {row.workload.name:<15}{row.workload.description}")
    print()
    print(render_rows(rows))
    print()
    print(column_meanings(rows, prices.region))
    print("\nSensitivity: the same workloads with a slower boot or database start")
    print()
    print(render_sensitivity(report))
    print("\nTargets")
    print(render_targets(report))
    path = args.chart or ROOT / "build" / f"cost-{args.stack}-week.png"
    chart(rows, path, args.stack, cost, prices)
    print(f"\nchart: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


def idle_line(stack: str) -> str:
    from infra.settings import load_settings
    from offline.recording import load_stack_file, run_stack

    cost = price_stack(run_stack(stack), load_settings(stack, load_stack_file(stack)), Prices.load())
    return (
        f"Idle cost: ${cost.idle_month:.2f} a month while asleep (prices of costs/prices.json); awake hours and 30 "
        f"simulated days: make cost STACK={stack}"
    )


if __name__ == "__main__":
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
