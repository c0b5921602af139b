"""A recorded resource's values as AWS will see them: secrets unwrapped, autonames made physical."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from offline.recording import RecordedResource

# Pulumi's autonaming adds "-" and 7 random characters to a resource's logical name.
AUTONAME_SUFFIX = 8
# Secrets Manager's name_prefix: Pulumi adds a 26-character unique suffix.
NAME_PREFIX_SUFFIX = 26

_SECRET = "4dabf18193072939515e22adb298388d"  # noqa: S105 (Pulumi's marker of a secret value, not a secret)


def plain(value: Any) -> Any:
    """A recorded value with Pulumi's secret wrappers removed (the checks need the values)."""
    if isinstance(value, Mapping):
        if _SECRET in value:
            return plain(value.get("value"))
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def path_get(value: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def path_set(target: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


def label(resource: RecordedResource) -> str:
    return f"{resource.type.split(':')[-1]} {resource.name}"


def physical_name(resource: RecordedResource, key: str = "name") -> str:
    """The name AWS will see: the given one, or Pulumi's autoname (logical name + 8 characters)."""
    inputs = resource.inputs
    if inputs.get(key):
        return str(inputs[key])
    if inputs.get(f"{key}Prefix"):
        return str(inputs[f"{key}Prefix"]) + "x" * NAME_PREFIX_SUFFIX
    return resource.name + "-" + "x" * (AUTONAME_SUFFIX - 1)
