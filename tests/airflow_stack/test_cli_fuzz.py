"""Generated argument lists for `airflow-stack`: whatever the words, the command keeps the boundary's promise.

The table in test_bad_invocations.py holds the cases someone listed; here Hypothesis draws argument lists from
the parser's own commands and options (read from `cli._parser()`, so a new option is drawn as soon as it
exists), mixed with junk options, hostile values (control characters, bidirectional overrides, 5000 digits,
empty text) and files that are not a stack's outputs (/dev/zero, a directory, a list, 100 000 brackets).
Each list runs against moto playing a deployed dev stack, and must:
- end with one of the README's exit codes (0 done, 1 a wait timed out, 2 bad input, 3 refused, 4 AWS
  unreachable or denied, 5 the waker's own error, 130 interrupted), with no traceback;
- as bad input, say so in one line and change nothing: no count, no waker state, no snapshot, no file;
- finish within 20 s and 64 MiB of Python allocations.
Waits run on a virtual clock (each poll is a real call to the stand-in; only the sleeping between is skipped),
deploy-dags' DAG tests pass at once (what they do is theirs, tested under tests/dags), and `preflight --probe`'s
task on ECS, which only the stand-in AWS plays (test_probe.py), passes once the stack's outputs are read.
"""

from __future__ import annotations

import argparse
import itertools
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from airflow_stack import cli, deploy_dags, operations, preflight_command, probe, smoke
from tests.airflow_stack.conftest import factory, not_outputs_files, state

EXIT_CODES = {
    0,
    cli.EXIT_TIMEOUT,
    cli.EXIT_REFUSED,
    cli.EXIT_WAKER_REFUSED,
    cli.EXIT_AWS,
    cli.EXIT_WAKER_ERROR,
    cli.EXIT_INTERRUPTED,
}
SECONDS, ALLOCATED = 20, 64 * 1024 * 1024


def commands() -> dict[str, argparse.ArgumentParser]:
    parser = cli._parser()
    (subcommands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subcommands.choices)


def options(parser: argparse.ArgumentParser) -> dict[str, bool]:
    """Each option of a command but help, and whether it takes a value."""
    return {
        option: action.nargs != 0
        for action in parser._actions
        for option in action.option_strings
        if not isinstance(action, argparse._HelpAction)
    }


COMMANDS = commands()
OPTIONS = sorted({option for parser in COMMANDS.values() for option in options(parser)})
JUNK_OPTIONS = ["--bogus", "-x", "--", "-", "--stack=dev", "--hold=", "--Stack", "--stack\x00"]
WORDS = [
    *("dev", "prod", "staging", "nosuch", "Bad_Name", "x y", "", " ", "-1", "0", "9" * 5000, "1e9"),
    *("1h", "90m", "25h", "1d", "soon", "15m", "us-gov-east-1", "us-east-1", "123456789012", "12345"),
    *("\x1b[31mred", "\u202eevil", "x" * 201, "a\nb", "lake=x", "KEY=VALUE", "=", "A="),
    *("arn:aws-us-gov:iam::123456789012:policy/x", "arn:aws:sqs:us-east-1:1:q", "airflow-prod-newest"),
    *("8080", "80", "65536", "Airflow", "my.bucket", "UPPER-bucket"),
]


def files(folder: Path, outputs: dict[str, Path]) -> list[str]:
    """Files an `--outputs`-like option may name: the stacks' own, and what no stack's outputs are."""
    hostile = [*not_outputs_files(folder).values(), folder / "missing.json", folder]
    return [*(str(path) for path in [*outputs.values(), *hostile]), "/dev/zero"]


