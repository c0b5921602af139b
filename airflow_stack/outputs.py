"""A stack's outputs, from `pulumi stack output --json` or from a JSON file (tests, air-gapped use)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts.stacks import stack_of_prefix, stack_prefix, waker_function_name

REQUIRED = ("region", "clusterName", "serviceNames", "databaseIdentifier", "dagBucket")


class StackError(RuntimeError):
    """Something about the stack or its AWS resources stops the command; the message says what."""


class ToolError(StackError):
    """The Pulumi CLI is missing or failed (exit 4, as AWS errors)."""


class NotDeployed(StackError):
    """The stack has no (or not all of its) outputs: it has not been deployed yet."""


class WakerFailed(StackError):
    """The waker itself failed (its own error, not a refusal): exit 5, its error's first line."""


class WrongStack(StackError):
    """The outputs name another stack's resources: nothing is done (exit 3)."""


# The program names these resources after the stack (`airflow-<stack>`): outputs whose names differ are not
# the stack's, whatever file they came from.
OWNED_NAMES: dict[str, Callable[[str], str]] = {
    "clusterName": stack_prefix,
    "databaseIdentifier": stack_prefix,
    "wakerFunction": lambda stack: waker_function_name(stack_prefix(stack)),
}


def owner_of(values: Mapping[str, Any]) -> str:
    """The stack whose resources the outputs name (from its cluster's name)."""
    cluster = str(values.get("clusterName") or "")
    return stack_of_prefix(cluster) or cluster or "unknown"


def check_owner(stack: str, values: Mapping[str, Any]) -> None:
    for key, name_of in OWNED_NAMES.items():
        value = values.get(key)
        if value is not None and value != name_of(stack):
            raise WrongStack(
                f"these outputs are stack {owner_of(values)}'s, not {stack}'s ({key} is {value}, "
                f"{stack}'s is {name_of(stack)}): nothing done"
            )


MAX_OUTPUTS_BYTES = 1024 * 1024  # a stack's outputs are a few kilobytes


def _outputs_text(outputs_file: Path) -> str:
    """The file's text, read as a stack's outputs can be: a regular file, UTF-8, at most MAX_OUTPUTS_BYTES (so
    /dev/zero or a FIFO cannot hold the command)."""
    if not outputs_file.is_file():
        raise OSError(f"{outputs_file} is not a regular file")
    with outputs_file.open("rb") as handle:
        data = handle.read(MAX_OUTPUTS_BYTES + 1)
    if len(data) > MAX_OUTPUTS_BYTES:
        raise OSError(f"larger than {MAX_OUTPUTS_BYTES // 1024} KiB: not a stack's outputs")
    return data.decode("utf-8")


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def read_outputs(stack: str, outputs_file: Path | None = None, cwd: Path | None = None) -> dict[str, Any]:
    if outputs_file is not None:
        try:
            values = _json(_outputs_text(outputs_file))
        except (OSError, ValueError) as error:  # unreadable, not UTF-8, not JSON
            raise StackError(f"cannot read stack outputs from {outputs_file}: {error}") from None
        if not isinstance(values, dict):
            raise StackError(
                f"--outputs {outputs_file} must hold a JSON object of the stack's outputs "
                f"(`pulumi stack output --json`), not a {type(values).__name__}"
            )
        return values
    try:
        result = subprocess.run(
            ["pulumi", "stack", "output", "--json", "--stack", stack],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=True,
        )
    except FileNotFoundError:
        raise ToolError("the Pulumi CLI is not installed: pass --outputs FILE with the stack's outputs") from None
    except subprocess.CalledProcessError as error:
        raise ToolError(f"pulumi stack output --stack {stack} failed: {error.stderr.strip()}") from None
    try:
        return _json(result.stdout)
    except ValueError as error:
        raise ToolError(f"pulumi stack output --stack {stack} printed no JSON: {error}") from None


@dataclass(frozen=True)
class StackOutputs:
    stack: str
    values: Mapping[str, Any]

    @classmethod
    def of(cls, stack: str, values: Mapping[str, Any]) -> StackOutputs:
        if not isinstance(values, Mapping):
            raise StackError(f"stack {stack}'s outputs must be a JSON object, not a {type(values).__name__}")
        missing = [key for key in REQUIRED if not values.get(key)]
        if missing:
            raise NotDeployed(
                f"stack {stack}'s outputs lack {', '.join(missing)}: is it deployed, and an airflow stack?"
            )
        check_owner(stack, values)
        return cls(stack, values)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    @property
    def region(self) -> str:
        return self.values["region"]

    @property
    def services(self) -> dict[str, str]:
        return dict(self.values["serviceNames"])
