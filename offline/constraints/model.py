"""Constraints from botocore's service models: lengths, patterns, enums and ranges of an API's members."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Problem:
    resource: str  # "type name"
    field: str
    message: str
    source: str  # the AWS document the rule comes from

    def __str__(self) -> str:
        return f"{self.resource}: {self.field} {self.message} ({self.source})"


@cache
def service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


# Java's Unicode classes, which some models use (ECS's tag keys): Python's `re` has none, so letters and
# numbers read as `\w` (which adds only `_`) and separators as `\s`.
_UNICODE_CLASSES = {r"\p{L}": r"\w", r"\p{N}": r"\w", r"\p{Z}": r"\s"}


def _partition_aware(pattern: str | None) -> str | None:
    """Some models write the partition as `aws(-[a-z]+)?`, which `aws-us-gov` does not match; the services
    themselves run in GovCloud and take its ARNs (EventBridge Scheduler's Target.RoleArn, for one)."""
    if not pattern:
        return pattern
    for java, python in _UNICODE_CLASSES.items():
        pattern = pattern.replace(java, python)
    return pattern.replace("aws(-[a-z]+)?", "aws(-[a-z]+)*")


def shape_problems(shape: Any, value: Any, path: str, *, required: bool = True) -> Iterator[str]:
    """Lengths, ranges, patterns and enums of `value` against a botocore shape (botocore itself checks
    only minimums when it sends a request). `required`: report required members that are missing."""
    if value is None:
        return
    meta = shape.metadata
    kind = shape.type_name
    if kind == "string":
        text = value if isinstance(value, str) else json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        if "min" in meta and len(text) < meta["min"]:
            yield f"{path} must be at least {meta['min']} characters, got {len(text)}"
        if "max" in meta and len(text) > meta["max"]:
            yield f"{path} must be at most {meta['max']} characters, got {len(text)}: {text[:80]!r}"
        if shape.enum and text not in shape.enum:
            yield f"{path} must be one of {', '.join(shape.enum)}; got {text!r}"
        pattern = _partition_aware(meta.get("pattern"))
        if pattern and re.fullmatch(pattern, text) is None:
            yield f"{path} must match {pattern}; got {text[:80]!r}"
    elif kind in ("integer", "long", "double", "float"):
        number = _number(value)
        if number is None:
            yield f"{path} must be a number, got {value!r}"
            return
        if "min" in meta and number < meta["min"]:
            yield f"{path} must be at least {meta['min']}, got {value}"
        if "max" in meta and number > meta["max"]:
            yield f"{path} must be at most {meta['max']}, got {value}"
    elif kind == "list" and isinstance(value, list):
        if "min" in meta and len(value) < meta["min"]:
            yield f"{path} needs at least {meta['min']} items, got {len(value)}"
        if "max" in meta and len(value) > meta["max"]:
            yield f"{path} takes at most {meta['max']} items, got {len(value)}"
        for index, item in enumerate(value):
            yield from shape_problems(shape.member, item, f"{path}[{index}]", required=required)
    elif kind == "structure" and isinstance(value, Mapping):
        for name, member in shape.members.items():
            if name in value:
                yield from shape_problems(member, value[name], f"{path}.{name}", required=required)
        for name in shape.required_members if required else ():
            if name not in value:
                yield f"{path}.{name} is required"
    elif kind == "map" and isinstance(value, Mapping):
        for key, item in value.items():
            yield from shape_problems(shape.key, key, f"{path} key")
            yield from shape_problems(shape.value, item, f"{path}.{key}", required=required)


def operation_problems(service: str, operation: str, params: Mapping[str, Any], *, partial: bool = True) -> list[str]:
    """`params` against an operation's input shape (`partial`: members not given are not required)."""
    shape = service_model(service).operation_model(operation).input_shape
    problems = []
    for name, member in shape.members.items():
        if name in params:
            problems.extend(shape_problems(member, params[name], name, required=not partial))
    if not partial:
        problems.extend(f"{name} is required" for name in shape.required_members if name not in params)
    return problems