def argument_lists(paths: list[str]) -> st.SearchStrategy[list[str]]:
    free_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\\."), max_size=12)
    value = st.one_of(st.sampled_from(WORDS), st.sampled_from(paths), free_text)
    option = st.sampled_from(OPTIONS + JUNK_OPTIONS + ["-h", "--help"])
    command = st.one_of(st.sampled_from(sorted(COMMANDS)), st.sampled_from(["", "Wake", "status\x00"]))
    # Anything at all: options of any command, values and junk in any order.
    pair = st.tuples(option, value).map(list)
    anything = st.builds(
        lambda head, parts: [head, *itertools.chain.from_iterable(parts)],
        command,
        st.lists(st.one_of(pair, value.map(lambda v: [v]), option.map(lambda o: [o])), max_size=6),
    )

    # What a person types: a command, the stack it names, and some of its own options with any values. These
    # get past the parser to the checks and the stack, where most of what can go wrong goes wrong.
    def typed(name: str) -> st.SearchStrategy[list[str]]:
        own = options(COMMANDS[name])
        part = st.sampled_from(sorted(own)).flatmap(
            lambda o: st.tuples(st.just(o), value).map(list) if own[o] else st.just([o])
        )
        named = [["--stack", "dev"], ["--stack", "prod"], ["--from", "prod"], ["--region", "us-gov-east-1"]]
        required = [words for words in named if words[0] in own] or [[]]
        return st.builds(
            lambda first, parts: [name, *first, *itertools.chain.from_iterable(parts)],
            st.sampled_from(required),
            st.lists(part, max_size=2),
        )

    return st.one_of(anything, st.sampled_from(sorted(COMMANDS)).flatmap(typed))


class VirtualClock:
    """Time that passes only when slept: a wait polls for real and skips the sleeping between polls."""

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def virtual_time(monkeypatch):
    for module in (smoke, probe):
        monkeypatch.setattr(module, "Clock", _virtual(module.Clock))
    for name in ("wait_for_counts", "prepare_deploy"):
        real = getattr(operations, name)

        def virtual(*args, real=real, **kwargs):
            clock = VirtualClock()
            return real(*args, **{"sleep": clock.sleep, "clock": clock.monotonic, **kwargs})

        monkeypatch.setattr(operations, name, virtual)
    monkeypatch.setattr(deploy_dags, "run_dag_tests", lambda affected: True)
    # The probe runs a task on ECS, which only the stand-in AWS plays (test_probe.py); here its stack is read.
    monkeypatch.setattr(preflight_command, "probe_passes", lambda stack: True)


def _virtual(clock_class):
    def make():
        clock = VirtualClock()
        return clock_class(sleep=clock.sleep, monotonic=clock.monotonic)

    return make


def invoke(world, project: Path, argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = cli.run(argv, make_stack=factory(world), project_dir=project)
        ended = ""
    except SystemExit as stop:  # deploy-dags' own ending: sys.exit(message) is exit 1, the message on stderr
        code, ended = (stop.code, "") if isinstance(stop.code, int) else (1, f"{stop.code}\n")
    out = capsys.readouterr()
    return code, out.out, out.err + ended


@pytest.fixture
def scene(world, prod_database, project, tmp_path, monkeypatch, virtual_time):
    monkeypatch.chdir(tmp_path)  # deployer-policy writes build/ where it runs
    (project / "Pulumi.dev.yaml").write_text((cli.PROJECT_DIR / "Pulumi.dev.yaml").read_text())
    return world, project, files(tmp_path, world.outputs_files)


def everything(world, project: Path, folder: Path) -> dict:
    """What a command could change: the stack's counts, the waker's state, snapshots, the project's files and
    the files where it runs."""
    return {**state(world, project), "here": sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))}


# The same examples on every run (derandomize): what passes here passes in CI. Raise max_examples to search wider.
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_any_argument_list_ends_in_a_documented_code_and_bad_input_in_one_line_changing_nothing(
    scene, tmp_path, capsys, data
):
    world, project, paths = scene
    argv = data.draw(argument_lists(paths), label="argv")
    before = everything(world, project, tmp_path)
    tracemalloc.start()
    started = time.monotonic()
    try:
        code, out, err = invoke(world, project, argv, capsys)
    finally:
        took, (_, peak) = time.monotonic() - started, tracemalloc.get_traced_memory()
        tracemalloc.stop()
    event(f"exit {code}")  # pytest --hypothesis-show-statistics: how far the lists got
    assert code in EXIT_CODES, (argv, code, err)
    assert "Traceback" not in out + err, (argv, err)
    assert took < SECONDS and peak < ALLOCATED, (argv, took, peak)
    if code == cli.EXIT_REFUSED:
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines and (len(lines) == 1 or argv[0] == "stage"), (argv, err)
        assert everything(world, project, tmp_path) == before, argv
