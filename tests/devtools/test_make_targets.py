"""Every make target passes only options its command accepts: each recipe, with its variables set and unset,
is run with `--help` appended, which argparse answers (exit 0) only if every option before it is known."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VALUES = {"STACK": "dev", "PORT": "8080", "DAG": "orders_ingest", "DATE": "2026-11-24"}
OPTIONAL = ("OUTPUTS", "AGAINST", "WRITE")  # `$(if $(X),...)`: each recipe is tried with X set and unset


def recipes() -> dict[str, str]:
    """Each project command a target runs: `plan`, and `plan (2)` for its second line."""
    text = (ROOT / "Makefile").read_text()
    found = {}
    for target, body in re.findall(r"^([a-z-]+):[^\n]*\n((?:\t[^\n]*\n)+)", text, re.MULTILINE):
        commands = [line.strip() for line in body.splitlines() if line.strip().startswith("uv run")]
        ours = [c for c in commands if "python -m" in c or "airflow-stack" in c]
        if len(ours) == len(commands):
            for index, command in enumerate(ours):
                found[target if index == 0 else f"{target} ({index + 1})"] = command
    return found


def expand(recipe: str, given: dict[str, str]) -> str:
    """The recipe as make runs it: `$(if $(X),then,else)` (parentheses balanced, commas at its own level) and
    `$(X)`."""
    start = recipe.find("$(if ")
    if start < 0:
        return re.sub(r"\$\((\w+)\)", lambda m: given.get(m.group(1), ""), recipe)
    depth, parts, piece, index = 0, [], "", start + len("$(if ")
    while True:
        character = recipe[index]
        if character == "(":
            depth += 1
        elif character == ")":
            if depth == 0:
                break
            depth -= 1
        if character == "," and depth == 0:
            parts.append(piece)
            piece = ""
        else:
            piece += character
        index += 1
    parts.append(piece)
    condition, then, otherwise = parts[0], parts[1], parts[2] if len(parts) > 2 else ""
    chosen = then if expand(condition, given).strip() else otherwise
    return expand(recipe[:start] + chosen + recipe[index + 1 :], given)


# Runs the command's own argument parsing, then stops: argparse refuses any option it does not know, and nothing
# of the command runs.
PARSE_ONLY = """
import argparse, runpy, sys
def parse_args(self, args=None, namespace=None):
    namespace, extra = self.parse_known_args(args, namespace)
    if extra:
        self.error("unrecognized arguments: " + " ".join(extra))
    print("parsed")
    sys.exit(0)
argparse.ArgumentParser.parse_args = parse_args
target, sys.argv = sys.argv[1], sys.argv[1:]
if target == "airflow-stack":
    from airflow_stack.cli import main
    main()
else:
    runpy.run_module(target, run_name="__main__", alter_sys=True)
"""


def invocations() -> list[tuple[str, str]]:
    cases = []
    for target, recipe in sorted(recipes().items()):
        present = [name for name in OPTIONAL if f"$({name})" in recipe]
        for chosen in itertools.product((False, True), repeat=len(present)):
            given = dict(VALUES) | {
                n: "outputs.json" if n == "OUTPUTS" else "x" for n, c in zip(present, chosen, strict=True) if c
            }
            cases.append((target, expand(recipe, given)))
    return cases


def test_the_make_targets_that_run_a_command_are_all_found():
    assert {
        "plan",
        "plan (2)",
        "dev",
        "dag-test",
        "deploy-dags",
        "preflight",
        "predeploy",
        "cost",
        "docs-check",
    } <= set(recipes())


@pytest.mark.parametrize(("target", "command"), invocations(), ids=[f"{t}: {c}" for t, c in invocations()])
def test_each_target_passes_only_options_its_command_accepts(target, command):
    words = command.split()[2:]  # without `uv run`: this process's environment is the project's
    target_and_args = words[2:] if words[:2] == ["python", "-m"] else words
    result = subprocess.run(
        [sys.executable, "-c", PARSE_ONLY, *target_and_args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "parsed" in result.stdout, (target, command, result.stderr[-1500:])


def test_an_option_a_command_does_not_take_is_caught():
    result = subprocess.run(
        [sys.executable, "-c", PARSE_ONLY, "offline.plan", "dev", "--outputs", "x.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "unrecognized arguments: --outputs x.json" in result.stderr
