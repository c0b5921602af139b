"""How fast this machine runs Python at this moment: one fixed pure-Python loop, timed.

The 2-core build machine shares its host, and its speed moves with its neighbours: on 2026-12-07 this loop took
from 0.38 s to 0.66 s within a minute in the morning and 0.19 s to 0.25 s at midday, and clean clones' `make check`
took from 331 s to 502 s in the morning and 194 s to 228 s at midday, with no change of code to explain it.
`.ci/run` prints this figure just before and after `make check`: a rough gauge of the host at those two moments,
not a correction (the load changes faster than a fraction of a second of looping can show).

Usage: `uv run python -m devtools.machine_speed [--runs 3]`. Prints one line: the fastest and slowest run.
"""

from __future__ import annotations

import argparse
import time

ITERATIONS = 5_000_000  # about 0.2 s on the build machine when its host is quiet


def loop_seconds(iterations: int = ITERATIONS) -> float:
    started = time.perf_counter()
    total = 0
    for i in range(iterations):
        total += i * i % 7
    elapsed = time.perf_counter() - started
    assert total > 0  # the loop's result is used, so no interpreter could skip it
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="How fast this machine runs Python at this moment.")
    parser.add_argument("--runs", type=int, default=3, choices=range(1, 11), metavar="1..10")
    args = parser.parse_args(argv)
    times = sorted(loop_seconds() for _ in range(args.runs))
    print(f"machine speed: the reference loop took {times[0]:.2f} s to {times[-1]:.2f} s ({args.runs} runs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
