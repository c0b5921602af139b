"""Benchmark of the waker: its package size, its import time, and a tick's wall time under moto.

Usage: `uv run python -m devtools.bench_waker [--ticks 200] [--json]` (or `make bench-waker`). Prints a table.
The tick time is measured against moto in us-gov-east-1 (no network), so it is the waker's own cost plus
moto's; in AWS each tick also waits on the APIs it calls (about ten requests).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from contracts.waker import Tick, Wake, to_event
from offline.lambda_archive import archive_bytes, archive_files, unpack


def package_size() -> tuple[int, int, int]:
    """(files, bytes uncompressed, bytes zipped) of the Lambda package as the program ships it (with the
    contracts it carries)."""
    files = archive_files("waker")
    return len(files), sum(path.stat().st_size for path in files.values()), len(archive_bytes("waker"))


def import_seconds(statement: str, code_dir: Path, repeats: int = 5) -> float:
    """Median wall time of a fresh interpreter running `statement` in the unpacked archive (a cold start's
    import work)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    samples = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], cwd=code_dir, capture_output=True, text=True, check=True)
        samples.append(float(out.stdout.strip()))
    return statistics.median(samples)


def tick_seconds(ticks: int) -> list[float]:
    from standin.waker_world import START, moto_world

    samples = []
    with moto_world() as world:
        world.report(START, next_due_in=3600, dag_runs_running=1, **{"ti:running": 2})
        world.invoke(to_event(Wake(hold_minutes=0, reason="benchmark")), START)
        for index in range(ticks):
            at = START + timedelta(seconds=30 + index)
            started = time.perf_counter()
            world.invoke(to_event(Tick()), at)
            samples.append(time.perf_counter() - started)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark the waker Lambda.")
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    args = parser.parse_args()

    files, raw, zipped = package_size()
    with tempfile.TemporaryDirectory() as scratch:
        code_dir = unpack("waker", Path(scratch))
        own = import_seconds("import waker.handler", code_dir)
        cold_start = import_seconds("import waker.handler, boto3", code_dir)
        boto = import_seconds("import boto3", code_dir)
    samples = sorted(tick_seconds(args.ticks))
    p95 = samples[int(0.95 * (len(samples) - 1))]
    rows = [
        ("package files", f"{files}"),
        ("package size (uncompressed)", f"{raw / 1024:.1f} KiB"),
        ("package size (zip)", f"{zipped / 1024:.1f} KiB"),
        ("import waker.handler (cold)", f"{own * 1000:.0f} ms"),
        ("import waker.handler and boto3 (cold start)", f"{cold_start * 1000:.0f} ms"),
        ("import boto3 alone (cold)", f"{boto * 1000:.0f} ms"),
        (f"tick under moto, median of {len(samples)}", f"{statistics.median(samples) * 1000:.1f} ms"),
        ("tick under moto, p95", f"{p95 * 1000:.1f} ms"),
    ]
    if args.json:
        figures = {
            "package_files": files,
            "package_kib": round(raw / 1024, 1),
            "zip_kib": round(zipped / 1024, 1),
            "import_ms": round(own * 1000),
            "import_with_boto3_ms": round(cold_start * 1000),
            "boto3_ms": round(boto * 1000),
            "tick_median_ms": round(statistics.median(samples) * 1000, 1),
            "tick_p95_ms": round(p95 * 1000, 1),
        }
        print(json.dumps(figures))
        return 0
    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
