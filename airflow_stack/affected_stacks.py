"""Which stacks a change affects, for CI to preview: `python -m airflow_stack.affected_stacks --base origin/main`.

A change to a stack's own file (Pulumi.<stack>.yaml) affects that stack; a change to what every stack is
built from (the program, the Lambdas, the image, the project's dependencies) affects all of them; DAGs,
docs and tests affect none. Prints a JSON list, e.g. ["dev", "prod"].
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What every stack is built from: the program, the Lambdas' archives and the image's build context (both carry
# contracts/), the project's dependencies (tests/devtools/test_workflows.py checks the list against the program).
SHARED = ("infra/", "lambdas/", "image/", "contracts/", ".dockerignore", "Pulumi.yaml", "pyproject.toml", "uv.lock")


def all_stacks(root: Path = ROOT) -> list[str]:
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in root.glob("Pulumi.*.yaml"))


def affected(changed: Iterable[str], stacks: Iterable[str]) -> list[str]:
    stacks = sorted(stacks)
    hit: set[str] = set()
    for path in changed:
        if path.startswith(SHARED):
            return stacks
        match = re.fullmatch(r"Pulumi\.([\w-]+)\.yaml", path)
        if match and match.group(1) in stacks:
            hit.add(match.group(1))
    return sorted(hit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Stacks affected by the change since BASE.")
    parser.add_argument("--base", default="origin/main", help="git revision to compare with")
    args = parser.parse_args(argv)
    changed = subprocess.run(
        ["git", "diff", "--name-only", f"{args.base}...HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    print(json.dumps(affected(changed, all_stacks())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
