"""Check that every figure the README quotes still matches what its command prints today.

    uv run python -m devtools.docs_check [--quick] [--write] [FILE ...]     (or `make docs-check`)

A figure is written in the Markdown with its source just before it, invisible once rendered:

    idle dev costs <!-- fig cost-dev.idle_month -->$12.55 a month

and a whole command output (a table in a code block) with the line before its fence:

    <!-- output cost-dev.table -->

Each source is a command that prints one JSON document (SOURCES below); `cost-dev.idle_month` is the key
`idle_month` of `cost-dev`'s document. Money, counts and sizes must match to the digits written, and blocks
line by line; times, which depend on the machine, within a factor of 2. `--quick` skips the slow sources
and every time (what the test suite runs); `--write` puts today's values in the file instead of failing.
Exit 1 names every stale figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.local_airflow import free_port

ROOT = Path(__file__).resolve().parents[1]

PYTHON = sys.executable
FIGURE = re.compile(r"<!-- fig (?P<key>[\w.-]+) -->(?P<prefix>\$?)(?P<value>\d[\d,]*(?:\.\d+)?)")
OUTPUT = re.compile(r"<!-- output (?P<key>[\w.-]+) -->\n(?P<fence>```[^\n]*\n)(?P<body>.*?)\n```", re.DOTALL)
TIME_KEYS = re.compile(r"(_ms|_s|seconds|minutes_to\w*)$")


def json_of(*command: str) -> Callable[[], dict[str, Any]]:
    def measure() -> dict[str, Any]:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1])

    return measure


def timed_make(target: str) -> Callable[[], dict[str, Any]]:
    def measure() -> dict[str, Any]:
        started = time.monotonic()
        done = subprocess.run(["make", "--no-print-directory", target], cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"make {target} failed:\n{done.stdout[-2000:]}")
        return {"seconds": round(time.monotonic() - started)}

    return measure


def dev_start() -> dict[str, Any]:
    """Seconds from `devtools/dev.py` to the UI answering, with a fresh Airflow home (a first `make dev`)."""
    with tempfile.TemporaryDirectory() as home:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")} | {"AIRFLOW_HOME": home}
        started = time.monotonic()
        process = subprocess.Popen(
            [PYTHON, "-m", "devtools.dev", "--port", str(free_port())],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith("Airflow UI:"):
                    return {"first_start_seconds": round(time.monotonic() - started)}
            raise RuntimeError("devtools/dev.py ended before the UI answered")
        finally:
            process.terminate()
            process.wait(timeout=60)


@dataclass(frozen=True)
class Source:
    measure: Callable[[], dict[str, Any]]
    slow: bool = False
    quick: Callable[[], dict[str, Any]] | None = None  # a cheaper run when times are not checked
    timings: bool = False  # every figure it prints is a time


SOURCES: dict[str, Source] = {
    "bench-waker": Source(
        json_of(PYTHON, "-m", "devtools.bench_waker", "--json"),
        quick=json_of(PYTHON, "-m", "devtools.bench_waker", "--json", "--ticks", "5"),
    ),
    "cost-dev": Source(json_of(PYTHON, "-m", "costs", "dev", "--json")),
    "cost-prod": Source(json_of(PYTHON, "-m", "costs", "prod", "--json")),
    "bench-deploy-dags": Source(json_of(PYTHON, "-m", "devtools.bench_deploy_dags", "--json"), slow=True, timings=True),
    "dag-check": Source(timed_make("dag-check"), slow=True, timings=True),
    "dag-test": Source(timed_make("dag-test"), slow=True, timings=True),
    "dev": Source(dev_start, slow=True, timings=True),
    "image": Source(json_of(PYTHON, "-m", "devtools.build_image", "--json"), slow=True),  # needs buildah (make image)
}


def lookup(document: dict[str, Any], path: list[str]) -> Any:
    value: Any = document
    for part in path:
        value = value[part]
    return value


def is_time(key: str) -> bool:
    source = SOURCES.get(key.split(".", 1)[0])
    return (source is not None and source.timings) or bool(TIME_KEYS.search(key))


def agrees(written: str, fresh: float, time_figure: bool) -> bool:
    """Times within a factor of 2 (they depend on the machine); anything else exactly, to the digits written."""
    if time_figure:
        return fresh / 2 <= as_number(written) <= fresh * 2
    return written.replace(",", "") == formatted_like(written, fresh).replace(",", "")


def as_number(text: str) -> float:
    return float(text.replace(",", ""))


def formatted_like(written: str, fresh: float) -> str:
    decimals = len(written.split(".")[1]) if "." in written else 0
    return f"{fresh:,.{decimals}f}" if "," in written else f"{fresh:.{decimals}f}"


def blocks_agree(written: str, fresh: str) -> bool:
    """Two outputs agree when they print the same, line by line (trailing spaces aside)."""
    return [line.rstrip() for line in written.splitlines()] == [line.rstrip() for line in fresh.splitlines()]


def check(
    path: Path,
    quick: bool,
    write: bool,
    *,
    skip: Collection[str] = (),
    measured: Mapping[str, dict[str, Any]] | None = None,
) -> list[str]:
    """The stale figures of `path`. `skip`: sources whose figures are left unchecked; `measured`: sources'
    documents already at hand (a test that has computed the same report), used instead of running them."""
    text = path.read_text()
    figures = [(m.group("key"), m) for m in FIGURE.finditer(text)] + [
        (m.group("key"), m) for m in OUTPUT.finditer(text)
    ]
    wanted = sorted({key.split(".", 1)[0] for key, _ in figures})
    unknown = [name for name in wanted if name not in SOURCES]
    if unknown:
        return [f"{path.name}: no source {name!r} (sources: {', '.join(SOURCES)})" for name in unknown]
    documents: dict[str, dict[str, Any]] = {}
    for name in wanted:
        source = SOURCES[name]
        if name in skip or (quick and source.slow):
            continue
        if measured is not None and name in measured:
            documents[name] = measured[name]
            continue
        documents[name] = (source.quick or source.measure)() if quick else source.measure()
    problems, replacements = [], []
    for key, match in figures:
        name, _, rest = key.partition(".")
        if name not in documents or (quick and is_time(key)):
            print(f"  skipped  {key} (a time, a slow source or one left out: make docs-check)")
            continue
        try:
            fresh = lookup(documents[name], rest.split("."))
        except (KeyError, TypeError):
            problems.append(f"{key}: {name} prints no {rest!r}")
            continue
        if "body" in match.groupdict():
            ok = blocks_agree(match.group("body"), str(fresh))
            print(f"  {'ok' if ok else 'STALE':<7}  {key} (a block of {len(str(fresh).splitlines())} lines)")
            if not ok:
                problems.append(f"{key}: the block differs from what `{name}` prints now:\n{fresh}")
                replacements.append((match.start("body"), match.end("body"), str(fresh)))
            continue
        written = match.group("value")
        ok = agrees(written, float(fresh), is_time(key))
        print(f"  {'ok' if ok else 'STALE':<7}  {key}: written {written}, now {fresh}")
        if not ok:
            problems.append(f"{key}: the file says {written}, `{name}` prints {fresh} now")
            replacements.append((match.start("value"), match.end("value"), formatted_like(written, float(fresh))))
    if write and replacements:
        for start, end, new in sorted(replacements, reverse=True):
            text = text[:start] + new + text[end:]
        path.write_text(text)
        print(f"wrote {len(replacements)} fresh figures to {path.name}")
        return []
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check the README's figures against the commands they come from.")
    parser.add_argument("files", nargs="*", type=Path, default=[ROOT / "README.md"])
    parser.add_argument("--quick", action="store_true", help="skip slow sources and times (the test suite's run)")
    parser.add_argument("--write", action="store_true", help="write today's values into the files")
    parser.add_argument(
        "--skip", action="append", default=[], choices=sorted(SOURCES), help="leave a source's figures unchecked"
    )
    args = parser.parse_args(argv)
    problems = []
    for path in args.files:
        print(f"{path.name}:")
        problems += check(path, args.quick, args.write, skip=args.skip)
    for problem in problems:
        print(f"stale: {problem}", file=sys.stderr)
    if problems:
        print("When the change is meant: `make docs-check WRITE=1`, then read the diff.", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
