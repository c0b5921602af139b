"""`airflow-stack preflight`: the stack's file read and its program run offline, then the account checked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_stack.operations import Stack
from airflow_stack.outputs import StackError
from airflow_stack.preflight import Check, run
from airflow_stack.probe import probe

ClientFactory = Callable[[str], Callable[[str], Any]]  # region -> service -> client


def declared(stack: str, project: Path) -> tuple[Any, set[str]]:
    """The stack's settings (its file in `project`, checked) and the resource types its program declares, run
    offline; StackError in one line for a file or setting that is wrong."""
    from infra.settings import load_settings
    from infra.settings.schema import SettingsError
    from offline.recording import run_program

    config = stack_config(project, stack)
    try:
        settings = load_settings(stack, config)
    except SettingsError as error:
        raise StackError(_one_line(error)) from None
    return settings, {r.type for r in run_program(stack, config).resources if r.custom}


def preflight_passes(stack: str, project: Path, make_clients: ClientFactory) -> bool:
    """Print the read-only checks of the account for `stack` (its file in `project`); whether none failed."""
    settings, resource_types = declared(stack, project)
    checks = run(make_clients(settings.region), settings=settings, resource_types=resource_types)
    print(f"preflight of stack {stack} in {settings.region} (read-only)")
    return _printed(checks)


def probe_passes(stack: Stack) -> bool:
    """Print what the probe started and read; whether none failed."""
    print(
        f"probe of stack {stack.outputs.stack} in {stack.outputs.region} (starts one short task per capacity provider)"
    )
    return _printed(probe(stack))


def _printed(checks: list[Check]) -> bool:
    for check in checks:
        print(check.line())
    failed = [c for c in checks if c.level == "FAIL"]
    print(f"{len(failed)} failed, {sum(c.level == 'warn' for c in checks)} warnings, {len(checks)} checks")
    return not failed


def stack_config(project: Path, stack: str) -> dict[str, Any]:
    from infra.settings import read_stack_path, stack_config_from_yaml
    from infra.settings.schema import SettingsError

    path = project / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise StackError(f"no {path.name} in {project}")
    try:
        return stack_config_from_yaml(read_stack_path(path))
    except SettingsError as error:  # read as `make plan` reads it: the file and line of what is wrong
        raise StackError(_one_line(error)) from None


def _one_line(error: Any) -> str:
    return "invalid stack settings: " + "; ".join(f"{key}: {allowed}" for key, allowed in error.problems)
